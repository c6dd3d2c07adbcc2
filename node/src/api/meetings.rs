//! Meeting routes: `POST /api/meetings` takes any [`MeetingRequest`] and
//! answers with what [`crate::meetings::handle`] returns; writes are
//! durable before the answer.

use super::ApiResult;
use crate::daemon::Shared;
use crate::meetings::{MeetingRequest, handle};
use axum::Json;
use axum::extract::State;
use std::sync::Arc;

/// `POST /api/meetings`: any [`MeetingRequest`], as
/// `{"action": "create", ...}`.
pub async fn rpc(State(shared): State<Arc<Shared>>, Json(req): Json<MeetingRequest>) -> ApiResult {
    let writes = req.writes();
    let v = shared.with_local(move |l, pass| handle(l, pass, req)).await?;
    if writes {
        shared.flush().await?;
    }
    Ok(Json(v))
}
