//! The OpenAPI document of the local HTTP API (`node/src/api/openapi.json`,
//! served as `GET /api/openapi.json`) against the routes the node declares
//! and what a running node answers.
//!
//! The routes are read from the source of `router` in `node/src/api.rs`:
//! a route added there without documenting it, or documented but missing
//! there, fails [`documents_every_route`]. Likewise every `ChatRequest`
//! action of `node/src/chat.rs` must be one of `POST /api/chat`'s, and
//! likewise for `LibraryRequest`, `TaskRequest`, `ApprovalRequest`,
//! `AnnounceRequest` and `MeetingRequest`.

use outpost_tests::RunningNode;
use outpost_tests::cluster::acme;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The source that declares the routes.
const API_RS: &str = include_str!("../../node/src/api.rs");
/// The source that declares the chat actions.
const CHAT_RS: &str = include_str!("../../node/src/chat.rs");
/// The source that declares the library actions.
const LIBRARY_RS: &str = include_str!("../../node/src/library.rs");
/// The source that declares the project and task actions.
const TASKS_RS: &str = include_str!("../../node/src/tasks.rs");
/// The source that declares the approval actions.
const APPROVALS_RS: &str = include_str!("../../node/src/approvals.rs");
/// The source that declares the announcement actions.
const ANNOUNCE_RS: &str = include_str!("../../node/src/announce.rs");
/// The source that declares the meeting actions.
const MEETINGS_RS: &str = include_str!("../../node/src/meetings.rs");
/// The source that declares the audit actions.
const AUDIT_RS: &str = include_str!("../../node/src/audit.rs");
/// The document as it is in the tree.
const OPENAPI_JSON: &str = include_str!("../../node/src/api/openapi.json");

/// HTTP methods as axum's routing functions and OpenAPI's path items name
/// them.
const METHODS: [&str; 8] = ["get", "post", "put", "patch", "delete", "head", "options", "trace"];

/// How long reading the head of the event stream may take.
const STREAM_TIMEOUT: Duration = Duration::from_secs(15);

/// The text of `fn name` in `src`, from its signature to its closing brace
/// at the start of a line.
fn function<'a>(src: &'a str, signature: &str) -> &'a str {
    let start = src
        .find(signature)
        .unwrap_or_else(|| panic!("no `{signature}` in the source"));
    let len = src[start..]
        .find("\n}\n")
        .unwrap_or_else(|| panic!("`{signature}` has no closing brace"));
    &src[start..start + len]
}

/// Whether `c` can be part of a Rust path (so a method name after it is
/// not a routing function, e.g. `chat::get`).
fn in_path(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == ':'
}

/// Every (path, method) that `router` declares with `.route("PATH",
/// METHOD(handler).METHOD2(handler))`.
fn declared_routes(src: &str) -> BTreeSet<(String, String)> {
    let body = function(src, "pub fn router(");
    for unsupported in [".nest(", ".merge(", ".route_service(", ".nest_service("] {
        assert!(
            !body.contains(unsupported),
            "router uses {unsupported}, which this test does not read: teach it, and document the routes"
        );
    }
    let mut routes = BTreeSet::new();
    let mut rest = body;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        let open = rest.trim_start();
        let path_text = open
            .strip_prefix('"')
            .unwrap_or_else(|| panic!("a route's path is not a string literal: {open:.80}"));
        let end = path_text.find('"').expect("a route's path literal is closed");
        let path = &path_text[..end];
        // The handlers: up to the parenthesis that closes `.route(`.
        let mut depth = 1;
        let mut close = None;
        for (i, c) in rest.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let close = close.unwrap_or_else(|| panic!("the route {path} is not closed"));
        let handlers = &rest[..close];
        let mut methods = Vec::new();
        for (i, _) in handlers.char_indices() {
            let before = handlers[..i].chars().next_back();
            if before.is_some_and(in_path) {
                continue;
            }
            for method in METHODS.iter().chain(&["any", "on"]) {
                if handlers[i..].starts_with(&format!("{method}(")) {
                    assert!(
                        METHODS.contains(method),
                        "the route {path} uses {method}(...), which this test does not read"
                    );
                    methods.push(*method);
                }
            }
        }
        assert!(!methods.is_empty(), "no method found for the route {path}: {handlers}");
        for method in methods {
            assert!(
                routes.insert((path.to_owned(), method.to_owned())),
                "{method} {path} is declared twice"
            );
        }
        rest = &rest[close..];
    }
    assert!(!routes.is_empty(), "no route found in router");
    routes
}

/// Every (path, method) in the document's `paths`.
fn documented_routes(spec: &Value) -> BTreeSet<(String, String)> {
    let paths = spec["paths"].as_object().expect("the document has paths");
    let mut routes = BTreeSet::new();
    for (path, item) in paths {
        let item = item.as_object().expect("a path item is an object");
        for method in item.keys().filter(|k| METHODS.contains(&k.as_str())) {
            routes.insert((path.clone(), method.clone()));
        }
    }
    routes
}

/// The variants of the enum declared by `signature` (`ChatRequest`,
/// `LibraryRequest`), in snake case as serde names them.
fn actions(src: &str, signature: &str) -> BTreeSet<String> {
    let body = function(src, signature);
    let mut actions = BTreeSet::new();
    for line in body.lines().skip(1) {
        // Variants are indented once; their fields and docs deeper or not
        // starting with a capital.
        let Some(text) = line.strip_prefix("    ") else {
            continue;
        };
        if !text.starts_with(|c: char| c.is_ascii_uppercase()) {
            continue;
        }
        let name: String = text.chars().take_while(|c| c.is_alphanumeric()).collect();
        let mut snake = String::new();
        for (i, c) in name.chars().enumerate() {
            if c.is_ascii_uppercase() {
                if i > 0 {
                    snake.push('_');
                }
                snake.push(c.to_ascii_lowercase());
            } else {
                snake.push(c);
            }
        }
        actions.insert(snake);
    }
    assert!(!actions.is_empty(), "no variant found in `{signature}`");
    actions
}

/// Every `$ref` in `value` that does not point into `spec`.
fn broken_refs(spec: &Value, value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if key == "$ref" {
                    let target = v.as_str().unwrap_or_default();
                    let found = target.strip_prefix('#').and_then(|p| spec.pointer(p)).is_some();
                    if !found {
                        out.push(target.to_owned());
                    }
                } else {
                    broken_refs(spec, v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| broken_refs(spec, v, out)),
        _ => {}
    }
}

/// `$ref`s resolved (one level, for parameters).
fn resolve<'a>(spec: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => spec.pointer(pointer).expect("every $ref resolves"),
        None => value,
    }
}

/// The parameters of operation `method` of `path`, its path item's
/// included, resolved.
fn parameters<'a>(spec: &'a Value, path: &str, method: &str) -> Vec<&'a Value> {
    let item = &spec["paths"][path];
    [&item["parameters"], &item[method]["parameters"]]
        .into_iter()
        .filter_map(Value::as_array)
        .flatten()
        .map(|p| resolve(spec, p))
        .collect()
}

/// The status and `Content-Type` of `GET path` on a stream that does not
/// end (the event stream): only the head is read.
fn stream_head(node: &RunningNode, path: &str) -> (u16, Option<String>) {
    let api = node.api();
    let mut stream = TcpStream::connect(api.addr).expect("the API accepts connections");
    stream
        .set_read_timeout(Some(STREAM_TIMEOUT))
        .expect("a read timeout can be set");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nAccept: text/event-stream\r\n\r\n",
        api.addr, api.token
    )
    .expect("the request is sent");
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader
        .read_line(&mut status_line)
        .expect("the node answers with a status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("GET {path}: bad status line {status_line:?}"));
    let mut content_type = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("the head can be read");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-type")
        {
            content_type = Some(value.trim().to_owned());
        }
    }
    (status, content_type)
}

#[test]
fn documents_every_route() {
    let (_sb, admin) = acme();
    let node = admin.up(&[]);

    let served = node
        .request("GET", "/api/openapi.json", None, true)
        .expect("GET /api/openapi.json answers");
    assert_eq!(served.status, 200, "GET /api/openapi.json: {}", served.body);
    assert_eq!(served.content_type.as_deref(), Some("application/json"));
    let spec: Value = served.json().expect("the document is JSON");
    let in_tree: Value = serde_json::from_str(OPENAPI_JSON).expect("node/src/api/openapi.json is JSON");
    assert_eq!(
        spec, in_tree,
        "the node serves another document than node/src/api/openapi.json"
    );
    let version = spec["openapi"]
        .as_str()
        .expect("the document names its OpenAPI version");
    assert!(version.starts_with("3.1."), "OpenAPI version {version}, not 3.1.x");

    let anonymous = node
        .request("GET", "/api/openapi.json", None, false)
        .expect("GET /api/openapi.json answers");
    assert_eq!(anonymous.status, 401, "the document is served without a token");

    let mut broken = Vec::new();
    broken_refs(&spec, &spec, &mut broken);
    assert!(broken.is_empty(), "$refs that point nowhere: {broken:?}");

    // (a) The routes of `router` are exactly the documented ones.
    let declared = declared_routes(API_RS);
    let documented = documented_routes(&spec);
    let undocumented: Vec<_> = declared.difference(&documented).collect();
    let missing: Vec<_> = documented.difference(&declared).collect();
    assert!(
        undocumented.is_empty() && missing.is_empty(),
        "routes in node/src/api.rs but not in openapi.json: {undocumented:?}\n\
         routes in openapi.json but not in node/src/api.rs: {missing:?}"
    );

    // Every path parameter is described.
    for (path, method) in &documented {
        let described: BTreeSet<&str> = parameters(&spec, path, method)
            .iter()
            .filter(|p| p["in"] == "path")
            .filter_map(|p| p["name"].as_str())
            .collect();
        let in_path: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        assert_eq!(described, in_path, "path parameters of {method} {path}");
    }

    // Every chat, announcement, meeting and audit action is one of its route's.
    for (schema, src, signature, route) in [
        ("ChatRequest", CHAT_RS, "pub enum ChatRequest {", "POST /api/chat"),
        (
            "AnnounceRequest",
            ANNOUNCE_RS,
            "pub enum AnnounceRequest {",
            "POST /api/announcements",
        ),
        (
            "MeetingRequest",
            MEETINGS_RS,
            "pub enum MeetingRequest {",
            "POST /api/meetings",
        ),
        ("AuditRequest", AUDIT_RS, "pub enum AuditRequest {", "POST /api/audit"),
    ] {
        let mapping = spec["components"]["schemas"][schema]["discriminator"]["mapping"]
            .as_object()
            .unwrap_or_else(|| panic!("{schema} has a discriminator mapping"));
        let documented_actions: BTreeSet<String> = mapping.keys().cloned().collect();
        assert_eq!(
            actions(src, signature),
            documented_actions,
            "the actions of {schema} and of {route} in openapi.json"
        );
        for (action, target) in mapping {
            let target = target.as_str().and_then(|t| t.strip_prefix('#')).expect("a local $ref");
            assert_eq!(
                spec.pointer(target).map(|s| &s["properties"]["action"]["const"]),
                Some(&Value::String(action.clone())),
                "{schema}: {action} points at a schema of another action"
            );
        }
    }
    // Every library action is one of `POST /api/library`'s.
    let documented_actions: BTreeSet<String> = spec["components"]["schemas"]["LibraryRequest"]["properties"]["action"]
        ["enum"]
        .as_array()
        .expect("LibraryRequest lists its actions")
        .iter()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        actions(LIBRARY_RS, "pub enum LibraryRequest {"),
        documented_actions,
        "the actions of LibraryRequest in node/src/library.rs and of POST /api/library in openapi.json"
    );
    // Every project and task action is one of `POST /api/tasks`'s.
    let documented_actions: BTreeSet<String> =
        spec["components"]["schemas"]["TaskRequest"]["properties"]["action"]["enum"]
            .as_array()
            .expect("TaskRequest lists its actions")
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect();
    assert_eq!(
        actions(TASKS_RS, "pub enum TaskRequest {"),
        documented_actions,
        "the actions of TaskRequest in node/src/tasks.rs and of POST /api/tasks in openapi.json"
    );

    // Every approval action is one of `POST /api/approvals`'s.
    let documented_actions: BTreeSet<String> = spec["components"]["schemas"]["ApprovalRequest"]["properties"]["action"]
        ["enum"]
        .as_array()
        .expect("ApprovalRequest lists its actions")
        .iter()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        actions(APPROVALS_RS, "pub enum ApprovalRequest {"),
        documented_actions,
        "the actions of ApprovalRequest in node/src/approvals.rs and of POST /api/approvals in openapi.json"
    );

    // (b) Every documented GET without path parameters is served.
    for (path, _) in documented.iter().filter(|(p, m)| m == "get" && !p.contains('{')) {
        let query: Vec<String> = parameters(&spec, path, "get")
            .iter()
            .filter(|p| p["in"] == "query" && p["required"] == true)
            .map(|p| {
                let name = p["name"].as_str().expect("a parameter has a name");
                let example = p["example"]
                    .as_str()
                    .unwrap_or_else(|| panic!("the required query parameter {name} of {path} has no example"));
                format!("{name}={example}")
            })
            .collect();
        let target = if query.is_empty() {
            path.clone()
        } else {
            format!("{path}?{}", query.join("&"))
        };
        let ok = &spec["paths"][path.as_str()]["get"]["responses"]["200"]["content"];
        let (status, content_type) = if ok.get("text/event-stream").is_some() {
            stream_head(&node, &target)
        } else {
            let response = node
                .request("GET", &target, None, true)
                .unwrap_or_else(|e| panic!("{e}\n{}", node.logs()));
            if response.status == 200
                && ok.get("application/json").is_some()
                && let Err(e) = response.json()
            {
                panic!("GET {target}: {e}\n{}", node.logs());
            }
            (response.status, response.content_type)
        };
        println!("GET {target}: {status} {content_type:?}");
        assert!(
            status != 404 && status != 405,
            "GET {target} answers {status}: documented but not served\n{}",
            node.logs()
        );
        let documented_types: BTreeSet<&str> = ok
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        if status == 200 {
            let served_type = content_type.unwrap_or_default();
            assert!(
                documented_types.iter().any(|t| served_type.starts_with(t)),
                "GET {target} answers {served_type:?}, documented as {documented_types:?}"
            );
        }
    }
}
