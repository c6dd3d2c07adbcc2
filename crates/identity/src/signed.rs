//! The one canonical, signed encoding used by every Outpost object.
//!
//! Layout of a signed object (all objects in this crate and the envelopes of
//! `outpost-seal` use it):
//!
//! ```text
//! byte 0        format version (1)
//! byte 1        kind (see [`Kind`])
//! bytes 2..n-64 postcard encoding of the body
//! bytes n-64..n ed25519 signature
//! ```
//!
//! The signature covers `"outpost/v1/" ‖ kind name ‖ 0x00 ‖ bytes[0..n-64]`,
//! so a signature made for one kind can never be replayed as another. On
//! decode the body is re-encoded and must give the same bytes: there is
//! exactly one encoding of every value, so ids (hashes of the bytes) cannot
//! be changed by re-encoding.

use crate::keys::{PublicKey, Signer25519};
use serde::{Serialize, de::DeserializeOwned};

/// The format version written in byte 0.
pub const FORMAT_VERSION: u8 = 1;
/// Length of an ed25519 signature.
pub const SIG_LEN: usize = 64;

/// What a signed object is. The number is byte 1 of the encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// An authorisation op (grant, device certificate, revocation).
    Op = 1,
    /// A certificate request made by a member.
    Request = 2,
    /// A one-time invite made by an admin.
    Invite = 3,
    /// An unsigned bundle of ops (the signature field is absent).
    Bundle = 4,
    /// A sealed change (see `outpost-seal`).
    Envelope = 5,
    /// A private key file (unsigned; encrypted when a passphrase is set).
    KeyFile = 6,
}

impl Kind {
    /// The name used in the signature's domain-separation tag.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Op => "op",
            Kind::Request => "request",
            Kind::Invite => "invite",
            Kind::Bundle => "bundle",
            Kind::Envelope => "envelope",
            Kind::KeyFile => "key file",
        }
    }

    fn from_byte(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::Op,
            2 => Kind::Request,
            3 => Kind::Invite,
            4 => Kind::Bundle,
            5 => Kind::Envelope,
            6 => Kind::KeyFile,
            _ => return None,
        })
    }
}

/// Why bytes could not be read as a signed object.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer bytes than the smallest object.
    #[error("truncated: {len} bytes is too short for an Outpost {expected}")]
    Truncated {
        /// bytes given
        len: usize,
        /// what was expected
        expected: &'static str,
    },
    /// Byte 0 is not a version this build reads.
    #[error("unsupported format version {0}: this build reads version 1; upgrade Outpost")]
    Version(u8),
    /// Byte 1 names another kind of object.
    #[error("this is not an Outpost {expected} (found kind byte {found})")]
    WrongKind {
        /// what was expected
        expected: &'static str,
        /// the byte found
        found: u8,
    },
    /// The body does not decode, or has bytes left over.
    #[error("malformed {0}: the content is damaged or was not made by Outpost")]
    Malformed(&'static str),
    /// The body decodes but is not in canonical form.
    #[error("non-canonical {0}: the bytes were altered after signing")]
    NonCanonical(&'static str),
    /// The signature does not verify under the claimed key.
    #[error("bad signature on {0}: it was tampered with or forged")]
    BadSignature(&'static str),
}

/// The message actually signed for `kind` and the unsigned prefix `body`.
pub fn signing_message(kind: Kind, unsigned: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(16 + unsigned.len());
    m.extend_from_slice(b"outpost/v1/");
    m.extend_from_slice(kind.name().as_bytes());
    m.push(0);
    m.extend_from_slice(unsigned);
    m
}

/// Encodes `body` as an unsigned object of `kind` (header and body only).
pub fn encode_unsigned<T: Serialize>(kind: Kind, body: &T) -> Vec<u8> {
    let mut out = vec![FORMAT_VERSION, kind as u8];
    let body = postcard::to_stdvec(body).expect("serialising plain data into a Vec cannot fail");
    out.extend_from_slice(&body);
    out
}

/// Encodes and signs `body` as an object of `kind`.
pub fn encode_signed<T: Serialize>(kind: Kind, body: &T, signer: &Signer25519) -> Vec<u8> {
    let mut out = encode_unsigned(kind, body);
    let sig = signer.sign(&signing_message(kind, &out));
    out.extend_from_slice(&sig);
    out
}

/// Decodes an unsigned object of `kind`, insisting on canonical form.
pub fn decode_unsigned<T: Serialize + DeserializeOwned>(kind: Kind, bytes: &[u8]) -> Result<T, DecodeError> {
    let name = kind.name();
    if bytes.len() < 2 {
        return Err(DecodeError::Truncated {
            len: bytes.len(),
            expected: name,
        });
    }
    if bytes[0] != FORMAT_VERSION {
        return Err(DecodeError::Version(bytes[0]));
    }
    if Kind::from_byte(bytes[1]) != Some(kind) {
        return Err(DecodeError::WrongKind {
            expected: name,
            found: bytes[1],
        });
    }
    let (value, rest): (T, &[u8]) = postcard::take_from_bytes(&bytes[2..]).map_err(|e| match e {
        postcard::Error::DeserializeUnexpectedEnd => DecodeError::Truncated {
            len: bytes.len(),
            expected: name,
        },
        _ => DecodeError::Malformed(name),
    })?;
    if !rest.is_empty() {
        return Err(DecodeError::Malformed(name));
    }
    if postcard::to_stdvec(&value).ok().as_deref() != Some(&bytes[2..]) {
        return Err(DecodeError::NonCanonical(name));
    }
    Ok(value)
}

/// Decodes a signed object of `kind` and checks its signature under the key
/// `signer_of` names in the decoded body.
pub fn decode_signed<T: Serialize + DeserializeOwned>(
    kind: Kind,
    bytes: &[u8],
    signer_of: impl Fn(&T) -> PublicKey,
) -> Result<T, DecodeError> {
    let name = kind.name();
    if bytes.len() < 2 + SIG_LEN {
        return Err(DecodeError::Truncated {
            len: bytes.len(),
            expected: name,
        });
    }
    let (unsigned, sig) = bytes.split_at(bytes.len() - SIG_LEN);
    let value: T = decode_unsigned(kind, unsigned)?;
    verify(&signer_of(&value), &signing_message(kind, unsigned), sig)
        .map_err(|BadSignature| DecodeError::BadSignature(name))?;
    Ok(value)
}

/// A signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the signature does not verify")]
pub struct BadSignature;

/// Verifies an ed25519 signature strictly (no malleable encodings).
pub fn verify(key: &PublicKey, message: &[u8], sig: &[u8]) -> Result<(), BadSignature> {
    let vk = key.verifying_key().map_err(|_| BadSignature)?;
    verify_with(&vk, message, sig)
}

/// [`verify`] with the key already decompressed, for callers that check
/// many signatures by the same key (decompressing costs about a tenth of a
/// verification). The rule is the same.
pub fn verify_with(key: &ed25519_dalek::VerifyingKey, message: &[u8], sig: &[u8]) -> Result<(), BadSignature> {
    let sig = ed25519_dalek::Signature::from_slice(sig).map_err(|_| BadSignature)?;
    key.verify_strict(message, &sig).map_err(|_| BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq)]
    struct Body {
        who: PublicKey,
        text: String,
        n: u64,
    }

    fn sample() -> (Signer25519, Vec<u8>) {
        let key = Signer25519::generate(&mut rand::rng());
        let body = Body {
            who: key.public(),
            text: "hello".into(),
            n: 7,
        };
        let bytes = encode_signed(Kind::Request, &body, &key);
        (key, bytes)
    }

    #[test]
    fn round_trip() {
        let (key, bytes) = sample();
        let back: Body = decode_signed(Kind::Request, &bytes, |b: &Body| b.who).unwrap();
        assert_eq!(back.who, key.public());
        assert_eq!(back.text, "hello");
    }

    #[test]
    fn wrong_kind_is_refused() {
        let (_, bytes) = sample();
        let err = decode_signed::<Body>(Kind::Invite, &bytes, |b| b.who).unwrap_err();
        assert!(matches!(err, DecodeError::WrongKind { .. }));
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let (_, bytes) = sample();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                assert!(
                    decode_signed::<Body>(Kind::Request, &b, |b| b.who).is_err(),
                    "flip at byte {i} bit {bit} went unnoticed"
                );
            }
        }
    }

    #[test]
    fn every_truncation_is_detected() {
        let (_, bytes) = sample();
        for len in 0..bytes.len() {
            assert!(decode_signed::<Body>(Kind::Request, &bytes[..len], |b| b.who).is_err());
        }
    }

    proptest! {
        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_signed::<Body>(Kind::Request, &data, |b| b.who);
        }
    }
}
