//! The gossip-at-scale figures: the node's gossip simulated
//! ([`outpost_net::gossip_sim`]) with 100 and 1,000 peers, several seeds.

use crate::figures::{Better, Figure, Stats, raw};
use anyhow::{Context, Result};
use outpost_net::gossip_sim::{SimConfig, SimReport, simulate};

/// Sizes of a run.
#[derive(Debug, Clone)]
pub struct GossipSizes {
    /// Peer counts, one set of figures each.
    pub peers: Vec<usize>,
    /// Envelopes published per simulation.
    pub messages: usize,
    /// Seeds: one simulation each; the figures are over them.
    pub seeds: Vec<u64>,
    /// Link loss of the extra delivery figure.
    pub loss: f64,
}

impl GossipSizes {
    /// For a mode: `full`, `quick` or `smoke`.
    pub fn of(mode: &str) -> GossipSizes {
        let (messages, seeds) = match mode {
            "full" => (50, vec![1, 2, 3, 4, 5]),
            "quick" => (20, vec![1, 2, 3]),
            _ => (10, vec![1, 2]),
        };
        GossipSizes {
            peers: vec![100, 1000],
            messages,
            seeds,
            loss: 0.05,
        }
    }
}

fn run(peers: usize, s: &GossipSizes, loss: f64) -> Vec<SimReport> {
    s.seeds
        .iter()
        .map(|&seed| {
            let mut c = SimConfig::node(peers, s.messages, seed);
            c.loss = loss;
            simulate(&c)
        })
        .collect()
}

fn stats(reports: &[SimReport], f: impl Fn(&SimReport) -> f64) -> Result<Stats> {
    Stats::of(&reports.iter().map(f).collect::<Vec<_>>()).context("the simulation gave no finite figure")
}

/// The figures, and the simulations' reports (for checks).
pub fn figures(s: &GossipSizes) -> Result<(Vec<Figure>, Vec<SimReport>)> {
    let mut figs = Vec::new();
    let mut all = Vec::new();
    for &p in &s.peers {
        let clean = run(p, s, 0.0);
        let lossy = run(p, s, s.loss);
        let first = clean.first().context("no seed to simulate")?;
        let c = SimConfig::node(p, s.messages, 0);
        let seeds = s.seeds.len();
        let describe = |rs: &[SimReport]| -> String {
            let deg = rs.iter().map(|r| r.mesh_degree_mean).sum::<f64>() / rs.len().max(1) as f64;
            let p99 = rs.iter().map(|r| r.latency_us[1]).max().unwrap_or(0) as f64 / 1000.0;
            let iwant = rs.iter().map(|r| r.by_iwant).sum::<u64>();
            let dup = rs.iter().map(|r| r.duplicates).sum::<u64>() as f64
                / rs.iter().map(|r| r.expected).sum::<u64>().max(1) as f64;
            let max_peer = rs.iter().map(|r| r.bytes_max_peer_per_message).fold(0.0, f64::max);
            format!(
                "mean mesh degree {deg:.1} (bounds {}–{}); worst peer {max_peer:.0} B/message; {dup:.1} duplicate copies per delivery; {iwant} deliveries by IWANT; latency p99 {p99:.1} ms",
                c.params.mesh_n_low, c.params.mesh_n_high
            )
        };
        let common = format!(
            "{} envelopes of {} B, {} connections per peer, links {}–{} ms, heartbeat {} ms, flood publish {}; {seeds} seeds",
            s.messages,
            c.envelope_bytes,
            c.connections,
            c.latency_base_us / 1000,
            (c.latency_base_us + c.latency_jitter_us) / 1000,
            c.params.heartbeat_us / 1000,
            if c.params.flood_publish { "on" } else { "off" },
        );
        figs.push(Figure::new(
            "gossip-sim",
            &format!("bytes-per-peer-{p}"),
            &format!("Gossip, {p} peers: bytes sent per peer per envelope"),
            "bytes",
            Better::Lower,
            stats(&clean, |r| r.bytes_per_peer_per_message)?,
            Some(raw(
                &format!("D × envelope size (D = mesh_n = {})", first.mesh_n),
                stats(&clean, SimReport::bound_bytes)?,
            )),
            Some("ratio <= 1"),
            format!("{common}; {}", describe(&clean)),
        ));
        figs.push(Figure::new(
            "gossip-sim",
            &format!("delivery-{p}"),
            &format!("Gossip, {p} peers: peers × envelopes received"),
            "%",
            Better::Higher,
            stats(&clean, |r| 100.0 * r.delivery_ratio())?,
            None,
            Some("median >= 100 %"),
            format!("{common}; no loss"),
        ));
        figs.push(Figure::new(
            "gossip-sim",
            &format!("delivery-{p}-loss"),
            &format!("Gossip, {p} peers, {:.0}% of messages lost: received", 100.0 * s.loss),
            "%",
            Better::Higher,
            stats(&lossy, |r| 100.0 * r.delivery_ratio())?,
            None,
            None,
            format!(
                "{common}; every link loses {:.0}% of messages (control included); {}; {:.0} bytes per peer per envelope",
                100.0 * s.loss,
                describe(&lossy),
                stats(&lossy, |r| r.bytes_per_peer_per_message)?.median
            ),
        ));
        all.extend(clean);
        all.extend(lossy);
    }
    Ok((figs, all))
}
