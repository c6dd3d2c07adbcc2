//! Counters for monitoring, and their Prometheus text exposition
//! (`GET /metrics`).
//!
//! The counters are atomics owned by the node's [`crate::local::Local`]
//! (shared with the API through an `Arc`), so each node in a process has
//! its own. Gauges (peers, store size, queue depths, the process's CPU
//! and memory) are read when scraped.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Why an envelope from a peer was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// It does not decode, or its signature does not verify.
    Undecodable,
    /// Its declared document or dependencies do not match its content.
    Mismatch,
    /// The validity rule can never accept it (no such certificate...).
    NeverValid,
}

/// The node's counters, monotonic since start.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Envelopes from peers stored.
    pub envelopes_received: AtomicU64,
    /// Envelopes written here.
    pub envelopes_written: AtomicU64,
    /// Envelopes refused, by reason.
    refused: [AtomicU64; 3],
    /// Authorisation ops from peers added.
    pub ops_received: AtomicU64,
    /// Sync sessions this node started that ended.
    pub sync_sessions: AtomicU64,
    /// Envelopes sent by sync sessions.
    pub sync_envelopes_sent: AtomicU64,
    /// Bytes sent and received by sync sessions.
    pub sync_bytes_sent: AtomicU64,
    /// Bytes received by sync sessions.
    pub sync_bytes_received: AtomicU64,
    /// Gossip messages dropped because the ingest queue was full.
    pub gossip_dropped: AtomicU64,
    /// Backups made (scheduled or asked for).
    pub backups_made: AtomicU64,
    /// Backups that failed (scheduled or asked for).
    pub backups_failed: AtomicU64,
}

impl Metrics {
    /// Counts a refused envelope.
    pub fn refused(&self, why: Refused) {
        self.refused[why as usize].fetch_add(1, Relaxed);
    }

    /// How many were refused for `why`.
    pub fn refused_count(&self, why: Refused) -> u64 {
        self.refused[why as usize].load(Relaxed)
    }
}

/// What is read when scraped.
#[derive(Debug, Default)]
pub struct Gauges {
    /// Connected peers.
    pub peers: u64,
    /// Admitted peers.
    pub admitted: u64,
    /// Envelopes in the store.
    pub envelopes: u64,
    /// Envelopes waiting for dependencies or ops.
    pub pending: u64,
    /// The store file's size.
    pub store_bytes: u64,
    /// Gossip messages waiting to be ingested.
    pub gossip_queue: u64,
    /// Seconds since the last sync session with each peer ended.
    pub sync_age: Vec<(String, f64)>,
    /// Gossip counters of the network loop.
    pub gossip_published: u64,
    /// Publishes with no subscribed peer.
    pub gossip_no_peers: u64,
    /// Publishes that failed.
    pub gossip_failed: u64,
    /// Gossip messages received.
    pub gossip_received: u64,
    /// Seconds since 1970 when the node started.
    pub started: u64,
    /// Gossip messages rejected as invalid before being passed on.
    pub gossip_rejected: u64,
    /// Offences counted against peers.
    pub offences: u64,
    /// Times a peer was throttled.
    pub throttled_total: u64,
    /// Times a peer was banned.
    pub banned_total: u64,
    /// Messages dropped unread from throttled peers.
    pub throttled_dropped: u64,
    /// Connections of banned peers refused.
    pub banned_refused: u64,
    /// Peers throttled now.
    pub throttled_now: u64,
    /// Peers banned now.
    pub banned_now: u64,
}

/// The process's CPU seconds and resident memory, from `/proc` (Linux);
/// zeros elsewhere.
pub fn process() -> (f64, u64) {
    let ticks = 100.0; // USER_HZ on Linux
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name (which may hold spaces).
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = f.get(11)?.parse().ok()?;
            let stime: f64 = f.get(12)?.parse().ok()?;
            Some((utime + stime) / ticks)
        })
        .unwrap_or(0.0);
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096);
    (cpu, rss)
}

fn metric(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(&str, String)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

/// Escapes a label value.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The Prometheus text exposition of `m` and `g`.
pub fn render(m: &Metrics, g: &Gauges) -> String {
    let mut out = String::new();
    let n = |v: u64| v.to_string();
    let c = |a: &AtomicU64| a.load(Relaxed).to_string();
    metric(
        &mut out,
        "outpost_peers",
        "gauge",
        "Connected peers.",
        &[("", n(g.peers))],
    );
    metric(
        &mut out,
        "outpost_peers_admitted",
        "gauge",
        "Connected peers admitted by certificate.",
        &[("", n(g.admitted))],
    );
    metric(
        &mut out,
        "outpost_envelopes_received_total",
        "counter",
        "Envelopes from peers stored.",
        &[("", c(&m.envelopes_received))],
    );
    metric(
        &mut out,
        "outpost_envelopes_written_total",
        "counter",
        "Envelopes written on this node.",
        &[("", c(&m.envelopes_written))],
    );
    metric(
        &mut out,
        "outpost_envelopes_rejected_total",
        "counter",
        "Envelopes from peers refused, by reason.",
        &[
            ("reason=\"undecodable\"", n(m.refused_count(Refused::Undecodable))),
            ("reason=\"mismatch\"", n(m.refused_count(Refused::Mismatch))),
            ("reason=\"never_valid\"", n(m.refused_count(Refused::NeverValid))),
        ],
    );
    metric(
        &mut out,
        "outpost_backups_total",
        "counter",
        "Backups made, by outcome.",
        &[
            ("outcome=\"made\"", c(&m.backups_made)),
            ("outcome=\"failed\"", c(&m.backups_failed)),
        ],
    );
    metric(
        &mut out,
        "outpost_ops_received_total",
        "counter",
        "Authorisation ops from peers added.",
        &[("", c(&m.ops_received))],
    );
    metric(
        &mut out,
        "outpost_envelopes_stored",
        "gauge",
        "Envelopes in the store.",
        &[("", n(g.envelopes))],
    );
    metric(
        &mut out,
        "outpost_envelopes_pending",
        "gauge",
        "Envelopes waiting for dependencies or authorisation ops.",
        &[("", n(g.pending))],
    );
    metric(
        &mut out,
        "outpost_store_bytes",
        "gauge",
        "Size of the store file.",
        &[("", n(g.store_bytes))],
    );
    metric(
        &mut out,
        "outpost_gossip_queue_depth",
        "gauge",
        "Gossip messages waiting to be ingested.",
        &[("", n(g.gossip_queue))],
    );
    metric(
        &mut out,
        "outpost_gossip_dropped_total",
        "counter",
        "Gossip messages dropped because the ingest queue was full.",
        &[("", c(&m.gossip_dropped))],
    );
    metric(
        &mut out,
        "outpost_gossip_published_total",
        "counter",
        "Gossip messages published.",
        &[("", n(g.gossip_published))],
    );
    metric(
        &mut out,
        "outpost_gossip_publish_failures_total",
        "counter",
        "Gossip publishes that reached no peer or failed (anti-entropy delivers instead).",
        &[
            ("reason=\"no_peers\"", n(g.gossip_no_peers)),
            ("reason=\"error\"", n(g.gossip_failed)),
        ],
    );
    metric(
        &mut out,
        "outpost_gossip_received_total",
        "counter",
        "Gossip messages received from admitted peers.",
        &[("", n(g.gossip_received))],
    );
    metric(
        &mut out,
        "outpost_gossip_rejected_total",
        "counter",
        "Gossip messages rejected as invalid (not passed on).",
        &[("", n(g.gossip_rejected))],
    );
    metric(
        &mut out,
        "outpost_peer_offences_total",
        "counter",
        "Invalid items counted against the peers that sent them.",
        &[("", n(g.offences))],
    );
    metric(
        &mut out,
        "outpost_peers_throttled_total",
        "counter",
        "Times a peer was throttled for sending invalid items.",
        &[("", n(g.throttled_total))],
    );
    metric(
        &mut out,
        "outpost_peers_banned_total",
        "counter",
        "Times a peer was banned (disconnected and refused) for sending invalid items.",
        &[("", n(g.banned_total))],
    );
    metric(
        &mut out,
        "outpost_peers_throttled",
        "gauge",
        "Peers throttled now.",
        &[("", n(g.throttled_now))],
    );
    metric(
        &mut out,
        "outpost_peers_banned",
        "gauge",
        "Peers banned now.",
        &[("", n(g.banned_now))],
    );
    metric(
        &mut out,
        "outpost_throttled_dropped_total",
        "counter",
        "Messages and requests dropped unread because their peer was throttled.",
        &[("", n(g.throttled_dropped))],
    );
    metric(
        &mut out,
        "outpost_banned_connections_refused_total",
        "counter",
        "Connections of banned peers closed at once.",
        &[("", n(g.banned_refused))],
    );
    metric(
        &mut out,
        "outpost_sync_sessions_total",
        "counter",
        "Sync sessions this node started that ended.",
        &[("", c(&m.sync_sessions))],
    );
    metric(
        &mut out,
        "outpost_sync_envelopes_sent_total",
        "counter",
        "Envelopes sent by sync sessions.",
        &[("", c(&m.sync_envelopes_sent))],
    );
    metric(
        &mut out,
        "outpost_sync_bytes_total",
        "counter",
        "Bytes of sync sessions this node started.",
        &[
            ("direction=\"sent\"", c(&m.sync_bytes_sent)),
            ("direction=\"received\"", c(&m.sync_bytes_received)),
        ],
    );
    let ages: Vec<(String, String)> = g
        .sync_age
        .iter()
        .map(|(peer, age)| (format!("peer=\"{}\"", label(peer)), format!("{age:.3}")))
        .collect();
    let ages: Vec<(&str, String)> = ages.iter().map(|(l, v)| (l.as_str(), v.clone())).collect();
    metric(
        &mut out,
        "outpost_sync_lag_seconds",
        "gauge",
        "Seconds since the last sync session with each peer ended.",
        &ages,
    );
    let (cpu, rss) = process();
    metric(
        &mut out,
        "process_cpu_seconds_total",
        "counter",
        "CPU time of the node process.",
        &[("", format!("{cpu:.2}"))],
    );
    metric(
        &mut out,
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory of the node process.",
        &[("", n(rss))],
    );
    metric(
        &mut out,
        "process_start_time_seconds",
        "gauge",
        "When the node started, in seconds since 1970.",
        &[("", n(g.started))],
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_every_family_with_help_and_type() {
        let m = Metrics::default();
        m.refused(Refused::Mismatch);
        m.refused(Refused::Mismatch);
        m.envelopes_received.fetch_add(5, Relaxed);
        let g = Gauges {
            peers: 2,
            sync_age: vec![("12D3Koo\"x".into(), 1.5)],
            ..Gauges::default()
        };
        let text = render(&m, &g);
        assert!(
            text.contains("outpost_envelopes_rejected_total{reason=\"mismatch\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("outpost_envelopes_received_total 5\n"));
        assert!(text.contains("outpost_peers 2\n"));
        assert!(
            text.contains("outpost_sync_lag_seconds{peer=\"12D3Koo\\\"x\"} 1.500\n"),
            "labels are escaped"
        );
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap_or_default();
            assert!(text.contains(&format!("# TYPE {name} ")), "{name} has a TYPE line");
        }
        let (cpu, rss) = process();
        assert!(cpu >= 0.0 && rss > 0, "this process has resident memory");
    }
}
