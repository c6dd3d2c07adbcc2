//! The web page's login on a real node: `outpost open` prints a link whose
//! token becomes an HttpOnly cookie; the page, its files and the API take
//! the cookie of this node's port only; without it the page says how to
//! log in; a change or WebSocket the cookie would authenticate is refused
//! when another site asks.

use outpost_tests::cluster::acme;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A raw answer: status, headers (lower-case names), body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// One request with the given extra header lines.
fn send(addr: SocketAddr, method: &str, path: &str, extra: &[String], body: &str) -> Answer {
    let mut stream = TcpStream::connect(addr).expect("the API answers");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a timeout");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for line in extra {
        request.push_str(line);
        request.push_str("\r\n");
    }
    if !body.is_empty() {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("sent");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("an answer");
    let (head, body) = raw.split_once("\r\n\r\n").expect("headers end");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

#[test]
fn the_link_logs_a_browser_in_and_nothing_works_without_it() {
    let (_sb, admin) = acme();
    let node = admin.up(&[]);
    let addr = node.api().addr;
    let token = node.api().token.clone();

    let open = admin.json(["open", "--no-browser"]);
    let url = open["url"].as_str().expect("open prints the link");
    assert_eq!(url, format!("http://{addr}/login?token={token}"));
    let login = url.strip_prefix(&format!("http://{addr}")).expect("a path");

    // Without the cookie: the page says how to log in, the API refuses.
    let page = send(addr, "GET", "/", &[], "");
    assert_eq!(page.status, 401, "{}", page.body);
    assert!(page.body.contains("outpost open"), "{}", page.body);
    assert_eq!(send(addr, "GET", "/web/app.js", &[], "").status, 401);
    assert_eq!(send(addr, "GET", "/api/status", &[], "").status, 401);
    assert_eq!(send(addr, "GET", "/login?token=wrong", &[], "").status, 401);

    // The link: a cookie for this port, and on to the page.
    let logged = send(addr, "GET", login, &[], "");
    assert_eq!(logged.status, 303, "{}", logged.body);
    assert_eq!(logged.header("location"), Some("/"));
    let cookie = logged.header("set-cookie").expect("a cookie");
    let name = format!("outpost_{}", addr.port());
    assert!(
        cookie.starts_with(&format!("{name}={token};"))
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let with = vec![format!("Cookie: {name}={token}")];
    let page = send(addr, "GET", "/", &with, "");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.header("content-type").is_some_and(|t| t.starts_with("text/html")));
    assert!(page.body.contains("/web/app.js"), "{}", page.body);
    let csp = page.header("content-security-policy").expect("a policy");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let js = send(addr, "GET", "/web/app.js", &with, "");
    assert_eq!(js.status, 200);
    assert!(
        js.header("content-type")
            .is_some_and(|t| t.starts_with("text/javascript"))
    );
    assert_eq!(send(addr, "GET", "/web/nothing.js", &with, "").status, 404);
    assert_eq!(send(addr, "GET", "/api/status", &with, "").status, 200);

    // Another port's cookie is not this node's.
    let other = vec![format!("Cookie: outpost_1={token}")];
    assert_eq!(send(addr, "GET", "/api/status", &other, "").status, 401);

    // A change the cookie would authenticate: only from the page itself.
    let list = r#"{"action": "list"}"#;
    let mut evil = with.clone();
    evil.push("Origin: http://evil.example".into());
    let refused = send(addr, "POST", "/api/chat", &evil, list);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("another site"), "{}", refused.body);
    let mut own = with.clone();
    own.push(format!("Origin: http://{addr}"));
    let taken = send(addr, "POST", "/api/chat", &own, list);
    assert_eq!(taken.status, 200, "{}", taken.body);
    // The bearer token needs no origin (programs, the CLI).
    let bearer = vec![
        format!("Authorization: Bearer {token}"),
        "Origin: http://evil.example".into(),
    ];
    assert_eq!(send(addr, "POST", "/api/chat", &bearer, list).status, 200);
}

#[test]
fn an_upload_from_the_page_is_checked_against_the_orgs_limits() {
    let (_sb, admin) = acme();
    let node = admin.up(&[]);
    let addr = node.api().addr;
    let bearer = vec![format!("Authorization: Bearer {}", node.api().token)];
    admin.ok(["org", "set", "--file-size-max", "1KB"]);

    // Refused before anything is kept: a type not allowed, a name with a
    // folder, a file over the limit (declared, and streamed without a
    // length).
    for (name, size, why) in [
        ("tool.exe", 10, "type"),
        ("..%2Fnotes.txt", 10, "without folders"),
        ("big.txt", 5000, "at most 1 KB"),
    ] {
        let body = "x".repeat(size);
        let answer = send(addr, "POST", &format!("/api/files/upload?name={name}"), &bearer, &body);
        assert_eq!(answer.status, 400, "{name}: {}", answer.body);
        assert!(answer.body.contains(why), "{name}: {}", answer.body);
    }
    let mut chunked = bearer.clone();
    chunked.push("Transfer-Encoding: chunked".into());
    let big = "x".repeat(3000);
    let answer = send(
        addr,
        "POST",
        "/api/files/upload?name=streamed.txt",
        &chunked,
        &format!("{:x}\r\n{big}\r\n0\r\n\r\n", big.len()),
    );
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("larger than"), "{}", answer.body);
    let blobs = admin.home().join("blobs");
    let left: Vec<_> = std::fs::read_dir(&blobs)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "refused uploads left {left:?} in {}", blobs.display());

    // Within the limits: added to the library, the same bytes back.
    let answer = send(addr, "POST", "/api/files/upload?name=ok.txt", &bearer, "fine\n");
    assert_eq!(answer.status, 200, "{}", answer.body);
    let listed = node.get("/api/library");
    let entry = listed
        .as_array()
        .and_then(|l| l.iter().find(|e| e["title"] == "ok.txt"))
        .unwrap_or_else(|| panic!("ok.txt is not listed: {listed}"));
    let id = entry["id"].as_str().expect("an id");
    let back = send(addr, "GET", &format!("/api/files/{id}/content"), &bearer, "");
    assert_eq!((back.status, back.body.as_str()), (200, "fine\n"));
}
