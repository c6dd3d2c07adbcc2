//! Figures from the JSON the existing benchmarks write (`seal.json`,
//! `identity.json`, `network.json`, `chat.json`, `docs.json`,
//! `memory.json`), one file per run: each figure's runs are the values of
//! its field in each file.

use crate::figures::{Baseline, Better, Figure, Stats, raw};
use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::path::Path;

/// The groups [`convert`] knows.
pub const GROUPS: &[&str] = &["seal", "identity", "network", "chat", "docs", "memory"];

/// Runs of one benchmark: the JSON of each.
#[derive(Debug)]
pub struct Runs {
    runs: Vec<Value>,
    names: Vec<String>,
}

impl Runs {
    /// Reads the JSON files of the runs.
    pub fn read(paths: &[impl AsRef<Path>]) -> Result<Runs> {
        if paths.is_empty() {
            bail!("no run to read: give the JSON file of at least one run");
        }
        let mut runs = Vec::new();
        let mut names = Vec::new();
        for p in paths {
            let p = p.as_ref();
            let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
            runs.push(serde_json::from_str(&text).with_context(|| format!("{} is not JSON", p.display()))?);
            names.push(p.display().to_string());
        }
        Ok(Runs { runs, names })
    }

    /// Runs given as values (tests).
    pub fn of(runs: Vec<Value>) -> Runs {
        let names = (1..=runs.len()).map(|i| format!("run {i}")).collect();
        Runs { runs, names }
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.runs.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// The value at JSON pointer `at` in every run, times `scale`.
    pub fn stats(&self, at: &str, scale: f64) -> Result<Stats> {
        let mut xs = Vec::new();
        for (run, name) in self.runs.iter().zip(&self.names) {
            let x = run.pointer(at).and_then(Value::as_f64).with_context(|| {
                format!("{name} has no number at {at}: was it written by this version of the benchmark?")
            })?;
            xs.push(x * scale);
        }
        Stats::of(&xs).with_context(|| format!("the values at {at} are not finite numbers"))
    }

    /// Every run's values of an array of numbers at `at`, as one list.
    pub fn all(&self, at: &str, scale: f64) -> Result<Stats> {
        let mut xs = Vec::new();
        for (run, name) in self.runs.iter().zip(&self.names) {
            let arr = run
                .pointer(at)
                .and_then(Value::as_array)
                .with_context(|| format!("{name} has no list at {at}"))?;
            xs.extend(arr.iter().filter_map(Value::as_f64).map(|x| x * scale));
        }
        Stats::of(&xs).with_context(|| format!("no numbers at {at}"))
    }

    /// The first run's string at `at`, or "".
    pub fn text(&self, at: &str) -> String {
        self.runs
            .first()
            .and_then(|r| r.pointer(at))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }

    /// The first run's number at `at`, or NaN.
    pub fn first(&self, at: &str) -> f64 {
        self.runs
            .first()
            .and_then(|r| r.pointer(at))
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN)
    }
}

fn runs_note(r: &Runs) -> String {
    format!("{} run{}", r.len(), if r.len() == 1 { "" } else { "s" })
}

/// The figures of `group` from its runs.
pub fn convert(group: &str, r: &Runs) -> Result<Vec<Figure>> {
    let n = runs_note(r);
    let f = match group {
        "seal" => vec![
            Figure::new(
                group,
                "ingest-per-core",
                "Envelope ingest (verify + decrypt + store, durable, grouped) per CPU-second",
                "envelopes/s",
                Better::Higher,
                r.stats("/store/ingest_durable_batch_256_1_producer_per_cpu_s", 1.0)?,
                Some(raw(
                    "ed25519-dalek verify, one thread",
                    r.stats("/open/raw_ed25519_verify_per_s", 1.0)?,
                )),
                Some("ratio >= 0.7"),
                format!(
                    "~530-byte envelopes, 256 per durable commit, one producer overlapped with the committer; per second of process CPU time (both threads); {n}, each the best of 3 rounds"
                ),
            ),
            Figure::new(
                group,
                "catch-up-batch-verify",
                "Catch-up decode (Envelope::decode_batch) vs raw batch verify",
                "envelopes/s",
                Better::Higher,
                r.stats("/open/envelope_decode_batch_256_per_s", 1.0)?,
                Some(raw(
                    "ed25519-dalek verify_batch (256), one thread",
                    r.stats("/open/raw_ed25519_verify_batch_256_per_s", 1.0)?,
                )),
                Some("ratio >= 0.5"),
                format!(
                    "one thread; decode_batch checks each signature with the strict rule, one at a time (batch verification is cofactored and is not used to decide validity, see docs/security.md); the node spreads catch-up over the cores instead; {n}"
                ),
            ),
            Figure::new(
                group,
                "seal",
                "Seal (sign + encrypt) an envelope",
                "envelopes/s",
                Better::Higher,
                r.stats("/seal/envelope_seal_per_s", 1.0)?,
                Some(raw(
                    "ed25519 sign + XChaCha20-Poly1305, one thread",
                    r.stats("/seal/raw_floor_per_s", 1.0)?,
                )),
                None,
                format!("one thread; {n}"),
            ),
            Figure::new(
                group,
                "put-envelopes",
                "Store::put_envelopes, 256 per durable transaction",
                "envelopes/s",
                Better::Higher,
                r.stats("/store/store_put_envelopes_256_durable_per_s", 1.0)?,
                Some(raw(
                    "redb, 256 rows per durable transaction",
                    r.stats("/store/raw_redb_grouped_256_rows_durable_per_s", 1.0)?,
                )),
                None,
                format!("one thread; {n}"),
            ),
        ],
        "identity" => vec![Figure::new(
            group,
            "chain-verify",
            "Device certificate chain verification (4 signed ops)",
            "chains/s",
            Better::Higher,
            r.stats("/chain_verify_per_s", 1.0)?,
            Some(raw(
                "4 × ed25519 verify, one thread",
                r.stats("/raw_floor_chains_per_s", 1.0)?,
            )),
            None,
            format!("one thread; {n}"),
        )],
        "network" => {
            let mut v = vec![
                Figure::new(
                    group,
                    "propagation-p99",
                    "Change propagation across 3 nodes at 200/s: durable write to stored on the others, p99",
                    "ms",
                    Better::Lower,
                    r.stats("/propagation/latency/p99_ms", 1.0)?,
                    None,
                    Some("median <= 10 ms"),
                    format!(
                        "{} changes, p50 {:.1} ms, max {:.1} ms (first run); {n}",
                        r.first("/propagation/writes"),
                        r.first("/propagation/latency/p50_ms"),
                        r.first("/propagation/latency/max_ms")
                    ),
                ),
                Figure::new(
                    group,
                    "catch-up",
                    "Catch-up of an empty node (time to every envelope stored)",
                    "s",
                    Better::Lower,
                    r.stats("/catch_up/total_s", 1.0)?,
                    Some(raw(
                        "verify_batch + decrypt + automerge apply of the same data, one thread",
                        r.stats("/catch_up/floor/total_s", 1.0)?,
                    )),
                    Some("ratio <= 2"),
                    format!(
                        "{} envelopes over {} documents; the node verifies and stores, it applies automerge changes only when a document is read; {n}",
                        r.first("/catch_up/envelopes"),
                        r.first("/catch_up/docs")
                    ),
                ),
            ];
            for (i, case) in [(1, "initiator"), (2, "responder")] {
                let missing = r.stats(&format!("/reconcile/{i}/missing_bytes"), 1.0)?;
                let bytes = r.stats(&format!("/reconcile/{i}/bytes"), 1.0)?;
                let rts = r.stats(&format!("/reconcile/{i}/round_trips"), 1.0)?;
                let limit = 2.0 * missing.median + 4096.0;
                let mut fig = Figure::new(
                    group,
                    &format!("reconcile-{case}-lacks-10"),
                    &format!("Reconcile 2 nodes differing by 10 envelopes ({case} lacks them): sync bytes"),
                    "bytes",
                    Better::Lower,
                    bytes.clone(),
                    Some(raw("the missing envelopes' bytes", missing)),
                    Some(&format!(
                        "median <= {limit:.0} B (2 × missing + 4 KB), <= 3 round trips"
                    )),
                    format!(
                        "{} envelopes shared; round trips {}–{}; {n}",
                        r.first("/sizes/docs") * r.first("/sizes/per_doc"),
                        rts.min,
                        rts.max
                    ),
                );
                fig.met = Some(bytes.median <= limit && rts.max <= 3.0);
                v.push(fig);
            }
            v
        }
        "chat" => vec![
            Figure::new(
                group,
                "send-to-visible-p99",
                "Send to visible across 3 nodes at 200 msgs/s (the API's path), p99",
                "ms",
                Better::Lower,
                r.stats("/send_to_visible/latency/p99_ms", 1.0)?,
                None,
                Some("median <= 10 ms"),
                format!(
                    "{} sends, p50 {:.1} ms (first run); {n}",
                    r.first("/send_to_visible/sends"),
                    r.first("/send_to_visible/latency/p50_ms")
                ),
            ),
            Figure::new(
                group,
                "file-100mb",
                "File between two nodes (fetch_blob)",
                "MB/s",
                Better::Higher,
                r.stats("/file_transfer/fetch_mb_per_s", 1.0)?,
                Some(raw(
                    "libp2p TCP + Noise + Yamux request-response, same chunks",
                    r.stats("/file_transfer/raw_mb_per_s", 1.0)?,
                )),
                Some("ratio >= 0.5"),
                format!(
                    "{:.0} MiB of random bytes, 1 MiB chunks each checked and written synced; {n}",
                    r.first("/file_transfer/bytes") / 1_048_576.0
                ),
            ),
            Figure::new(
                group,
                "ingest-messages",
                "Ingest of chat messages by an empty node, to the first search answer",
                "messages/s",
                Better::Higher,
                r.stats("/ingest/messages_per_s", 1.0)?,
                Some(raw(
                    "ed25519-dalek verify of the same signatures, one thread",
                    r.stats("/ingest/raw_ed25519_verify_per_s", 1.0)?,
                )),
                None,
                format!(
                    "{} messages over {} channels; includes start-up, admission, sync and one search; {n}",
                    r.first("/ingest/messages"),
                    r.first("/sizes/channels")
                ),
            ),
        ],
        "docs" => vec![
            Figure::new(
                group,
                "convergence",
                "Live editing: convergence after the last keystroke",
                "ms",
                Better::Lower,
                r.stats("/load/convergence_ms", 1.0)?,
                None,
                Some("median <= 1000 ms"),
                format!(
                    "{} editors over {} nodes, {} s at {} keystrokes/s each; {n}",
                    r.first("/load/editors"),
                    r.first("/load/nodes"),
                    r.first("/load/secs"),
                    r.first("/load/rate_per_editor")
                ),
            ),
            Figure::new(
                group,
                "keystroke-to-peer-p99",
                "Live editing: keystroke to a peer's snapshot, p99",
                "ms",
                Better::Lower,
                r.stats("/load/keystroke_to_peer/p99_ms", 1.0)?,
                None,
                None,
                format!("the same load; {n}"),
            ),
        ],
        "memory" => {
            let docs = r.first("/loaded/docs");
            let msgs = r.first("/loaded/messages");
            vec![
                Figure::new(
                    group,
                    "idle-rss",
                    "Resident memory of an idle node (outpost up)",
                    "MB",
                    Better::Lower,
                    r.all("/idle/rss_mb", 1.0)?,
                    None,
                    Some("median <= 30 MB"),
                    format!(
                        "VmRSS after start-up and a settle, empty store; VmHWM median {:.1} MB; {} starts",
                        r.all("/idle/hwm_mb", 1.0)?.median,
                        r.all("/idle/rss_mb", 1.0)?.runs.len()
                    ),
                ),
                Figure::new(
                    group,
                    "loaded-rss",
                    "Resident memory of a node holding documents and messages",
                    "MB",
                    Better::Lower,
                    r.all("/loaded/rss_mb", 1.0)?,
                    None,
                    Some("median <= 150 MB"),
                    format!(
                        "{docs} documents and {msgs} chat messages ({:.0} MB store); VmRSS once serving and settled, VmHWM median {:.1} MB; {} starts",
                        r.first("/loaded/store_mb"),
                        r.all("/loaded/hwm_mb", 1.0)?.median,
                        r.all("/loaded/rss_mb", 1.0)?.runs.len()
                    ),
                ),
                Figure::new(
                    group,
                    "cold-start",
                    "Cold start to serving the API with that store",
                    "ms",
                    Better::Lower,
                    r.all("/loaded/cold_start_ms", 1.0)?,
                    None,
                    Some("median <= 300 ms"),
                    format!(
                        "from spawning outpost up to the first 200 from GET /api/status (polled every 2 ms); {docs} documents, {msgs} messages"
                    ),
                ),
            ]
        }
        _ => bail!(
            "no conversion for group {group:?}: the groups are {}",
            GROUPS.join(", ")
        ),
    };
    Ok(f)
}

/// A peer baseline (another product).
pub fn peer(name: &str, stats: Stats) -> Baseline {
    Baseline {
        name: name.into(),
        kind: "peer".into(),
        stats,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chat_runs_become_figures_with_medians() {
        let run = |fetch: f64| {
            json!({
                "send_to_visible": {"latency": {"p99_ms": 5.0, "p50_ms": 2.0}, "sends": 2000},
                "file_transfer": {"fetch_mb_per_s": fetch, "raw_mb_per_s": 500.0, "bytes": 104857600},
                "ingest": {"messages_per_s": 7000.0, "raw_ed25519_verify_per_s": 28000.0, "messages": 20000},
                "sizes": {"channels": 20},
            })
        };
        let figs = convert("chat", &Runs::of(vec![run(300.0), run(200.0), run(100.0)])).unwrap();
        let file = figs.iter().find(|f| f.scenario == "file-100mb").unwrap();
        assert_eq!(file.outpost.median, 200.0);
        assert_eq!(file.ratio, Some(0.4));
        assert_eq!(file.met, Some(false));
        let p99 = figs.iter().find(|f| f.scenario == "send-to-visible-p99").unwrap();
        assert_eq!(p99.met, Some(true));
    }

    #[test]
    fn a_missing_field_is_named() {
        let e = convert("identity", &Runs::of(vec![json!({})])).unwrap_err();
        assert!(format!("{e:#}").contains("/chain_verify_per_s"), "{e:#}");
        let e = convert("nope", &Runs::of(vec![json!({})])).unwrap_err();
        assert!(format!("{e:#}").contains("seal, identity"), "{e:#}");
    }
}
