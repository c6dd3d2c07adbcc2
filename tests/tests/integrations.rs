//! Integrations on a real node (`outpost up` on 127.0.0.1): scoped API
//! tokens with their scopes and rate limits, webhooks signed with HMAC
//! and retried until delivered (to a receiver this test runs on
//! 127.0.0.1), and the incoming endpoints for an OA system (tasks, once
//! per external id) and an HR system (staff changes queued for an admin,
//! turned into a staff list for `staff import`).

use hmac::{KeyInit, Mac};
use outpost_tests::cluster::{TIMEOUT, acme};
use outpost_tests::{RunningNode, wait_until};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// `(status, body)` of a request with `token`.
fn call(node: &RunningNode, method: &str, path: &str, body: Option<&Value>, token: &str) -> (u16, Value) {
    let r = node
        .request_with(method, path, body, token)
        .unwrap_or_else(|e| panic!("{e}"));
    (r.status, serde_json::from_str(&r.body).unwrap_or(Value::String(r.body)))
}

/// Makes a token with the CLI (through the running node); its text.
fn token(admin: &outpost_tests::Node, name: &str, args: &[&str]) -> String {
    let mut all = vec!["token", "create", name];
    all.extend_from_slice(args);
    let v = admin.json(all);
    let text = v["token"].as_str().expect("the token's text").to_owned();
    assert!(text.starts_with("outpost_"), "{v}");
    text
}

#[test]
fn scoped_tokens_reach_only_their_scopes_at_their_rate() {
    let (_sb, admin) = acme();
    let a = admin.up(&[]);
    let project = a.post("/api/tasks", &json!({"action": "create_project", "name": "Ops"}))["project"]
        .as_str()
        .expect("a project")
        .to_owned();

    let reader = token(&admin, "dashboard", &["--scope", "tasks:read"]);
    let writer = token(&admin, "tracker", &["--scope", "tasks:write,status"]);

    // Reading the board is allowed to both; adding a task only to the writer.
    let board = json!({"action": "board", "project": project});
    assert_eq!(call(&a, "POST", "/api/tasks", Some(&board), &reader).0, 200);
    let add = json!({"action": "add", "project": project, "title": "Rotate keys"});
    let (status, body) = call(&a, "POST", "/api/tasks", Some(&add), &reader);
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "scope");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("tasks:write") && message.contains("dashboard"),
        "{message}"
    );
    let (status, body) = call(&a, "POST", "/api/tasks", Some(&add), &writer);
    assert_eq!(status, 200, "{body}");

    // Outside their scopes, and what only the node's own token may do.
    assert_eq!(call(&a, "GET", "/api/status", None, &reader).0, 403);
    assert_eq!(call(&a, "GET", "/api/status", None, &writer).0, 200);
    assert_eq!(call(&a, "GET", "/api/docs", None, &writer).0, 403);
    assert_eq!(call(&a, "GET", "/api/tokens", None, &writer).0, 403);
    assert_eq!(
        call(
            &a,
            "POST",
            "/api/tokens",
            Some(&json!({"name": "x", "scopes": ["hr"]})),
            &writer
        )
        .0,
        403
    );
    assert_eq!(call(&a, "GET", "/", None, &writer).0, 403);
    // A wrong secret is no token at all.
    let forged = format!("{}0", &writer[..writer.len() - 1]);
    let forged = if forged == writer {
        format!("{}1", &writer[..writer.len() - 1])
    } else {
        forged
    };
    assert_eq!(call(&a, "GET", "/api/status", None, &forged).0, 401);

    // The rate limit: three a minute, then 429 saying when to come back.
    let slow = token(&admin, "slow", &["--scope", "status", "--rate", "3"]);
    for _ in 0..3 {
        assert_eq!(call(&a, "GET", "/api/status", None, &slow).0, 200);
    }
    let (status, body) = call(&a, "GET", "/api/status", None, &slow);
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("3 requests a minute"),
        "{body}"
    );

    // Listing shows no secrets; revoking cuts the token off at once.
    let listed = admin.json(["token", "list"]);
    assert_eq!(listed["tokens"].as_array().map(Vec::len), Some(3), "{listed}");
    assert!(!listed.to_string().contains(&writer[17..]), "no secret is listed");
    admin.ok(["token", "revoke", "tracker"]);
    assert_eq!(call(&a, "GET", "/api/status", None, &writer).0, 401);

    // Tokens live in the store: after a restart the reader still works.
    drop(a);
    let a = admin.up(&[]);
    assert_eq!(call(&a, "POST", "/api/tasks", Some(&board), &reader).0, 200);
    assert_eq!(
        call(&a, "GET", "/api/status", None, &writer).0,
        401,
        "revoked stays revoked"
    );
}

/// One request the receiver got: its headers (lower case) and body.
type Got = (HashMap<String, String>, String);

/// An HTTP receiver on 127.0.0.1 that answers the statuses of `answers`
/// in turn (then 200) and keeps what it got.
fn receiver(answers: Vec<u16>) -> (String, Arc<Mutex<Vec<Got>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port on 127.0.0.1");
    let url = format!("http://{}/hook", listener.local_addr().expect("an address"));
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    std::thread::spawn(move || {
        let mut answers = answers.into_iter();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("the stream clones"));
            let mut headers = HashMap::new();
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.trim_end().split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                }
            }
            let len: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            seen.lock()
                .expect("never poisoned")
                .push((headers, String::from_utf8_lossy(&body).into_owned()));
            let status = answers.next().unwrap_or(200);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (url, got)
}

fn hmac_hex(secret: &str, message: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[test]
fn webhooks_are_signed_retried_and_logged() {
    let (_sb, admin) = acme();
    let a = admin.up(&[]);
    // The receiver fails the first try of the first delivery.
    let (url, got) = receiver(vec![500]);
    let hook = admin.json(["webhook", "add", &url, "--event", "changed"]);
    let (id, secret) = (
        hook["id"].as_str().expect("an id").to_owned(),
        hook["secret"].as_str().expect("a secret").to_owned(),
    );
    assert_eq!(secret.len(), 64);

    // A change on the node is an event the webhook wants.
    let project = a.post("/api/tasks", &json!({"action": "create_project", "name": "Hooks"}));
    let doc = project["project"].as_str().expect("a project").to_owned();
    let deliveries = wait_until("the receiver got a retried delivery", TIMEOUT, &[&a], || {
        let got = got.lock().expect("never poisoned").clone();
        if got.len() >= 2 {
            Ok(got)
        } else {
            Err(format!("{} requests so far", got.len()))
        }
    });
    let (first, second) = (&deliveries[0], &deliveries[1]);
    assert_eq!(
        first.0["x-outpost-delivery"], second.0["x-outpost-delivery"],
        "a retry of one delivery"
    );
    assert_eq!(first.1, second.1, "the same body");
    for (headers, body) in [first, second] {
        assert_eq!(headers["x-outpost-event"], "changed");
        let timestamp = &headers["x-outpost-timestamp"];
        let want = format!("sha256={}", hmac_hex(&secret, &format!("{timestamp}.{body}")));
        assert_eq!(headers["x-outpost-signature"], want, "HMAC-SHA256 of timestamp.body");
        let v: Value = serde_json::from_str(body).expect("a JSON body");
        assert_eq!(v["event"], "changed");
        assert!(v["data"]["docs"].to_string().contains(&doc), "{v}");
    }
    // A wrong secret does not verify.
    let (headers, body) = first;
    let wrong = format!(
        "sha256={}",
        hmac_hex("not the secret", &format!("{}.{body}", headers["x-outpost-timestamp"]))
    );
    assert_ne!(headers["x-outpost-signature"], wrong);

    // The log has both attempts: refused with 500, then delivered.
    let delivery = first.0["x-outpost-delivery"].clone();
    let log = wait_until("the log has both attempts", TIMEOUT, &[&a], || {
        let log = admin.json(["webhook", "log"]);
        let mine: Vec<Value> = log["attempts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|x| x["delivery"] == delivery.as_str())
            .cloned()
            .collect();
        if mine.len() == 2 {
            Ok(mine)
        } else {
            Err(log.to_string())
        }
    });
    assert_eq!(
        (
            log[0]["attempt"].as_u64(),
            log[0]["status"].as_u64(),
            log[0]["ok"].as_bool()
        ),
        (Some(1), Some(500), Some(false))
    );
    assert_eq!(
        (
            log[1]["attempt"].as_u64(),
            log[1]["status"].as_u64(),
            log[1]["ok"].as_bool()
        ),
        (Some(2), Some(200), Some(true))
    );
    assert_eq!(log[0]["hook"], id.as_str());

    // Removed: no more deliveries.
    admin.ok(["webhook", "remove", &id]);
    let before = got.lock().expect("never poisoned").len();
    a.post("/api/tasks", &json!({"action": "create_project", "name": "Quiet"}));
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(
        got.lock().expect("never poisoned").len(),
        before,
        "a removed webhook gets nothing"
    );
    // Bad input is refused with a message.
    admin
        .cmd(["webhook", "add", "ftp://example.invalid/", "--event", "changed"])
        .fails(&admin, 1, "http:// or https://");
    admin
        .cmd(["webhook", "add", &url, "--event", "payday"])
        .fails(&admin, 1, "unknown event");
}

#[test]
fn oa_tasks_arrive_once_and_hr_changes_wait_for_an_admin() {
    let (sb, admin) = acme();
    let a = admin.up(&[]);
    a.post("/api/tasks", &json!({"action": "create_project", "name": "Facilities"}));
    let oa = token(&admin, "OA", &["--scope", "oa:write"]);
    let hr = token(&admin, "HR", &["--scope", "hr:write"]);

    let push = json!({"project": "Facilities", "title": "Fix the door", "external_id": "OA-77", "due": "2030-01-02"});
    let (status, first) = call(&a, "POST", "/api/incoming/oa/tasks", Some(&push), &oa);
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["created"], true);
    let (status, again) = call(&a, "POST", "/api/incoming/oa/tasks", Some(&push), &oa);
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        (again["created"].as_bool(), &again["task"]),
        (Some(false), &first["task"]),
        "once per external id"
    );
    let board = a.post("/api/tasks", &json!({"action": "board", "project": "Facilities"}));
    let cards: Vec<&Value> = board["board"]["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["cards"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(cards.len(), 1, "{board}");
    assert_eq!(cards[0]["title"], "Fix the door");
    // The OA token cannot push staff changes, nor the HR token tasks.
    assert_eq!(call(&a, "POST", "/api/incoming/oa/tasks", Some(&push), &hr).0, 403);

    let staff = json!({"changes": [
        {"action": "hire", "name": "Wang Fang", "department": "HQ/East", "position": "Engineer", "level": "3", "email": "wang@example.com", "employee_id": "E100"},
        {"action": "leave", "name": "Old Timer", "employee_id": "E001"},
    ]});
    assert_eq!(call(&a, "POST", "/api/incoming/hr/staff", Some(&staff), &oa).0, 403);
    let (status, queued) = call(&a, "POST", "/api/incoming/hr/staff", Some(&staff), &hr);
    assert_eq!(status, 200, "{queued}");
    assert_eq!(queued["queued"].as_array().map(Vec::len), Some(2));
    let bad = json!({"changes": [{"action": "hire", "name": "No Dept"}]});
    let (status, refused) = call(&a, "POST", "/api/incoming/hr/staff", Some(&bad), &hr);
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("needs a department")
    );

    // The admin turns the hires into a staff list, then into invites.
    let pending = admin.json(["staff", "pending", "--csv", "hires.csv"]);
    assert_eq!(pending["pending"].as_array().map(Vec::len), Some(2), "{pending}");
    let csv = sb.read("hires.csv");
    assert!(
        csv.contains("Wang Fang,HQ/East,Engineer,3,member,wang@example.com"),
        "{csv}"
    );
    assert!(!csv.contains("Old Timer"), "leavers are not invited: {csv}");
    let ids: Vec<String> = pending["pending"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect();
    admin.ok(["staff", "pending", "--clear", &ids.join(",")]);
    assert_eq!(admin.json(["staff", "pending"])["pending"], json!([]));
    drop(a);
    admin.ok(["staff", "import", "hires.csv", "--out", "invites"]);
    assert!(
        std::fs::read_dir(sb.path("invites"))
            .expect("invites were written")
            .count()
            == 1
    );
}
