//! Nodes running `outpost up` as child processes, a small blocking HTTP
//! client for their API, and [`wait_until`] for waiting on them.
//!
//! A [`RunningNode`] is started by [`Node::up`]: it listens for libp2p on
//! `127.0.0.1` (TCP, any port) and serves its API on `127.0.0.1` (any
//! port), with mDNS off, so that no traffic leaves the machine. It is ready
//! when its `api.json` names its process and `GET /api/status` answers.
//! Its stdout and stderr (logs at `OUTPOST_LOG=info` unless the test sets
//! `OUTPOST_LOG` itself) are collected and printed by [`wait_until`] when a
//! wait fails. Dropping it kills the process.
//!
//! The HTTP client speaks just enough HTTP/1.1 for the API: one request per
//! connection (`Connection: close`), JSON bodies with `Content-Length`.

use crate::Node;
use serde_json::Value;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{self, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a node may take to start (or to stop after SIGTERM).
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one HTTP request may take.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(15);
/// How often [`wait_until`] checks its condition.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Lines of each log shown when a wait fails.
pub const LOG_LINES_SHOWN: usize = 400;

/// Lines a child process wrote, collected by a reader thread.
type Lines = Arc<Mutex<Vec<String>>>;

fn collect(stream: impl Read + Send + 'static) -> Lines {
    let lines: Lines = Arc::default();
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            sink.lock().expect("log lock is never poisoned").push(line);
        }
    });
    lines
}

/// What `api.json` says about a running node.
#[derive(Debug, Clone)]
pub struct ApiInfo {
    /// `host:port` of the API (always 127.0.0.1).
    pub addr: SocketAddr,
    /// The bearer token.
    pub token: String,
    /// The node's libp2p peer id.
    pub peer_id: String,
    /// Its libp2p listen addresses, with `/p2p/<peer id>`.
    pub listen: Vec<String>,
}

impl ApiInfo {
    /// Parses `api.json` of the process `pid`; `None` if it is not (yet)
    /// that process's, or not complete.
    fn parse(text: &str, pid: u32) -> Option<ApiInfo> {
        let v: Value = serde_json::from_str(text).ok()?;
        if v["pid"].as_u64() != Some(u64::from(pid)) {
            return None;
        }
        let url = v["url"].as_str()?;
        let addr: SocketAddr = url.strip_prefix("http://")?.parse().ok()?;
        let listen = v["listen"]
            .as_array()?
            .iter()
            .map(|a| a.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()?;
        Some(ApiInfo {
            addr,
            token: v["token"].as_str()?.to_owned(),
            peer_id: v["peer_id"].as_str()?.to_owned(),
            listen,
        })
    }
}

/// An HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: String,
}

impl Response {
    /// The body as JSON.
    pub fn json(&self) -> Result<Value, String> {
        serde_json::from_str(&self.body).map_err(|e| format!("the body is not JSON ({e}): {:?}", self.body))
    }
}

/// One HTTP/1.1 request to `addr` (which must be on loopback); `token` goes
/// in `Authorization: Bearer`. Errors are described, for [`wait_until`].
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Result<Response, String> {
    assert!(addr.ip().is_loopback(), "tests talk to 127.0.0.1 only, not {addr}");
    let fail = |what: &str, e: std::io::Error| format!("{method} {path} on {addr}: {what}: {e}");
    let mut stream = TcpStream::connect_timeout(&addr, HTTP_TIMEOUT).map_err(|e| fail("cannot connect", e))?;
    stream
        .set_read_timeout(Some(HTTP_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(HTTP_TIMEOUT)))
        .map_err(|e| fail("cannot set timeouts", e))?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: application/json\r\n");
    if let Some(token) = token {
        let _ = write!(request, "Authorization: Bearer {token}\r\n");
    }
    if method != "GET" || !body.is_empty() {
        let _ = write!(
            request,
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream
        .write_all(request.as_bytes())
        .map_err(|e| fail("cannot send", e))?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| fail("cannot read", e))?;
    parse_response(&raw).map_err(|e| format!("{method} {path} on {addr}: {e}"))
}

fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no end of headers in {:?}", String::from_utf8_lossy(raw)))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|e| format!("headers are not UTF-8: {e}"))?;
    let mut payload = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut content_type = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-type" => content_type = Some(value.to_owned()),
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "content-length" => {
                let len: usize = value.parse().map_err(|_| format!("bad Content-Length {value:?}"))?;
                if payload.len() < len {
                    return Err(format!("body truncated: {} of {len} bytes", payload.len()));
                }
                payload = &payload[..len];
            }
            _ => {}
        }
    }
    let body = if chunked { dechunk(payload)? } else { payload.to_vec() };
    Ok(Response {
        status,
        content_type,
        body: String::from_utf8(body).map_err(|e| format!("the body is not UTF-8: {e}"))?,
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk size line is unterminated")?;
        let size_text = std::str::from_utf8(&data[..end]).map_err(|_| "a chunk size is not text")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| format!("bad chunk size {size_text:?}"))?;
        data = &data[end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err("a chunk is truncated".into());
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// A node running `outpost up`; killed when dropped.
#[derive(Debug)]
pub struct RunningNode {
    name: String,
    home: PathBuf,
    child: process::Child,
    api: ApiInfo,
    stdout: Lines,
    stderr: Lines,
}

/// How [`Node::up_with`] starts a node, beyond its peers.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// The libp2p listen address [default: `/ip4/127.0.0.1/tcp/0`]: give
    /// the old port to restart a node where its peers expect it.
    pub listen: Option<String>,
    /// More arguments for `outpost up`, e.g. `["--relay-server"]`.
    pub args: Vec<String>,
}

impl UpOptions {
    /// Options with these extra arguments.
    pub fn args(args: &[&str]) -> UpOptions {
        UpOptions {
            listen: None,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    /// Options listening on 127.0.0.1 at TCP `port`.
    pub fn port(port: u16) -> UpOptions {
        UpOptions {
            listen: Some(format!("/ip4/127.0.0.1/tcp/{port}")),
            args: Vec::new(),
        }
    }
}

impl Node {
    /// Starts `outpost up` on this home, listening on 127.0.0.1 and dialing
    /// `peers` (multiaddrs), and waits until it serves its API.
    pub fn up(&self, peers: &[&str]) -> RunningNode {
        self.up_with(peers, &UpOptions::default())
    }

    /// [`Node::up`] with a chosen listen address or more arguments.
    pub fn up_with(&self, peers: &[&str], options: &UpOptions) -> RunningNode {
        let listen = options.listen.as_deref().unwrap_or("/ip4/127.0.0.1/tcp/0");
        assert!(
            listen.starts_with("/ip4/127.0.0.1/"),
            "tests listen on 127.0.0.1 only, not {listen}"
        );
        let mut cmd = self.cmd(["up", "--no-mdns", "--listen", listen, "--api", "127.0.0.1:0"]);
        for peer in peers {
            cmd.args(["--peer", peer]);
        }
        cmd.args(&options.args);
        cmd.env(
            "OUTPOST_LOG",
            std::env::var("OUTPOST_LOG").unwrap_or_else(|_| "info".into()),
        )
        .env("NO_COLOR", "1");
        // A killed node leaves its api.json behind: never read a stale one.
        let api_file = self.home.join("api.json");
        match std::fs::remove_file(&api_file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("cannot remove {}: {e}", api_file.display()),
        }
        let mut child = cmd.spawn();
        let stdout = collect(child.stdout.take().expect("stdout is piped"));
        let stderr = collect(child.stderr.take().expect("stderr is piped"));
        let logs = |stdout: &Lines, stderr: &Lines| format_logs(&self.name, stdout, stderr);
        let started = Instant::now();
        let api = loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "outpost up on {} exited with {status} before it was ready\n{}",
                    self.name,
                    logs(&stdout, &stderr)
                );
            }
            let ready = std::fs::read_to_string(&api_file)
                .ok()
                .and_then(|text| ApiInfo::parse(&text, child.id()))
                .filter(|api| {
                    http(api.addr, "GET", "/api/status", Some(&api.token), None).is_ok_and(|r| r.status == 200)
                });
            if let Some(api) = ready {
                break api;
            }
            if started.elapsed() > START_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "outpost up on {} was not ready after {START_TIMEOUT:?}\n{}",
                    self.name,
                    logs(&stdout, &stderr)
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        };
        assert!(
            !api.listen.is_empty() && api.listen.iter().all(|a| a.starts_with("/ip4/127.0.0.1/tcp/")),
            "{} listens on {:?}, not just on 127.0.0.1 over TCP",
            self.name,
            api.listen
        );
        RunningNode {
            name: self.name.clone(),
            home: self.home.clone(),
            child,
            api,
            stdout,
            stderr,
        }
    }
}

fn format_logs(name: &str, stdout: &Lines, stderr: &Lines) -> String {
    format!(
        "--- {name} stdout\n{}--- {name} stderr\n{}---",
        tail(stdout),
        tail(stderr)
    )
}

fn tail(lines: &Lines) -> String {
    let lines = lines.lock().expect("log lock is never poisoned");
    let skip = lines.len().saturating_sub(LOG_LINES_SHOWN);
    let mut out = String::new();
    if skip > 0 {
        let _ = writeln!(out, "[{skip} earlier lines]");
    }
    for line in &lines[skip..] {
        out.push_str(line);
        out.push('\n');
    }
    out
}

impl RunningNode {
    /// The node's name in the sandbox.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What its `api.json` said.
    pub fn api(&self) -> &ApiInfo {
        &self.api
    }

    /// Its libp2p peer id.
    pub fn peer_id(&self) -> &str {
        &self.api.peer_id
    }

    /// Its first libp2p listen address, with `/p2p/<peer id>`: give it to
    /// another node's [`Node::up`].
    pub fn addr(&self) -> &str {
        &self.api.listen[0]
    }

    /// The TCP port of its first libp2p listen address.
    pub fn p2p_port(&self) -> u16 {
        let parts: Vec<&str> = self.addr().split('/').collect();
        match parts.as_slice() {
            ["", "ip4", _, "tcp", port, ..] => port.parse().expect("a TCP port is a number"),
            _ => panic!("{} is not a TCP multiaddr", self.addr()),
        }
    }

    /// Its libp2p listen addresses as `GET /api/status` reports them now
    /// (the set changes, e.g. when a relay reservation is made).
    pub fn listen_now(&self) -> Result<Vec<String>, String> {
        let status = self.try_get("/api/status")?;
        status["listen"]
            .as_array()
            .and_then(|list| list.iter().map(|a| a.as_str().map(str::to_owned)).collect())
            .ok_or_else(|| format!("{}: no listen list in {status}", self.name))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its stdout and stderr so far (the last [`LOG_LINES_SHOWN`] lines of
    /// each).
    pub fn logs(&self) -> String {
        format_logs(&self.name, &self.stdout, &self.stderr)
    }

    /// Whether it has logged a line containing every one of `needles`.
    pub fn logged(&self, needles: &[&str]) -> bool {
        self.stderr
            .lock()
            .expect("log lock is never poisoned")
            .iter()
            .any(|line| needles.iter().all(|n| line.contains(n)))
    }

    /// One request with the node's token (`auth: true`) or none.
    pub fn request(&self, method: &str, path: &str, body: Option<&Value>, auth: bool) -> Result<Response, String> {
        let token = auth.then_some(self.api.token.as_str());
        http(self.api.addr, method, path, token, body)
    }

    /// One request with another token.
    pub fn request_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        token: &str,
    ) -> Result<Response, String> {
        http(self.api.addr, method, path, Some(token), body)
    }

    /// `GET path`, expecting 200 and JSON; errors are described.
    pub fn try_get(&self, path: &str) -> Result<Value, String> {
        let response = self.request("GET", path, None, true)?;
        if response.status != 200 {
            return Err(format!(
                "GET {path} on {}: status {}: {}",
                self.name, response.status, response.body
            ));
        }
        response.json()
    }

    /// `GET path`, which must answer 200 with JSON.
    pub fn get(&self, path: &str) -> Value {
        self.try_get(path).unwrap_or_else(|e| panic!("{e}\n{}", self.logs()))
    }

    /// `POST path` with a JSON body, which must answer 200 with JSON.
    pub fn post(&self, path: &str, body: &Value) -> Value {
        let response = self
            .request("POST", path, Some(body), true)
            .unwrap_or_else(|e| panic!("{e}\n{}", self.logs()));
        assert_eq!(
            response.status,
            200,
            "POST {path} {body} on {}: {}\n{}",
            self.name,
            response.body,
            self.logs()
        );
        response.json().unwrap_or_else(|e| panic!("{e}\n{}", self.logs()))
    }

    /// Kills the process (SIGKILL, like a crash or power cut) and returns
    /// its logs.
    pub fn kill(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.logs()
    }

    /// Asks the node to stop with SIGTERM and waits for it to exit; returns
    /// how it exited and its logs.
    pub fn terminate(mut self) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        let sent = process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap_or_else(|e| panic!("cannot run kill -TERM {pid}: {e}"));
        assert!(sent.success(), "kill -TERM {pid} failed: {sent}");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("the child can be waited for") {
                return (status, self.logs());
            }
            if started.elapsed() > START_TIMEOUT {
                panic!(
                    "{} did not stop within {START_TIMEOUT:?} of SIGTERM\n{}",
                    self.name,
                    self.logs()
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Its home directory.
    pub fn home(&self) -> &std::path::Path {
        &self.home
    }
}

impl Drop for RunningNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of the Prometheus sample `name` (with its labels, if any)
/// in the text exposition `text`, as `GET /metrics` answers it.
pub fn metric_sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l[name.len()..].trim().parse().ok())
}

/// Polls `check` every [`POLL_INTERVAL`] until it returns `Ok`, and returns
/// that value. After `timeout`, panics with `what`, the last error `check`
/// gave, and the logs of `nodes`.
pub fn wait_until<T>(
    what: &str,
    timeout: Duration,
    nodes: &[&RunningNode],
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let started = Instant::now();
    loop {
        let last = match check() {
            Ok(value) => {
                // Shown with the output of a failed test, or with --nocapture.
                println!("waited {:.2?} until {what}", started.elapsed());
                return value;
            }
            Err(e) => e,
        };
        if started.elapsed() > timeout {
            let logs: Vec<String> = nodes.iter().map(|n| n.logs()).collect();
            panic!(
                "timed out after {timeout:?} waiting until {what}\nlast check: {last}\n{}",
                logs.join("\n")
            );
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}
