//! Integration routes: scoped tokens and their checks, webhooks and their
//! deliveries, and the incoming endpoints for OA and HR systems (see
//! [`crate::integrations`]).
//!
//! - `GET|POST /api/tokens`, `POST /api/tokens/{id}/revoke`;
//! - `GET|POST /api/webhooks`, `POST /api/webhooks/{id}/remove`,
//!   `POST /api/webhooks/{id}/test`, `GET /api/webhooks/log`;
//! - `GET /api/hr/pending`, `POST /api/hr/pending/clear`;
//! - `POST /api/incoming/oa/tasks` (scope `oa:write`): creates a task,
//!   once per `external_id`;
//! - `POST /api/incoming/hr/staff` (scope `hr:write`): queues staff changes
//!   for an admin.
//!
//! Managing tokens and webhooks needs the node's own token.

use super::{ApiError, ApiResult};
use crate::daemon::Shared;
use crate::integrations::{ApiToken, Area, Attempt, Grant, Limiter, NewToken, StaffChange, Webhook, check_token, sign};
use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Largest body of a route whose action decides read or write.
const RPC_BODY_MAX: usize = 4 * 1024 * 1024;
/// How many times a delivery is tried.
pub const ATTEMPTS_MAX: u32 = 5;
/// The wait before the second try; it doubles after each.
pub const RETRY_FIRST: Duration = Duration::from_secs(1);
/// How long one delivery try may take.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// What the API keeps for integrations while the node runs.
#[derive(Debug)]
pub struct Integrations {
    /// The tokens, as stored (reloaded when they change).
    tokens: RwLock<Vec<ApiToken>>,
    /// The webhooks (reloaded when they change).
    hooks: RwLock<Vec<Webhook>>,
    limiter: Mutex<Limiter>,
    client: reqwest::Client,
}

impl Default for Integrations {
    fn default() -> Integrations {
        Integrations {
            tokens: RwLock::new(Vec::new()),
            hooks: RwLock::new(Vec::new()),
            limiter: Mutex::new(Limiter::default()),
            client: reqwest::Client::builder()
                .timeout(DELIVERY_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()
                .expect("the HTTP client builds"),
        }
    }
}

impl Integrations {
    /// Replaces the tokens checked.
    pub fn set_tokens(&self, tokens: Vec<ApiToken>) {
        *self.tokens.write().expect("never poisoned") = tokens;
    }

    /// Replaces the webhooks served.
    pub fn set_hooks(&self, hooks: Vec<Webhook>) {
        *self.hooks.write().expect("never poisoned") = hooks;
    }

    fn hooks(&self) -> Vec<Webhook> {
        self.hooks.read().expect("never poisoned").clone()
    }
}

/// The area and level a request needs; `None` for routes only the node's
/// own token may use. `writes` says whether the body's action writes, for
/// the routes that take an action.
pub fn needs(method: &Method, path: &str, writes: Option<bool>) -> Option<Grant> {
    let read = matches!(*method, Method::GET | Method::HEAD);
    let area = match path {
        "/api/status" | "/api/peers" | "/api/openapi.json" | "/api/health" | "/metrics" | "/api/stats" => Area::Status,
        "/api/events" => Area::Events,
        "/api/search" => Area::Chat,
        p if p.starts_with("/api/docs") || p.starts_with("/api/spaces") || p.starts_with("/api/files") => Area::Docs,
        "/api/library" => Area::Docs,
        p if p.starts_with("/api/chat") || p.starts_with("/api/channels") => Area::Chat,
        "/api/tasks" => Area::Tasks,
        "/api/certs/list" | "/api/certs/verify" => {
            return Some(Grant {
                area: Area::Certs,
                write: false,
            });
        }
        p if p.starts_with("/api/certs/") => Area::Certs,
        "/api/approvals" => Area::Approvals,
        "/api/announcements" => Area::Announcements,
        "/api/meetings" => Area::Meetings,
        p if p.starts_with("/api/incoming/oa/") => {
            return Some(Grant {
                area: Area::Oa,
                write: true,
            });
        }
        p if p.starts_with("/api/incoming/hr/") => {
            return Some(Grant {
                area: Area::Hr,
                write: true,
            });
        }
        _ => return None,
    };
    // A live editor writes through a WebSocket opened with GET.
    let live = path.ends_with("/live");
    let write = live || !(read || writes == Some(false));
    Some(Grant { area, write })
}

/// Does the action in `body` (JSON) of `path` only read? `None` if the
/// route takes no action or the body is not one.
fn action_writes(path: &str, body: &[u8]) -> Option<bool> {
    match path {
        "/api/tasks" => serde_json::from_slice::<crate::tasks::TaskRequest>(body)
            .ok()
            .map(|r| r.writes()),
        "/api/chat" => serde_json::from_slice::<crate::chat::ChatRequest>(body)
            .ok()
            .map(|r| r.writes()),
        "/api/library" => serde_json::from_slice::<crate::library::LibraryRequest>(body)
            .ok()
            .map(|r| r.writes()),
        _ => None,
    }
}

fn refuse(status: StatusCode, code: &'static str, message: String) -> Response {
    ApiError(status, code, message).into_response()
}

/// The live scoped token `text` names, if any.
pub fn find(shared: &Shared, text: &str) -> Option<ApiToken> {
    let now = crate::now().0;
    check_token(&shared.integrations.tokens.read().expect("never poisoned"), text, now).cloned()
}

/// Checks a request made with the scoped token `token`: its grants and its
/// rate.
pub async fn scoped(shared: &Arc<Shared>, token: ApiToken, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let (req, writes) =
        if method == Method::POST && matches!(path.as_str(), "/api/tasks" | "/api/chat" | "/api/library") {
            let (parts, body) = req.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, RPC_BODY_MAX).await else {
                return refuse(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!("the request body is over {RPC_BODY_MAX} bytes"),
                );
            };
            let writes = action_writes(&path, &bytes);
            (Request::from_parts(parts, axum::body::Body::from(bytes)), writes)
        } else {
            (req, None)
        };
    let Some(need) = needs(&method, &path, writes) else {
        return refuse(
            StatusCode::FORBIDDEN,
            "scope",
            format!(
                "token {:?} cannot use {path}: only the node's own token (api.json) can",
                token.name
            ),
        );
    };
    if !token.allows(need) {
        return refuse(
            StatusCode::FORBIDDEN,
            "scope",
            format!(
                "token {:?} lacks the scope {need} that {method} {path} needs; it has {}",
                token.name,
                token.grants.iter().map(Grant::to_string).collect::<Vec<_>>().join(", ")
            ),
        );
    }
    let limited =
        shared
            .integrations
            .limiter
            .lock()
            .expect("never poisoned")
            .take(&token.id, token.rate_per_min, Instant::now());
    if let Err(wait) = limited {
        let mut r = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "token {:?} may make {} requests a minute: try again in {wait} s",
                token.name, token.rate_per_min
            ),
        );
        r.headers_mut().insert(header::RETRY_AFTER, wait.into());
        return r;
    }
    next.run(req).await
}

async fn reload_tokens(shared: &Arc<Shared>) -> Result<(), ApiError> {
    let tokens = shared.with_local(|l, _| l.api_tokens()).await?;
    shared.integrations.set_tokens(tokens);
    Ok(())
}

async fn reload_hooks(shared: &Arc<Shared>) -> Result<(), ApiError> {
    let hooks = shared.with_local(|l, _| l.webhooks()).await?;
    shared.integrations.set_hooks(hooks);
    Ok(())
}

/// `GET /api/tokens`.
pub async fn list_tokens(State(shared): State<Arc<Shared>>) -> ApiResult {
    let now = crate::now().0;
    let tokens = shared.with_local(|l, _| l.api_tokens()).await?;
    Ok(Json(
        json!({"tokens": tokens.iter().map(|t| t.to_json(now)).collect::<Vec<_>>()}),
    ))
}

/// `POST /api/tokens`: makes a token; the answer holds its text, shown
/// only once.
pub async fn create_token(State(shared): State<Arc<Shared>>, Json(new): Json<NewToken>) -> ApiResult {
    let now = crate::now().0;
    let (token, text) = shared
        .with_local(move |l, pass| {
            let made = l.create_api_token(&new, now)?;
            l.audit_token("token.create", &made.0, pass)?;
            Ok(made)
        })
        .await?;
    // The audit entry is durable before the answer.
    shared.flush().await?;
    reload_tokens(&shared).await?;
    let mut v = token.to_json(now);
    v["token"] = json!(text);
    Ok(Json(v))
}

/// `POST /api/tokens/{id}/revoke` (id or name).
pub async fn revoke_token(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    let now = crate::now().0;
    let token = shared
        .with_local(move |l, pass| {
            let token = l.revoke_api_token(&id, now)?;
            l.audit_token("token.revoke", &token, pass)?;
            Ok(token)
        })
        .await?;
    // The audit entry is durable before the answer.
    shared.flush().await?;
    reload_tokens(&shared).await?;
    Ok(Json(token.to_json(now)))
}

fn hook_json(h: &Webhook, secret: bool) -> Value {
    let mut v = json!({"id": h.id, "url": h.url, "events": h.events, "created": h.created});
    if secret {
        v["secret"] = json!(h.secret);
    }
    v
}

/// A webhook to add.
#[derive(Debug, Deserialize)]
pub struct NewHook {
    url: String,
    events: Vec<String>,
}

/// `GET /api/webhooks`.
pub async fn list_hooks(State(shared): State<Arc<Shared>>) -> ApiResult {
    let hooks = shared.with_local(|l, _| l.webhooks()).await?;
    Ok(Json(
        json!({"webhooks": hooks.iter().map(|h| hook_json(h, false)).collect::<Vec<_>>()}),
    ))
}

/// `POST /api/webhooks`: the answer holds the signing secret.
pub async fn add_hook(State(shared): State<Arc<Shared>>, Json(new): Json<NewHook>) -> ApiResult {
    let now = crate::now().0;
    let hook = shared
        .with_local(move |l, pass| {
            let hook = l.add_webhook(&new.url, &new.events, now)?;
            l.audit_hook("webhook.add", &hook, pass)?;
            Ok(hook)
        })
        .await?;
    // The audit entry is durable before the answer.
    shared.flush().await?;
    reload_hooks(&shared).await?;
    Ok(Json(hook_json(&hook, true)))
}

/// `POST /api/webhooks/{id}/remove`.
pub async fn remove_hook(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    let hook = shared.with_local(move |l, _| l.remove_webhook(&id)).await?;
    // Stop serving it before the audit entry is written, so that the
    // entry's own events are not delivered to it.
    reload_hooks(&shared).await?;
    let audited = hook.clone();
    shared
        .with_local(move |l, pass| l.audit_hook("webhook.remove", &audited, pass))
        .await?;
    // The audit entry is durable before the answer.
    shared.flush().await?;
    Ok(Json(json!({"removed": hook_json(&hook, false)})))
}

/// `POST /api/webhooks/{id}/test`: delivers a `ping` event now (with
/// retries, in the background); answers the delivery id.
pub async fn test_hook(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    let hooks = shared.with_local(|l, _| l.webhooks()).await?;
    let hook = hooks
        .into_iter()
        .find(|h| h.id == id)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, "not_found", format!("no webhook {id:?}")))?;
    let delivery = deliver(&shared, hook, "ping", json!({"hello": "outpost"}));
    Ok(Json(json!({"delivery": delivery})))
}

/// `GET /api/webhooks/log`: the delivery attempts, newest last.
pub async fn hook_log(State(shared): State<Arc<Shared>>) -> ApiResult {
    let log = shared.with_local(|l, _| l.webhook_log()).await?;
    Ok(Json(json!({"attempts": log})))
}

/// Delivers `event` to `hook` in the background, retrying with backoff;
/// returns the delivery id.
fn deliver(shared: &Arc<Shared>, hook: Webhook, event: &'static str, data: Value) -> String {
    let delivery = hex::encode(rand::random::<[u8; 8]>());
    let id = delivery.clone();
    let shared = shared.clone();
    tokio::spawn(async move {
        let body = json!({"id": delivery, "event": event, "time": crate::now().0, "data": data}).to_string();
        let mut wait = RETRY_FIRST;
        for attempt in 1..=ATTEMPTS_MAX {
            let timestamp = crate::now().0;
            let started = Instant::now();
            let sent = shared
                .integrations
                .client
                .post(&hook.url)
                .header(header::CONTENT_TYPE, "application/json")
                .header("X-Outpost-Event", event)
                .header("X-Outpost-Delivery", &delivery)
                .header("X-Outpost-Timestamp", timestamp.to_string())
                .header(
                    "X-Outpost-Signature",
                    format!("sha256={}", sign(&hook.secret, timestamp, body.as_bytes())),
                )
                .body(body.clone())
                .send()
                .await;
            let (status, error) = match &sent {
                Ok(r) => (Some(r.status().as_u16()), None),
                Err(e) => (None, Some(e.to_string())),
            };
            let ok = status.is_some_and(|s| (200..300).contains(&s));
            let logged = Attempt {
                hook: hook.id.clone(),
                delivery: delivery.clone(),
                event: event.to_owned(),
                attempt,
                time: timestamp,
                status,
                error,
                ok,
                ms: started.elapsed().as_millis() as u64,
            };
            if !ok {
                tracing::info!(
                    "webhook {} delivery {delivery} attempt {attempt} failed: {}",
                    hook.id,
                    logged
                        .error
                        .clone()
                        .unwrap_or_else(|| format!("status {}", status.unwrap_or(0)))
                );
            }
            if let Err(e) = shared.with_local(move |l, _| l.log_attempts(&[logged])).await {
                tracing::warn!("cannot log a webhook delivery: {e:#}");
            }
            if ok {
                return;
            }
            if attempt < ATTEMPTS_MAX {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
    });
    id
}

/// Sends the node's events to the webhooks that want them, for as long as
/// the node runs.
pub async fn dispatch(shared: Arc<Shared>) {
    let mut rx = shared.subscribe();
    let mut undecided = Vec::new();
    loop {
        let got = rx.recv().await;
        let hooks = shared.integrations.hooks();
        if hooks.is_empty() {
            if matches!(got, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                return;
            }
            undecided.clear();
            continue;
        }
        let Some(events) = super::events::translate(&shared, got, &mut undecided).await else {
            return;
        };
        for (name, data) in events {
            for hook in hooks.iter().filter(|h| h.wants(name)) {
                deliver(&shared, hook.clone(), name, data.clone());
            }
        }
    }
}

/// A task from an OA system.
#[derive(Debug, Deserialize)]
pub struct OaTask {
    project: String,
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    assignees: Vec<String>,
    #[serde(default)]
    due: Option<String>,
    #[serde(default)]
    priority: outpost_workspace::tasks::Priority,
    #[serde(default)]
    labels: Vec<String>,
    /// The OA system's id for it: a second push with the same id answers
    /// the task made the first time.
    #[serde(default)]
    external_id: Option<String>,
}

/// `POST /api/incoming/oa/tasks`.
pub async fn oa_task(State(shared): State<Arc<Shared>>, Json(t): Json<OaTask>) -> ApiResult {
    use crate::tasks::{TaskRequest, handle};
    let v = shared
        .with_local(move |l, pass| {
            let mut labels = t.labels;
            if let Some(ext) = t.external_id.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
                let label = format!("oa:{ext}");
                let board = handle(
                    l,
                    pass,
                    TaskRequest::Board {
                        project: t.project.clone(),
                    },
                )?;
                let existing = board["board"]["columns"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|c| c["cards"].as_array().into_iter().flatten())
                    .find(|card| {
                        card["labels"]
                            .as_array()
                            .is_some_and(|ls| ls.iter().any(|x| x == &json!(label)))
                    });
                if let Some(card) = existing {
                    return Ok(json!({"task": card["id"], "project": board["project"], "created": false}));
                }
                labels.push(label);
            }
            let mut v = handle(
                l,
                pass,
                TaskRequest::Add {
                    project: t.project,
                    title: t.title,
                    description: t.description,
                    assignees: t.assignees,
                    due: t.due,
                    priority: t.priority,
                    labels,
                    column: None,
                },
            )?;
            v["created"] = json!(true);
            Ok(v)
        })
        .await?;
    shared.flush().await?;
    Ok(Json(v))
}

/// Staff changes from an HR system.
#[derive(Debug, Deserialize)]
pub struct HrPush {
    changes: Vec<StaffChange>,
}

/// `POST /api/incoming/hr/staff`: queues the changes for an admin.
pub async fn hr_staff(State(shared): State<Arc<Shared>>, Json(push): Json<HrPush>) -> ApiResult {
    let now = crate::now().0;
    let added = shared
        .with_local(move |l, _| l.push_staff_changes(push.changes, now))
        .await?;
    Ok(Json(json!({"queued": added})))
}

/// `GET /api/hr/pending`.
pub async fn hr_pending(State(shared): State<Arc<Shared>>) -> ApiResult {
    let pending = shared.with_local(|l, _| l.hr_pending()).await?;
    Ok(Json(json!({"pending": pending})))
}

/// Which staff changes were handled.
#[derive(Debug, Deserialize)]
pub struct Clear {
    #[serde(default)]
    ids: Vec<String>,
    #[serde(default)]
    all: bool,
}

/// `POST /api/hr/pending/clear`: forgets handled changes (`ids`, or `all`).
pub async fn hr_clear(State(shared): State<Arc<Shared>>, Json(c): Json<Clear>) -> ApiResult {
    let removed = shared
        .with_local(move |l, _| l.clear_staff_changes(&c.ids, c.all))
        .await?;
    Ok(Json(json!({"removed": removed})))
}
