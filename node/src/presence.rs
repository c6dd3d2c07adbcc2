//! Who else has a document open, and where their cursor is.
//!
//! A presence beat is an envelope like any change — signed by the member,
//! sealed under the scope's current epoch, so only the document's readers
//! learn who is in it — with a [`Payload::Presence`] payload and no
//! dependencies. It travels on the scope's gossip topic as a
//! [`frame::PRESENCE`] frame and is never stored or synced: it matters
//! only while it is fresh. Editors send one when they open a document,
//! when their cursor moves (at most a few per second) and every few
//! seconds while they stay; a beat older than [`PRESENCE_TTL_SECS`] is
//! dropped, and pages forget an editor not heard from for as long.

use crate::home::Passphrase;
use crate::local::{Local, frame};
use anyhow::{Context, Result, bail};
use outpost_identity::{PublicKey, Timestamp};
use outpost_seal::envelope::{Envelope, Payload};
use outpost_seal::replica::DocKey;
use serde::{Deserialize, Serialize};

/// A beat older (or further in the future) than this, in seconds, is
/// dropped.
pub const PRESENCE_TTL_SECS: u64 = 15;
/// Largest beat accepted, in bytes of its JSON.
pub const BEAT_BYTES_MAX: usize = 1024;

/// What one editor says about themselves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Beat {
    /// The selection: `anchor` where it started, `head` where the cursor
    /// is (positions in the body as the document API counts them); `None`
    /// while the editor is elsewhere in the page.
    #[serde(default)]
    pub cursor: Option<Cursor>,
    /// The editor closed the document.
    #[serde(default)]
    pub leaving: bool,
}

/// A selection in a document's body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Where the selection started.
    pub anchor: usize,
    /// Where the cursor is.
    pub head: usize,
}

/// A beat received and checked.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The document.
    pub doc: DocKey,
    /// The member.
    pub member: PublicKey,
    /// Their name, from their certificate.
    pub name: String,
    /// What they said.
    pub beat: Beat,
    /// When they said it.
    pub time: Timestamp,
}

impl Seen {
    /// As JSON for the API's event streams.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "doc": self.doc.1.to_hex(),
            "member": self.member.to_string(),
            "name": self.name,
            "cursor": self.beat.cursor,
            "leaving": self.beat.leaving,
            "time": self.time.0,
        })
    }
}

impl Local {
    /// Seals `beat` for document `doc` as a gossip frame (for the scope's
    /// topic), and returns it with the beat as peers will see it.
    pub fn presence_frame(&self, doc: DocKey, beat: &Beat, pass: &Passphrase) -> Result<(Vec<u8>, Seen)> {
        let body = serde_json::to_vec(beat).expect("a beat serialises");
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let state = self.require_org()?;
        let now = crate::now();
        let name = state
            .role_of(&self.member, now)
            .map(|(_, c)| c.name.clone())
            .context("you hold no valid certificate")?;
        let env = crate::docs::seal_with(state, &member, &ring, doc, now, Vec::new(), Payload::Presence(body))?;
        let seen = Seen {
            doc,
            member: self.member,
            name,
            beat: beat.clone(),
            time: now,
        };
        Ok((frame::wrap(frame::PRESENCE, &env.bytes), seen))
    }

    /// Checks a beat received on the gossip topic of `scope`: signed by a
    /// member with a live certificate who may read the scope, sealed
    /// under a key this member holds, fresh. `Ok(None)` if this member
    /// cannot open it (it is not theirs to see).
    pub fn open_presence(&self, scope: [u8; 32], bytes: &[u8], pass: &Passphrase) -> Result<Option<Seen>> {
        let env = Envelope::decode(bytes).context("a presence beat does not decode")?;
        let h = &env.header;
        if h.scope.0 != scope {
            bail!("a presence beat of another scope came on this scope's topic");
        }
        let now = crate::now();
        if now.0.abs_diff(h.time.0) > PRESENCE_TTL_SECS {
            bail!(
                "a presence beat is {} s old (or from the future)",
                now.0.abs_diff(h.time.0)
            );
        }
        let state = self.require_org()?;
        let cert = state
            .op(&h.cert)
            .and_then(|o| o.grant())
            .filter(|c| c.subject == h.author)
            .context("a presence beat names a certificate that is not its author's")?;
        if !state.status(&h.cert, now).is_live() {
            bail!(
                "a presence beat comes from {}, whose certificate is not valid",
                cert.name
            );
        }
        let readable = state.scope(&h.scope).is_some_and(|s| s.allows_read(&h.scope, cert));
        if !readable {
            bail!("a presence beat comes from {}, who may not read this scope", cert.name);
        }
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let Some(secret) = ring.get(&h.epoch) else {
            return Ok(None);
        };
        let Payload::Presence(body) = env.open(secret).context("a presence beat does not open")? else {
            bail!("a presence frame holds something else than a beat");
        };
        if body.len() > BEAT_BYTES_MAX {
            bail!("a presence beat of {} bytes (at most {BEAT_BYTES_MAX})", body.len());
        }
        let beat: Beat = serde_json::from_slice(&body).context("a presence beat is not understood")?;
        Ok(Some(Seen {
            doc: (h.scope, h.doc),
            member: h.author,
            name: cert.name.clone(),
            beat,
            time: h.time,
        }))
    }
}
