//! The memory benchmark (issue #10): resident memory of a real `outpost up`
//! process, idle and holding 10k documents and 1M messages, and its cold
//! start to serving the API with that store. See `memory/scenarios.rs` and
//! `docs/performance.md`.
//!
//! ```text
//! cargo build --release -p outpost                    # the binary it runs
//! cargo bench -p outpost-node --bench memory          # full sizes
//! cargo bench -p outpost-node --bench memory -- --quick
//! ```
//!
//! Prints a table and writes `target/outpost-bench/memory.json`
//! (`memory.quick.json` for a quick run). The loaded store is built once and
//! kept under `target/outpost-bench/cache/`. In test mode (`cargo test
//! --benches`, or `-- --test`) it runs the smoke sizes and writes nothing.

#[path = "memory/scenarios.rs"]
mod scenarios;

use scenarios::common::{self, Mode};
use scenarios::{Report, Sizes};

fn main() {
    common::main(
        "memory",
        |mode| {
            let sizes = match mode {
                Mode::Test => Sizes::smoke(),
                Mode::Quick => Sizes::quick(),
                Mode::Full => Sizes::full(),
            };
            // Blocking work (processes, sealing threads) off the runtime.
            async move {
                tokio::task::spawn_blocking(move || scenarios::run(&sizes))
                    .await
                    .map_err(|e| anyhow::anyhow!("the memory scenarios panicked: {e}"))?
            }
        },
        Report::table,
        Report::json,
    );
}
