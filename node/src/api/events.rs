//! `GET /api/events`: the node's event stream, as server-sent events.
//!
//! Events (the SSE `event:` name, JSON `data:`):
//! - `stored`: envelopes from peers were stored (`{"envelopes": n}`);
//! - `notification`: a chat message for this member (`kind` is `mention`,
//!   `direct` or `reply`; the rest is the message as `chat read` shows it,
//!   with `channel` and `channel_name`);
//! - `synced`: a sync session with a peer ended (`{"peer_id", ...}`);
//! - `lagged`: the client read too slowly and `missed` events were dropped
//!   (re-read what it shows).
//!
//! Browsers' `EventSource` cannot set headers: give the token as
//! `?token=`.

use crate::daemon::{NodeEvent, Shared};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::{self, Stream, StreamExt};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

fn event(name: &str, data: &Value) -> Result<Event, Infallible> {
    Ok(Event::default().event(name).data(data.to_string()))
}

/// The events that one node event becomes.
async fn translate(shared: &Arc<Shared>, e: Result<NodeEvent, RecvError>) -> Option<Vec<Result<Event, Infallible>>> {
    match e {
        Ok(NodeEvent::Stored(ids)) => {
            let mut out = vec![event("stored", &json!({"envelopes": ids.len()}))];
            let ids: Vec<[u8; 32]> = ids.to_vec();
            let notes = shared
                .with_local(move |l, pass| l.chat_notifications(&ids, pass, crate::now()))
                .await;
            match notes {
                Ok(notes) => out.extend(notes.iter().map(|n| event("notification", n))),
                Err(e) => tracing::debug!("no notifications for stored envelopes: {e:#}"),
            }
            Some(out)
        }
        Ok(NodeEvent::Synced { peer, stats }) => Some(vec![event(
            "synced",
            &json!({
                "peer_id": peer.to_string(), "round_trips": stats.round_trips,
                "envelopes_received": stats.envelopes_delivered, "envelopes_sent": stats.envelopes_sent,
            }),
        )]),
        Err(RecvError::Lagged(missed)) => Some(vec![event("lagged", &json!({ "missed": missed }))]),
        Err(RecvError::Closed) => None,
    }
}

pub async fn stream(State(shared): State<Arc<Shared>>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = shared.subscribe();
    let events = stream::unfold((shared, rx), |(shared, mut rx)| async move {
        let got = rx.recv().await;
        let out = translate(&shared, got).await?;
        Some((stream::iter(out), (shared, rx)))
    })
    .flatten();
    Sse::new(events).keep_alive(KeepAlive::default())
}
