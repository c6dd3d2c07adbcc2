//! `GET /api/events`: the node's event stream, as server-sent events.
//!
//! Events (the SSE `event:` name, JSON `data:`):
//! - `stored`: envelopes from peers were stored (`{"envelopes": n}`);
//! - `notification`: a chat message for this member (`kind` is `mention`,
//!   `direct` or `reply`; the rest is the message as `chat read` shows it,
//!   with `channel` and `channel_name`);
//! - `changed`: documents changed, here or by peers
//!   (`{"docs": [{"scope", "id"}]}`);
//! - `presence`: someone has a document open (`{"doc", "member", "name",
//!   "cursor", "leaving", "time"}`; see `crate::presence`);
//! - `reminder`: this node sent this member a reminder: a deadline (as the
//!   `remind` task action answers it: `kind` `task_reminder`, `lead` (`day`
//!   or `hour`), `project`, `task`, `title`, `deadline`, `sent`, `record`)
//!   or a meeting about to start (as the `remind` meeting action answers
//!   it: `kind` `meeting_reminder`, `meeting`, `title`, `start`, ...);
//! - `certs`: certificates, revocations or other authorisation ops came
//!   from peers and were stored (`{"ops": n}`): the org directory may have
//!   changed;
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

/// An event: its name and its data.
pub type Named = (&'static str, Value);

fn event((name, data): Named) -> Result<Event, Infallible> {
    Ok(Event::default().event(name).data(data.to_string()))
}

/// Envelopes kept for one stream until they can be judged (see
/// [`crate::local::Local::chat_notifications`]); the oldest go first.
const UNDECIDED_MAX: usize = 4096;

/// Notifications for `ids` and the envelopes still `undecided`, which are
/// left holding those that remain so.
async fn notifications(shared: &Arc<Shared>, ids: Vec<[u8; 32]>, undecided: &mut Vec<[u8; 32]>) -> Vec<Named> {
    let mut all = std::mem::take(undecided);
    all.extend(ids);
    let result = shared
        .with_local(move |l, pass| l.chat_notifications(&all, pass, crate::now()))
        .await;
    match result {
        Ok((notes, left)) => {
            *undecided = left;
            let over = undecided.len().saturating_sub(UNDECIDED_MAX);
            undecided.drain(..over);
            notes.into_iter().map(|n| ("notification", n)).collect()
        }
        Err(e) => {
            tracing::debug!("no notifications for stored envelopes: {e:#}");
            Vec::new()
        }
    }
}

/// The events that one node event becomes (for the stream and for
/// webhooks); `None` when the node stops.
pub async fn translate(
    shared: &Arc<Shared>,
    e: Result<NodeEvent, RecvError>,
    undecided: &mut Vec<[u8; 32]>,
) -> Option<Vec<Named>> {
    match e {
        Ok(NodeEvent::Stored(ids)) => {
            let mut out = vec![("stored", json!({"envelopes": ids.len()}))];
            out.extend(notifications(shared, ids.to_vec(), undecided).await);
            Some(out)
        }
        Ok(NodeEvent::Ops(n)) => {
            let mut out = vec![("certs", json!({ "ops": n }))];
            if !undecided.is_empty() {
                out.extend(notifications(shared, Vec::new(), undecided).await);
            }
            Some(out)
        }
        Ok(NodeEvent::Changed(docs)) => Some(vec![(
            "changed",
            json!({"docs": docs.iter().map(|(s, d)| json!({"scope": hex::encode(s), "id": hex::encode(d)})).collect::<Vec<_>>()}),
        )]),
        Ok(NodeEvent::Presence(seen)) => Some(vec![("presence", seen.to_json())]),
        Ok(NodeEvent::Reminder(notice)) => Some(vec![("reminder", (*notice).clone())]),
        Ok(NodeEvent::Synced { peer, stats }) => Some(vec![(
            "synced",
            json!({
                "peer_id": peer.to_string(), "round_trips": stats.round_trips,
                "envelopes_received": stats.envelopes_delivered, "envelopes_sent": stats.envelopes_sent,
            }),
        )]),
        Err(RecvError::Lagged(missed)) => Some(vec![("lagged", json!({ "missed": missed }))]),
        Err(RecvError::Closed) => None,
    }
}

pub async fn stream(State(shared): State<Arc<Shared>>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = shared.subscribe();
    let events = stream::unfold((shared, rx, Vec::new()), |(shared, mut rx, mut undecided)| async move {
        let got = rx.recv().await;
        let out = translate(&shared, got, &mut undecided).await?;
        Some((stream::iter(out.into_iter().map(event)), (shared, rx, undecided)))
    })
    .flatten();
    Sse::new(events).keep_alive(KeepAlive::default())
}
