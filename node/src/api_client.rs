//! A small blocking client for the local API, used by the CLI to go
//! through a running node (whose store is locked while it runs).

use anyhow::{Context, Result};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

/// Largest API response read, in bytes.
pub const RESPONSE_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// The node answered with an error (`{"error": {"code", "message"}}`).
/// It reads as the message alone, as the same command run without the
/// node would have said it; `code` tells programs what kind it is.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The HTTP status.
    pub status: u16,
    /// The error code, like `invalid` or `refused`.
    pub code: String,
    /// What was wrong, for people.
    pub message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refusal {}

/// Where a running node's API is, from `<home>/api.json`.
#[derive(Debug, Clone)]
pub struct ApiClient {
    host: String,
    token: String,
}

impl ApiClient {
    /// The client for the node running on `home`, if one answers.
    pub fn running(home: &Path) -> Option<ApiClient> {
        let text = std::fs::read_to_string(home.join("api.json")).ok()?;
        let info: Value = serde_json::from_str(&text).ok()?;
        let host = info["url"].as_str()?.strip_prefix("http://")?.to_owned();
        let client = ApiClient {
            host,
            token: info["token"].as_str()?.to_owned(),
        };
        client.get("/api/status").ok().map(|_| client)
    }

    /// The link that logs a browser in to the node's web page (it carries
    /// the token: give it to nobody).
    pub fn login_url(&self) -> String {
        format!("http://{}/login?token={}", self.host, self.token)
    }

    /// GET a path.
    pub fn get(&self, path: &str) -> Result<Value> {
        self.call("GET", path, None)
    }

    /// POST JSON to a path.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.call("POST", path, Some(body))
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let mut stream =
            TcpStream::connect(&self.host).with_context(|| format!("cannot reach the node at {}", self.host))?;
        stream.set_read_timeout(Some(Duration::from_secs(120)))?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.host,
            self.token,
            body.len()
        )?;
        let mut response = Vec::new();
        stream.take(RESPONSE_BYTES_MAX).read_to_end(&mut response)?;
        let text = String::from_utf8_lossy(&response);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .context("the node sent a malformed HTTP response")?;
        let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let value: Value = serde_json::from_str(body.trim()).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            return Err(Refusal {
                status,
                code: value["error"]["code"].as_str().unwrap_or_default().to_owned(),
                message: value["error"]["message"].as_str().unwrap_or(body.trim()).to_owned(),
            }
            .into());
        }
        Ok(value)
    }
}
