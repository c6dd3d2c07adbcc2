//! `GET /api/docs/{id}/live`: live co-editing over a WebSocket.
//!
//! Messages are JSON text frames with a `type`.
//!
//! From the node:
//! - `doc`: the document as `GET /api/docs/{id}` shows it (without
//!   `markdown`), with `heads`
//!   (automerge change hashes) and `text_len`; sent on connect and
//!   whenever it changed (here or by a peer), at most every
//!   [`SNAPSHOT_EVERY`];
//! - `ack`: an edit was stored durably (`seq` as the client sent it,
//!   `changed`, `change`, and the document's `heads` and `text_len` right
//!   after it);
//! - `error`: an edit was refused (`seq`, `code`, `message`); nothing of it
//!   was stored;
//! - `presence`: another editor's beat (see [`crate::presence`]).
//!
//! From the client:
//! - `edit`: `{seq, base, edits}` — rich-text edits (see
//!   `outpost_workspace::doc::Edit`) whose positions refer to the
//!   document at `base` (the heads of the last `doc` or `ack` the client
//!   applied); the node carries them over whatever changed since;
//! - `presence`: `{cursor}` — where this editor's selection is.
//!
//! One snapshot is built per change of the document, whatever the number
//! of editors watching it ([`Hub`]).

use crate::daemon::{NodeEvent, Shared};
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use outpost_seal::replica::DocKey;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Snapshots of one document are built at most this often.
pub const SNAPSHOT_EVERY: Duration = Duration::from_millis(25);

/// The documents open in live editors on this node, each with its latest
/// snapshot, encoded once for all the sockets that send it.
#[derive(Debug, Default)]
pub struct Hub {
    docs: Mutex<HashMap<DocKey, watch::Sender<Utf8Bytes>>>,
}

impl Hub {
    /// A receiver of the snapshots of `key`; the first one starts the task
    /// that builds them.
    fn watch(&self, shared: &Arc<Shared>, key: DocKey, first: Utf8Bytes) -> watch::Receiver<Utf8Bytes> {
        let mut docs = self.docs.lock().expect("never poisoned");
        if let Some(tx) = docs.get(&key)
            && !tx.is_closed()
        {
            return tx.subscribe();
        }
        let (tx, rx) = watch::channel(first);
        docs.insert(key, tx.clone());
        tokio::spawn(snapshots(shared.clone(), key, tx));
        rx
    }
}

/// Builds a snapshot of `key` after each change, until nobody watches.
async fn snapshots(shared: Arc<Shared>, key: DocKey, tx: watch::Sender<Utf8Bytes>) {
    let mut events = shared.subscribe();
    // Changes made between the first snapshot and this subscription would
    // otherwise go unseen until the next one: build one at once.
    let mut first = true;
    loop {
        let changed = std::mem::take(&mut first)
            || tokio::select! {
                e = events.recv() => match e {
                    Ok(NodeEvent::Changed(docs)) => docs.iter().any(|(s, d)| *s == key.0.0 && *d == key.1.0),
                    Ok(_) => false,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => true,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
                () = tx.closed() => break,
            };
        if !changed {
            continue;
        }
        // Let a burst of changes settle into one snapshot.
        tokio::time::sleep(SNAPSHOT_EVERY).await;
        let id = key.1.to_hex();
        match shared.with_local(move |l, pass| snapshot(l, &id, pass)).await {
            Ok(v) => {
                if tx.send(v.to_string().into()).is_err() {
                    break;
                }
            }
            Err(e) => tracing::debug!("no snapshot of a live document: {e:#}"),
        }
    }
    let mut docs = shared.live.docs.lock().expect("never poisoned");
    if docs.get(&key).is_some_and(|t| t.same_channel(&tx)) {
        docs.remove(&key);
    }
}

/// The document as a `doc` message.
fn snapshot(l: &mut crate::Local, id: &str, pass: &crate::home::Passphrase) -> anyhow::Result<Value> {
    let mut v = l.entry_with(id, false, pass)?;
    v["type"] = json!("doc");
    Ok(v)
}

/// A message from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    Edit {
        #[serde(default)]
        seq: u64,
        #[serde(default)]
        base: Vec<String>,
        edits: Vec<outpost_workspace::doc::Edit>,
    },
    Presence {
        #[serde(default)]
        cursor: Option<crate::presence::Cursor>,
    },
}

pub async fn live(
    ws: WebSocketUpgrade,
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Response, super::ApiError> {
    let first = {
        let id = id.clone();
        shared.with_local(move |l, pass| snapshot(l, &id, pass)).await?
    };
    let key = shared
        .with_local(move |l, _| {
            let replica = l.replica()?;
            l.find_doc(&replica, &id)
        })
        .await?;
    Ok(ws
        .on_upgrade(move |socket| session(shared, key, first, socket))
        .into_response())
}

/// One editor's connection.
async fn session(shared: Arc<Shared>, key: DocKey, first: Value, socket: WebSocket) {
    let (mut out, mut incoming) = socket.split();
    let first: Utf8Bytes = first.to_string().into();
    let mut docs = shared.live.watch(&shared, key, first.clone());
    let mut events = shared.subscribe();
    if out.send(Message::Text(first)).await.is_err() {
        return;
    }
    // The shared snapshot may be newer than `first`: send it too.
    docs.mark_changed();
    let id = key.1.to_hex();
    let mut present = false;
    loop {
        let reply: Option<Utf8Bytes> = tokio::select! {
            m = incoming.next() => match m {
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<ClientMessage>(&t) {
                    Ok(ClientMessage::Edit { seq, base, edits }) => Some(edit(&shared, &id, seq, base, edits).await.to_string().into()),
                    Ok(ClientMessage::Presence { cursor }) => {
                        present = true;
                        let beat = crate::presence::Beat { cursor, leaving: false };
                        match shared.send_presence(key, beat).await {
                            Ok(()) => None,
                            Err(e) => Some(json!({"type": "error", "code": "presence", "message": format!("{e:#}")}).to_string().into()),
                        }
                    }
                    Err(e) => Some(json!({"type": "error", "code": "bad_message", "message": format!("cannot read this message: {e}")}).to_string().into()),
                },
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => None,
            },
            c = docs.changed() => match c {
                Ok(()) => Some(docs.borrow_and_update().clone()),
                Err(_) => break,
            },
            e = events.recv() => match e {
                Ok(NodeEvent::Presence(seen)) if seen.doc == key => {
                    let mut v = seen.to_json();
                    v["type"] = json!("presence");
                    Some(v.to_string().into())
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                _ => None,
            },
        };
        if let Some(v) = reply
            && out.send(Message::Text(v)).await.is_err()
        {
            break;
        }
    }
    if present {
        let beat = crate::presence::Beat {
            cursor: None,
            leaving: true,
        };
        let _ = shared.send_presence(key, beat).await;
    }
}

/// Stores one `edit` message's edits; the `ack` or `error` answer.
async fn edit(
    shared: &Arc<Shared>,
    id: &str,
    seq: u64,
    base: Vec<String>,
    edits: Vec<outpost_workspace::doc::Edit>,
) -> Value {
    let id = id.to_owned();
    let done = shared
        .with_local(move |l, pass| {
            let base = super::library::parse_heads(&base)?;
            let base = (!base.is_empty()).then_some(base);
            l.edit_text(&id, base.as_deref(), &edits, pass)
        })
        .await;
    let done = match done {
        Ok(d) => shared.flush().await.map(|()| d),
        Err(e) => Err(e),
    };
    match done {
        Ok((_, env, after)) => json!({
            "type": "ack", "seq": seq, "changed": env.is_some(),
            "change": env.map(|e| hex::encode(e.0)),
            "heads": after.heads.iter().map(hex::encode).collect::<Vec<_>>(),
            "text_len": after.text_len,
        }),
        Err(e) => {
            let e = super::ApiError::from(e);
            json!({"type": "error", "seq": seq, "code": e.1, "message": e.2})
        }
    }
}
