//! A running node killed (SIGKILL) while several clients write through its
//! API loses no acknowledged change, and its store opens again.
//!
//! The daemon commits each write without waiting for the disk and lets
//! concurrent writers share one durable commit before it answers. A
//! process kill leaves the operating system's cache intact, so this test
//! catches an answer given before the write was committed, a store left
//! unreadable, or a write lost by the process; losing the cache itself (a
//! power cut) is what the durable commit before each answer is for, and no
//! test here can cut the power.

use outpost_tests::{Rng, RunningNode, Sandbox, seed, words};
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Clients writing at once.
const WRITERS: usize = 4;
/// Crash rounds.
const ROUNDS: usize = 3;
/// The longest a round runs before the kill.
const KILL_AFTER_MAX: Duration = Duration::from_millis(600);

fn line(round: usize, writer: usize, i: usize) -> String {
    format!("r{round} w{writer} n{i}")
}

/// Appends lines from [`WRITERS`] threads until the node stops answering;
/// kills the node (SIGKILL) after `kill_after`; returns the lines whose
/// append was acknowledged.
fn write_until_killed(node: RunningNode, id: &str, round: usize, kill_after: Duration) -> Vec<String> {
    let acknowledged = Mutex::new(Vec::new());
    let killed = Mutex::new(false);
    let started = Instant::now();
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let (node, acknowledged, killed) = (&node, &acknowledged, &killed);
            s.spawn(move || {
                for i in 0.. {
                    let text = line(round, w, i);
                    let body = json!({ "append": format!("{text}\n") });
                    match node.request("POST", &format!("/api/docs/{id}"), Some(&body), true) {
                        Ok(r) if r.status == 200 => {
                            acknowledged.lock().expect("no writer panics holding it").push(text)
                        }
                        // Cut off: the node is gone, which must be the kill.
                        other => {
                            assert!(
                                *killed.lock().expect("no writer panics holding it"),
                                "writer {w} failed before the kill: {other:?}"
                            );
                            break;
                        }
                    }
                    if started.elapsed() > kill_after + Duration::from_secs(10) {
                        panic!("the node was not killed");
                    }
                }
            });
        }
        std::thread::sleep(kill_after);
        *killed.lock().expect("no writer panics holding it") = true;
        let pid = node.pid().to_string();
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .expect("kill can be run");
        assert!(killed.success(), "kill -KILL {pid} failed");
    });
    node.kill();
    acknowledged.into_inner().expect("no writer panicked holding it")
}

#[test]
fn a_killed_node_keeps_every_acknowledged_write_of_concurrent_clients() {
    let seed = seed();
    let mut rng = Rng::new(seed);
    let sb = Sandbox::real_clock();
    let alice = sb.node("a");
    alice.init("Alice");
    alice.ok(words("org create --name Acme"));
    let id = alice.json(["doc", "new", "--title", "Crash log"])["id"]
        .as_str()
        .expect("doc new prints the id")
        .to_owned();
    let mut acknowledged: BTreeSet<String> = BTreeSet::new();
    for round in 0..ROUNDS {
        let node = alice.up(&[]);
        let kill_after = Duration::from_millis(100 + rng.up_to(KILL_AFTER_MAX.as_millis() as u64 - 100));
        let acked = write_until_killed(node, &id, round, kill_after);
        assert!(
            !acked.is_empty(),
            "round {round}: no write was acknowledged (seed {seed})"
        );
        acknowledged.extend(acked);
        // The store opens, and every acknowledged line is in the body.
        let body = alice.json(["doc", "show", &id])["body"]
            .as_str()
            .expect("doc show prints the body")
            .to_owned();
        let present: BTreeSet<&str> = body.lines().collect();
        let lost: Vec<&String> = acknowledged.iter().filter(|l| !present.contains(l.as_str())).collect();
        assert!(
            lost.is_empty(),
            "round {round} (seed {seed}): acknowledged but lost after the crash: {lost:?}"
        );
        println!(
            "round {round}: killed after {kill_after:?}; {} lines acknowledged so far, {} in the body",
            acknowledged.len(),
            present.len()
        );
    }
}
