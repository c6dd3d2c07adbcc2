//! Key epochs.
//!
//! Each scope has one secret per epoch. A [`Rekey`] op (alone, or inside a
//! reshare that also changes the scope's readers and writers) starts an
//! epoch: a fresh 32-byte secret wrapped to every reader's X25519 exchange
//! key, and the previous epochs' secrets encrypted under the new one (so
//! members added later can read history). Keys are derived with BLAKE3's
//! `derive_key` mode (a KDF with a context string), one context per use:
//!
//! | key | context | input |
//! |---|---|---|
//! | document key | `outpost 2026 doc key v1` | secret ‖ doc id |
//! | wrap key | `outpost 2026 wrap v1` | X25519(eph, reader) ‖ eph pub ‖ reader pub ‖ scope ‖ salt |
//! | previous-secret key | `outpost 2026 prev v1` | new secret ‖ salt ‖ previous epoch id |
//!
//! Every derived key encrypts exactly one message (a wrap, a previous
//! secret) or is used with random 24-byte nonces (documents), so
//! XChaCha20-Poly1305 nonces never repeat under one key.

use chacha20poly1305::aead::{Aead, KeyInit, Payload as AeadPayload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use outpost_identity::scope::{PrevSecret, Rekey, Wrap};
use outpost_identity::{AuthState, Body, ExchangeKey, MemberKeys, OpId, PublicKey};
use rand::CryptoRng;
use std::collections::BTreeMap;
use zeroize::Zeroizing;

/// A scope's secret for one epoch. Wiped when dropped.
#[derive(Clone)]
pub struct EpochSecret(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for EpochSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EpochSecret(..)")
    }
}

impl EpochSecret {
    /// A fresh random secret.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> EpochSecret {
        let mut s = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(s.as_mut());
        EpochSecret(s)
    }

    /// From stored bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> EpochSecret {
        EpochSecret(Zeroizing::new(bytes))
    }

    /// The secret bytes (for encrypted storage).
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key that encrypts one document's envelopes in this epoch.
    pub fn doc_key(&self, doc: &[u8; 16]) -> Zeroizing<[u8; 32]> {
        let mut h = blake3::Hasher::new_derive_key("outpost 2026 doc key v1");
        h.update(self.0.as_ref());
        h.update(doc);
        Zeroizing::new(*h.finalize().as_bytes())
    }
}

const NONCE0: [u8; 24] = [0; 24];

fn seal_once(key: &[u8; 32], aad: &[u8], msg: &[u8]) -> Vec<u8> {
    XChaCha20Poly1305::new(&(*key).into())
        .encrypt(&XNonce::from(NONCE0), AeadPayload { msg, aad })
        .expect("XChaCha20-Poly1305 encrypts any short message")
}

fn open_once(key: &[u8; 32], aad: &[u8], ct: &[u8]) -> Option<EpochSecret> {
    let pt = Zeroizing::new(
        XChaCha20Poly1305::new(&(*key).into())
            .decrypt(&XNonce::from(NONCE0), AeadPayload { msg: ct, aad })
            .ok()?,
    );
    let bytes: [u8; 32] = pt.as_slice().try_into().ok()?;
    Some(EpochSecret::from_bytes(bytes))
}

fn wrap_key(shared: &[u8; 32], eph: &[u8; 32], to: &ExchangeKey, scope: &OpId, salt: &[u8; 16]) -> Zeroizing<[u8; 32]> {
    let mut h = blake3::Hasher::new_derive_key("outpost 2026 wrap v1");
    h.update(shared);
    h.update(eph);
    h.update(&to.0);
    h.update(&scope.0);
    h.update(salt);
    Zeroizing::new(*h.finalize().as_bytes())
}

fn prev_key(new: &EpochSecret, salt: &[u8; 16], prev: &OpId) -> Zeroizing<[u8; 32]> {
    let mut h = blake3::Hasher::new_derive_key("outpost 2026 prev v1");
    h.update(new.0.as_ref());
    h.update(salt);
    h.update(&prev.0);
    Zeroizing::new(*h.finalize().as_bytes())
}

/// Wraps `secret` to one reader.
pub fn wrap<R: CryptoRng + ?Sized>(
    secret: &EpochSecret,
    to: PublicKey,
    exchange: &ExchangeKey,
    scope: &OpId,
    salt: &[u8; 16],
    rng: &mut R,
) -> Wrap {
    let eph = x25519_dalek::StaticSecret::random_from_rng(rng);
    let eph_pub = x25519_dalek::PublicKey::from(&eph).to_bytes();
    let shared = Zeroizing::new(
        eph.diffie_hellman(&x25519_dalek::PublicKey::from(exchange.0))
            .to_bytes(),
    );
    let key = wrap_key(&shared, &eph_pub, exchange, scope, salt);
    Wrap {
        to,
        ephemeral: eph_pub,
        ct: seal_once(&key, &to.0, secret.bytes()),
    }
}

/// Builds the body of a new epoch for `scope`: a fresh secret wrapped to
/// `readers` (signing key, exchange key), with `previous` secrets chained.
pub fn new_epoch<R: CryptoRng + ?Sized>(
    scope: OpId,
    readers: &[(PublicKey, ExchangeKey)],
    previous: &[(OpId, EpochSecret)],
    rng: &mut R,
) -> (Rekey, EpochSecret) {
    let secret = EpochSecret::generate(rng);
    let mut salt = [0u8; 16];
    rng.fill_bytes(&mut salt);
    let wraps = readers
        .iter()
        .map(|(to, x)| wrap(&secret, *to, x, &scope, &salt, rng))
        .collect();
    let prev = previous
        .iter()
        .map(|(epoch, s)| PrevSecret {
            epoch: *epoch,
            ct: seal_once(&prev_key(&secret, &salt, epoch), &[], s.bytes()),
        })
        .collect();
    (
        Rekey {
            scope,
            salt,
            wraps,
            prev,
        },
        secret,
    )
}

/// The secrets this member can open, by epoch id.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    secrets: BTreeMap<OpId, EpochSecret>,
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Keyring {
        Keyring::default()
    }

    /// The secret of `epoch`, if held.
    pub fn get(&self, epoch: &OpId) -> Option<&EpochSecret> {
        self.secrets.get(epoch)
    }

    /// Adds a secret (e.g. loaded from the encrypted store).
    pub fn insert(&mut self, epoch: OpId, secret: EpochSecret) {
        self.secrets.insert(epoch, secret);
    }

    /// Every held secret.
    pub fn iter(&self) -> impl Iterator<Item = (&OpId, &EpochSecret)> {
        self.secrets.iter()
    }

    /// How many secrets are held.
    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    /// True if none are held.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Opens every wrap addressed to `me` in accepted rekeys, reshares and
    /// wrap ops, then follows previous-secret chains. Returns the newly
    /// learnt epochs.
    pub fn learn(&mut self, state: &AuthState, me: &MemberKeys) -> Vec<OpId> {
        let mut learnt = Vec::new();
        let mine = me.public();
        for id in state.order() {
            let (epoch, wraps): (OpId, Vec<&Wrap>) = if let Some(r) = state.epoch(id) {
                (*id, r.wraps.iter().collect())
            } else if let Some(Body::AddWraps(w)) = state.op(id).map(|o| &o.op.body)
                && state.verdict(id) == Some(&outpost_identity::state::Verdict::Accepted)
            {
                (w.epoch, w.wraps.iter().collect())
            } else {
                continue;
            };
            if self.secrets.contains_key(&epoch) {
                continue;
            }
            let Some(rekey) = state.epoch(&epoch) else { continue };
            for w in wraps.into_iter().filter(|w| w.to == mine) {
                let shared = me.agree(&ExchangeKey(w.ephemeral));
                let key = wrap_key(&shared, &w.ephemeral, &me.exchange_public(), &rekey.scope, &rekey.salt);
                if let Some(secret) = open_once(&key, &mine.0, &w.ct) {
                    self.secrets.insert(epoch, secret);
                    learnt.push(epoch);
                    break;
                }
            }
        }
        // Previous secrets: repeat until nothing new (chains can be long).
        loop {
            let mut found = Vec::new();
            for (epoch, secret) in &self.secrets {
                let Some(rekey) = state.epoch(epoch) else { continue };
                for p in &rekey.prev {
                    if !self.secrets.contains_key(&p.epoch)
                        && let Some(s) = open_once(&prev_key(secret, &rekey.salt, &p.epoch), &[], &p.ct)
                    {
                        found.push((p.epoch, s));
                    }
                }
            }
            if found.is_empty() {
                break;
            }
            for (epoch, s) in found {
                learnt.push(epoch);
                self.secrets.insert(epoch, s);
            }
        }
        learnt
    }
}
