//! Keys: the org root, a member's signing and exchange keys, a device key.
//!
//! Secret halves never leave the types here except through
//! [`crate::keyfile`], which encrypts them for disk.

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand::CryptoRng;
use serde::{Deserialize, Serialize};
use std::fmt;
use zeroize::Zeroizing;

/// An ed25519 public key, as its 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// A short, human-comparable fingerprint: the first 8 bytes of the key in hex.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..8])
    }

    /// The key for signature checks; fails if the bytes are not a curve point.
    ///
    /// Decompressing a point costs about a fifth of a verification, and the
    /// same few authors sign most of what a node checks, so decompressed keys
    /// are kept in a small per-thread cache.
    pub fn verifying_key(&self) -> Result<VerifyingKey, ed25519_dalek::SignatureError> {
        thread_local! {
            static CACHE: std::cell::RefCell<std::collections::HashMap<[u8; 32], VerifyingKey>> =
                std::cell::RefCell::new(std::collections::HashMap::new());
        }
        /// Keys kept per thread before the cache starts over.
        const CACHED_KEYS_MAX: usize = 4096;
        if let Some(k) = CACHE.with(|c| c.borrow().get(&self.0).copied()) {
            return Ok(k);
        }
        let key = VerifyingKey::from_bytes(&self.0)?;
        CACHE.with(|c| {
            let mut c = c.borrow_mut();
            if c.len() >= CACHED_KEYS_MAX {
                c.clear();
            }
            c.insert(self.0, key);
        });
        Ok(key)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.short())
    }
}

impl From<VerifyingKey> for PublicKey {
    fn from(k: VerifyingKey) -> Self {
        PublicKey(k.to_bytes())
    }
}

/// An X25519 public key to which epoch secrets are wrapped.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ExchangeKey(pub [u8; 32]);

impl fmt::Debug for ExchangeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExchangeKey({})", hex::encode(&self.0[..8]))
    }
}

/// The identifier of an org: the first 16 bytes of a domain-separated hash of
/// the root public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OrgId(pub [u8; 16]);

impl OrgId {
    /// The org id named by a root public key.
    pub fn of_root(root: &PublicKey) -> OrgId {
        let mut h = blake3::Hasher::new_derive_key("outpost 2026 org id v1");
        h.update(&root.0);
        let mut id = [0u8; 16];
        id.copy_from_slice(&h.finalize().as_bytes()[..16]);
        OrgId(id)
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrgId({self})")
    }
}

/// A signing key with its public half. The secret is zeroized on drop.
pub struct Signer25519 {
    key: SigningKey,
}

impl Signer25519 {
    /// Generates a fresh key from a cryptographic RNG.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Signer25519 {
            key: SigningKey::generate(rng),
        }
    }

    /// Rebuilds a key from its 32 secret bytes.
    pub fn from_secret(secret: &[u8; 32]) -> Self {
        Signer25519 {
            key: SigningKey::from_bytes(secret),
        }
    }

    /// The secret bytes, in a buffer that is wiped when dropped.
    pub fn secret(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.key.to_bytes())
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.key.verifying_key().to_bytes())
    }

    /// Signs `message` (callers add a domain-separation tag first).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

impl fmt::Debug for Signer25519 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signer25519({:?})", self.public())
    }
}

/// The org root key. Kept encrypted and ideally offline; it signs only admin
/// certificates and revocations.
#[derive(Debug)]
pub struct OrgRoot(pub Signer25519);

impl OrgRoot {
    /// Generates a new org root.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        OrgRoot(Signer25519::generate(rng))
    }

    /// The org this root names.
    pub fn org(&self) -> OrgId {
        OrgId::of_root(&self.0.public())
    }
}

/// A member's keys: ed25519 for signing, X25519 for receiving wrapped keys.
pub struct MemberKeys {
    /// Signs certificates the member issues, requests and every change.
    pub signing: Signer25519,
    exchange: x25519_dalek::StaticSecret,
}

impl MemberKeys {
    /// Generates a fresh pair.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        MemberKeys {
            signing: Signer25519::generate(rng),
            exchange: x25519_dalek::StaticSecret::random_from_rng(rng),
        }
    }

    /// Rebuilds the pair from its 64 secret bytes (signing then exchange).
    pub fn from_secret(secret: &[u8; 64]) -> Self {
        let mut s = [0u8; 32];
        let mut x = Zeroizing::new([0u8; 32]);
        s.copy_from_slice(&secret[..32]);
        x.copy_from_slice(&secret[32..]);
        let keys = MemberKeys {
            signing: Signer25519::from_secret(&s),
            exchange: x25519_dalek::StaticSecret::from(*x),
        };
        zeroize::Zeroize::zeroize(&mut s);
        keys
    }

    /// The 64 secret bytes, wiped when dropped.
    pub fn secret(&self) -> Zeroizing<[u8; 64]> {
        let mut out = Zeroizing::new([0u8; 64]);
        out[..32].copy_from_slice(&*self.signing.secret());
        out[32..].copy_from_slice(self.exchange.as_bytes());
        out
    }

    /// The public signing key: the member's identity.
    pub fn public(&self) -> PublicKey {
        self.signing.public()
    }

    /// The public exchange key that others wrap secrets to.
    pub fn exchange_public(&self) -> ExchangeKey {
        ExchangeKey(x25519_dalek::PublicKey::from(&self.exchange).to_bytes())
    }

    /// Diffie-Hellman with another party's exchange key (used to unwrap keys).
    pub fn agree(&self, their: &ExchangeKey) -> Zeroizing<[u8; 32]> {
        let shared = self.exchange.diffie_hellman(&x25519_dalek::PublicKey::from(their.0));
        Zeroizing::new(shared.to_bytes())
    }
}

impl fmt::Debug for MemberKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MemberKeys({:?})", self.public())
    }
}

/// A device key: the node's libp2p identity, certified by its member.
#[derive(Debug)]
pub struct DeviceKey(pub Signer25519);

impl DeviceKey {
    /// Generates a fresh device key.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        DeviceKey(Signer25519::generate(rng))
    }

    /// The libp2p-style peer id string of this device: the identity multihash
    /// of the protobuf-encoded ed25519 public key, in base58.
    pub fn peer_id(&self) -> String {
        peer_id_of(&self.0.public())
    }
}

/// The libp2p PeerId (base58btc of the identity multihash of the protobuf
/// encoding of an ed25519 public key) for a device key.
pub fn peer_id_of(key: &PublicKey) -> String {
    // protobuf PublicKey { Type=Ed25519(1), Data=32 bytes }
    let mut proto = vec![0x08, 0x01, 0x12, 0x20];
    proto.extend_from_slice(&key.0);
    // multihash: identity (0x00), length
    let mut mh = vec![0x00, proto.len() as u8];
    mh.extend_from_slice(&proto);
    base58(&mh)
}

fn base58(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut digits: Vec<u8> = Vec::new();
    for &b in bytes {
        let mut carry = b as u32;
        for d in digits.iter_mut() {
            carry += (*d as u32) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    std::iter::repeat_n('1', zeros)
        .chain(digits.iter().rev().map(|d| ALPHABET[*d as usize] as char))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_keys_round_trip_and_agree() {
        let mut rng = rand::rng();
        let a = MemberKeys::generate(&mut rng);
        let b = MemberKeys::generate(&mut rng);
        let a2 = MemberKeys::from_secret(&a.secret());
        assert_eq!(a.public(), a2.public());
        assert_eq!(a.exchange_public(), a2.exchange_public());
        assert_eq!(*a.agree(&b.exchange_public()), *b.agree(&a.exchange_public()));
    }

    #[test]
    fn peer_id_has_libp2p_shape() {
        let d = DeviceKey::generate(&mut rand::rng());
        // Ed25519 peer ids in libp2p all start with "12D3KooW".
        assert!(d.peer_id().starts_with("12D3KooW"), "{}", d.peer_id());
    }
}
