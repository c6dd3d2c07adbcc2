//! `/api/certs/...`: the `cert` commands through a running node, which
//! holds the store and the passphrase. Each answers what the command
//! without a node would print (see [`crate::certs`]); writes are made
//! durable, gossiped and applied to admission before the answer (see
//! [`Shared::flush`]), so a revoked peer is disconnected at once.

use super::{ApiError, ApiResult};
use crate::certs::{self, IssueArgs, ListFilter, RevokeArgs};
use crate::daemon::Shared;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use outpost_identity::Timestamp;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// `POST /api/certs/request` body.
#[derive(Debug, Deserialize)]
pub struct RequestBody {
    /// The name to ask for; default: the name given at init.
    pub name: Option<String>,
    /// The name to use if none was given at init.
    #[serde(default)]
    pub default_name: String,
}

pub(super) async fn request(State(shared): State<Arc<Shared>>, Json(req): Json<RequestBody>) -> ApiResult {
    let made = shared
        .with_local(move |l, pass| certs::request(l, pass, req.name, &req.default_name, crate::now()))
        .await?;
    Ok(Json(json!(made)))
}

/// Signing as the org root is refused through the API: a running node
/// never uses the root key, so whoever holds the API token (any local
/// process that can read `api.json`) cannot act as the root.
fn refuse_root(as_root: bool) -> Result<(), ApiError> {
    if as_root {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "refused",
            "a running node does not sign as the org root: stop the node (or use a machine where the root key is kept offline) and run the command again".into(),
        ));
    }
    Ok(())
}

pub(super) async fn issue(State(shared): State<Arc<Shared>>, Json(args): Json<IssueArgs>) -> ApiResult {
    refuse_root(args.as_root)?;
    let made = shared
        .with_local(move |l, pass| {
            let made = certs::issue(l, pass, &args, crate::now())?;
            // The new member may need keys this node holds, as when a
            // certificate arrives from a peer.
            if let Err(e) = l.steward_keys(pass, crate::now()) {
                tracing::debug!("key stewardship skipped: {e:#}");
            }
            Ok(made)
        })
        .await?;
    shared.flush().await?;
    Ok(Json(json!(made)))
}

/// `POST /api/certs/install` and `/api/certs/verify` body.
#[derive(Debug, Deserialize)]
pub struct BundleBody {
    /// The armored bundle.
    pub bundle: String,
    /// Where it came from (a file name), to name it in errors.
    #[serde(default)]
    pub source: String,
    /// Verify at this time (UNIX seconds) instead of now.
    pub at: Option<u64>,
}

pub(super) async fn install(State(shared): State<Arc<Shared>>, Json(body): Json<BundleBody>) -> ApiResult {
    let report = shared
        .with_local(move |l, pass| certs::install(l, pass, &body.bundle, &body.source, crate::now()))
        .await?;
    shared.flush().await?;
    Ok(Json(json!(report)))
}

pub(super) async fn verify(State(shared): State<Arc<Shared>>, Json(body): Json<BundleBody>) -> ApiResult {
    let at = body.at.map(Timestamp).unwrap_or_else(crate::now);
    let verified = shared
        .with_local(move |l, _| certs::verify_bundle(Some(l), &body.bundle, &body.source, at))
        .await?;
    Ok(Json(json!(verified)))
}

pub(super) async fn list(State(shared): State<Arc<Shared>>, Json(filter): Json<ListFilter>) -> ApiResult {
    let report = shared
        .with_local(move |l, _| certs::list(l, &filter, crate::now()))
        .await?;
    Ok(Json(json!(report)))
}

pub(super) async fn revoke(State(shared): State<Arc<Shared>>, Json(args): Json<RevokeArgs>) -> ApiResult {
    refuse_root(args.as_root)?;
    let made = shared
        .with_local(move |l, pass| certs::revoke(l, pass, &args, crate::now()))
        .await?;
    shared.flush().await?;
    Ok(Json(json!(made)))
}
