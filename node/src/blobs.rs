//! Files on this node: encrypted blobs kept under `<home>/blobs`, served to
//! peers and fetched from them chunk by chunk.
//!
//! A blob is a directory named by its id holding `manifest` and one file
//! per encrypted chunk (`<index>.chunk`), each written to a temporary name,
//! synced and renamed, so a crash leaves whole chunks or none. Everything
//! here is ciphertext: the file key travels inside a chat message (see
//! `outpost_seal::blob`). A transfer stores each chunk as soon as it is
//! checked against the manifest, so an interrupted one resumes with the
//! chunks still missing, from any peer that has them.
//!
//! The protocol (`/outpost/blob/1`, one request per frame): a request is
//! `1 ‖ kind ‖ blob id (32) ‖ index (u32 BE)`, kind 0 for the manifest and
//! 1 for a chunk; the answer is `0 ‖ bytes` or `1` when this node lacks it.

use anyhow::{Context, Result, bail};
use outpost_seal::blob::{self, BlobId, CHUNK_BYTES, FileKey, Manifest};
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The blob protocol's version, the first byte of every request.
const BLOB_PROTOCOL_VERSION: u8 = 1;
/// The largest file a member may send unless the org says otherwise.
pub const FILE_BYTES_MAX_DEFAULT: u64 = 100 * 1024 * 1024;
/// File types a member may send, by extension, with their media types.
pub const FILE_TYPES_ALLOWED: &[(&str, &str)] = &[
    ("pdf", "application/pdf"),
    ("txt", "text/plain"),
    ("md", "text/markdown"),
    ("csv", "text/csv"),
    ("json", "application/json"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("svg", "image/svg+xml"),
    ("heic", "image/heic"),
    ("mp3", "audio/mpeg"),
    ("m4a", "audio/mp4"),
    ("mp4", "video/mp4"),
    ("mov", "video/quicktime"),
    ("zip", "application/zip"),
    ("7z", "application/x-7z-compressed"),
    ("tar", "application/x-tar"),
    ("gz", "application/gzip"),
    ("doc", "application/msword"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    ("xls", "application/vnd.ms-excel"),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    ("ppt", "application/vnd.ms-powerpoint"),
    (
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    ("odt", "application/vnd.oasis.opendocument.text"),
    ("ods", "application/vnd.oasis.opendocument.spreadsheet"),
    ("bin", "application/octet-stream"),
];

/// What a member may send: the org's settings, or the defaults.
#[derive(Debug, Clone)]
pub struct FilePolicy {
    /// Largest file, in bytes.
    pub bytes_max: u64,
    /// Allowed extensions (lower case); `None`: [`FILE_TYPES_ALLOWED`].
    pub types: Option<Vec<String>>,
}

impl Default for FilePolicy {
    fn default() -> FilePolicy {
        FilePolicy {
            bytes_max: FILE_BYTES_MAX_DEFAULT,
            types: None,
        }
    }
}

impl FilePolicy {
    /// The media type of `name`, or why a file of that name may not be
    /// sent.
    pub fn media_type(&self, name: &str) -> Result<&'static str> {
        let ext = Path::new(name)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let allowed = self.allowed();
        if ext.is_empty() || !allowed.contains(&ext) {
            bail!(
                "files of type {:?} may not be sent; allowed: {}",
                if ext.is_empty() {
                    "(no extension)".to_owned()
                } else {
                    format!(".{ext}")
                },
                allowed.join(", ")
            )
        }
        Ok(FILE_TYPES_ALLOWED
            .iter()
            .find(|(e, _)| *e == ext)
            .map_or("application/octet-stream", |(_, t)| t))
    }

    /// The extensions members may send.
    pub fn allowed(&self) -> Vec<String> {
        match &self.types {
            Some(t) => t.clone(),
            None => FILE_TYPES_ALLOWED.iter().map(|(e, _)| (*e).to_owned()).collect(),
        }
    }

    /// Refuses a file of `bytes` over the limit, before anything is read.
    pub fn check_size(&self, name: &str, bytes: u64) -> Result<()> {
        if bytes > self.bytes_max {
            bail!(
                "{name} is {}; files of at most {} may be sent (the org's limit)",
                size_text(bytes),
                size_text(self.bytes_max)
            );
        }
        Ok(())
    }
}

/// A size as people read it: whole MB or KB when it is one (as limits
/// are set), else with one decimal, and bytes below a KB. A limit of
/// 1 KB reads "1 KB", not "0 MB".
pub fn size_text(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * KB;
    match bytes {
        b if b >= MB && b % MB == 0 => format!("{} MB", b / MB),
        b if b >= MB => format!("{:.1} MB", b as f64 / MB as f64),
        b if b >= KB && b % KB == 0 => format!("{} KB", b / KB),
        b if b >= KB => format!("{:.1} KB", b as f64 / KB as f64),
        b => format!("{b} bytes"),
    }
}

/// A request of the blob protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobRequest {
    /// The manifest of a blob.
    Manifest(BlobId),
    /// One encrypted chunk.
    Chunk(BlobId, u32),
}

impl BlobRequest {
    /// Its bytes.
    pub fn encode(&self) -> Vec<u8> {
        let (kind, id, index) = match self {
            BlobRequest::Manifest(id) => (0u8, id, 0u32),
            BlobRequest::Chunk(id, i) => (1, id, *i),
        };
        let mut out = vec![BLOB_PROTOCOL_VERSION, kind];
        out.extend_from_slice(&id.0);
        out.extend_from_slice(&index.to_be_bytes());
        out
    }

    /// Reads a request; `None` if it is not one.
    pub fn decode(bytes: &[u8]) -> Option<BlobRequest> {
        if bytes.len() != 38 || bytes[0] != BLOB_PROTOCOL_VERSION {
            return None;
        }
        let id = BlobId(bytes[2..34].try_into().ok()?);
        let index = u32::from_be_bytes(bytes[34..38].try_into().ok()?);
        match bytes[1] {
            0 => Some(BlobRequest::Manifest(id)),
            1 => Some(BlobRequest::Chunk(id, index)),
            _ => None,
        }
    }
}

/// The blobs of one home.
#[derive(Debug, Clone)]
pub struct Blobs {
    dir: PathBuf,
}

impl Blobs {
    /// The blobs under `home/blobs`.
    pub fn new(home: &Path) -> Blobs {
        Blobs {
            dir: home.join("blobs"),
        }
    }

    fn blob_dir(&self, id: &BlobId) -> PathBuf {
        self.dir.join(hex::encode(id.0))
    }

    /// The manifest of `id`, if held (and only if it is that blob's).
    pub fn manifest(&self, id: &BlobId) -> Result<Option<Manifest>> {
        let path = self.blob_dir(id).join("manifest");
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let m = Manifest::decode(&bytes).with_context(|| format!("{} is damaged", path.display()))?;
        if m.id() != *id {
            bail!(
                "{} is not the manifest of its blob: the blob store is damaged",
                path.display()
            );
        }
        Ok(Some(m))
    }

    /// Stores a manifest (checked by its id); returns the id.
    pub fn put_manifest(&self, m: &Manifest) -> Result<BlobId> {
        let id = m.id();
        let dir = self.blob_dir(&id);
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        write_synced(&dir.join("manifest"), &m.encode())?;
        Ok(id)
    }

    /// Encrypted chunk `index` of `id`, if held.
    pub fn chunk(&self, id: &BlobId, index: u32) -> Result<Option<Vec<u8>>> {
        let path = self.blob_dir(id).join(format!("{index}.chunk"));
        match fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Stores chunk `index` of the blob of `manifest` after checking it.
    pub fn put_chunk(&self, manifest: &Manifest, index: u32, bytes: &[u8]) -> Result<()> {
        manifest
            .check_chunk(index as usize, bytes)
            .with_context(|| format!("chunk {index} does not match the file's manifest"))?;
        let path = self.blob_dir(&manifest.id()).join(format!("{index}.chunk"));
        write_synced(&path, bytes)
    }

    /// The blob `id` if all of it is here (made on this machine, or
    /// fetched whole).
    pub fn complete(&self, id: &BlobId) -> Result<Manifest> {
        let m = self.manifest(id)?.context("no such file is stored here")?;
        let missing = self.missing(&m);
        if !missing.is_empty() {
            bail!(
                "{} of {} chunks of this file are not stored here",
                missing.len(),
                m.chunks.len()
            );
        }
        Ok(m)
    }

    /// Removes blob `id` (its manifest and chunks), if held.
    pub fn remove(&self, id: &BlobId) -> Result<()> {
        let dir = self.blob_dir(id);
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("cannot remove {}", dir.display()))
            }
            _ => Ok(()),
        }
    }

    /// How many plaintext bytes of blob `id` are held here, of how many:
    /// `None` while its manifest is not (a fetch has not started).
    pub fn held(&self, id: &BlobId) -> Result<Option<(u64, u64)>> {
        let Some(m) = self.manifest(id)? else { return Ok(None) };
        let chunk = u64::from(m.chunk_bytes);
        let missing: u64 = self
            .missing(&m)
            .into_iter()
            .map(|i| chunk.min(m.size.saturating_sub(u64::from(i) * chunk)))
            .sum();
        Ok(Some((m.size - missing.min(m.size), m.size)))
    }

    /// The chunks of `manifest` not held here.
    pub fn missing(&self, manifest: &Manifest) -> Vec<u32> {
        let dir = self.blob_dir(&manifest.id());
        (0..manifest.chunks.len() as u32)
            .filter(|i| !dir.join(format!("{i}.chunk")).exists())
            .collect()
    }

    /// Encrypts the file at `path` under a new key and stores it; refuses
    /// it (storing nothing) if it is over `policy`'s limit.
    pub fn add_file(&self, path: &Path, policy: &FilePolicy) -> Result<(BlobId, FileKey, Manifest)> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let size = fs::metadata(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .len();
        policy.check_size(&name, size)?;
        let mut file = fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        self.add(&mut file, policy)
    }

    /// Encrypts what `reader` yields under a new key and stores it.
    pub fn add(&self, reader: &mut impl Read, policy: &FilePolicy) -> Result<(BlobId, FileKey, Manifest)> {
        self.add_with_progress(reader, policy, |_| {})
    }

    /// [`Blobs::add`], telling `progress` how many bytes are stored so far.
    pub fn add_with_progress(
        &self,
        reader: &mut impl Read,
        policy: &FilePolicy,
        mut progress: impl FnMut(u64),
    ) -> Result<(BlobId, FileKey, Manifest)> {
        let key = FileKey::generate(&mut rand::rng());
        let staging = self
            .dir
            .join(format!("incoming-{}", hex::encode(rand::random::<[u8; 8]>())));
        fs::create_dir_all(&staging).with_context(|| format!("cannot create {}", staging.display()))?;
        let sealed = blob::seal_stream(&key, reader, policy.bytes_max, CHUNK_BYTES, |i, _, bytes| {
            write_synced(&staging.join(format!("{i}.chunk")), &bytes).map_err(|e| {
                // Keep the kind, so that a full disk is reported as one.
                let kind = e
                    .chain()
                    .find_map(|c| c.downcast_ref::<std::io::Error>().map(std::io::Error::kind))
                    .unwrap_or(std::io::ErrorKind::Other);
                std::io::Error::new(kind, format!("{e:#}"))
            })?;
            progress(i as u64 * u64::from(CHUNK_BYTES) + (bytes.len() - blob::TAG_BYTES) as u64);
            Ok(())
        });
        let manifest = match sealed {
            Ok(m) => m,
            Err(e) => {
                let _ = fs::remove_dir_all(&staging);
                return Err(e).context("the file was not stored");
            }
        };
        if let Err(e) = write_synced(&staging.join("manifest"), &manifest.encode()) {
            let _ = fs::remove_dir_all(&staging);
            return Err(e).context("the file was not stored");
        }
        let id = manifest.id();
        let dir = self.blob_dir(&id);
        if dir.exists() {
            // The same blob cannot be made twice (a new key each time), but
            // a leftover directory must not block this one.
            fs::remove_dir_all(&dir).with_context(|| format!("cannot replace {}", dir.display()))?;
        }
        fs::rename(&staging, &dir).with_context(|| format!("cannot move the file into {}", dir.display()))?;
        Ok((id, key, manifest))
    }

    /// Decrypts the whole blob into `out`; fails, naming the first missing
    /// chunk, if it is not all here. Returns the bytes written.
    pub fn open_to(&self, id: &BlobId, key: &FileKey, out: &mut impl Write) -> Result<u64> {
        let manifest = self.manifest(id)?.context("this file has not been fetched yet")?;
        let mut written = 0u64;
        for i in 0..manifest.chunks.len() as u32 {
            let sealed = self.chunk(id, i)?.with_context(|| {
                format!(
                    "chunk {i} of {} of this file has not been fetched yet",
                    manifest.chunks.len()
                )
            })?;
            let plain = manifest
                .open_chunk(key, i as usize, &sealed)
                .with_context(|| format!("chunk {i} of this file cannot be decrypted: wrong key or damaged chunk"))?;
            out.write_all(&plain)?;
            written += plain.len() as u64;
        }
        Ok(written)
    }

    /// The answer to a blob request from a peer.
    pub fn answer(&self, request: &[u8]) -> Vec<u8> {
        let found = match BlobRequest::decode(request) {
            Some(BlobRequest::Manifest(id)) => self.manifest(&id).ok().flatten().map(|m| m.encode()),
            Some(BlobRequest::Chunk(id, i)) => self.chunk(&id, i).ok().flatten(),
            None => None,
        };
        match found {
            Some(bytes) => {
                let mut out = Vec::with_capacity(bytes.len() + 1);
                out.push(0);
                out.extend_from_slice(&bytes);
                out
            }
            None => vec![1],
        }
    }
}

/// The bytes a peer answered, if it holds what was asked.
pub fn answered(response: &[u8]) -> Option<&[u8]> {
    match response.split_first() {
        Some((0, bytes)) => Some(bytes),
        _ => None,
    }
}

/// Writes `bytes` to `path` through a temporary file, synced before it is
/// renamed into place.
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    if let Err(e) = f.write_all(bytes).and_then(|()| f.sync_all()) {
        // A partial chunk must not stay behind (and take the space).
        drop(f);
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {} (is the disk full?)", tmp.display()));
    }
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The file to attach from `path` (its name is the attachment's name):
/// encrypted into this home's blobs now, or, if the CLI did that already
/// (with a progress bar), the `sealed` blob checked to be complete, within
/// `policy`, and opened by its key.
pub fn take_file(
    home: &Path,
    path: &Path,
    sealed: Option<crate::chat::SealedFile>,
    policy: &FilePolicy,
) -> Result<outpost_workspace::chat::Attachment> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .context("give the path of a file")?;
    let media_type = policy.media_type(&name)?;
    let blobs = Blobs::new(home);
    let (blob, key, manifest) = match sealed {
        None => blobs.add_file(path, policy)?,
        Some(s) => {
            let hex32 = |h: &str, what: &str| -> Result<[u8; 32]> {
                hex::decode(h)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .with_context(|| format!("the {what} must be 64 hex digits"))
            };
            let blob = BlobId(hex32(&s.blob, "blob id")?);
            let key = FileKey::from_bytes(hex32(&s.key, "file key")?);
            let manifest = blobs.complete(&blob)?;
            policy.check_size(&name, manifest.size)?;
            let first = blobs.chunk(&blob, 0)?.context("the file's first chunk is missing")?;
            manifest
                .open_chunk(&key, 0, &first)
                .context("the file key does not open this file")?;
            (blob, key, manifest)
        }
    };
    Ok(outpost_workspace::chat::Attachment {
        blob: blob.0,
        key: *key.bytes(),
        name,
        bytes: manifest.size,
        media_type: media_type.to_owned(),
    })
}

/// Decrypts attachment `a` (all of whose chunks this home holds) into
/// `out`, through a partial file renamed once complete and synced.
pub fn save_attachment(blobs: &Blobs, a: &outpost_workspace::chat::Attachment, out: &Path) -> Result<u64> {
    let tmp = out.with_extension("outpost-partial");
    let written = {
        let mut f = std::fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
        let n = blobs.open_to(&BlobId(a.blob), &FileKey::from_bytes(a.key), &mut f);
        match n.and_then(|n| f.sync_all().map(|()| n).map_err(Into::into)) {
            Ok(n) => n,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        }
    };
    std::fs::rename(&tmp, out).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_round_trips_and_chunks_are_checked() {
        let home = tempfile::tempdir().expect("a temp dir");
        let blobs = Blobs::new(home.path());
        let data: Vec<u8> = (0..(2 * CHUNK_BYTES as usize + 10)).map(|i| (i % 251) as u8).collect();
        let (id, key, manifest) = blobs.add(&mut &data[..], &FilePolicy::default()).expect("stored");
        assert_eq!(manifest.chunks.len(), 3);
        assert!(blobs.missing(&manifest).is_empty());
        let mut out = Vec::new();
        assert_eq!(blobs.open_to(&id, &key, &mut out).expect("opens"), data.len() as u64);
        assert_eq!(out, data);

        // Another node fetching it: a damaged chunk is refused, good ones kept.
        let other = tempfile::tempdir().expect("a temp dir");
        let theirs = Blobs::new(other.path());
        assert_eq!(theirs.held(&id).expect("reads"), None);
        theirs.put_manifest(&manifest).expect("manifest stored");
        assert_eq!(theirs.missing(&manifest), vec![0, 1, 2]);
        assert_eq!(theirs.held(&id).expect("reads"), Some((0, data.len() as u64)));
        let mut chunk = blobs.chunk(&id, 1).expect("reads").expect("held");
        chunk[5] ^= 1;
        assert!(theirs.put_chunk(&manifest, 1, &chunk).is_err());
        for i in [0, 2] {
            let answer = blobs.answer(&BlobRequest::Chunk(id, i).encode());
            theirs
                .put_chunk(&manifest, i, answered(&answer).expect("held"))
                .expect("a good chunk is kept");
        }
        assert_eq!(theirs.missing(&manifest), vec![1]);
        // The first chunk is whole, the last has the 10 bytes left over.
        assert_eq!(
            theirs.held(&id).expect("reads"),
            Some((u64::from(CHUNK_BYTES) + 10, data.len() as u64))
        );
        let err = theirs
            .open_to(&id, &key, &mut Vec::new())
            .expect_err("chunk 1 is missing");
        assert!(format!("{err:#}").contains("chunk 1 of 3"), "{err:#}");
        assert_eq!(blobs.answer(&[1, 2, 3]), vec![1], "garbage gets 'not held'");
    }

    #[test]
    fn limits_refuse_before_anything_is_stored() {
        let home = tempfile::tempdir().expect("a temp dir");
        let blobs = Blobs::new(home.path());
        let policy = FilePolicy {
            bytes_max: 1000,
            types: None,
        };
        assert!(policy.media_type("report.PDF").is_ok());
        let err = policy.media_type("setup.exe").expect_err("refused");
        assert!(format!("{err}").contains(".exe"), "{err}");
        let err = blobs.add(&mut &[0u8; 1001][..], &policy).expect_err("too large");
        assert!(format!("{err:#}").contains("1000"), "{err:#}");
        let left: Vec<_> = fs::read_dir(home.path().join("blobs")).expect("dir").collect();
        assert!(left.is_empty(), "nothing stays behind: {left:?}");
    }

    #[test]
    fn sizes_read_in_the_unit_they_were_set_in() {
        let cases = [
            (0, "0 bytes"),
            (1000, "1000 bytes"),
            (1024, "1 KB"),
            (2000, "2.0 KB"),
            (1536, "1.5 KB"),
            (2 << 20, "2 MB"),
            ((100 << 20) + 1, "100.0 MB"),
            (5 << 30, "5120 MB"),
        ];
        for (bytes, text) in cases {
            assert_eq!(size_text(bytes), text, "{bytes} bytes");
        }
        let policy = FilePolicy {
            bytes_max: 1024,
            types: None,
        };
        let err = policy.check_size("big.bin", 2000).expect_err("too large");
        assert_eq!(
            err.to_string(),
            "big.bin is 2.0 KB; files of at most 1 KB may be sent (the org's limit)"
        );
    }
}
