//! Files: encrypted, chunked, content-addressed blobs.
//!
//! A file is encrypted under a random key of its own ([`FileKey`]) in chunks
//! of [`CHUNK_BYTES`]. Chunk `i` is XChaCha20-Poly1305 with the nonce
//! `"outpost blob v1\0" ‖ i` (the key encrypts one file, so nonces never
//! repeat) and associated data `i ‖ last?`, so chunks cannot be reordered and
//! the last one cannot be dropped unnoticed. A [`Manifest`] lists the blake3
//! hash of every encrypted chunk; the blob's id ([`BlobId`]) is the blake3
//! hash of the manifest's bytes.
//!
//! So any node — a relay too, without the key — can check every chunk it
//! receives against the manifest before storing it, fetch chunks from
//! whichever peers have them, and resume a transfer after a dropped
//! connection by asking only for the chunks it lacks. The key and the
//! blob id travel together inside an encrypted envelope (a chat message's
//! attachment, a library entry): only readers of that scope can decrypt.

use chacha20poly1305::aead::{Aead, KeyInit, Payload as AeadPayload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::CryptoRng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::Read;
use zeroize::Zeroizing;

/// Plaintext bytes per chunk (the last chunk may be shorter).
pub const CHUNK_BYTES: u32 = 1024 * 1024;
/// Largest file, in bytes: 16 GiB (an org may set a lower limit).
pub const FILE_BYTES_MAX: u64 = 16 * 1024 * 1024 * 1024;
/// Poly1305 tag length added to every chunk.
pub const TAG_BYTES: usize = 16;
/// The manifest's encoding version, its first byte.
pub const MANIFEST_VERSION: u8 = 1;

/// The hash of one encrypted chunk.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ChunkId(pub [u8; 32]);

/// A blob's id: the blake3 hash of its manifest's bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BlobId(pub [u8; 32]);

impl fmt::Debug for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChunkId({})", hex::encode(&self.0[..8]))
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({})", hex::encode(&self.0[..8]))
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// A file's own key. Wiped when dropped.
#[derive(Clone)]
pub struct FileKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for FileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FileKey(..)")
    }
}

impl FileKey {
    /// A fresh random key.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> FileKey {
        let mut k = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(k.as_mut());
        FileKey(k)
    }

    /// From the bytes carried in an envelope.
    pub fn from_bytes(bytes: [u8; 32]) -> FileKey {
        FileKey(Zeroizing::new(bytes))
    }

    /// The key bytes, to put inside an envelope.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&(*self.0).into())
    }
}

/// What a blob is made of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The file's size in bytes.
    pub size: u64,
    /// Plaintext bytes per chunk.
    pub chunk_bytes: u32,
    /// The hash of each encrypted chunk, in order.
    pub chunks: Vec<ChunkId>,
}

/// A blob could not be made, checked or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// The file is larger than allowed.
    #[error("the file is larger than {max} bytes")]
    TooLarge {
        /// the limit
        max: u64,
    },
    /// Reading the file failed.
    #[error("reading the file failed: {0}")]
    Read(#[from] std::io::Error),
    /// A manifest's bytes are damaged or of an unknown version.
    #[error("a file's manifest is damaged or of an unknown version")]
    BadManifest,
    /// A chunk does not match the manifest (damaged in transit or on disk).
    #[error("chunk {index} of the file does not match its manifest: fetch it again")]
    BadChunk {
        /// which chunk
        index: usize,
    },
    /// A chunk does not decrypt under the key.
    #[error("chunk {index} of the file does not decrypt: wrong key or damaged")]
    Decrypt {
        /// which chunk
        index: usize,
    },
}

fn nonce(index: u64) -> XNonce {
    let mut n = [0u8; 24];
    n[..16].copy_from_slice(b"outpost blob v1\0");
    n[16..].copy_from_slice(&index.to_be_bytes());
    XNonce::from(n)
}

fn aad(index: u64, last: bool) -> [u8; 9] {
    let mut a = [0u8; 9];
    a[..8].copy_from_slice(&index.to_be_bytes());
    a[8] = u8::from(last);
    a
}

impl Manifest {
    /// The canonical bytes: the version, then postcard.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![MANIFEST_VERSION];
        out.extend(postcard::to_stdvec(self).expect("a manifest always serialises"));
        out
    }

    /// Decodes a manifest and checks that it is consistent (chunk count
    /// matches size and chunk size; size within the limit) and canonical.
    pub fn decode(bytes: &[u8]) -> Result<Manifest, BlobError> {
        if bytes.first() != Some(&MANIFEST_VERSION) {
            return Err(BlobError::BadManifest);
        }
        let (m, rest): (Manifest, &[u8]) =
            postcard::take_from_bytes(&bytes[1..]).map_err(|_| BlobError::BadManifest)?;
        let consistent = rest.is_empty()
            && m.size <= FILE_BYTES_MAX
            && m.chunk_bytes > 0
            && m.chunks.len() as u64 == chunk_count(m.size, m.chunk_bytes);
        if !consistent || m.encode() != bytes {
            return Err(BlobError::BadManifest);
        }
        Ok(m)
    }

    /// The blob's id.
    pub fn id(&self) -> BlobId {
        BlobId(*blake3::hash(&self.encode()).as_bytes())
    }

    /// Does `ciphertext` belong at `index`? Needs no key.
    pub fn check_chunk(&self, index: usize, ciphertext: &[u8]) -> Result<(), BlobError> {
        match self.chunks.get(index) {
            Some(id) if *id == ChunkId(*blake3::hash(ciphertext).as_bytes()) => Ok(()),
            _ => Err(BlobError::BadChunk { index }),
        }
    }

    /// Checks chunk `index` and decrypts it.
    pub fn open_chunk(&self, key: &FileKey, index: usize, ciphertext: &[u8]) -> Result<Vec<u8>, BlobError> {
        self.check_chunk(index, ciphertext)?;
        let last = index + 1 == self.chunks.len();
        key.cipher()
            .decrypt(
                &nonce(index as u64),
                AeadPayload {
                    msg: ciphertext,
                    aad: &aad(index as u64, last),
                },
            )
            .map_err(|_| BlobError::Decrypt { index })
    }
}

/// How many chunks a file of `size` bytes has: at least one, so that an
/// empty file still has an authenticated (empty) chunk.
pub fn chunk_count(size: u64, chunk_bytes: u32) -> u64 {
    size.div_ceil(u64::from(chunk_bytes)).max(1)
}

/// Encrypts what `reader` yields, chunk by chunk, handing each encrypted
/// chunk to `sink` (index, id, bytes) as soon as it is made, so a large
/// file never sits in memory whole. Refuses more than `size_max` bytes
/// (stopping as soon as the limit is passed). Returns the manifest.
pub fn seal_stream(
    key: &FileKey,
    reader: &mut impl Read,
    size_max: u64,
    chunk_bytes: u32,
    mut sink: impl FnMut(usize, ChunkId, Vec<u8>) -> Result<(), BlobError>,
) -> Result<Manifest, BlobError> {
    assert!(chunk_bytes > 0, "chunks hold at least one byte");
    let size_max = size_max.min(FILE_BYTES_MAX);
    let cipher = key.cipher();
    let mut chunks = Vec::new();
    let mut size = 0u64;
    let mut current = read_chunk(reader, chunk_bytes)?;
    loop {
        size += current.len() as u64;
        if size > size_max {
            return Err(BlobError::TooLarge { max: size_max });
        }
        // A chunk is the last when nothing follows it.
        let next = if current.len() == chunk_bytes as usize {
            read_chunk(reader, chunk_bytes)?
        } else {
            Vec::new()
        };
        let last = next.is_empty();
        let index = chunks.len() as u64;
        let sealed = cipher
            .encrypt(
                &nonce(index),
                AeadPayload {
                    msg: &current,
                    aad: &aad(index, last),
                },
            )
            .expect("encrypting in memory cannot fail");
        let id = ChunkId(*blake3::hash(&sealed).as_bytes());
        chunks.push(id);
        sink(index as usize, id, sealed)?;
        if last {
            break;
        }
        current = next;
    }
    Ok(Manifest {
        size,
        chunk_bytes,
        chunks,
    })
}

/// Reads up to `chunk_bytes` bytes (fewer only at the end of the input).
fn read_chunk(reader: &mut impl Read, chunk_bytes: u32) -> Result<Vec<u8>, BlobError> {
    let mut buf = Vec::with_capacity(chunk_bytes as usize);
    reader.take(u64::from(chunk_bytes)).read_to_end(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seal(data: &[u8], chunk_bytes: u32) -> (FileKey, Manifest, Vec<Vec<u8>>) {
        let key = FileKey::generate(&mut rand::rng());
        let mut chunks = Vec::new();
        let m = seal_stream(&key, &mut &data[..], u64::MAX, chunk_bytes, |i, _, c| {
            assert_eq!(i, chunks.len());
            chunks.push(c);
            Ok(())
        })
        .unwrap();
        (key, m, chunks)
    }

    fn open(key: &FileKey, m: &Manifest, chunks: &[Vec<u8>]) -> Result<Vec<u8>, BlobError> {
        let mut out = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            out.extend(m.open_chunk(key, i, c)?);
        }
        Ok(out)
    }

    #[test]
    fn sizes_at_the_chunk_boundaries_round_trip() {
        for len in [0usize, 1, 63, 64, 65, 128, 1000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let (key, m, chunks) = seal(&data, 64);
            assert_eq!(m.size, len as u64);
            assert_eq!(m.chunks.len() as u64, chunk_count(len as u64, 64));
            assert_eq!(Manifest::decode(&m.encode()).unwrap(), m);
            assert_eq!(open(&key, &m, &chunks).unwrap(), data, "{len} bytes");
        }
    }

    #[test]
    fn damage_reordering_and_wrong_keys_are_caught() {
        let data = vec![5u8; 200];
        let (key, m, mut chunks) = seal(&data, 64);
        let mut bad = chunks[1].clone();
        bad[0] ^= 1;
        assert!(matches!(m.check_chunk(1, &bad), Err(BlobError::BadChunk { index: 1 })));
        assert!(matches!(
            m.open_chunk(&key, 0, &chunks[1]),
            Err(BlobError::BadChunk { index: 0 })
        ));
        let other = FileKey::generate(&mut rand::rng());
        assert!(matches!(
            m.open_chunk(&other, 0, &chunks[0]),
            Err(BlobError::Decrypt { index: 0 })
        ));
        // A forged manifest that lists the chunks in another order still
        // cannot be opened: the index is authenticated.
        chunks.swap(0, 1);
        let forged = Manifest {
            chunks: chunks.iter().map(|c| ChunkId(*blake3::hash(c).as_bytes())).collect(),
            ..m.clone()
        };
        assert!(matches!(
            forged.open_chunk(&key, 0, &chunks[0]),
            Err(BlobError::Decrypt { index: 0 })
        ));
        // Dropping the last chunk: the new last one was not sealed as last.
        let short = Manifest {
            size: 192,
            chunks: forged.chunks[..3].to_vec(),
            ..forged.clone()
        };
        chunks.swap(0, 1);
        assert!(matches!(
            short.open_chunk(&key, 2, &chunks[2]),
            Err(BlobError::Decrypt { index: 2 })
        ));
    }

    #[test]
    fn the_size_limit_stops_early() {
        let data = vec![0u8; 1000];
        let key = FileKey::generate(&mut rand::rng());
        let mut made = 0;
        let err = seal_stream(&key, &mut &data[..], 100, 64, |_, _, _| {
            made += 1;
            Ok(())
        })
        .unwrap_err();
        assert!(matches!(err, BlobError::TooLarge { max: 100 }));
        assert!(made <= 2, "stopped after {made} chunks");
    }

    #[test]
    fn ids_name_the_content_and_the_ciphertext_hides_it() {
        let data = b"quarterly numbers: 1234567".repeat(10);
        let (_, a, chunks) = seal(&data, 64);
        let (_, b, _) = seal(&data, 64);
        assert_ne!(a.id(), b.id(), "each file key gives another blob");
        assert_eq!(a.id(), Manifest::decode(&a.encode()).unwrap().id());
        for c in &chunks {
            assert!(!c.windows(9).any(|w| w == b"quarterly"));
        }
    }

    proptest! {
        #[test]
        fn manifest_garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Manifest::decode(&data);
        }

        #[test]
        fn inconsistent_manifests_are_refused(size in 0u64..10_000, n in 0usize..200) {
            let m = Manifest { size, chunk_bytes: 64, chunks: vec![ChunkId([1; 32]); n] };
            let ok = n as u64 == chunk_count(size, 64);
            prop_assert_eq!(Manifest::decode(&m.encode()).is_ok(), ok);
        }
    }
}
