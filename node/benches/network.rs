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

use scenarios::Sizes;

fn has_arg(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

fn main() {
    if has_arg("--list") {
        return;
    }
    let test = has_arg("--test") || !has_arg("--bench");
    let quick = has_arg("--quick") || std::env::var("OUTPOST_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let (sizes, mode) = if test {
        (Sizes::smoke(), "test (smoke sizes; not figures to quote)")
    } else if quick {
        (Sizes::quick(), "quick (scaled down; not figures to quote)")
    } else {
        (Sizes::full(), "bench")
    };
    let mut sizes = sizes;
    // For profiling one scenario at another size.
    if let Some(docs) = std::env::var("OUTPOST_BENCH_DOCS").ok().and_then(|v| v.parse().ok()) {
        sizes.docs = docs;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    let report = match runtime.block_on(scenarios::run(&sizes)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("network benchmark failed: {e:#}");
            std::process::exit(1);
        }
    };
    print!("{}", report.table());
    if test {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/outpost-bench");
    let name = if quick { "network.quick.json" } else { "network.json" };
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join(name), format!("{:#}\n", report.json(mode))));
    match written {
        Ok(()) => println!("written to {}", dir.join(name).display()),
        Err(e) => eprintln!("cannot write {}: {e}", dir.join(name).display()),
    }
}
