//! The backup route: `POST /api/backup` takes any [`BackupRequest`].
//! The CLI's `backup create` and `backup schedule` go through it while
//! the node runs (the store is locked by the node).

use super::ApiResult;
use crate::backup::{BackupRequest, handle_offline};
use crate::daemon::Shared;
use axum::Json;
use axum::extract::State;
use std::sync::Arc;

/// `POST /api/backup`: `{"action": "create", "to": DIR, "kind": "full"}`,
/// `{"action": "schedule", ...}` or `{"action": "status"}`.
pub async fn rpc(State(shared): State<Arc<Shared>>, Json(req): Json<BackupRequest>) -> ApiResult {
    let v = match req {
        BackupRequest::Create { to, kind, keep } => {
            let want = crate::backup::parse_kind(kind.as_deref())?;
            let made = crate::backup::daemon::backup_now(&shared, to, want, keep).await?;
            serde_json::to_value(made).map_err(anyhow::Error::from)?
        }
        other => shared.with_local(move |l, pass| handle_offline(l, pass, other)).await?,
    };
    Ok(Json(v))
}
