//! The envelope: a signed header and an encrypted payload.
//!
//! Encoding: the common signed-object format of `outpost_identity::signed`
//! with kind 5 (`envelope`): `[1][5][postcard(Header, ciphertext)][sig]`.
//! The signature (by the author's member key) covers header and ciphertext,
//! so relays verify without keys. The ciphertext is XChaCha20-Poly1305
//! under the document key of the header's epoch, with the postcard-encoded
//! header as associated data. `EnvId = blake3(envelope bytes)`.

use crate::epoch::EpochSecret;
use chacha20poly1305::aead::{Aead, KeyInit, Payload as AeadPayload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use outpost_identity::keys::Signer25519;
use outpost_identity::signed::{self, DecodeError, Kind, SIG_LEN};
use outpost_identity::{OpId, PublicKey, Timestamp};
use rand::CryptoRng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;

/// Largest encoded envelope accepted, in bytes. Larger content (files)
/// travels as blobs.
pub const ENVELOPE_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Most causal dependencies an envelope may name.
pub const DEPS_MAX: usize = 256;
/// Most authorisation heads an envelope may name.
pub const AUTH_HEADS_MAX: usize = 64;

/// The id of an envelope: blake3 of its bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EnvId(pub [u8; 32]);

impl fmt::Display for EnvId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(&self.0[..8]))
    }
}

impl fmt::Debug for EnvId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EnvId({self})")
    }
}

/// A document id: 16 random bytes chosen by its creator. A document is
/// named by its scope and this id together.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DocId(pub [u8; 16]);

impl DocId {
    /// A fresh random id.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> DocId {
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        DocId(id)
    }

    /// Hex form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocId({self})")
    }
}

/// The plaintext header: everything a relay needs to apply the validity
/// rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The document.
    pub doc: DocId,
    /// The scope (a `ScopeDef` op id); with `doc` it names the document.
    pub scope: OpId,
    /// The author's member key; signs the envelope.
    pub author: PublicKey,
    /// The author's role certificate.
    pub cert: OpId,
    /// The document's envelopes this one follows (its heads when written).
    pub deps: Vec<EnvId>,
    /// The authorisation control heads the author knew.
    pub auth_heads: Vec<OpId>,
    /// The key epoch (a rekey op id) the payload is encrypted under.
    pub epoch: OpId,
    /// The author's clock when writing.
    pub time: Timestamp,
    /// The AEAD nonce.
    pub nonce: [u8; 24],
}

/// What the ciphertext holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Payload {
    /// An automerge change (documents, tasks, directory, approvals).
    Change(Vec<u8>),
    /// A message-log op (chat messages, edits, recalls, reactions...).
    Log(Vec<u8>),
    /// A presence beat (who is in a document, where their cursor is):
    /// carried on gossip only, never stored.
    Presence(Vec<u8>),
    /// A work record (an announcement, a meeting, an approval request, a
    /// reminder sent...): see `outpost_workspace::record`.
    Record(Vec<u8>),
}

/// A decoded envelope before its signature check: the body, the signed
/// prefix of the bytes and the signature.
type Unverified<'a> = (Wire, &'a [u8], &'a [u8]);

#[derive(Serialize, Deserialize)]
struct Wire {
    header: Header,
    ciphertext: Vec<u8>,
}

/// A decoded envelope whose signature has been checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// blake3 of `bytes`.
    pub id: EnvId,
    /// The canonical signed encoding.
    pub bytes: Vec<u8>,
    /// The header.
    pub header: Header,
    /// Where the encrypted payload lies in `bytes` (it is the encoding's
    /// last field before the signature): kept as a range, not a copy, since
    /// a node holds every envelope it stores.
    ciphertext: std::ops::Range<usize>,
}

/// Why an envelope could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenError {
    /// Decryption failed: wrong key or altered ciphertext.
    #[error("cannot decrypt envelope {0}: this member does not hold the key of its epoch, or it was altered")]
    Decrypt(EnvId),
    /// Decrypted, but the payload is malformed.
    #[error("envelope {0} decrypted to a malformed payload")]
    Payload(EnvId),
}

/// Where `wire`'s ciphertext lies in the envelope's encoding `bytes`: its
/// last field, just before the signature (the encoding is canonical, so
/// this holds for every envelope that decoded).
fn ciphertext_in(bytes: &[u8], wire: &Wire) -> Option<std::ops::Range<usize>> {
    let end = bytes.len().checked_sub(SIG_LEN)?;
    let start = end.checked_sub(wire.ciphertext.len())?;
    (bytes[start..end] == wire.ciphertext[..]).then_some(start..end)
}

fn aad(header: &Header) -> Vec<u8> {
    postcard::to_stdvec(header).expect("serialising plain data into a Vec cannot fail")
}

impl Envelope {
    /// Encrypts and signs `payload`. `header.nonce` is replaced by a fresh
    /// random nonce.
    pub fn seal<R: CryptoRng + ?Sized>(
        mut header: Header,
        payload: &Payload,
        secret: &EpochSecret,
        author: &Signer25519,
        rng: &mut R,
    ) -> Envelope {
        assert_eq!(author.public(), header.author, "an envelope is signed by its author");
        rng.fill_bytes(&mut header.nonce);
        let key = secret.doc_key(&header.doc.0);
        let plaintext =
            zeroize::Zeroizing::new(postcard::to_stdvec(payload).expect("serialising into a Vec cannot fail"));
        let ciphertext = XChaCha20Poly1305::new(&(*key).into())
            .encrypt(
                &XNonce::from(header.nonce),
                AeadPayload {
                    msg: &plaintext,
                    aad: &aad(&header),
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any message below its limit");
        let wire = Wire { header, ciphertext };
        let bytes = signed::encode_signed(Kind::Envelope, &wire, author);
        let ciphertext = ciphertext_in(&bytes, &wire).expect("an envelope's encoding ends with its ciphertext");
        Envelope {
            id: EnvId(*blake3::hash(&bytes).as_bytes()),
            bytes,
            header: wire.header,
            ciphertext,
        }
    }

    /// The encrypted payload.
    pub fn ciphertext(&self) -> &[u8] {
        &self.bytes[self.ciphertext.clone()]
    }

    /// Decrypts the payload with the epoch's secret.
    pub fn open(&self, secret: &EpochSecret) -> Result<Payload, OpenError> {
        let key = secret.doc_key(&self.header.doc.0);
        let plaintext = zeroize::Zeroizing::new(
            XChaCha20Poly1305::new(&(*key).into())
                .decrypt(
                    &XNonce::from(self.header.nonce),
                    AeadPayload {
                        msg: self.ciphertext(),
                        aad: &aad(&self.header),
                    },
                )
                .map_err(|_| OpenError::Decrypt(self.id))?,
        );
        postcard::from_bytes(&plaintext).map_err(|_| OpenError::Payload(self.id))
    }

    fn decode_unchecked(bytes: &[u8]) -> Result<Unverified<'_>, DecodeError> {
        if bytes.len() > ENVELOPE_BYTES_MAX {
            return Err(DecodeError::Malformed("envelope (larger than 4 MiB)"));
        }
        if bytes.len() < 2 + SIG_LEN {
            return Err(DecodeError::Truncated {
                len: bytes.len(),
                expected: "envelope",
            });
        }
        let (unsigned, sig) = bytes.split_at(bytes.len() - SIG_LEN);
        let wire: Wire = signed::decode_unsigned(Kind::Envelope, unsigned)?;
        if wire.header.deps.len() > DEPS_MAX || wire.header.auth_heads.len() > AUTH_HEADS_MAX {
            return Err(DecodeError::Malformed("envelope (too many dependencies)"));
        }
        Ok((wire, unsigned, sig))
    }

    fn from_wire(bytes: &[u8], wire: Wire) -> Result<Envelope, DecodeError> {
        let ciphertext = ciphertext_in(bytes, &wire).ok_or(DecodeError::Malformed("envelope (ciphertext)"))?;
        Ok(Envelope {
            id: EnvId(*blake3::hash(bytes).as_bytes()),
            bytes: bytes.to_vec(),
            header: wire.header,
            ciphertext,
        })
    }

    /// Decodes an envelope this node verified before storing it, without
    /// checking the signature again (the store is as trusted as the keys
    /// beside it). Never use it on bytes from a peer.
    pub fn decode_stored(bytes: &[u8]) -> Result<Envelope, DecodeError> {
        let (wire, _, _) = Self::decode_unchecked(bytes)?;
        Self::from_wire(bytes, wire)
    }

    /// Decodes and verifies one envelope.
    pub fn decode(bytes: &[u8]) -> Result<Envelope, DecodeError> {
        let (wire, unsigned, sig) = Self::decode_unchecked(bytes)?;
        signed::verify(
            &wire.header.author,
            &signed::signing_message(Kind::Envelope, unsigned),
            sig,
        )
        .map_err(|signed::BadSignature| DecodeError::BadSignature("envelope"))?;
        Self::from_wire(bytes, wire)
    }

    /// Decodes and verifies many envelopes. Each signature is checked with
    /// the same strict rule as [`Envelope::decode`]: ed25519 batch
    /// verification accepts some signatures (small-order components) that
    /// the strict check refuses, and every node must reach the same verdict
    /// whichever way an envelope arrived.
    ///
    /// The envelopes of a batch usually come from few authors, so each
    /// author's key is decompressed once per batch rather than once per
    /// envelope.
    pub fn decode_batch(items: &[&[u8]]) -> Vec<Result<Envelope, DecodeError>> {
        let mut keys: HashMap<PublicKey, Option<ed25519_dalek::VerifyingKey>> = HashMap::new();
        items
            .iter()
            .map(|bytes| {
                let (wire, unsigned, sig) = Self::decode_unchecked(bytes)?;
                let author = wire.header.author;
                let key = keys
                    .entry(author)
                    .or_insert_with(|| author.verifying_key().ok())
                    .as_ref()
                    .ok_or(DecodeError::BadSignature("envelope"))?;
                signed::verify_with(key, &signed::signing_message(Kind::Envelope, unsigned), sig)
                    .map_err(|signed::BadSignature| DecodeError::BadSignature("envelope"))?;
                Self::from_wire(bytes, wire)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> (Envelope, EpochSecret) {
        let mut rng = rand::rng();
        let author = Signer25519::generate(&mut rng);
        let secret = EpochSecret::generate(&mut rng);
        let header = Header {
            doc: DocId([1; 16]),
            scope: OpId([2; 32]),
            author: author.public(),
            cert: OpId([3; 32]),
            deps: vec![EnvId([4; 32])],
            auth_heads: vec![OpId([5; 32])],
            epoch: OpId([6; 32]),
            time: Timestamp(7),
            nonce: [0; 24],
        };
        let env = Envelope::seal(header, &Payload::Change(b"hello".to_vec()), &secret, &author, &mut rng);
        (env, secret)
    }

    #[test]
    fn seal_open_round_trip_and_no_plaintext_in_bytes() {
        let (env, secret) = sample();
        assert_eq!(env.open(&secret), Ok(Payload::Change(b"hello".to_vec())));
        assert!(!env.bytes.windows(5).any(|w| w == b"hello"));
        let back = Envelope::decode(&env.bytes).unwrap();
        assert_eq!(back, env);
        let other = EpochSecret::generate(&mut rand::rng());
        assert_eq!(env.open(&other), Err(OpenError::Decrypt(env.id)));
    }

    #[test]
    fn stored_decoding_skips_only_the_signature() {
        let (env, _) = sample();
        assert_eq!(Envelope::decode_stored(&env.bytes).unwrap(), env);
        assert!(Envelope::decode_stored(&env.bytes[..env.bytes.len() - 70]).is_err());
    }

    #[test]
    fn batch_decode_refuses_only_the_forgery() {
        let (a, _) = sample();
        let (b, _) = sample();
        let mut forged = b.bytes.clone();
        let n = forged.len();
        forged[n - 70] ^= 1; // inside the ciphertext: signature no longer matches
        let out = Envelope::decode_batch(&[&a.bytes, &forged, &b.bytes]);
        assert_eq!(out[0].as_ref().unwrap().id, a.id);
        assert_eq!(out[1], Err(DecodeError::BadSignature("envelope")));
        assert_eq!(out[2].as_ref().unwrap().id, b.id);
        assert!(Envelope::decode_batch(&[&a.bytes, &b.bytes]).iter().all(Result::is_ok));
    }

    proptest! {
        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Envelope::decode(&data);
            let _ = Envelope::decode_batch(&[&data]);
        }

        #[test]
        fn any_flipped_bit_is_refused(pos in any::<prop::sample::Index>(), bit in 0u8..8) {
            let (env, _) = sample();
            let mut bytes = env.bytes.clone();
            let i = pos.index(bytes.len());
            bytes[i] ^= 1 << bit;
            prop_assert!(Envelope::decode(&bytes).is_err());
        }

        #[test]
        fn batch_verdicts_equal_single_verdicts(pos in any::<prop::sample::Index>(), bit in 0u8..8) {
            // The batch caches decompressed author keys: a damaged envelope
            // (perhaps naming another author, or no valid key) between two
            // good ones must get exactly the verdict `decode` gives it.
            let (a, _) = sample();
            let (b, _) = sample();
            let mut bytes = a.bytes.clone();
            let i = pos.index(bytes.len());
            bytes[i] ^= 1 << bit;
            let batch: [&[u8]; 4] = [&a.bytes, &bytes, &b.bytes, &a.bytes];
            let single: Vec<_> = batch.iter().map(|x| Envelope::decode(x)).collect();
            prop_assert_eq!(Envelope::decode_batch(&batch), single);
        }
    }
}
