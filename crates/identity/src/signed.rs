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

/// The canonical encodings of the eight points of small order (the torsion
/// subgroup of Curve25519). A signature whose `R` is one of them is refused.
const SMALL_ORDER_ENCODINGS: [[u8; 32]; 8] = [
    // the identity, (0, 1)
    hex32("0100000000000000000000000000000000000000000000000000000000000000"),
    // order 2, (0, -1)
    hex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    // order 4, (±sqrt(-1), 0)
    hex32("0000000000000000000000000000000000000000000000000000000000000000"),
    hex32("0000000000000000000000000000000000000000000000000000000000000080"),
    // order 8
    hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),
    hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),
];

/// 64 hex digits as 32 bytes, at compile time.
const fn hex32(text: &str) -> [u8; 32] {
    const fn digit(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a lowercase hex digit"),
        }
    }
    let text = text.as_bytes();
    assert!(text.len() == 64, "64 hex digits");
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = digit(text[2 * i]) << 4 | digit(text[2 * i + 1]);
        i += 1;
    }
    out
}

/// Verifies an ed25519 signature strictly (no malleable encodings).
///
/// The rule, one for every node and every path (single or batched):
/// `s` canonical (below the group order); `R` the canonical encoding of
/// `[s]B - [k]A` (cofactorless equation, compared byte for byte); neither
/// `A` nor `R` of small order. It accepts exactly what ed25519-dalek's
/// `verify_strict` accepts, but checks `R` against the eight small-order
/// encodings instead of decompressing it, which saves about a tenth of a
/// verification.
pub fn verify(key: &PublicKey, message: &[u8], sig: &[u8]) -> Result<(), BadSignature> {
    let vk = key.verifying_key().map_err(|_| BadSignature)?;
    verify_with(&vk, message, sig)
}

/// [`verify`] with the key already decompressed, for callers that check
/// many signatures by the same key (decompressing costs about a tenth of a
/// verification). The rule is the same.
pub fn verify_with(key: &ed25519_dalek::VerifyingKey, message: &[u8], sig: &[u8]) -> Result<(), BadSignature> {
    use ed25519_dalek::Verifier;
    let sig = ed25519_dalek::Signature::from_slice(sig).map_err(|_| BadSignature)?;
    // A canonical encoding of a small-order R is refused here; any other
    // encoding of one can never equal the canonical encoding `verify`
    // recomputes, so it is refused there.
    if key.is_weak() || SMALL_ORDER_ENCODINGS.contains(sig.r_bytes()) {
        return Err(BadSignature);
    }
    key.verify(message, &sig).map_err(|_| BadSignature)
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

    /// Hand-made signatures for the corner cases of the verification rule.
    mod rule {
        use super::super::{SMALL_ORDER_ENCODINGS, verify_with};
        use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT as B, EIGHT_TORSION};
        use curve25519_dalek::{EdwardsPoint, Scalar};
        use ed25519_dalek::{Signature, Verifier, VerifyingKey};
        use proptest::prelude::*;
        use sha2::{Digest, Sha512};

        fn scalar(seed: &[u8]) -> Scalar {
            Scalar::from_bytes_mod_order_wide(&Sha512::digest(seed).into())
        }

        /// k = H(R ‖ A ‖ M), as ed25519 defines it.
        fn challenge(r: &[u8; 32], a: &[u8; 32], message: &[u8]) -> Scalar {
            let mut h = Sha512::new();
            h.update(r);
            h.update(a);
            h.update(message);
            Scalar::from_bytes_mod_order_wide(&h.finalize().into())
        }

        /// Signs `message` for public point `a_point` = [a]B + torsion with
        /// nonce point `r_point` = [r]B + torsion: s = r + k·a.
        fn forge(
            a: Scalar,
            a_point: EdwardsPoint,
            r: Scalar,
            r_point: EdwardsPoint,
            message: &[u8],
        ) -> (VerifyingKey, Signature) {
            let (a_bytes, r_bytes) = (a_point.compress().to_bytes(), r_point.compress().to_bytes());
            let s = r + challenge(&r_bytes, &a_bytes, message) * a;
            let mut sig = [0u8; 64];
            sig[..32].copy_from_slice(&r_bytes);
            sig[32..].copy_from_slice(s.as_bytes());
            (VerifyingKey::from_bytes(&a_bytes).unwrap(), Signature::from_bytes(&sig))
        }

        /// Our rule and ed25519-dalek's `verify_strict` decide alike.
        fn same_verdict(key: &VerifyingKey, message: &[u8], sig: &Signature) -> bool {
            let ours = verify_with(key, message, &sig.to_bytes()).is_ok();
            ours == key.verify_strict(message, sig).is_ok()
        }

        #[test]
        fn the_small_order_list_is_the_torsion_subgroup() {
            let mut expected: Vec<[u8; 32]> = EIGHT_TORSION.iter().map(|p| p.compress().to_bytes()).collect();
            let mut listed = SMALL_ORDER_ENCODINGS.to_vec();
            expected.sort();
            listed.sort();
            assert_eq!(listed, expected);
        }

        #[test]
        fn an_identity_nonce_passes_plain_verification_but_not_ours() {
            let a = scalar(b"key");
            let (key, sig) = forge(a, a * B, Scalar::ZERO, EdwardsPoint::default(), b"m");
            assert!(key.verify(b"m", &sig).is_ok(), "the forgery is a plain-valid signature");
            assert!(verify_with(&key, b"m", &sig.to_bytes()).is_err());
            assert!(same_verdict(&key, b"m", &sig));
        }

        #[test]
        fn a_small_order_key_is_refused() {
            for t in EIGHT_TORSION {
                let (key, sig) = forge(Scalar::ZERO, t, scalar(b"r"), scalar(b"r") * B, b"m");
                assert!(verify_with(&key, b"m", &sig.to_bytes()).is_err());
                assert!(same_verdict(&key, b"m", &sig));
            }
        }

        proptest! {
            #[test]
            fn agrees_with_verify_strict_on_mixed_order_points(
                seed in any::<u64>(), ta in 0usize..8, tr in 0usize..8, flip in any::<Option<(u8, u8)>>(),
            ) {
                let (a, r) = (scalar(&seed.to_le_bytes()), scalar(&(!seed).to_le_bytes()));
                let message = seed.to_be_bytes();
                let (key, sig) = forge(a, a * B + EIGHT_TORSION[ta], r, r * B + EIGHT_TORSION[tr], &message);
                let mut bytes = sig.to_bytes();
                if let Some((i, bit)) = flip {
                    bytes[usize::from(i) % 64] ^= 1 << (bit % 8);
                }
                let sig = Signature::from_bytes(&bytes);
                prop_assert!(same_verdict(&key, &message, &sig));
            }
        }
    }
}
