//! The local HTTP API (JSON), served on loopback with a token.
//!
//! Every route needs `Authorization: Bearer <token>` (or `?token=`, or the
//! cookie the web page's login sets: see [`web`]); the token is written to
//! `<home>/api.json` (mode 0600) when the node starts. Errors are `{"error": {"code", "message"}}`; the code
//! `invalid` means the input object is invalid (tampered, forged, expired,
//! of another org, out of scope), `key` that a key could not be opened.
//! `GET /api/openapi.json` describes every route (`api/openapi.json`).

use crate::daemon::Shared;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::Arc;

mod announce;
mod approvals;
mod audit;
mod backup;
mod certs;
mod chat;
mod events;
pub mod integrations;
mod library;
pub mod live;
mod meetings;
mod tasks;
pub mod tls;
mod web;

/// An API error: HTTP status, a code for programs, a message for people.
#[derive(Debug)]
pub struct ApiError(StatusCode, &'static str, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": {"code": self.1, "message": self.2}}))).into_response()
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        let msg = format!("{e:#}");
        // The CLI maps these codes back to its exit codes (3 and 4).
        let backup = e.chain().find_map(|c| c.downcast_ref::<crate::backup::Invalid>());
        if crate::disk::is_full(&e) {
            ApiError(StatusCode::INSUFFICIENT_STORAGE, "disk_full", crate::disk::explain(msg))
        } else if let Some(b) = backup {
            let code = if b.wrong_key { "key" } else { "backup_invalid" };
            ApiError(StatusCode::UNPROCESSABLE_ENTITY, code, msg)
        } else if e.chain().any(|c| c.is::<crate::certs::Invalid>()) {
            ApiError(StatusCode::UNPROCESSABLE_ENTITY, "invalid", msg)
        } else if e.chain().any(|c| c.is::<outpost_identity::keyfile::KeyFileError>()) {
            ApiError(StatusCode::FORBIDDEN, "key", msg)
        } else if e.chain().any(|c| c.is::<crate::library::NoKey>()) {
            ApiError(StatusCode::FORBIDDEN, "no_access", msg)
        } else if msg.contains("no document")
            || msg.contains("no channel")
            || msg.contains("no message")
            || msg.contains("no project")
            || msg.contains("no task")
            || msg.contains("no approval request")
            || msg.contains("no template")
            || msg.contains("no announcement")
            || msg.contains("no meeting")
        {
            ApiError(StatusCode::NOT_FOUND, "not_found", msg)
        } else {
            ApiError(StatusCode::BAD_REQUEST, "refused", msg)
        }
    }
}

type ApiResult = Result<Json<Value>, ApiError>;

/// Constant-time comparison of the token.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn auth(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let query = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("token=")).map(str::to_owned));
    let right = |t: &Option<String>| t.as_ref().is_some_and(|t| same(t.as_bytes(), shared.token.as_bytes()));
    if right(&bearer) || right(&query) {
        return next.run(req).await;
    }
    if let Some(token) = bearer
        .as_deref()
        .or(query.as_deref())
        .and_then(|t| integrations::find(&shared, t))
    {
        return integrations::scoped(&shared, token, req, next).await;
    }
    if right(&web::cookie_token(req.headers())) {
        // A browser sends the cookie whatever page asks: changes and
        // WebSockets are taken only from the node's own page.
        let changes = !matches!(*req.method(), axum::http::Method::GET | axum::http::Method::HEAD)
            || req.headers().contains_key(header::UPGRADE);
        if changes && !web::same_origin(req.headers()) {
            return ApiError(
                StatusCode::FORBIDDEN,
                "origin",
                "a request from another site is refused: use the node's own page".into(),
            )
            .into_response();
        }
        return next.run(req).await;
    }
    if !req.uri().path().starts_with("/api/") {
        return web::login_required();
    }
    ApiError(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "a valid token is required: it is in api.json in the node's home directory (or log in with the link `outpost open` prints)".into(),
    )
    .into_response()
}

/// The OpenAPI 3.1 document of these routes (`GET /api/openapi.json`);
/// `tests/tests/api_openapi.rs` checks that it lists exactly the routes of
/// [`router`].
const OPENAPI: &str = include_str!("api/openapi.json");

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// The API routes.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/status", get(status))
        .route("/api/health", get(health))
        .route("/api/stats", get(stats))
        .route("/metrics", get(metrics))
        .route("/api/peers", get(peers))
        .route("/api/docs", get(library::list_docs).post(library::new_doc))
        .route("/api/docs/{id}", get(library::show_doc).post(library::edit_doc))
        .route("/api/docs/{id}/history", get(library::history))
        .route("/api/docs/{id}/at/{version}", get(library::at_version))
        .route("/api/docs/{id}/diff", get(library::diff))
        .route("/api/docs/{id}/restore", post(library::restore))
        .route("/api/docs/{id}/versions", post(library::name_version))
        .route("/api/docs/{id}/meta", post(library::set_meta))
        .route("/api/docs/{id}/move", post(library::move_entry))
        .route("/api/docs/{id}/share", post(library::share_entry))
        .route("/api/docs/{id}/delete", post(library::delete_entry))
        .route("/api/docs/{id}/import", post(library::import))
        .route("/api/docs/{id}/export", get(library::export))
        .route("/api/docs/{id}/presence", post(library::presence))
        .route("/api/docs/{id}/live", get(live::live))
        .route("/api/library", get(library::library).post(library::rpc))
        .route("/api/spaces", get(library::spaces).post(library::create_space))
        .route("/api/spaces/{space}/share", post(library::share_space))
        .route("/api/files", post(library::put_file))
        .route("/api/files/{id}/content", get(library::file_content))
        .route("/api/files/{id}/held", get(library::file_held))
        .route(
            "/api/files/upload",
            post(library::upload).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/api/files/{id}/save", post(library::save_file))
        .route("/api/events", get(events::stream))
        .route("/api/chat", post(chat::rpc))
        .route("/api/tasks", post(tasks::rpc))
        .route("/api/approvals", post(approvals::rpc))
        .route("/api/announcements", post(announce::rpc))
        .route("/api/meetings", post(meetings::rpc))
        .route("/api/audit", post(audit::rpc))
        .route("/api/backup", post(backup::rpc))
        .route("/api/channels", get(chat::list).post(chat::create))
        .route("/api/channels/direct", post(chat::direct))
        .route("/api/channels/{channel}/messages", get(chat::read).post(chat::send))
        .route("/api/channels/{channel}/join", post(chat::join))
        .route("/api/channels/{channel}/archive", post(chat::archive))
        .route("/api/channels/{channel}/messages/{message}/edit", post(chat::edit))
        .route("/api/channels/{channel}/messages/{message}/recall", post(chat::recall))
        .route("/api/channels/{channel}/messages/{message}/react", post(chat::react))
        .route("/api/channels/{channel}/messages/{message}/pin", post(chat::pin))
        .route(
            "/api/channels/{channel}/messages/{message}/receipts",
            get(chat::receipts),
        )
        .route("/api/search", get(chat::search))
        .route("/api/certs/request", post(certs::request))
        .route("/api/certs/issue", post(certs::issue))
        .route("/api/certs/install", post(certs::install))
        .route("/api/certs/verify", post(certs::verify))
        .route("/api/certs/list", post(certs::list))
        .route("/api/certs/revoke", post(certs::revoke))
        .route(
            "/api/tokens",
            get(integrations::list_tokens).post(integrations::create_token),
        )
        .route("/api/tokens/{id}/revoke", post(integrations::revoke_token))
        .route(
            "/api/webhooks",
            get(integrations::list_hooks).post(integrations::add_hook),
        )
        .route("/api/webhooks/log", get(integrations::hook_log))
        .route("/api/webhooks/{id}/remove", post(integrations::remove_hook))
        .route("/api/webhooks/{id}/test", post(integrations::test_hook))
        .route("/api/hr/pending", get(integrations::hr_pending))
        .route("/api/hr/pending/clear", post(integrations::hr_clear))
        .route("/api/incoming/oa/tasks", post(integrations::oa_task))
        .route("/api/incoming/hr/staff", post(integrations::hr_staff))
        .route("/", get(web::index))
        .route("/web/{name}", get(web::file))
        .layer(middleware::from_fn_with_state(shared.clone(), auth))
        .route("/login", get(login))
        .with_state(shared)
}

/// `GET /login?token=…` (outside [`auth`]: it checks the token itself).
async fn login(
    State(shared): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
    q: axum::extract::Query<web::Login>,
) -> Response {
    web::login(&shared.token, &headers, q)
}

async fn peers(State(shared): State<Arc<Shared>>) -> ApiResult {
    let peers = shared
        .client
        .peers()
        .await
        .map_err(|e| ApiError(StatusCode::SERVICE_UNAVAILABLE, "network", e))?;
    let list: Vec<Value> = peers
        .iter()
        .map(|(p, addrs)| {
            let who = shared.gate.admitted(p);
            json!({
                "peer_id": p.to_string(),
                "addrs": addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                "name": who.as_ref().map(|c| c.name.clone()),
                "role": who.as_ref().map(|c| c.role.name()),
            })
        })
        .collect();
    Ok(Json(json!(list)))
}

async fn status(State(shared): State<Arc<Shared>>) -> ApiResult {
    let peers = shared.client.peers().await.unwrap_or_default().len();
    let listen: Vec<String> = shared.listen_addrs().iter().map(|a| a.to_string()).collect();
    let peer_id = shared.client.peer_id.to_string();
    let started = shared.started_at();
    let syncs: Vec<Value> = shared
        .last_syncs
        .lock()
        .expect("never poisoned")
        .iter()
        .map(|(peer, (ended, s))| {
            json!({
                "peer_id": peer.to_string(), "ended": ended, "round_trips": s.round_trips,
                "bytes_sent": s.bytes_sent, "bytes_received": s.bytes_received,
                "envelopes_sent": s.envelopes_sent, "envelopes_received": s.envelopes_delivered,
                "ops_sent": s.ops_sent, "ops_received": s.ops_delivered,
            })
        })
        .collect();
    let v = shared
        .with_local(move |l, _| {
            let now = crate::now();
            let state = l.require_org()?;
            let role = state.role_of(&l.member, now).map(|(_, c)| {
                json!({"role": c.role.name(), "dept": c.dept.to_string(), "name": c.name, "until": c.not_after.0})
            });
            let docs = doc_sync_states(&*l.replica()?);
            let store_bytes = std::fs::metadata(l.store.path()).map(|m| m.len()).unwrap_or(0);
            Ok(json!({
                "docs": docs,
                "syncs": syncs,
                "store_bytes": store_bytes,
                "peer_id": peer_id,
                "listen": listen,
                "peers": peers,
                "started": started,
                "org": {"id": state.org().to_string(), "name": l.org_name()},
                "member": l.member.to_string(),
                "role": role,
                "envelopes": l.store.envelope_count()?,
                "store": l.store.path(),
            }))
        })
        .await?;
    Ok(Json(v))
}

/// `GET /metrics`: the Prometheus text exposition (see [`crate::metrics`]).
async fn metrics(State(shared): State<Arc<Shared>>) -> Result<Response, ApiError> {
    use std::sync::atomic::Ordering::Relaxed;
    let peers = shared.client.peers().await.unwrap_or_default();
    let admitted = peers.iter().filter(|(p, _)| shared.gate.admitted(p).is_some()).count() as u64;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let sync_age = shared
        .last_syncs
        .lock()
        .expect("never poisoned")
        .iter()
        .map(|(peer, (ended, _))| (peer.to_string(), now_ms.saturating_sub(*ended) as f64 / 1000.0))
        .collect();
    let c = &shared.client.counters;
    let mut gauges = crate::metrics::Gauges {
        peers: peers.len() as u64,
        admitted,
        gossip_queue: shared.gossip_queue_depth(),
        sync_age,
        gossip_published: c.gossip_published.load(Relaxed),
        gossip_no_peers: c.gossip_no_peers.load(Relaxed),
        gossip_failed: c.gossip_failed.load(Relaxed),
        gossip_received: c.gossip_received.load(Relaxed),
        gossip_rejected: c.gossip_rejected.load(Relaxed),
        offences: c.offences.load(Relaxed),
        throttled_total: c.peers_throttled.load(Relaxed),
        banned_total: c.peers_banned.load(Relaxed),
        throttled_dropped: c.throttled_dropped.load(Relaxed),
        banned_refused: c.banned_refused.load(Relaxed),
        throttled_now: c.throttled_now.load(Relaxed),
        banned_now: c.banned_now.load(Relaxed),
        started: shared.started_at(),
        ..Default::default()
    };
    let (envelopes, pending, store_bytes) = shared
        .with_local(|l, _| {
            let replica = l.replica()?;
            let pending = replica
                .envelopes()
                .filter(|e| matches!(replica.verdict(&e.id), Some(outpost_seal::Verdict::Pending(_)) | None))
                .count() as u64;
            let bytes = std::fs::metadata(l.store.path()).map(|m| m.len()).unwrap_or(0);
            Ok((l.store.envelope_count()?, pending, bytes))
        })
        .await?;
    (gauges.envelopes, gauges.pending, gauges.store_bytes) = (envelopes, pending, store_bytes);
    let text = crate::metrics::render(&shared.metrics, &gauges);
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response())
}

/// How many days a usage report covers.
#[derive(Debug, serde::Deserialize)]
struct StatsQuery {
    #[serde(default = "thirty")]
    days: u64,
}

fn thirty() -> u64 {
    30
}

/// `GET /api/stats?days=N`: usage statistics (see [`crate::stats`]).
async fn stats(State(shared): State<Arc<Shared>>, q: axum::extract::Query<StatsQuery>) -> ApiResult {
    let days = q.days;
    let v = shared
        .with_local(move |l, pass| l.usage_stats(pass, crate::now(), days))
        .await?;
    Ok(Json(v))
}

/// `GET /api/health`: `{"ok": true, ...}` when the store answers and the
/// network runs; 503 with what is wrong otherwise.
async fn health(State(shared): State<Arc<Shared>>) -> Response {
    let network = shared.client.peers().await;
    // Straight from the store, not under the node's lock: the check
    // answers while a long request (a large node's first build of its
    // replica) holds it.
    let store = shared.read_store(|s| Ok(s.envelope_count()?)).await;
    let uptime = crate::now().0.saturating_sub(shared.started_at());
    let backup = shared
        .read_store(|s| {
            let schedule = crate::backup::schedule_of(s)?;
            let status = crate::backup::status_of(s)?;
            Ok(json!({
                "scheduled": schedule.is_some(),
                "dir": schedule.map(|s| s.dir),
                "last": status.last,
                "last_full": status.last_full,
                "failing": status.failing(),
                "error": status.error.clone().filter(|_| status.failing()),
            }))
        })
        .await
        .unwrap_or(Value::Null);
    let mut problems = Vec::new();
    if let Err(e) = &network {
        problems.push(format!("network: {e}"));
    }
    if let Err(e) = &store {
        problems.push(format!("store: {e:#}"));
    }
    let disk = crate::disk::Space::of(shared.home_dir());
    if let Some(problem) = disk.problem() {
        problems.push(problem);
    }
    let body = json!({
        "ok": problems.is_empty(),
        "problems": problems,
        "disk_free_bytes": disk.free,
        "disk_full": disk.is_full(),
        "peers": network.map(|p| p.len()).unwrap_or(0),
        "envelopes": store.unwrap_or(0),
        "uptime_seconds": uptime,
        "version": env!("CARGO_PKG_VERSION"),
        // A failing backup is reported here, but the node still serves.
        "backup": backup,
    });
    let status = if body["ok"] == true {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Per document: how many of its changes are valid, pending (waiting for
/// dependencies or ops not yet here) and invalid, its heads, and its last
/// valid change's time. Needs no key: relays report it too.
fn doc_sync_states(replica: &outpost_seal::Replica) -> Vec<Value> {
    use outpost_seal::Verdict;
    let mut rows: std::collections::BTreeMap<outpost_seal::replica::DocKey, (u64, u64, u64, u64)> =
        std::collections::BTreeMap::new();
    for env in replica.envelopes() {
        let row = rows.entry((env.header.scope, env.header.doc)).or_default();
        match replica.verdict(&env.id) {
            Some(Verdict::Valid) => {
                row.0 += 1;
                row.3 = row.3.max(env.header.time.0);
            }
            Some(Verdict::Invalid(_)) => row.2 += 1,
            _ => row.1 += 1,
        }
    }
    rows.into_iter()
        .map(|(key, (valid, pending, invalid, updated))| {
            let mut heads: Vec<String> = replica.heads(&key).iter().map(|h| hex::encode(h.0)).collect();
            heads.sort();
            json!({
                "id": key.1.to_hex(), "scope": key.0.to_hex(), "valid": valid, "pending": pending,
                "invalid": invalid, "heads": heads, "updated": updated,
            })
        })
        .collect()
}
