//! Project and task routes: `POST /api/tasks` takes any [`TaskRequest`]
//! and answers with what [`crate::tasks::handle`] returns; writes are
//! durable before the answer.

use super::ApiResult;
use crate::daemon::Shared;
use crate::tasks::{TaskRequest, handle};
use axum::Json;
use axum::extract::State;
use std::sync::Arc;

/// `POST /api/tasks`: any [`TaskRequest`], as `{"action": "move", ...}`.
pub async fn rpc(State(shared): State<Arc<Shared>>, Json(req): Json<TaskRequest>) -> ApiResult {
    let writes = req.writes();
    let v = shared.with_local(move |l, pass| handle(l, pass, req)).await?;
    if writes {
        shared.flush().await?;
    }
    Ok(Json(v))
}
