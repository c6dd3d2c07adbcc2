//! Monitoring and usage statistics on real nodes: `GET /metrics` in the
//! Prometheus text format (behind the token; a scoped token needs
//! `status`), `GET /api/health`, and `outpost stats` counting what two
//! members did today: active members, use per module, files, task
//! completion.

use outpost_tests::cluster::{TIMEOUT, acme, member, new_channel, wait_for_peers};
use outpost_tests::{RunningNode, metric_sample, wait_until};
use serde_json::json;

fn metrics(node: &RunningNode) -> String {
    let r = node.request("GET", "/metrics", None, true).expect("/metrics answers");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.content_type.as_deref().unwrap_or_default().starts_with("text/plain"));
    r.body
}

#[test]
fn metrics_health_and_usage_statistics() {
    let (sb, admin) = acme();
    let bob = member(&sb, &admin, "b");
    let carol = member(&sb, &admin, "c");
    let a = admin.up(&[]);
    let b = bob.up(&[a.addr()]);
    let c = carol.up(&[a.addr(), b.addr()]);
    wait_for_peers(&b, &[&a, &c], &[&a, &b, &c]);

    // Today: Bob and Carol chat, Bob adds a file and two tasks, one done.
    let channel = new_channel(&b, "ops");
    b.post(&format!("/api/channels/{channel}/messages"), &json!({"text": "hello"}));
    wait_until("carol has the channel", TIMEOUT, &[&b, &c], || {
        c.request(
            "POST",
            &format!("/api/channels/{channel}/messages"),
            Some(&json!({"text": "hi"})),
            true,
        )
        .and_then(|r| if r.status == 200 { Ok(()) } else { Err(r.body) })
    });
    let file = sb.write("notes.txt", "twelve bytes");
    bob.ok(["file".as_ref(), "put".as_ref(), file.as_os_str()]);
    b.post("/api/tasks", &json!({"action": "create_project", "name": "Ops"}));
    let one = b.post(
        "/api/tasks",
        &json!({"action": "add", "project": "Ops", "title": "One"}),
    );
    b.post(
        "/api/tasks",
        &json!({"action": "add", "project": "Ops", "title": "Two"}),
    );
    b.post("/api/tasks", &json!({"action": "done", "task": one["task"]}));

    // Carol's node stored what came from Bob; the process reports itself.
    let text = wait_until("carol's node counts what it received", TIMEOUT, &[&c], || {
        let text = metrics(&c);
        match metric_sample(&text, "outpost_envelopes_received_total") {
            Some(n) if n >= 2.0 => Ok(text),
            other => Err(format!("{other:?}")),
        }
    });
    assert_eq!(metric_sample(&text, "outpost_peers"), Some(2.0), "{text}");
    assert_eq!(metric_sample(&text, "outpost_peers_admitted"), Some(2.0));
    assert!(
        metric_sample(&text, "outpost_envelopes_written_total").unwrap_or(0.0) >= 1.0,
        "carol wrote a message"
    );
    assert!(metric_sample(&text, "process_resident_memory_bytes").unwrap_or(0.0) > 1e6);
    assert!(metric_sample(&text, "outpost_store_bytes").unwrap_or(0.0) > 0.0);
    assert!(
        text.contains("outpost_envelopes_rejected_total{reason=\"undecodable\"} 0"),
        "{text}"
    );
    assert!(text.contains("# TYPE outpost_sync_lag_seconds gauge"));
    assert!(
        metric_sample(&metrics(&b), "outpost_gossip_published_total").unwrap_or(0.0) >= 1.0,
        "bob gossiped"
    );

    // Behind the token; a scoped token needs the status scope.
    assert_eq!(
        c.request("GET", "/metrics", None, false).expect("an answer").status,
        401
    );
    let watcher = carol.json(["token", "create", "prometheus", "--scope", "status"])["token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let tasks_only = carol.json(["token", "create", "tracker", "--scope", "tasks"])["token"]
        .as_str()
        .expect("a token")
        .to_owned();
    assert_eq!(
        c.request_with("GET", "/metrics", None, &watcher)
            .expect("an answer")
            .status,
        200
    );
    assert_eq!(
        c.request_with("GET", "/metrics", None, &tasks_only)
            .expect("an answer")
            .status,
        403
    );

    let health = c.get("/api/health");
    assert_eq!(health["ok"], true, "{health}");
    assert_eq!(health["peers"], 2);

    // Usage statistics from Bob's node (through it, as `outpost stats`).
    let stats = wait_until("bob's node has carol's message", TIMEOUT, &[&b], || {
        let v = bob.json(["stats", "--days", "7"]);
        if v["active_members"] == 2 {
            Ok(v)
        } else {
            Err(v.to_string())
        }
    });
    let days = stats["days"].as_array().expect("days");
    assert_eq!(days.len(), 7);
    let today = days.last().expect("today");
    assert_eq!(today["active_members"], 2, "{stats}");
    assert!(
        today["use"]["chat"].as_u64().unwrap_or(0) >= 3,
        "a name and two messages: {today}"
    );
    assert!(today["use"]["files"].as_u64().unwrap_or(0) >= 1, "{today}");
    assert!(today["use"]["tasks"].as_u64().unwrap_or(0) >= 4, "{today}");
    assert_eq!(days[0]["active_members"], 0, "nothing a week ago");
    assert_eq!(stats["tasks"]["tasks"], 2);
    assert_eq!(stats["tasks"]["done"], 1);
    assert_eq!(stats["tasks"]["completion_rate"], 0.5);
    assert_eq!(stats["files"]["files"], 1);
    assert_eq!(stats["files"]["bytes"], 12);
    // Alice is not in HQ/East: its documents are not hers to count.
    let alice = admin.json(["stats", "--days", "7"]);
    assert_eq!(alice["tasks"]["tasks"], 0, "{alice}");
    let text = bob.ok(["stats"]).stdout;
    assert!(
        text.contains("2 active members") && text.contains("1 done (50%)"),
        "{text}"
    );
}
