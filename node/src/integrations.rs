//! Integrations: scoped API tokens with rate limits, outgoing webhooks, and
//! what an HR system pushes.
//!
//! All of it is this node's own configuration, kept in the store's
//! settings table (never synced: another node has its own integrations):
//! - `api-tokens`: [`ApiToken`]s. A token is shown once, when made, as
//!   `outpost_<id>_<secret>`; the store keeps only the BLAKE3 hash of the
//!   secret. Each token has [`Grant`]s such as `tasks:write` and a rate
//!   limit per minute ([`Limiter`]). The node's own token (in `api.json`)
//!   can do everything; a scoped token only what its grants name, and never
//!   manage tokens or webhooks or open the web page.
//! - `webhooks`: [`Webhook`]s: a URL, the events it wants, and a secret
//!   with which each delivery is signed ([`sign`]: HMAC-SHA256 of
//!   `<timestamp>.<body>`).
//! - `webhook-log`: the last [`LOG_MAX`] delivery attempts.
//! - `hr-pending`: staff changes an HR system pushed, waiting for an admin
//!   ([`StaffChange`]).

use crate::local::Local;
use anyhow::{Context, Result, bail};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::time::Instant;

/// Settings key of the tokens.
const TOKENS: &str = "api-tokens";
/// Settings key of the webhooks.
const WEBHOOKS: &str = "webhooks";
/// Settings key of the delivery log.
const WEBHOOK_LOG: &str = "webhook-log";
/// Settings key of the pending staff changes.
const HR_PENDING: &str = "hr-pending";
/// Most delivery attempts kept in the log.
pub const LOG_MAX: usize = 1000;
/// Most staff changes kept waiting.
pub const HR_PENDING_MAX: usize = 10_000;
/// The default rate limit of a token, in requests a minute.
pub const RATE_DEFAULT: u32 = 600;
/// Most tokens or webhooks.
pub const ENTRIES_MAX: usize = 256;

/// What part of the API a grant covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    /// Status, peers, the OpenAPI document.
    Status,
    /// The event stream.
    Events,
    /// Documents, spaces, files, the library.
    Docs,
    /// Channels and messages, search.
    Chat,
    /// Projects and tasks.
    Tasks,
    /// Certificates.
    Certs,
    /// Approval requests.
    Approvals,
    /// Announcements.
    Announcements,
    /// Meetings.
    Meetings,
    /// The incoming endpoints for an OA system.
    Oa,
    /// The incoming endpoint for an HR system.
    Hr,
}

impl Area {
    /// Every area, for messages.
    pub const ALL: [Area; 11] = [
        Area::Status,
        Area::Events,
        Area::Docs,
        Area::Chat,
        Area::Tasks,
        Area::Certs,
        Area::Approvals,
        Area::Announcements,
        Area::Meetings,
        Area::Oa,
        Area::Hr,
    ];

    fn name(self) -> &'static str {
        match self {
            Area::Status => "status",
            Area::Events => "events",
            Area::Docs => "docs",
            Area::Chat => "chat",
            Area::Tasks => "tasks",
            Area::Certs => "certs",
            Area::Approvals => "approvals",
            Area::Announcements => "announcements",
            Area::Meetings => "meetings",
            Area::Oa => "oa",
            Area::Hr => "hr",
        }
    }
}

/// One permission of a token: an area, read or write (write includes
/// read).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Grant {
    /// The area.
    pub area: Area,
    /// May change things, not only read.
    pub write: bool,
}

impl Grant {
    /// Reads `tasks:write`, `chat:read`, `docs` (= read).
    pub fn parse(text: &str) -> Result<Grant> {
        let t = text.trim().to_ascii_lowercase();
        let (area, level) = t.split_once(':').unwrap_or((t.as_str(), "read"));
        let area = Area::ALL.into_iter().find(|a| a.name() == area).with_context(|| {
            format!(
                "unknown scope {text:?}: write AREA:read or AREA:write, AREA one of {}",
                Area::ALL.map(Area::name).join(", ")
            )
        })?;
        let write = match level {
            "read" => false,
            "write" => true,
            _ => bail!("unknown scope level in {text:?}: write AREA:read or AREA:write"),
        };
        Ok(Grant { area, write })
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.area.name(), if self.write { "write" } else { "read" })
    }
}

/// A scoped API token, as stored (the secret only as its hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// Its id: 8 hex digits, the middle of the token.
    pub id: String,
    /// A name for people ("OA system").
    pub name: String,
    /// BLAKE3 of the secret, hex.
    pub hash: String,
    /// What it may do.
    pub grants: Vec<Grant>,
    /// Requests a minute it may make.
    pub rate_per_min: u32,
    /// When made (seconds since 1970).
    pub created: u64,
    /// When it stops working, if ever.
    pub expires: Option<u64>,
    /// When it was revoked, if it was.
    pub revoked: Option<u64>,
}

impl ApiToken {
    /// May it be used at `now`?
    pub fn live(&self, now: u64) -> bool {
        self.revoked.is_none() && self.expires.is_none_or(|e| now < e)
    }

    /// Does it allow `need`?
    pub fn allows(&self, need: Grant) -> bool {
        self.grants
            .iter()
            .any(|g| g.area == need.area && (g.write || !need.write))
    }

    /// As listed: everything but the hash.
    pub fn to_json(&self, now: u64) -> serde_json::Value {
        serde_json::json!({
            "id": self.id, "name": self.name,
            "scopes": self.grants.iter().map(Grant::to_string).collect::<Vec<_>>(),
            "rate_per_min": self.rate_per_min, "created": self.created,
            "expires": self.expires, "revoked": self.revoked, "live": self.live(now),
        })
    }
}

/// The id and secret of a token's text `outpost_<id>_<secret>`.
pub fn split_token(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix("outpost_")?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 8 && secret.len() == 32).then_some((id, secret))
}

fn hash_secret(secret: &str) -> String {
    blake3::hash(secret.as_bytes()).to_hex().to_string()
}

/// Finds the live token `text` names among `tokens`; the secret is
/// compared in constant time.
pub fn check_token<'a>(tokens: &'a [ApiToken], text: &str, now: u64) -> Option<&'a ApiToken> {
    let (id, secret) = split_token(text)?;
    let t = tokens.iter().find(|t| t.id == id)?;
    let want = hash_secret(secret);
    let same =
        want.len() == t.hash.len() && want.bytes().zip(t.hash.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    (same && t.live(now)).then_some(t)
}

/// A token bucket per token: `rate` requests a minute, in bursts of at
/// most `rate`.
#[derive(Debug, Default)]
pub struct Limiter {
    buckets: HashMap<String, (f64, Instant)>,
}

impl Limiter {
    /// Takes one request of token `id` allowed `rate` a minute at `now`:
    /// `Ok` or `Err(seconds to wait)`.
    pub fn take(&mut self, id: &str, rate: u32, now: Instant) -> Result<(), u64> {
        let rate = f64::from(rate.max(1));
        let per_sec = rate / 60.0;
        let (level, at) = self.buckets.entry(id.to_owned()).or_insert((rate, now));
        *level = (*level + now.saturating_duration_since(*at).as_secs_f64() * per_sec).min(rate);
        *at = now;
        if *level >= 1.0 {
            *level -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *level) / per_sec).ceil() as u64)
        }
    }
}

/// An outgoing webhook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// Its id: 8 hex digits.
    pub id: String,
    /// Where deliveries are POSTed (`http://` or `https://`).
    pub url: String,
    /// The event names it wants (`*` for all).
    pub events: Vec<String>,
    /// The signing secret, hex (shown when made).
    pub secret: String,
    /// When made.
    pub created: u64,
}

impl Webhook {
    /// Does it want event `name`?
    pub fn wants(&self, name: &str) -> bool {
        self.events.iter().any(|e| e == "*" || e == name)
    }
}

/// The events a webhook may ask for.
pub const EVENTS: &[&str] = &["notification", "reminder", "changed", "stored", "synced", "certs", "*"];

/// One delivery attempt, as logged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// The webhook.
    pub hook: String,
    /// The delivery (the same for every attempt of one event).
    pub delivery: String,
    /// The event name.
    pub event: String,
    /// 1 for the first try.
    pub attempt: u32,
    /// When (seconds since 1970).
    pub time: u64,
    /// The HTTP status answered, if any.
    pub status: Option<u16>,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// Delivered (a 2xx answer).
    pub ok: bool,
    /// How long the try took, in milliseconds.
    pub ms: u64,
}

/// The signature of a delivery: hex HMAC-SHA256 with the webhook's secret
/// of `<timestamp>.<body>`, sent as `X-Outpost-Signature: sha256=<hex>`
/// with `X-Outpost-Timestamp: <timestamp>`.
pub fn sign(secret: &str, timestamp: u64, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// A staff change pushed by an HR system.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffChange {
    /// Its id here: 8 hex digits.
    #[serde(default)]
    pub id: String,
    /// `hire`, `transfer` or `leave`.
    pub action: StaffAction,
    /// The person's name.
    pub name: String,
    /// Their department (new department for a transfer).
    #[serde(default)]
    pub department: String,
    /// Their position (job title).
    #[serde(default)]
    pub position: String,
    /// Their level.
    #[serde(default)]
    pub level: String,
    /// Their Outpost role (member by default).
    #[serde(default)]
    pub role: String,
    /// Their email.
    #[serde(default)]
    pub email: String,
    /// The HR system's id for the person.
    #[serde(default)]
    pub employee_id: String,
    /// When it was received.
    #[serde(default)]
    pub received: u64,
}

/// What happened to someone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffAction {
    /// Joins: needs an invite (a certificate to be issued).
    Hire,
    /// Changes department: needs a new certificate, the old one revoked.
    Transfer,
    /// Leaves: their certificate is to be revoked.
    Leave,
}

fn load<T: DeserializeOwned + Default>(local: &Local, key: &str) -> Result<T> {
    match local.store.setting(key)? {
        None => Ok(T::default()),
        Some(bytes) => serde_json::from_slice(&bytes).with_context(|| format!("the store's {key} setting is damaged")),
    }
}

fn save<T: Serialize>(local: &Local, key: &str, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value)?;
    local.store.set_settings(&[(key, &bytes)])?;
    Ok(())
}

fn fresh_id() -> String {
    hex::encode(rand::random::<[u8; 4]>())
}

/// Everything to make a token.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct NewToken {
    /// Its name.
    pub name: String,
    /// Its scopes, like `tasks:write`.
    pub scopes: Vec<String>,
    /// Requests a minute (default [`RATE_DEFAULT`]).
    #[serde(default)]
    pub rate_per_min: Option<u32>,
    /// Days until it expires (default: never).
    #[serde(default)]
    pub expires_days: Option<u64>,
}

impl Local {
    /// The API tokens made on this node.
    pub fn api_tokens(&self) -> Result<Vec<ApiToken>> {
        load(self, TOKENS)
    }

    /// Makes a token; returns it and its text, which is shown only now.
    pub fn create_api_token(&self, new: &NewToken, now: u64) -> Result<(ApiToken, String)> {
        outpost_identity::op::check_text("token name", &new.name, true)?;
        if new.scopes.is_empty() {
            bail!("a token needs at least one scope, such as tasks:write; see `outpost token create --help`");
        }
        let mut grants: Vec<Grant> = new.scopes.iter().map(|s| Grant::parse(s)).collect::<Result<_>>()?;
        grants.sort();
        grants.dedup();
        let rate = new.rate_per_min.unwrap_or(RATE_DEFAULT);
        if rate == 0 {
            bail!("the rate limit must be at least 1 request a minute");
        }
        let mut tokens = self.api_tokens()?;
        if tokens.iter().filter(|t| t.revoked.is_none()).count() >= ENTRIES_MAX {
            bail!("this node has {ENTRIES_MAX} tokens: revoke some first");
        }
        if tokens.iter().any(|t| t.revoked.is_none() && t.name == new.name.trim()) {
            bail!(
                "a token named {:?} exists: revoke it or choose another name",
                new.name.trim()
            );
        }
        let secret = hex::encode(rand::random::<[u8; 16]>());
        let token = ApiToken {
            id: fresh_id(),
            name: new.name.trim().to_owned(),
            hash: hash_secret(&secret),
            grants,
            rate_per_min: rate,
            created: now,
            expires: new.expires_days.map(|d| now.saturating_add(d.saturating_mul(86_400))),
            revoked: None,
        };
        let text = format!("outpost_{}_{secret}", token.id);
        tokens.push(token.clone());
        save(self, TOKENS, &tokens)?;
        Ok((token, text))
    }

    /// Revokes the token named by its id or name.
    pub fn revoke_api_token(&self, which: &str, now: u64) -> Result<ApiToken> {
        let mut tokens = self.api_tokens()?;
        let w = which.trim();
        let t = tokens
            .iter_mut()
            .find(|t| t.revoked.is_none() && (t.id == w || t.name == w))
            .with_context(|| format!("no live token {w:?}: see `outpost token list`"))?;
        t.revoked = Some(now);
        let out = t.clone();
        save(self, TOKENS, &tokens)?;
        Ok(out)
    }

    /// The webhooks of this node.
    pub fn webhooks(&self) -> Result<Vec<Webhook>> {
        load(self, WEBHOOKS)
    }

    /// Adds a webhook; its secret is in the answer.
    pub fn add_webhook(&self, url: &str, events: &[String], now: u64) -> Result<Webhook> {
        let url = url.trim();
        let parsed = reqwest::Url::parse(url).with_context(|| format!("{url:?} is not a URL"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            bail!("a webhook URL must be http:// or https:// with a host, not {url:?}");
        }
        let mut events: Vec<String> = events.iter().map(|e| e.trim().to_owned()).collect();
        if events.is_empty() {
            bail!("name the events the webhook wants (--event): {}", EVENTS.join(", "));
        }
        if let Some(bad) = events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
            bail!("unknown event {bad:?}: choose from {}", EVENTS.join(", "));
        }
        events.sort();
        events.dedup();
        let mut hooks = self.webhooks()?;
        if hooks.len() >= ENTRIES_MAX {
            bail!("this node has {ENTRIES_MAX} webhooks: remove some first");
        }
        let hook = Webhook {
            id: fresh_id(),
            url: url.to_owned(),
            events,
            secret: hex::encode(rand::random::<[u8; 32]>()),
            created: now,
        };
        hooks.push(hook.clone());
        save(self, WEBHOOKS, &hooks)?;
        Ok(hook)
    }

    /// Removes a webhook by id.
    pub fn remove_webhook(&self, id: &str) -> Result<Webhook> {
        let mut hooks = self.webhooks()?;
        let i = hooks
            .iter()
            .position(|h| h.id == id.trim())
            .with_context(|| format!("no webhook {:?}: see `outpost webhook list`", id.trim()))?;
        let gone = hooks.remove(i);
        save(self, WEBHOOKS, &hooks)?;
        Ok(gone)
    }

    /// The delivery log, oldest first.
    pub fn webhook_log(&self) -> Result<Vec<Attempt>> {
        load(self, WEBHOOK_LOG)
    }

    /// Adds attempts to the delivery log, keeping the last [`LOG_MAX`].
    pub fn log_attempts(&self, attempts: &[Attempt]) -> Result<()> {
        let mut log = self.webhook_log()?;
        log.extend_from_slice(attempts);
        let over = log.len().saturating_sub(LOG_MAX);
        log.drain(..over);
        save(self, WEBHOOK_LOG, &log)
    }

    /// Staff changes waiting for an admin.
    pub fn hr_pending(&self) -> Result<Vec<StaffChange>> {
        load(self, HR_PENDING)
    }

    /// Queues staff changes from an HR system; returns them with ids.
    pub fn push_staff_changes(&self, changes: Vec<StaffChange>, now: u64) -> Result<Vec<StaffChange>> {
        let mut pending = self.hr_pending()?;
        if pending.len() + changes.len() > HR_PENDING_MAX {
            bail!("{HR_PENDING_MAX} staff changes are already waiting: have an admin handle them first");
        }
        let mut added = Vec::with_capacity(changes.len());
        for (i, mut c) in changes.into_iter().enumerate() {
            outpost_identity::op::check_text("name", &c.name, true).with_context(|| format!("change {}", i + 1))?;
            if c.action != StaffAction::Leave && c.department.trim().is_empty() {
                bail!("change {} ({}): a hire or transfer needs a department", i + 1, c.name);
            }
            if !c.department.trim().is_empty() {
                outpost_identity::op::DeptPath::parse(&c.department).with_context(|| format!("change {}", i + 1))?;
            }
            c.id = fresh_id();
            c.received = now;
            added.push(c);
        }
        pending.extend(added.iter().cloned());
        save(self, HR_PENDING, &pending)?;
        Ok(added)
    }

    /// Removes handled staff changes: those of `ids`, or all of them.
    pub fn clear_staff_changes(&self, ids: &[String], all: bool) -> Result<usize> {
        let mut pending = self.hr_pending()?;
        let before = pending.len();
        if all {
            pending.clear();
        } else if ids.is_empty() {
            bail!("name the staff changes handled (their ids), or clear them all");
        } else {
            pending.retain(|c| !ids.contains(&c.id));
        }
        save(self, HR_PENDING, &pending)?;
        Ok(before - pending.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_read_and_write() {
        let g = Grant::parse("tasks:write").unwrap();
        assert_eq!(g.to_string(), "tasks:write");
        assert_eq!(Grant::parse("Chat").unwrap().to_string(), "chat:read");
        assert!(Grant::parse("payroll:read").is_err());
        assert!(Grant::parse("tasks:admin").is_err());
        let t = ApiToken {
            id: "0a0b0c0d".into(),
            name: "oa".into(),
            hash: hash_secret("s"),
            grants: vec![g, Grant::parse("chat:read").unwrap()],
            rate_per_min: 60,
            created: 0,
            expires: Some(100),
            revoked: None,
        };
        assert!(
            t.allows(Grant {
                area: Area::Tasks,
                write: false
            }),
            "write includes read"
        );
        assert!(t.allows(Grant {
            area: Area::Chat,
            write: false
        }));
        assert!(!t.allows(Grant {
            area: Area::Chat,
            write: true
        }));
        assert!(!t.allows(Grant {
            area: Area::Docs,
            write: false
        }));
        assert!(t.live(99) && !t.live(100), "expires");
    }

    #[test]
    fn tokens_are_checked_by_secret() {
        let secret = "00112233445566778899aabbccddeeff";
        let t = ApiToken {
            id: "0a0b0c0d".into(),
            name: "oa".into(),
            hash: hash_secret(secret),
            grants: Vec::new(),
            rate_per_min: 60,
            created: 0,
            expires: None,
            revoked: None,
        };
        let list = [t.clone()];
        assert!(check_token(&list, &format!("outpost_0a0b0c0d_{secret}"), 5).is_some());
        assert!(check_token(&list, "outpost_0a0b0c0d_00112233445566778899aabbccddeef0", 5).is_none());
        assert!(check_token(&list, &format!("outpost_0a0b0c0e_{secret}"), 5).is_none());
        let revoked = [ApiToken { revoked: Some(1), ..t }];
        assert!(check_token(&revoked, &format!("outpost_0a0b0c0d_{secret}"), 5).is_none());
    }

    #[test]
    fn the_limiter_allows_the_rate_and_then_says_how_long_to_wait() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.take("a", 3, t0), Ok(()));
        }
        let wait = l.take("a", 3, t0).unwrap_err();
        assert_eq!(wait, 20, "3 a minute: one every 20 s");
        assert_eq!(l.take("b", 3, t0), Ok(()), "buckets are per token");
        assert_eq!(l.take("a", 3, t0 + std::time::Duration::from_secs(20)), Ok(()));
    }

    #[test]
    fn signatures_cover_the_timestamp_and_the_body() {
        // RFC 4231 test case 2 shape: known key and message.
        let s = sign("key", 1, b"body");
        assert_eq!(s.len(), 64);
        assert_ne!(s, sign("key", 2, b"body"));
        assert_ne!(s, sign("key", 1, b"bodY"));
        assert_ne!(s, sign("kex", 1, b"body"));
        use hmac::{KeyInit, Mac};
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
