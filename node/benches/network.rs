//! The network benchmark (issue #4): three figures of the node on
//! 127.0.0.1, measured in one run with real daemons, real libp2p and real
//! redb stores. See `network/scenarios.rs` for what each scenario does and
//! `docs/performance.md` for the targets and the latest figures.
//!
//! ```text
//! cargo bench -p outpost-node --bench network             # full sizes
//! cargo bench -p outpost-node --bench network -- --quick  # scaled down
//! OUTPOST_BENCH_QUICK=1 cargo bench -p outpost-node --bench network
//! OUTPOST_BENCH_DOCS=300 ...   # catch-up corpus of 300 documents instead
//! ```
//!
//! Prints a table and writes `target/outpost-bench/network.json`
//! (`network.quick.json` for a quick run). In test mode (`cargo test
//! --benches`, or `cargo bench -- --test`) it runs the smoke sizes and
//! writes nothing.

#[path = "network/scenarios.rs"]
mod scenarios;

use scenarios::common::{self, Mode};
use scenarios::{Report, Sizes};

fn main() {
    common::main(
        "network",
        |mode| {
            let mut sizes = match mode {
                Mode::Test => Sizes::smoke(),
                Mode::Quick => Sizes::quick(),
                Mode::Full => Sizes::full(),
            };
            // For profiling one scenario at another size.
            if let Some(docs) = std::env::var("OUTPOST_BENCH_DOCS").ok().and_then(|v| v.parse().ok()) {
                sizes.docs = docs;
            }
            async move { scenarios::run(&sizes).await }
        },
        Report::table,
        Report::json,
    );
}
