//! Approval routes: `POST /api/approvals` takes any [`ApprovalRequest`]
//! and answers with what [`crate::approvals::handle`] returns; writes are
//! durable before the answer.

use super::ApiResult;
use crate::approvals::{ApprovalRequest, handle};
use crate::daemon::Shared;
use axum::Json;
use axum::extract::State;
use std::sync::Arc;

/// `POST /api/approvals`: any [`ApprovalRequest`], as `{"action": "approve", ...}`.
pub async fn rpc(State(shared): State<Arc<Shared>>, Json(req): Json<ApprovalRequest>) -> ApiResult {
    let writes = req.writes();
    let v = shared.with_local(move |l, pass| handle(l, pass, req)).await?;
    if writes {
        shared.flush().await?;
    }
    Ok(Json(v))
}
