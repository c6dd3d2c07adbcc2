//! The audit route: `POST /api/audit` takes any [`AuditRequest`] and
//! answers with what [`crate::audit::handle`] returns.

use super::ApiResult;
use crate::audit::{AuditRequest, handle};
use crate::daemon::Shared;
use axum::Json;
use axum::extract::State;
use std::sync::Arc;

/// `POST /api/audit`: any [`AuditRequest`], as `{"action": "list", ...}`.
pub async fn rpc(State(shared): State<Arc<Shared>>, Json(req): Json<AuditRequest>) -> ApiResult {
    let v = shared.with_local(move |l, pass| handle(l, pass, req)).await?;
    Ok(Json(v))
}
