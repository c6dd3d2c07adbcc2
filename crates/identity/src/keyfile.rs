//! Private key files: armored text, encrypted under a passphrase when one is
//! given (argon2id → XChaCha20-Poly1305).
//!
//! The kind of key and its public half are bound to the ciphertext as
//! associated data, so a file cannot be relabelled or swapped for another
//! key without the decryption failing.

use crate::armor::{self, ArmorError, Label};
use crate::keys::PublicKey;
use crate::signed::{self, DecodeError, Kind};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Which key a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyKind {
    /// The org root.
    OrgRoot,
    /// A member's signing and exchange keys.
    Member,
    /// A device (node) key.
    Device,
    /// The node's storage key (encrypts the local store).
    Storage,
}

/// argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl KdfParams {
    /// argon2's recommended defaults (19 MiB, 2 passes, 1 lane).
    pub const DEFAULT: KdfParams = KdfParams {
        m_kib: 19 * 1024,
        t: 2,
        p: 1,
    };
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Protection {
    Plain,
    Argon2id {
        params: KdfParams,
        salt: [u8; 16],
        nonce: [u8; 24],
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct KeyFile {
    kind: KeyKind,
    public: PublicKey,
    protection: Protection,
    /// The secret, or its ciphertext; wiped on drop (a key file without a
    /// passphrase holds the secret itself).
    secret: Vec<u8>,
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret);
    }
}

/// Why a key file could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The text is damaged.
    #[error("key file is damaged: {0}")]
    Armor(#[from] ArmorError),
    /// The bytes do not decode.
    #[error("key file is damaged: {0}")]
    Decode(#[from] DecodeError),
    /// A different kind of key than expected.
    #[error("this file holds a {found:?} key, not a {expected:?} key")]
    WrongKind {
        /// wanted
        expected: KeyKind,
        /// found
        found: KeyKind,
    },
    /// Encrypted, and no passphrase was given.
    #[error(
        "the key is encrypted with a passphrase: give it with --passphrase-file FILE or the OUTPOST_PASSPHRASE environment variable"
    )]
    NeedsPassphrase,
    /// The passphrase does not open it (or the file was altered).
    #[error("wrong passphrase (or the key file was altered): try again with the right passphrase")]
    WrongPassphrase,
    /// The KDF parameters are out of range.
    #[error("key file has unusable key-derivation parameters: {0}")]
    Kdf(String),
}

fn derive(passphrase: &str, params: KdfParams, salt: &[u8; 16]) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    if params.m_kib > 4 * 1024 * 1024 || params.t > 100 || params.p > 64 {
        return Err(KeyFileError::Kdf(format!("{params:?} is beyond the allowed maximum")));
    }
    let p = argon2::Params::new(params.m_kib, params.t, params.p, Some(32))
        .map_err(|e| KeyFileError::Kdf(e.to_string()))?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p);
    let mut out = Zeroizing::new([0u8; 32]);
    a.hash_password_into(passphrase.as_bytes(), salt, out.as_mut())
        .map_err(|e| KeyFileError::Kdf(e.to_string()))?;
    Ok(out)
}

fn aad(kind: KeyKind, public: &PublicKey, protection: &Protection) -> Vec<u8> {
    postcard::to_stdvec(&(kind, public, protection)).expect("serialising plain data into a Vec cannot fail")
}

/// Writes `secret` as armored text, encrypted if `passphrase` is given.
pub fn seal<R: CryptoRng + ?Sized>(
    kind: KeyKind,
    public: PublicKey,
    secret: &[u8],
    passphrase: Option<&str>,
    params: KdfParams,
    rng: &mut R,
) -> Result<String, KeyFileError> {
    // The file is wiped when dropped (see `KeyFile`'s Drop).
    let file = match passphrase {
        None => KeyFile {
            kind,
            public,
            protection: Protection::Plain,
            secret: secret.to_vec(),
        },
        Some(pass) => {
            let mut salt = [0u8; 16];
            let mut nonce = [0u8; 24];
            rng.fill_bytes(&mut salt);
            rng.fill_bytes(&mut nonce);
            let protection = Protection::Argon2id { params, salt, nonce };
            let key = derive(pass, params, &salt)?;
            let cipher = XChaCha20Poly1305::new(&chacha20poly1305::Key::from(*key));
            let aad = aad(kind, &public, &protection);
            let ct = cipher
                .encrypt(&XNonce::from(nonce), Payload { msg: secret, aad: &aad })
                .expect("XChaCha20-Poly1305 encrypts any key-sized message");
            KeyFile {
                kind,
                public,
                protection,
                secret: ct,
            }
        }
    };
    let bytes = Zeroizing::new(signed::encode_unsigned(Kind::KeyFile, &file));
    Ok(armor::encode(Label::PrivateKey, &bytes))
}

/// True if the key file text is encrypted.
pub fn is_encrypted(text: &str) -> Result<bool, KeyFileError> {
    let (_, bytes) = armor::decode_as(text, &[Label::PrivateKey])?;
    let bytes = Zeroizing::new(bytes);
    let file: KeyFile = signed::decode_unsigned(Kind::KeyFile, &bytes)?;
    Ok(matches!(file.protection, Protection::Argon2id { .. }))
}

/// The public key recorded in a key file of `kind` (no passphrase needed).
pub fn public(text: &str, kind: KeyKind) -> Result<PublicKey, KeyFileError> {
    let (_, bytes) = armor::decode_as(text, &[Label::PrivateKey])?;
    let bytes = Zeroizing::new(bytes);
    let file: KeyFile = signed::decode_unsigned(Kind::KeyFile, &bytes)?;
    if file.kind != kind {
        return Err(KeyFileError::WrongKind {
            expected: kind,
            found: file.kind,
        });
    }
    Ok(file.public)
}

/// Reads a key file of `kind`; returns the public key recorded and the
/// secret bytes (wiped on drop).
pub fn open(
    text: &str,
    kind: KeyKind,
    passphrase: Option<&str>,
) -> Result<(PublicKey, Zeroizing<Vec<u8>>), KeyFileError> {
    let (_, bytes) = armor::decode_as(text, &[Label::PrivateKey])?;
    let bytes = Zeroizing::new(bytes);
    let file: KeyFile = signed::decode_unsigned(Kind::KeyFile, &bytes)?;
    if file.kind != kind {
        return Err(KeyFileError::WrongKind {
            expected: kind,
            found: file.kind,
        });
    }
    match &file.protection {
        Protection::Plain => Ok((file.public, Zeroizing::new(file.secret.clone()))),
        Protection::Argon2id { params, salt, nonce } => {
            let pass = passphrase.ok_or(KeyFileError::NeedsPassphrase)?;
            let key = derive(pass, *params, salt)?;
            let cipher = XChaCha20Poly1305::new(&chacha20poly1305::Key::from(*key));
            let aad = aad(file.kind, &file.public, &file.protection);
            let secret = cipher
                .decrypt(
                    &XNonce::from(*nonce),
                    Payload {
                        msg: &file.secret,
                        aad: &aad,
                    },
                )
                .map_err(|_| KeyFileError::WrongPassphrase)?;
            Ok((file.public, Zeroizing::new(secret)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: KdfParams = KdfParams { m_kib: 64, t: 1, p: 1 };

    #[test]
    fn plain_and_encrypted_round_trip() {
        let mut rng = rand::rng();
        let public = PublicKey([3; 32]);
        let plain = seal(KeyKind::Device, public, b"secret-bytes", None, FAST, &mut rng).unwrap();
        assert!(!is_encrypted(&plain).unwrap());
        assert_eq!(
            open(&plain, KeyKind::Device, None).unwrap().1.as_slice(),
            b"secret-bytes"
        );

        let enc = seal(
            KeyKind::Member,
            public,
            b"secret-bytes",
            Some("correct horse"),
            FAST,
            &mut rng,
        )
        .unwrap();
        assert!(is_encrypted(&enc).unwrap());
        assert!(!enc.contains("secret"));
        let (pk, secret) = open(&enc, KeyKind::Member, Some("correct horse")).unwrap();
        assert_eq!((pk, secret.as_slice()), (public, &b"secret-bytes"[..]));
        assert!(matches!(
            open(&enc, KeyKind::Member, None),
            Err(KeyFileError::NeedsPassphrase)
        ));
        assert!(matches!(
            open(&enc, KeyKind::Member, Some("wrong")),
            Err(KeyFileError::WrongPassphrase)
        ));
        assert!(matches!(
            open(&enc, KeyKind::Device, Some("correct horse")),
            Err(KeyFileError::WrongKind { .. })
        ));
    }
}
