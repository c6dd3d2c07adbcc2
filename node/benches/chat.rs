//! The chat benchmark (issue #5): what one node ingests from peers, how
//! long a message takes from the send call to the other nodes' stores, and
//! how fast a file moves from one node to another next to a bare libp2p
//! transfer of the same bytes, measured in one run with real daemons, real
//! libp2p and real redb stores on 127.0.0.1. See `chat/scenarios.rs` for what each scenario does and
//! `docs/performance.md` for the latest figures.
//!
//! ```text
//! cargo bench -p outpost-node --bench chat             # full sizes
//! cargo bench -p outpost-node --bench chat -- --quick  # scaled down
//! OUTPOST_BENCH_QUICK=1 cargo bench -p outpost-node --bench chat
//! ```
//!
//! Prints a table and writes `target/outpost-bench/chat.json`
//! (`chat.quick.json` for a quick run). In test mode (`cargo test
//! --benches`, or `cargo bench -- --test`) it runs the smoke sizes and
//! writes nothing.

#[path = "chat/scenarios.rs"]
mod scenarios;

use scenarios::common::{self, Mode};
use scenarios::{Report, Sizes};

fn main() {
    common::main(
        "chat",
        |mode| {
            let sizes = match mode {
                Mode::Test => Sizes::smoke(),
                Mode::Quick => Sizes::quick(),
                Mode::Full => Sizes::full(),
            };
            async move { scenarios::run(&sizes).await }
        },
        Report::table,
        Report::json,
    );
}
