//! The backup format, version 1: pure code, no I/O.
//!
//! A backup **chain** is one full backup (sequence 0) followed by
//! incrementals (1, 2, …), each holding only the rows and files that
//! changed since the previous backup of the chain. One backup is a
//! **manifest** and its **segments**; each file is encrypted and
//! authenticated with XChaCha20-Poly1305 under the 32-byte backup key:
//!
//! ```text
//! segment  = "OPBS" ‖ version (1) ‖ key id (8) ‖ nonce (24) ‖ ciphertext ‖ tag (16)
//!            AAD: the 37 header bytes ‖ chain id (16) ‖ seq (u32 BE) ‖ index (u32 BE)
//!            plaintext: count (u32 BE) ‖ count × record
//! record   = op (1: put, 2: delete) ‖ space (1) ‖ key len (u32 BE) ‖ key
//!            [‖ value len (u32 BE) ‖ value]        (value only for a put)
//! manifest = "OPBM" ‖ version (1) ‖ key id (8) ‖ nonce (24) ‖ ciphertext ‖ tag (16)
//!            AAD: the 37 header bytes
//!            plaintext: chain id (16) ‖ seq (u32) ‖ parent (32) ‖ kind (1)
//!            ‖ created (u64) ‖ state digest (32) ‖ records (u64)
//!            ‖ segment count (u32) ‖ count × (bytes (u64) ‖ blake3 (32))
//! ```
//!
//! Integers are big-endian. The key id is a hash of the key (not secret:
//! it tells a wrong key from damage). `parent` is the blake3 hash of the
//! previous backup's manifest file (zero for a full backup), so a missing
//! or reordered incremental is detected; each segment's size and hash are
//! in the manifest, so a missing, swapped or truncated segment is named.
//! The **state digest** is a hash of every (space, key, value hash) after
//! this backup: replaying the chain must arrive at it, which proves that a
//! restore is exact.
//!
//! Every decoder here takes `&[u8]`, bounds every length before it
//! allocates, and refuses trailing bytes: [`decode_manifest`],
//! [`open_segment`], [`decode_manifest_body`], [`decode_records`],
//! [`decode_key_text`].

pub mod schedule;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use std::collections::BTreeMap;

/// The format version written and read.
pub const VERSION: u8 = 1;
/// The first bytes of a segment file.
pub const SEGMENT_MAGIC: [u8; 4] = *b"OPBS";
/// The first bytes of a manifest file.
pub const MANIFEST_MAGIC: [u8; 4] = *b"OPBM";
/// Header bytes before the ciphertext: magic, version, key id, nonce.
pub const HEADER_BYTES: usize = 4 + 1 + 8 + 24;
/// AEAD tag bytes.
pub const TAG_BYTES: usize = 16;
/// Largest key of one record (a table key or a file path), in bytes.
pub const RECORD_KEY_BYTES_MAX: usize = 4096;
/// Largest value of one record (a row or a file), in bytes. Envelopes are
/// at most 4 MiB and blob chunks 1 MiB.
pub const RECORD_VALUE_BYTES_MAX: usize = 8 * 1024 * 1024;
/// A segment is closed once its plaintext passes this many bytes.
pub const SEGMENT_TARGET_BYTES: usize = 4 * 1024 * 1024;
/// Largest segment file, in bytes (the target plus one largest record).
pub const SEGMENT_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Most segments in one backup.
pub const SEGMENTS_MAX: usize = 1_000_000;
/// Largest manifest file, in bytes.
pub const MANIFEST_BYTES_MAX: usize = HEADER_BYTES + TAG_BYTES + MANIFEST_FIXED_BYTES + SEGMENTS_MAX * 40;
/// Manifest plaintext bytes before the segment list.
const MANIFEST_FIXED_BYTES: usize = 16 + 4 + 32 + 1 + 8 + 32 + 8 + 4;
/// Largest armored key text read, in bytes.
pub const KEY_TEXT_BYTES_MAX: usize = 4096;

/// The first line of an armored backup key.
pub const KEY_BEGIN: &str = "-----BEGIN OUTPOST BACKUP KEY-----";
/// The last line of an armored backup key.
pub const KEY_END: &str = "-----END OUTPOST BACKUP KEY-----";

/// What a backup file could not be read as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not an Outpost backup file of the expected kind.
    #[error("{what} is not an Outpost backup {what} (wrong magic bytes): it was replaced or is not part of a backup")]
    BadMagic {
        /// "manifest" or "segment"
        what: &'static str,
    },
    /// Written by a newer format.
    #[error(
        "{what} has backup format version {found}; this build reads version {VERSION}: restore with a newer Outpost"
    )]
    Version {
        /// "manifest" or "segment"
        what: &'static str,
        /// the version found
        found: u8,
    },
    /// Ends early.
    #[error(
        "{what} is truncated: {had} bytes where at least {needed} are needed; the file was cut short (copy it again from the original)"
    )]
    Truncated {
        /// what was being read
        what: &'static str,
        /// bytes needed
        needed: usize,
        /// bytes there were
        had: usize,
    },
    /// Over a limit.
    #[error("{what} is {size} bytes, over the limit of {max}: it is damaged or not a backup")]
    TooLarge {
        /// what was being read
        what: &'static str,
        /// its size
        size: usize,
        /// the limit
        max: usize,
    },
    /// Made under another key.
    #[error(
        "{what} was made with another backup key (key id {found}, this key is {expected}): give the key exported from the node that made the backup (`outpost backup key` there)"
    )]
    WrongKey {
        /// "manifest" or "segment"
        what: &'static str,
        /// the key id in the file
        found: String,
        /// the key id of the key given
        expected: String,
    },
    /// Authentication failed with the right key.
    #[error(
        "{what} failed authentication: its bytes were altered (or it was moved from another backup); this backup cannot be trusted"
    )]
    Tampered {
        /// what was being read
        what: &'static str,
    },
    /// Authentic but malformed (a bug in the writer, or another format).
    #[error("{what} is malformed: {why}")]
    Malformed {
        /// what was being read
        what: &'static str,
        /// what is wrong
        why: String,
    },
}

/// The 32-byte backup key.
#[derive(Clone, PartialEq, Eq)]
pub struct BackupKey(pub [u8; 32]);

impl std::fmt::Debug for BackupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BackupKey({})", hex8(&self.id()))
    }
}

impl Drop for BackupKey {
    fn drop(&mut self) {
        // Not zeroize (no dependency here): a volatile-free overwrite is
        // still better than leaving the key in freed memory.
        self.0 = [0; 32];
    }
}

fn hex8(b: &[u8; 8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl BackupKey {
    /// The key's public id: a hash, stored in every file's header.
    pub fn id(&self) -> [u8; 8] {
        let h = blake3::derive_key("outpost 2026 backup key id v1", &self.0);
        h[..8].try_into().expect("8 of 32 bytes")
    }

    /// The key id as hex, as error messages and `outpost backup key` show it.
    pub fn id_hex(&self) -> String {
        hex8(&self.id())
    }

    /// The armored text form, for a key file or offline storage.
    pub fn to_text(&self) -> String {
        let mut body = self.0.to_vec();
        body.extend_from_slice(&key_check(&self.0));
        let hex: String = body.iter().map(|x| format!("{x:02x}")).collect();
        format!("{KEY_BEGIN}\n{}\n{}\n{KEY_END}\n", &hex[..36], &hex[36..])
    }
}

fn key_check(key: &[u8; 32]) -> [u8; 4] {
    blake3::derive_key("outpost 2026 backup key check v1", key)[..4]
        .try_into()
        .expect("4 of 32 bytes")
}

/// Why an armored key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyTextError {
    /// Not the armored form.
    #[error(
        "not an Outpost backup key: expected the text between {KEY_BEGIN} and {KEY_END}, as `outpost backup key` prints it"
    )]
    NotArmored,
    /// The hex body is wrong.
    #[error("the backup key text is damaged ({0}): copy it again exactly as printed")]
    Damaged(&'static str),
}

/// Reads an armored backup key ([`BackupKey::to_text`]).
pub fn decode_key_text(text: &[u8]) -> Result<BackupKey, KeyTextError> {
    if text.len() > KEY_TEXT_BYTES_MAX {
        return Err(KeyTextError::NotArmored);
    }
    let text = std::str::from_utf8(text).map_err(|_| KeyTextError::NotArmored)?;
    let start = text.find(KEY_BEGIN).ok_or(KeyTextError::NotArmored)? + KEY_BEGIN.len();
    let len = text[start..].find(KEY_END).ok_or(KeyTextError::NotArmored)?;
    let hex: String = text[start..start + len].split_whitespace().collect();
    if hex.len() != 72 {
        return Err(KeyTextError::Damaged("wrong length"));
    }
    let mut body = [0u8; 36];
    for (i, b) in body.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2).ok_or(KeyTextError::Damaged("not hex"))?, 16)
            .map_err(|_| KeyTextError::Damaged("not hex"))?;
    }
    let key: [u8; 32] = body[..32].try_into().expect("32 of 36 bytes");
    if key_check(&key)[..] != body[32..] {
        return Err(KeyTextError::Damaged("checksum mismatch"));
    }
    Ok(BackupKey(key))
}

/// What a record is about: a store table, or a file of the home.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum Space {
    /// `settings-1`
    Settings = 0,
    /// `auth-ops-1`
    AuthOps = 1,
    /// `invites-1`
    Invites = 2,
    /// `envelopes-1`
    Envelopes = 3,
    /// `doc-envelopes-1`: key = document key (48) ‖ envelope id (32), value empty
    DocEnvelopes = 4,
    /// `secrets-1`
    Secrets = 5,
    /// `snapshots-1`
    Snapshots = 6,
    /// A file under the home: key = its relative path (`keys/…`, `blobs/…`)
    File = 16,
}

impl Space {
    /// Every space, in code order.
    pub const ALL: [Space; 8] = [
        Space::Settings,
        Space::AuthOps,
        Space::Invites,
        Space::Envelopes,
        Space::DocEnvelopes,
        Space::Secrets,
        Space::Snapshots,
        Space::File,
    ];

    /// The space of a code.
    pub fn from_code(code: u8) -> Option<Space> {
        Space::ALL.into_iter().find(|s| *s as u8 == code)
    }

    /// The table or area name, as messages show it.
    pub fn name(self) -> &'static str {
        match self {
            Space::Settings => "settings-1",
            Space::AuthOps => "auth-ops-1",
            Space::Invites => "invites-1",
            Space::Envelopes => "envelopes-1",
            Space::DocEnvelopes => "doc-envelopes-1",
            Space::Secrets => "secrets-1",
            Space::Snapshots => "snapshots-1",
            Space::File => "files",
        }
    }
}

/// Is `path` a file path a backup may hold: relative, under `keys/` or
/// `blobs/`, every component plain (letters, digits, `.`, `-`, `_`, not
/// `.` or `..`)? A restore writes only such paths.
pub fn is_safe_path(path: &[u8]) -> bool {
    let Ok(p) = std::str::from_utf8(path) else { return false };
    let mut parts = p.split('/');
    if !matches!(parts.next(), Some("keys" | "blobs")) {
        return false;
    }
    let mut any = false;
    for c in parts {
        any = true;
        if c.is_empty() || c == "." || c == ".." || !c.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return false;
        }
    }
    any
}

/// One change: a row or file put (`value: Some`) or removed (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Where.
    pub space: Space,
    /// The row key or file path.
    pub key: Vec<u8>,
    /// The new value; `None`: removed since the previous backup.
    pub value: Option<Vec<u8>>,
}

const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;

fn encode_record(out: &mut Vec<u8>, r: &Record) {
    out.push(if r.value.is_some() { OP_PUT } else { OP_DELETE });
    out.push(r.space as u8);
    out.extend_from_slice(&(r.key.len() as u32).to_be_bytes());
    out.extend_from_slice(&r.key);
    if let Some(v) = &r.value {
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(v);
    }
}

/// A cursor that refuses to read past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or(DecodeError::Truncated {
                what: self.what,
                needed: self.at.saturating_add(n),
                had: self.bytes.len(),
            })?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        Ok(self.take(N)?.try_into().expect("take returns N bytes"))
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    /// A count or length (u32) of `what`, refused above `max`.
    fn bounded(&mut self, what: &'static str, max: usize) -> Result<usize, DecodeError> {
        let size = self.u32()? as usize;
        if size > max {
            return Err(DecodeError::TooLarge { what, size, max });
        }
        Ok(size)
    }
    fn malformed(&self, why: impl Into<String>) -> DecodeError {
        DecodeError::Malformed {
            what: self.what,
            why: why.into(),
        }
    }
    fn end(&self) -> Result<(), DecodeError> {
        if self.at != self.bytes.len() {
            return Err(self.malformed(format!("{} bytes after the end", self.bytes.len() - self.at)));
        }
        Ok(())
    }
}

/// Decodes a segment's plaintext: its records.
pub fn decode_records(plain: &[u8]) -> Result<Vec<Record>, DecodeError> {
    if plain.len() > SEGMENT_BYTES_MAX {
        return Err(DecodeError::TooLarge {
            what: "segment",
            size: plain.len(),
            max: SEGMENT_BYTES_MAX,
        });
    }
    let mut r = Reader {
        bytes: plain,
        at: 0,
        what: "segment",
    };
    let count = r.u32()? as usize;
    // Every record takes at least 6 bytes: no allocation beyond the input.
    if count > plain.len() / 6 {
        return Err(r.malformed(format!("it claims {count} records in {} bytes", plain.len())));
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let op = r.u8()?;
        let code = r.u8()?;
        let space = Space::from_code(code).ok_or_else(|| r.malformed(format!("unknown table code {code}")))?;
        let klen = r.bounded("record key", RECORD_KEY_BYTES_MAX)?;
        let key = r.take(klen)?.to_vec();
        if space == Space::File && !is_safe_path(&key) {
            return Err(r.malformed(format!(
                "file path {:?} is outside keys/ and blobs/ or not plain",
                String::from_utf8_lossy(&key)
            )));
        }
        let value = match op {
            OP_PUT => {
                let vlen = r.bounded("record value", RECORD_VALUE_BYTES_MAX)?;
                Some(r.take(vlen)?.to_vec())
            }
            OP_DELETE => None,
            other => return Err(r.malformed(format!("unknown record op {other}"))),
        };
        out.push(Record { space, key, value });
    }
    r.end()?;
    Ok(out)
}

/// Where a segment belongs: bound into its authentication, so a segment
/// cannot be moved to another backup or position unnoticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentAt {
    /// The chain id.
    pub chain: [u8; 16],
    /// The backup's sequence number in the chain.
    pub seq: u32,
    /// The segment's index in the backup.
    pub index: u32,
}

fn header(magic: [u8; 4], key: &BackupKey, nonce: &[u8; 24]) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_BYTES);
    h.extend_from_slice(&magic);
    h.push(VERSION);
    h.extend_from_slice(&key.id());
    h.extend_from_slice(nonce);
    h
}

fn seal(key: &BackupKey, head: Vec<u8>, aad_extra: &[u8], plain: &[u8]) -> Vec<u8> {
    let nonce: [u8; 24] = head[13..HEADER_BYTES].try_into().expect("the header holds the nonce");
    let mut aad = head.clone();
    aad.extend_from_slice(aad_extra);
    let ct = XChaCha20Poly1305::new(&key.0.into())
        .encrypt(&XNonce::from(nonce), Payload { msg: plain, aad: &aad })
        .expect("XChaCha20-Poly1305 encrypts any message below its limit");
    let mut out = head;
    out.extend_from_slice(&ct);
    out
}

fn open(
    what: &'static str,
    magic: [u8; 4],
    max: usize,
    bytes: &[u8],
    key: &BackupKey,
    aad_extra: &[u8],
) -> Result<Vec<u8>, DecodeError> {
    if bytes.len() > max {
        return Err(DecodeError::TooLarge {
            what,
            size: bytes.len(),
            max,
        });
    }
    if bytes.len() < 4 || bytes[..4] != magic {
        if bytes.len() < 4 && magic.starts_with(bytes) {
            return Err(DecodeError::Truncated {
                what,
                needed: HEADER_BYTES + TAG_BYTES,
                had: bytes.len(),
            });
        }
        return Err(DecodeError::BadMagic { what });
    }
    if bytes.len() < HEADER_BYTES + TAG_BYTES {
        return Err(DecodeError::Truncated {
            what,
            needed: HEADER_BYTES + TAG_BYTES,
            had: bytes.len(),
        });
    }
    if bytes[4] != VERSION {
        return Err(DecodeError::Version { what, found: bytes[4] });
    }
    let id: [u8; 8] = bytes[5..13].try_into().expect("8 header bytes");
    if id != key.id() {
        return Err(DecodeError::WrongKey {
            what,
            found: hex8(&id),
            expected: key.id_hex(),
        });
    }
    let nonce: [u8; 24] = bytes[13..HEADER_BYTES].try_into().expect("24 header bytes");
    let mut aad = bytes[..HEADER_BYTES].to_vec();
    aad.extend_from_slice(aad_extra);
    XChaCha20Poly1305::new(&key.0.into())
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &bytes[HEADER_BYTES..],
                aad: &aad,
            },
        )
        .map_err(|_| DecodeError::Tampered { what })
}

fn segment_aad(at: SegmentAt) -> Vec<u8> {
    let mut a = at.chain.to_vec();
    a.extend_from_slice(&at.seq.to_be_bytes());
    a.extend_from_slice(&at.index.to_be_bytes());
    a
}

/// Encrypts a segment's plaintext (from [`Writer`]) with a fresh random
/// `nonce`.
pub fn seal_segment(key: &BackupKey, at: SegmentAt, plain: &[u8], nonce: [u8; 24]) -> Vec<u8> {
    seal(key, header(SEGMENT_MAGIC, key, &nonce), &segment_aad(at), plain)
}

/// Decrypts and decodes a segment file.
pub fn open_segment(bytes: &[u8], key: &BackupKey, at: SegmentAt) -> Result<Vec<Record>, DecodeError> {
    let plain = open(
        "segment",
        SEGMENT_MAGIC,
        SEGMENT_BYTES_MAX,
        bytes,
        key,
        &segment_aad(at),
    )?;
    decode_records(&plain)
}

/// A full backup or an incremental.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Everything (sequence 0 of a chain).
    Full,
    /// What changed since the previous backup of the chain.
    Incremental,
}

impl Kind {
    /// "full" or "incremental".
    pub fn name(self) -> &'static str {
        match self {
            Kind::Full => "full",
            Kind::Incremental => "incremental",
        }
    }
}

/// One segment as the manifest lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Its file's size.
    pub bytes: u64,
    /// blake3 of its file.
    pub hash: [u8; 32],
}

/// A backup's manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The chain it belongs to (chosen at the full backup).
    pub chain: [u8; 16],
    /// Its position: 0 for the full backup.
    pub seq: u32,
    /// blake3 of the previous backup's manifest file; zero for a full.
    pub parent: [u8; 32],
    /// Full or incremental.
    pub kind: Kind,
    /// When it was made (seconds since 1970).
    pub created: u64,
    /// The digest of the whole state after it ([`State::digest`]).
    pub state_digest: [u8; 32],
    /// How many records its segments hold.
    pub records: u64,
    /// Its segments, in order.
    pub segments: Vec<SegmentInfo>,
}

/// Encodes a manifest's plaintext.
pub fn encode_manifest_body(m: &Manifest) -> Vec<u8> {
    let mut out = Vec::with_capacity(MANIFEST_FIXED_BYTES + 40 * m.segments.len());
    out.extend_from_slice(&m.chain);
    out.extend_from_slice(&m.seq.to_be_bytes());
    out.extend_from_slice(&m.parent);
    out.push(match m.kind {
        Kind::Full => 0,
        Kind::Incremental => 1,
    });
    out.extend_from_slice(&m.created.to_be_bytes());
    out.extend_from_slice(&m.state_digest);
    out.extend_from_slice(&m.records.to_be_bytes());
    out.extend_from_slice(&(m.segments.len() as u32).to_be_bytes());
    for s in &m.segments {
        out.extend_from_slice(&s.bytes.to_be_bytes());
        out.extend_from_slice(&s.hash);
    }
    out
}

/// Decodes a manifest's plaintext.
pub fn decode_manifest_body(plain: &[u8]) -> Result<Manifest, DecodeError> {
    let mut r = Reader {
        bytes: plain,
        at: 0,
        what: "manifest",
    };
    let chain = r.array()?;
    let seq = r.u32()?;
    let parent: [u8; 32] = r.array()?;
    let kind = match r.u8()? {
        0 => Kind::Full,
        1 => Kind::Incremental,
        other => return Err(r.malformed(format!("unknown backup kind {other}"))),
    };
    if (kind == Kind::Full) != (seq == 0) {
        return Err(r.malformed(format!("a {} backup at position {seq}", kind.name())));
    }
    if (kind == Kind::Full) != (parent == [0; 32]) {
        return Err(r.malformed("the parent link does not fit the backup kind"));
    }
    let created = r.u64()?;
    let state_digest = r.array()?;
    let records = r.u64()?;
    let count = r.bounded("segment list", SEGMENTS_MAX)?;
    let mut segments = Vec::with_capacity(count.min(plain.len() / 40));
    for _ in 0..count {
        let bytes = r.u64()?;
        if bytes > SEGMENT_BYTES_MAX as u64 {
            return Err(r.malformed(format!("a segment of {bytes} bytes is listed")));
        }
        segments.push(SegmentInfo {
            bytes,
            hash: r.array()?,
        });
    }
    r.end()?;
    Ok(Manifest {
        chain,
        seq,
        parent,
        kind,
        created,
        state_digest,
        records,
        segments,
    })
}

/// Encrypts a manifest with a fresh random `nonce`.
pub fn seal_manifest(key: &BackupKey, m: &Manifest, nonce: [u8; 24]) -> Vec<u8> {
    seal(key, header(MANIFEST_MAGIC, key, &nonce), &[], &encode_manifest_body(m))
}

/// Decrypts and decodes a manifest file.
pub fn decode_manifest(bytes: &[u8], key: &BackupKey) -> Result<Manifest, DecodeError> {
    let plain = open("manifest", MANIFEST_MAGIC, MANIFEST_BYTES_MAX, bytes, key, &[])?;
    decode_manifest_body(&plain)
}

/// What a chain holds after some backups: every (space, key) with the
/// hash of its value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    rows: BTreeMap<(Space, Vec<u8>), [u8; 32]>,
}

fn value_hash(v: &[u8]) -> [u8; 32] {
    *blake3::hash(v).as_bytes()
}

impl State {
    /// Applies one backup's records.
    pub fn apply(&mut self, records: &[Record]) {
        for r in records {
            match &r.value {
                Some(v) => self.rows.insert((r.space, r.key.clone()), value_hash(v)),
                None => self.rows.remove(&(r.space, r.key.clone())),
            };
        }
    }

    /// How many rows and files.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True if nothing is held.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// A hash of every (space, key, value hash), in order.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = blake3::Hasher::new_derive_key("outpost 2026 backup state digest v1");
        for ((space, key), v) in &self.rows {
            h.update(&[*space as u8]);
            h.update(&(key.len() as u32).to_be_bytes());
            h.update(key);
            h.update(v);
        }
        *h.finalize().as_bytes()
    }
}

/// Builds one backup's segments from the current rows and files, given
/// the chain's state before it (empty for a full backup): only what
/// differs is written, and whatever is gone becomes a removal.
#[derive(Debug)]
pub struct Writer {
    previous: State,
    now: State,
    plain: Vec<u8>,
    count: u32,
    records: u64,
}

impl Writer {
    /// A writer against `previous` (the default state for a full backup).
    pub fn new(previous: State) -> Writer {
        Writer {
            previous,
            now: State::default(),
            plain: vec![0; 4],
            count: 0,
            records: 0,
        }
    }

    fn push(&mut self, r: &Record) -> Option<Vec<u8>> {
        encode_record(&mut self.plain, r);
        self.count += 1;
        self.records += 1;
        (self.plain.len() >= SEGMENT_TARGET_BYTES).then(|| self.take())
    }

    fn take(&mut self) -> Vec<u8> {
        let mut plain = std::mem::replace(&mut self.plain, vec![0; 4]);
        plain[..4].copy_from_slice(&self.count.to_be_bytes());
        self.count = 0;
        plain
    }

    /// Adds a current row or file; returns a full segment's plaintext
    /// when one is ready. Panics if the key or value is over the limits
    /// (the store's own bounds keep them below).
    pub fn add(&mut self, space: Space, key: &[u8], value: &[u8]) -> Option<Vec<u8>> {
        assert!(
            key.len() <= RECORD_KEY_BYTES_MAX && value.len() <= RECORD_VALUE_BYTES_MAX,
            "rows and files are bounded below the record limits"
        );
        let h = value_hash(value);
        let slot = (space, key.to_vec());
        let changed = self.previous.rows.get(&slot) != Some(&h);
        self.now.rows.insert(slot, h);
        if changed {
            return self.push(&Record {
                space,
                key: key.to_vec(),
                value: Some(value.to_vec()),
            });
        }
        None
    }

    /// Ends the backup: the removals, the last segment's plaintext (if
    /// any records are left), the new state, and how many records in all.
    pub fn finish(mut self) -> (Vec<Vec<u8>>, State, u64) {
        let gone: Vec<(Space, Vec<u8>)> = self
            .previous
            .rows
            .keys()
            .filter(|k| !self.now.rows.contains_key(*k))
            .cloned()
            .collect();
        let mut out = Vec::new();
        for (space, key) in gone {
            if let Some(seg) = self.push(&Record {
                space,
                key,
                value: None,
            }) {
                out.push(seg);
            }
        }
        if self.count > 0 {
            out.push(self.take());
        }
        (out, self.now, self.records)
    }
}

/// The hash a manifest lists for a file.
pub fn file_hash(bytes: &[u8]) -> [u8; 32] {
    *blake3::hash(bytes).as_bytes()
}

#[cfg(test)]
mod tests;
