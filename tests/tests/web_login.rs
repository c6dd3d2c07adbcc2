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
