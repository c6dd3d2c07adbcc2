//! Chat routes: each builds a [`ChatRequest`] and answers with what
//! [`crate::chat::handle`] returns; writes are durable before the answer.

use super::ApiResult;
use crate::chat::{Audience, ChatRequest, handle};
use crate::daemon::Shared;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use std::sync::Arc;

/// Carries out one request on the node's store; a file to save is first
/// fetched from peers, as far as this node lacks it.
async fn run(shared: &Arc<Shared>, req: ChatRequest) -> ApiResult {
    if let ChatRequest::SaveFile {
        channel,
        message,
        index,
        ..
    } = &req
    {
        let (channel, message, index) = (channel.clone(), message.clone(), *index);
        let a = shared
            .with_local(move |l, pass| crate::chat::attachment(l, pass, &channel, &message, index, crate::now()))
            .await?;
        shared.fetch_blob(outpost_seal::blob::BlobId(a.blob), |_, _| {}).await?;
    }
    let writes = req.writes();
    let v = shared.with_local(move |l, pass| handle(l, pass, req)).await?;
    if writes {
        shared.flush().await?;
        shared.confirm_delivery();
    }
    Ok(Json(v))
}

/// `POST /api/chat`: any [`ChatRequest`], as `{"action": "send", ...}`.
pub async fn rpc(State(shared): State<Arc<Shared>>, Json(req): Json<ChatRequest>) -> ApiResult {
    run(&shared, req).await
}

pub async fn list(State(shared): State<Arc<Shared>>) -> ApiResult {
    run(&shared, ChatRequest::List).await
}

/// `POST /api/channels` body.
#[derive(Debug, Deserialize)]
pub struct NewChannel {
    name: String,
    audience: Option<Audience>,
    topic: Option<String>,
}

pub async fn create(State(shared): State<Arc<Shared>>, Json(b): Json<NewChannel>) -> ApiResult {
    let req = ChatRequest::Create {
        name: b.name,
        audience: b.audience,
        topic: b.topic,
    };
    run(&shared, req).await
}

/// `POST /api/channels/direct` body.
#[derive(Debug, Deserialize)]
pub struct Direct {
    member: String,
}

pub async fn direct(State(shared): State<Arc<Shared>>, Json(b): Json<Direct>) -> ApiResult {
    run(&shared, ChatRequest::Direct { member: b.member }).await
}

/// `GET /api/channels/{channel}/messages` query.
#[derive(Debug, Deserialize)]
pub struct ReadQuery {
    since: Option<u64>,
    thread: Option<String>,
    limit: Option<usize>,
    #[serde(default)]
    peek: bool,
}

pub async fn read(
    State(shared): State<Arc<Shared>>,
    Path(channel): Path<String>,
    Query(q): Query<ReadQuery>,
) -> ApiResult {
    let req = ChatRequest::Read {
        channel,
        since: q.since,
        thread: q.thread,
        limit: q.limit,
        peek: q.peek,
    };
    run(&shared, req).await
}

/// `POST /api/channels/{channel}/messages` body.
#[derive(Debug, Deserialize)]
pub struct Send {
    text: String,
    reply: Option<String>,
}

pub async fn send(State(shared): State<Arc<Shared>>, Path(channel): Path<String>, Json(b): Json<Send>) -> ApiResult {
    let req = ChatRequest::Send {
        channel,
        text: b.text,
        reply: b.reply,
    };
    run(&shared, req).await
}

/// Body of the routes that switch something on or off.
#[derive(Debug, Deserialize)]
pub struct Switch {
    #[serde(default = "yes")]
    on: bool,
}

fn yes() -> bool {
    true
}

pub async fn join(State(shared): State<Arc<Shared>>, Path(channel): Path<String>, Json(b): Json<Switch>) -> ApiResult {
    run(&shared, ChatRequest::Join { channel, on: b.on }).await
}

pub async fn archive(
    State(shared): State<Arc<Shared>>,
    Path(channel): Path<String>,
    Json(b): Json<Switch>,
) -> ApiResult {
    run(&shared, ChatRequest::Archive { channel, on: b.on }).await
}

/// `POST .../edit` body.
#[derive(Debug, Deserialize)]
pub struct Edit {
    text: String,
}

pub async fn edit(
    State(shared): State<Arc<Shared>>,
    Path((channel, message)): Path<(String, String)>,
    Json(b): Json<Edit>,
) -> ApiResult {
    let req = ChatRequest::Edit {
        channel,
        message,
        text: b.text,
    };
    run(&shared, req).await
}

pub async fn recall(State(shared): State<Arc<Shared>>, Path((channel, message)): Path<(String, String)>) -> ApiResult {
    run(&shared, ChatRequest::Recall { channel, message }).await
}

/// `POST .../react` body.
#[derive(Debug, Deserialize)]
pub struct React {
    reaction: String,
    #[serde(default)]
    off: bool,
}

pub async fn react(
    State(shared): State<Arc<Shared>>,
    Path((channel, message)): Path<(String, String)>,
    Json(b): Json<React>,
) -> ApiResult {
    let req = ChatRequest::React {
        channel,
        message,
        reaction: b.reaction,
        off: b.off,
    };
    run(&shared, req).await
}

/// `POST .../pin` body.
#[derive(Debug, Deserialize)]
pub struct Pin {
    #[serde(default)]
    off: bool,
}

pub async fn pin(
    State(shared): State<Arc<Shared>>,
    Path((channel, message)): Path<(String, String)>,
    Json(b): Json<Pin>,
) -> ApiResult {
    run(
        &shared,
        ChatRequest::Pin {
            channel,
            message,
            off: b.off,
        },
    )
    .await
}

pub async fn receipts(
    State(shared): State<Arc<Shared>>,
    Path((channel, message)): Path<(String, String)>,
) -> ApiResult {
    run(&shared, ChatRequest::Receipts { channel, message }).await
}

/// `GET /api/search` query.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    q: String,
    channel: Option<String>,
}

pub async fn search(State(shared): State<Arc<Shared>>, Query(q): Query<SearchQuery>) -> ApiResult {
    run(
        &shared,
        ChatRequest::Search {
            query: q.q,
            channel: q.channel,
        },
    )
    .await
}
