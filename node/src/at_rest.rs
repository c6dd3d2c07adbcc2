//! Encryption at rest for what the store must keep secret (epoch secrets,
//! document snapshots): XChaCha20-Poly1305 under the node's storage key,
//! with a random nonce and the table name and row key as associated data,
//! so a value cannot be moved to another row unnoticed.
//!
//! Layout of a sealed value: 24-byte nonce ‖ ciphertext ‖ 16-byte tag.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::Rng;
use zeroize::Zeroizing;

/// The node's storage key.
pub struct StorageKey(pub Zeroizing<[u8; 32]>);

impl std::fmt::Debug for StorageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StorageKey(..)")
    }
}

fn aad(table: &str, key: &[u8]) -> Vec<u8> {
    let mut a = table.as_bytes().to_vec();
    a.push(0);
    a.extend_from_slice(key);
    a
}

impl StorageKey {
    /// Encrypts `value` for row `key` of `table`.
    pub fn seal(&self, table: &str, key: &[u8], value: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let ct = XChaCha20Poly1305::new(&(*self.0).into())
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: value,
                    aad: &aad(table, key),
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any message below its limit");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        out
    }

    /// Decrypts a value sealed for row `key` of `table`; `None` if it was
    /// altered, moved, or sealed under another key.
    pub fn open(&self, table: &str, key: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < 24 + 16 {
            return None;
        }
        let (nonce, ct) = sealed.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().ok()?;
        XChaCha20Poly1305::new(&(*self.0).into())
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ct,
                    aad: &aad(table, key),
                },
            )
            .ok()
            .map(Zeroizing::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_bound_to_their_row() {
        let k = StorageKey(Zeroizing::new([9; 32]));
        let sealed = k.seal("secrets-1", b"row-a", b"top secret");
        assert_eq!(
            k.open("secrets-1", b"row-a", &sealed).unwrap().as_slice(),
            b"top secret"
        );
        assert!(k.open("secrets-1", b"row-b", &sealed).is_none());
        assert!(k.open("snapshots-1", b"row-a", &sealed).is_none());
        assert!(
            StorageKey(Zeroizing::new([8; 32]))
                .open("secrets-1", b"row-a", &sealed)
                .is_none()
        );
        assert!(!sealed.windows(10).any(|w| w == b"top secret"));
    }
}
