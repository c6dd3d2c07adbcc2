//! The performance suite's shared parts (`scripts/bench`, issue #10):
//! - [`figures`]: the common figure format every part writes to
//!   `<target>/outpost-bench/<group>.figures.json`;
//! - [`convert`]: figures from the JSON the existing benchmarks write;
//! - [`gossip`]: the gossip-at-scale figures, from the deterministic
//!   simulation in `outpost_net::gossip_sim`;
//! - [`report`]: `report.md`, `report.json` and PNG charts from every
//!   figures file.
//!
//! The binary `outpost-bench-report` runs each of them (see its `--help`).

pub mod convert;
pub mod figures;
pub mod gossip;
pub mod report;

/// Where the suite writes: `$CARGO_TARGET_DIR/outpost-bench`, else the
/// workspace's `target/outpost-bench`.
pub fn default_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("outpost-bench")
}
