//! Smoke test of the performance suite (`scripts/bench`, issue #10): its
//! code paths at tiny sizes, so that CI notices when the suite breaks —
//! the memory scenario on real `outpost up` processes with a tiny store,
//! the gossip simulation at small size, and the report generator producing
//! `report.md`, `report.json` and PNG charts from those figures. Speed is
//! not checked here; the targets live in the suite only.

#[path = "../benches/memory/scenarios.rs"]
#[allow(dead_code)]
mod scenarios;

use outpost_bench_report::convert::{Runs, convert};
use outpost_bench_report::figures::{FiguresFile, load_avg, now_rfc3339};
use outpost_bench_report::gossip::{GossipSizes, figures as gossip_figures};
use outpost_bench_report::report::{SuiteContext, generate};

#[test]
fn the_suite_runs_at_tiny_sizes_and_writes_its_report() {
    let out = tempfile::tempdir().unwrap();

    // Memory: real processes, a tiny store.
    let sizes = scenarios::Sizes::smoke();
    let report = scenarios::run(&sizes).unwrap();
    println!("{}", report.table());
    assert_eq!(report.idle.len(), sizes.starts);
    assert_eq!(report.loaded.len(), sizes.starts);
    assert_eq!(report.envelopes, sizes.docs + sizes.messages + sizes.channels);
    assert!(report.store_mb > 0.0);
    for s in report.idle.iter().chain(&report.loaded) {
        // A live process has some resident memory, at most its peak.
        assert!(s.rss_mb > 1.0 && s.rss_mb <= s.hwm_mb, "{s:?}");
        assert!(s.ready_ms > 0.0);
    }
    let runs = Runs::of(vec![report.json("smoke")]);
    let memory = convert("memory", &runs).unwrap();
    assert_eq!(
        memory.iter().map(|f| f.scenario.as_str()).collect::<Vec<_>>(),
        ["idle-rss", "loaded-rss", "cold-start"]
    );
    assert!(
        memory.iter().all(|f| f.met.is_some()),
        "every memory figure has a checked target"
    );
    let file = FiguresFile {
        group: "memory".into(),
        mode: "smoke".into(),
        started: now_rfc3339(),
        load_avg: load_avg(),
        figures: memory,
    };
    file.write(out.path()).unwrap();

    // Gossip: small simulations; every peer receives everything.
    let gs = GossipSizes {
        peers: vec![30, 100],
        messages: 5,
        seeds: vec![1, 2],
        loss: 0.05,
    };
    let (figs, sims) = gossip_figures(&gs).unwrap();
    assert_eq!(figs.len(), 6);
    let lossless: Vec<_> = sims.iter().filter(|s| s.lost == 0).collect();
    assert!(lossless.len() >= 4, "two seeds at each size without loss");
    for s in lossless {
        assert_eq!(s.delivered, s.expected, "all peers received: {s:?}");
    }
    let bytes = figs.iter().find(|f| f.scenario == "bytes-per-peer-100").unwrap();
    assert!(bytes.outpost.median > 0.0 && bytes.ratio.is_some());
    FiguresFile {
        group: "gossip-sim".into(),
        mode: "smoke".into(),
        started: now_rfc3339(),
        load_avg: load_avg(),
        figures: figs,
    }
    .write(out.path())
    .unwrap();

    // The report.
    let w = generate(
        out.path(),
        &SuiteContext {
            load_before: load_avg(),
            commit: None,
            notes: vec!["smoke test".into()],
        },
    )
    .unwrap();
    let md = std::fs::read_to_string(&w.markdown).unwrap();
    assert!(md.contains("Resident memory of an idle node"), "{md}");
    assert!(md.contains("Gossip, 100 peers"), "{md}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&w.json).unwrap()).unwrap();
    assert_eq!(json["figures"].as_array().unwrap().len(), 9);
    assert!(json["machine"]["nproc"].as_u64().unwrap() >= 1);
    if let Some(why) = &w.charts_skipped {
        panic!("no charts: {why}");
    }
    assert_eq!(w.charts.len(), 3, "one chart per group and the targets chart");
    for c in &w.charts {
        let bytes = std::fs::read(c).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{} is a PNG", c.display());
        assert!(bytes.len() > 2_000, "{} has content", c.display());
    }
}
