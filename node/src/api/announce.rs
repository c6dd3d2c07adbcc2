//! Announcement routes: `POST /api/announcements` takes any
//! [`AnnounceRequest`] and answers with what [`crate::announce::handle`]
//! returns; writes are durable before the answer.

use super::ApiResult;
use crate::announce::{AnnounceRequest, handle};
use crate::daemon::Shared;
use axum::Json;
use axum::extract::State;
use std::sync::Arc;

/// `POST /api/announcements`: any [`AnnounceRequest`], as
/// `{"action": "publish", ...}`. A file to save is first fetched from
/// peers, as far as this node lacks it.
pub async fn rpc(State(shared): State<Arc<Shared>>, Json(req): Json<AnnounceRequest>) -> ApiResult {
    if let AnnounceRequest::SaveFile {
        announcement, index, ..
    } = &req
    {
        let (announcement, index) = (announcement.clone(), *index);
        let a = shared
            .with_local(move |l, pass| crate::announce::attachment(l, pass, &announcement, index))
            .await?;
        shared.fetch_blob(outpost_seal::blob::BlobId(a.blob), |_, _| {}).await?;
    }
    let writes = req.writes();
    let v = shared.with_local(move |l, pass| handle(l, pass, req)).await?;
    if writes {
        shared.flush().await?;
    }
    Ok(Json(v))
}
