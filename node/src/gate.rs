//! Admission: who may connect. A peer's hello is the certificate bundle of
//! its device; it is admitted if, against this node's authorisation state
//! plus the bundle's ops, the bundle names a live device certificate (or a
//! device's own role certificate, for relays and office nodes) whose key is
//! the peer's libp2p identity.

use libp2p::PeerId;
use outpost_identity::keys::peer_id_of;
use outpost_identity::request::Bundle;
use outpost_identity::{AuthState, Body, PublicKey, RoleCert};
use outpost_net::{Check, Offence, Topic};
use std::sync::RwLock;

/// The node's gate, shared with the network loop.
#[derive(Debug)]
pub struct OrgGate {
    state: RwLock<AuthState>,
    hello: Vec<u8>,
    principals: std::sync::Mutex<std::collections::HashMap<PeerId, RoleCert>>,
}

/// The device key a bundle presents, if any.
fn presented_key(state: &AuthState, bundle: &Bundle) -> Option<PublicKey> {
    match &state.op(&bundle.subject?)?.op.body {
        Body::Device(d) => Some(d.device),
        Body::Grant(c) => Some(c.subject),
        _ => None,
    }
}

impl OrgGate {
    /// A gate over `state`, presenting `hello` (our device bundle).
    pub fn new(state: AuthState, hello: Vec<u8>) -> OrgGate {
        OrgGate {
            state: RwLock::new(state),
            hello,
            principals: Default::default(),
        }
    }

    /// Replaces the state (after new ops arrived).
    pub fn update(&self, state: AuthState) {
        let mut current = self
            .state
            .write()
            .expect("the gate lock is never poisoned: nothing panics while holding it");
        // Ops only ever grow: an older state arriving late (two updates
        // racing) must not undo a revocation.
        if state.len() >= current.len() {
            *current = state;
        }
    }

    /// The certificate an admitted peer acts under.
    pub fn admitted(&self, peer: &PeerId) -> Option<RoleCert> {
        self.principals
            .lock()
            .expect("the gate lock is never poisoned")
            .get(peer)
            .cloned()
    }

    /// The current authorisation state.
    pub fn state(&self) -> AuthState {
        self.state.read().expect("the gate lock is never poisoned").clone()
    }

    /// Who `peer` acts for, given its hello.
    pub fn principal(&self, peer: &PeerId, hello: &[u8]) -> Result<RoleCert, String> {
        let (bundle, ops) = Bundle::decode(hello).map_err(|e| format!("its certificate bundle is invalid: {e}"))?;
        let base = self.state.read().expect("the gate lock is never poisoned").clone();
        if bundle.root != base.root() {
            return Err(format!("it belongs to another org ({})", bundle.org()));
        }
        let mut state = base;
        state.insert_all(ops).map_err(|e| e.to_string())?;
        let key = presented_key(&state, &bundle).ok_or("its bundle names no device certificate")?;
        if peer_id_of(&key) != peer.to_base58() {
            return Err("its certificate is for another device".into());
        }
        let now = crate::now();
        // The certificate presented must itself be valid: a peer whose key
        // is certified elsewhere is still refused for a forged or dead one.
        let subject = bundle.subject.ok_or("its bundle names no device certificate")?;
        let status = state.status(&subject, now);
        if !status.is_live() {
            return Err(format!("its certificate {subject} is not valid: {status}"));
        }
        match state.device_principal(&key, now) {
            Some((_, cert)) => Ok(cert.clone()),
            None => {
                let status = bundle
                    .subject
                    .map(|s| state.status(&s, now).to_string())
                    .unwrap_or_default();
                Err(format!("its device certificate is not valid: {status}"))
            }
        }
    }
}

/// The offence of an item that did not decode.
fn decode_offence(e: &outpost_identity::signed::DecodeError) -> Offence {
    match e {
        outpost_identity::signed::DecodeError::BadSignature(_) => Offence::BadSignature,
        _ => Offence::Malformed,
    }
}

impl OrgGate {
    /// Checks one gossip frame from `peer` on `topic` before it is handed
    /// on or forwarded: its kind belongs on the topic, an op or envelope
    /// decodes and its signature verifies, an envelope is of the topic's
    /// scope and of a scope the peer may hold. (The node checks it again
    /// when storing it, with the rest of a batch.)
    pub fn check_frame(&self, peer: &PeerId, topic: Topic, data: &[u8]) -> Check {
        use crate::local::frame;
        match (data.split_first(), topic) {
            (Some((&frame::OP, bytes)), Topic::Org) => match outpost_identity::SignedOp::decode(bytes) {
                Ok(_) => Check::Accept,
                Err(outpost_identity::op::OpError::Decode(e)) => {
                    Check::Reject(decode_offence(&e), format!("an invalid op: {e}"))
                }
                Err(e) => Check::Reject(Offence::Malformed, format!("an invalid op: {e}")),
            },
            (Some((&frame::ENVELOPE, bytes)), Topic::Scope(_) | Topic::Overflow) => {
                let e = match outpost_seal::Envelope::decode(bytes) {
                    Ok(e) => e,
                    Err(e) => return Check::Reject(decode_offence(&e), format!("an invalid envelope: {e}")),
                };
                let scope = e.header.scope;
                if let Topic::Scope(topic_scope) = topic {
                    if topic_scope != scope.0 {
                        return Check::Reject(
                            Offence::Unacceptable,
                            format!("an envelope of scope {scope} on the topic of another"),
                        );
                    }
                    // On a scope's own topic, the peer passing it on must
                    // be one that may hold it (the overflow topic carries
                    // every scope through every node that follows it).
                    if let Some(cert) = self.admitted(peer) {
                        let state = self.state.read().expect("the gate lock is never poisoned");
                        if state.scope(&scope).is_some() && !crate::sync::may_hold(&state, &scope, &cert) {
                            return Check::Reject(
                                Offence::Unacceptable,
                                format!("an envelope of scope {scope}, which the peer may not hold"),
                            );
                        }
                    }
                }
                Check::Accept
            }
            // Opened (and checked) by the node, with the scope's keys.
            (Some((&frame::PRESENCE, _)), Topic::Scope(_)) => Check::Accept,
            (Some((&kind, _)), _) => Check::Reject(
                Offence::Malformed,
                format!("a gossip frame of kind {kind} on {topic:?}, where it does not belong"),
            ),
            (None, _) => Check::Reject(Offence::Malformed, "an empty gossip frame".into()),
        }
    }
}

impl outpost_net::Gate for OrgGate {
    fn hello(&self) -> Vec<u8> {
        self.hello.clone()
    }

    fn check_gossip(&self, peer: &PeerId, topic: Topic, data: &[u8]) -> Check {
        self.check_frame(peer, topic, data)
    }

    fn admit(&self, peer: &PeerId, hello: &[u8]) -> Result<(), String> {
        let mut principals = self.principals.lock().expect("the gate lock is never poisoned");
        match self.principal(peer, hello) {
            Ok(cert) => {
                principals.insert(*peer, cert);
                Ok(())
            }
            Err(why) => {
                principals.remove(peer);
                Err(why)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::home::{Home, Passphrase};
    use crate::local::{Local, frame};

    /// `bytes` with one byte of its trailing 64-byte signature changed.
    fn forged(bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        let last = out.len() - 1;
        out[last] ^= 1;
        out
    }

    #[test]
    fn gossip_is_checked_before_it_travels_on() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let pass = Passphrase::default();
        let now = crate::now();
        let home = Home::at(dir.path().join("admin"));
        home.init(&pass).expect("initialised");
        let mut local = Local::open(home).expect("opens");
        local.create_org("Acme", "Admin", &pass, now).expect("org created");
        let scope = local
            .create_scope(
                outpost_identity::scope::ScopeDef {
                    name: "Everyone".into(),
                    readers: vec![outpost_identity::scope::Principal::Everyone],
                    writers: vec![outpost_identity::scope::Principal::Everyone],
                    nonce: rand::random(),
                },
                &pass,
                now,
            )
            .expect("a scope");
        local.create_doc(scope, "A", &pass, now).expect("a document");
        let state = local.require_org().expect("an org").clone();
        let op = state.op(&state.order()[0]).expect("ordered ops are held").bytes.clone();
        let envelope = local
            .store
            .envelopes()
            .expect("envelopes")
            .into_iter()
            .find(|b| outpost_seal::Envelope::decode(b).is_ok_and(|e| e.header.scope == scope))
            .expect("the document's envelope");
        let gate = OrgGate::new(state, Vec::new());
        let peer = PeerId::random();
        let check = |topic, kind, bytes: &[u8]| {
            let mut data = vec![kind];
            data.extend_from_slice(bytes);
            gate.check_frame(&peer, topic, &data)
        };
        let offence = |c: Check| match c {
            Check::Reject(o, _) => Some(o),
            _ => None,
        };

        assert_eq!(check(Topic::Org, frame::OP, &op), Check::Accept);
        assert_eq!(check(Topic::Scope(scope.0), frame::ENVELOPE, &envelope), Check::Accept);
        assert_eq!(check(Topic::Overflow, frame::ENVELOPE, &envelope), Check::Accept);
        // Forged signatures.
        assert_eq!(
            offence(check(Topic::Org, frame::OP, &forged(&op))),
            Some(Offence::BadSignature)
        );
        assert_eq!(
            offence(check(Topic::Scope(scope.0), frame::ENVELOPE, &forged(&envelope))),
            Some(Offence::BadSignature)
        );
        // Garbage, an empty frame, a kind where it does not belong.
        assert_eq!(
            offence(check(Topic::Org, frame::OP, b"garbage")),
            Some(Offence::Malformed)
        );
        assert_eq!(
            offence(gate.check_frame(&peer, Topic::Org, &[])),
            Some(Offence::Malformed)
        );
        assert_eq!(
            offence(check(Topic::Org, frame::ENVELOPE, &envelope)),
            Some(Offence::Malformed)
        );
        assert_eq!(offence(check(Topic::Org, 99, &op)), Some(Offence::Malformed));
        // An envelope on another scope's topic.
        assert_eq!(
            offence(check(Topic::Scope([7; 32]), frame::ENVELOPE, &envelope)),
            Some(Offence::Unacceptable)
        );
    }
}
