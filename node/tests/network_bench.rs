//! Smoke test of the network benchmark: its scenarios run end to end at
//! tiny sizes (three nodes, 25 gossiped changes, a 200-envelope catch-up, a
//! 3-envelope reconcile) so that CI notices when the benchmark breaks.
//! Speed is not checked here; the targets live in the benchmark only.

#[path = "../benches/network/scenarios.rs"]
mod scenarios;

#[test]
fn network_benchmark_scenarios_run_at_tiny_sizes() {
    let sizes = scenarios::Sizes::smoke();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = runtime.block_on(scenarios::run(&sizes)).unwrap();
    println!("{}", report.table());
    let p = &report.propagation;
    assert_eq!(p.writes, 25);
    assert_eq!(p.missing, 0, "every change reached nodes 2 and 3");
    assert_eq!(p.latency.n, 2 * p.writes);
    let c = &report.catch_up;
    assert_eq!(c.envelopes, sizes.docs * sizes.per_doc);
    assert!(c.total_s > 0.0 && c.floor.total_s > 0.0);
    assert_eq!(report.reconcile.len(), 3);
    for r in &report.reconcile[1..] {
        assert_eq!(r.moved, sizes.differ_by as u64, "{}", r.name);
        assert!(r.bytes > r.missing_bytes, "{}", r.name);
    }
    let json = report.json("test");
    assert!(json["catch_up"]["ratio_to_floor"].is_number());
}
