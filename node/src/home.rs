//! The home directory: where a node keeps its keys and its store.
//!
//! ```text
//! $OUTPOST_HOME/              (0700)
//!   keys/member.key           member signing + exchange keys (0600)
//!   keys/device.key           this device's key = libp2p identity (0600)
//!   keys/org-root.key         the org root, only on the node that created the org (0600)
//!   outpost.redb              the store
//! ```
//!
//! Key files are armored text, encrypted under the passphrase when one is
//! set (see `outpost_identity::keyfile`).

use anyhow::{Context, Result, bail};
use outpost_identity::keyfile::{self, KdfParams, KeyKind};
use outpost_identity::{DeviceKey, MemberKeys, OrgRoot, PublicKey};
use outpost_store::Store;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The passphrase protecting key files, if any.
#[derive(Default)]
pub struct Passphrase(Option<Zeroizing<String>>);

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Passphrase(set)"
        } else {
            "Passphrase(none)"
        })
    }
}

impl Passphrase {
    /// From a file (first line) if given, else the file named by
    /// `OUTPOST_PASSPHRASE_FILE` (for service managers that hand secrets
    /// over as files, e.g. systemd's `LoadCredential=`), else
    /// `OUTPOST_PASSPHRASE`, else none.
    pub fn from_sources(file: Option<&Path>) -> Result<Passphrase> {
        Self::from_file_or_env(file, "OUTPOST_PASSPHRASE")
    }

    /// From a file (first line) if given, else the file named by
    /// `<var>_FILE`, else the variable `var` itself, else none.
    pub fn from_file_or_env(file: Option<&Path>, var: &str) -> Result<Passphrase> {
        let from_env = std::env::var_os(format!("{var}_FILE"))
            .filter(|f| !f.is_empty())
            .map(std::path::PathBuf::from);
        if let Some(path) = file.or(from_env.as_deref()) {
            let text = Zeroizing::new(
                fs::read_to_string(path).with_context(|| format!("cannot read passphrase file {}", path.display()))?,
            );
            let line = text.lines().next().unwrap_or("").to_owned();
            if line.is_empty() {
                bail!(
                    "passphrase file {} is empty: write the passphrase on its first line",
                    path.display()
                );
            }
            return Ok(Passphrase(Some(Zeroizing::new(line))));
        }
        Ok(Passphrase(
            std::env::var(var).ok().filter(|p| !p.is_empty()).map(Zeroizing::new),
        ))
    }

    /// A given passphrase.
    pub fn new(text: &str) -> Passphrase {
        Passphrase(Some(Zeroizing::new(text.to_owned())))
    }

    /// The passphrase, if set.
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref().map(String::as_str)
    }
}

/// A home directory.
#[derive(Debug, Clone)]
pub struct Home {
    dir: PathBuf,
}

impl Home {
    /// The default home: `OUTPOST_HOME`, else the platform data directory
    /// (`~/.local/share/outpost` on Linux).
    pub fn default_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("OUTPOST_HOME").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        dirs::data_dir().unwrap_or_else(|| PathBuf::from(".")).join("outpost")
    }

    /// The home at `dir`.
    pub fn at(dir: impl Into<PathBuf>) -> Home {
        Home { dir: dir.into() }
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn key_path(&self, kind: KeyKind) -> PathBuf {
        let name = match kind {
            KeyKind::OrgRoot => "org-root.key",
            KeyKind::Member => "member.key",
            KeyKind::Device => "device.key",
            KeyKind::Storage => "storage.key",
        };
        self.dir.join("keys").join(name)
    }

    /// The store file.
    pub fn store_path(&self) -> PathBuf {
        self.dir.join("outpost.redb")
    }

    /// True once `outpost init` has run here.
    pub fn is_initialised(&self) -> bool {
        self.key_path(KeyKind::Member).exists()
    }

    fn require_init(&self) -> Result<()> {
        if !self.is_initialised() {
            bail!(
                "no Outpost identity in {}: run `outpost init` first (or pass --home to pick another directory)",
                self.dir.display()
            );
        }
        Ok(())
    }

    /// Creates the member and device keys. Fails if they exist.
    pub fn init(&self, pass: &Passphrase) -> Result<(PublicKey, PublicKey)> {
        if self.is_initialised() {
            bail!(
                "{} already holds an Outpost identity; use another --home for a second identity",
                self.dir.display()
            );
        }
        make_private_dir(&self.dir)?;
        make_private_dir(&self.dir.join("keys"))?;
        let mut rng = rand::rng();
        let member = MemberKeys::generate(&mut rng);
        let device = DeviceKey::generate(&mut rng);
        // Device first: a crash in between leaves no member key, so init can run again.
        self.write_key(KeyKind::Device, device.0.public(), &*device.0.secret(), pass)?;
        self.write_key(KeyKind::Member, member.public(), &*member.secret(), pass)?;
        Ok((member.public(), device.0.public()))
    }

    /// Creates a device key for a member whose key file, `member_key`
    /// (the text of another device's `keys/member.key`), is given: this
    /// home becomes another device of that member. The file must open with
    /// this passphrase. Fails if the home holds an identity.
    pub fn init_device(&self, pass: &Passphrase, member_key: &str) -> Result<(PublicKey, PublicKey)> {
        if self.is_initialised() {
            bail!(
                "{} already holds an Outpost identity; use another --home for a second identity",
                self.dir.display()
            );
        }
        let (member, _) = keyfile::open(member_key, KeyKind::Member, pass.get()).context(
            "cannot open the member key file: give the keys/member.key of your other device, with its passphrase",
        )?;
        make_private_dir(&self.dir)?;
        make_private_dir(&self.dir.join("keys"))?;
        let device = DeviceKey::generate(&mut rand::rng());
        self.write_key(KeyKind::Device, device.0.public(), &*device.0.secret(), pass)?;
        write_private(&self.key_path(KeyKind::Member), member_key.as_bytes())?;
        Ok((member, device.0.public()))
    }

    /// Writes a key file atomically with mode 0600.
    pub fn write_key(&self, kind: KeyKind, public: PublicKey, secret: &[u8], pass: &Passphrase) -> Result<()> {
        let text = keyfile::seal(kind, public, secret, pass.get(), KdfParams::DEFAULT, &mut rand::rng())?;
        write_private(&self.key_path(kind), text.as_bytes())
    }

    fn read_key(&self, kind: KeyKind, pass: &Passphrase) -> Result<(PublicKey, Zeroizing<Vec<u8>>)> {
        let path = self.key_path(kind);
        // A key file without a passphrase holds the secret in its text.
        let text = Zeroizing::new(
            fs::read_to_string(&path).with_context(|| format!("cannot read key file {}", path.display()))?,
        );
        keyfile::open(&text, kind, pass.get()).with_context(|| format!("cannot open key file {}", path.display()))
    }

    fn read_public(&self, kind: KeyKind) -> Result<PublicKey> {
        let path = self.key_path(kind);
        let text = fs::read_to_string(&path).with_context(|| format!("cannot read key file {}", path.display()))?;
        keyfile::public(&text, kind).with_context(|| format!("cannot read key file {}", path.display()))
    }

    /// The member's public key (no passphrase needed).
    pub fn member_public(&self) -> Result<PublicKey> {
        self.require_init()?;
        self.read_public(KeyKind::Member)
    }

    /// The device's public key (no passphrase needed).
    pub fn device_public(&self) -> Result<PublicKey> {
        self.require_init()?;
        self.read_public(KeyKind::Device)
    }

    /// The member's keys.
    pub fn member_keys(&self, pass: &Passphrase) -> Result<MemberKeys> {
        self.require_init()?;
        let (public, secret) = self.read_key(KeyKind::Member, pass)?;
        let arr: &[u8; 64] = secret
            .as_slice()
            .try_into()
            .context("member key file holds a key of the wrong length")?;
        let keys = MemberKeys::from_secret(arr);
        if keys.public() != public {
            bail!(
                "member key file is inconsistent (its public key does not match the secret): restore it from a backup"
            );
        }
        Ok(keys)
    }

    /// The device key.
    pub fn device_key(&self, pass: &Passphrase) -> Result<DeviceKey> {
        self.require_init()?;
        let (public, secret) = self.read_key(KeyKind::Device, pass)?;
        let arr: &[u8; 32] = secret
            .as_slice()
            .try_into()
            .context("device key file holds a key of the wrong length")?;
        let key = DeviceKey(outpost_identity::keys::Signer25519::from_secret(arr));
        if key.0.public() != public {
            bail!("device key file is inconsistent: restore it from a backup");
        }
        Ok(key)
    }

    /// True if the org root key is kept here.
    pub fn has_org_root(&self) -> bool {
        self.key_path(KeyKind::OrgRoot).exists()
    }

    /// The org root key, if kept here.
    pub fn org_root(&self, pass: &Passphrase) -> Result<OrgRoot> {
        if !self.has_org_root() {
            bail!(
                "the org root key is not on this node ({})",
                self.key_path(KeyKind::OrgRoot).display()
            );
        }
        let (public, secret) = self.read_key(KeyKind::OrgRoot, pass)?;
        let arr: &[u8; 32] = secret
            .as_slice()
            .try_into()
            .context("org root key file holds a key of the wrong length")?;
        let root = OrgRoot(outpost_identity::keys::Signer25519::from_secret(arr));
        if root.0.public() != public {
            bail!("org root key file is inconsistent: restore it from a backup");
        }
        Ok(root)
    }

    /// True if the storage key file exists.
    pub fn has_storage_key(&self) -> bool {
        self.key_path(KeyKind::Storage).exists()
    }

    /// The node's storage key, made on first use.
    pub fn storage_key(&self, pass: &Passphrase) -> Result<crate::at_rest::StorageKey> {
        self.require_init()?;
        let path = self.key_path(KeyKind::Storage);
        if !path.exists() {
            let mut key = Zeroizing::new([0u8; 32]);
            rand::Rng::fill_bytes(&mut rand::rng(), key.as_mut());
            // The public-key slot of a storage key file holds a fingerprint.
            let fingerprint = PublicKey(*blake3_fingerprint(&key));
            self.write_key(KeyKind::Storage, fingerprint, key.as_ref(), pass)?;
        }
        let (_, secret) = self.read_key(KeyKind::Storage, pass)?;
        let arr: [u8; 32] = secret
            .as_slice()
            .try_into()
            .context("storage key file holds a key of the wrong length")?;
        Ok(crate::at_rest::StorageKey(Zeroizing::new(arr)))
    }

    /// Re-encrypts every key file of this home (member, device, storage,
    /// org root: those present) under `new`, or stores them unencrypted
    /// when `new` is `None`. Every file must open with `old` (a file
    /// without a passphrase opens with any): otherwise nothing changes.
    ///
    /// All or none: the new files are written to `keys.new/` (0700, each
    /// 0600, synced), which then takes the place of `keys/` in one atomic
    /// exchange of the two directories; the old files are then removed.
    /// Returns the kinds of key re-encrypted.
    pub fn change_passphrase(&self, old: &Passphrase, new: &Passphrase) -> Result<Vec<KeyKind>> {
        self.require_init()?;
        let keys = self.dir.join("keys");
        let staging = self.dir.join("keys.new");
        // A change interrupted before its exchange left this behind.
        remove_dir_if_present(&staging)?;
        let mut sealed: Vec<(KeyKind, PathBuf, Zeroizing<String>)> = Vec::new();
        for kind in [KeyKind::Member, KeyKind::Device, KeyKind::Storage, KeyKind::OrgRoot] {
            let path = self.key_path(kind);
            if !path.exists() {
                continue;
            }
            let (public, secret) = self.read_key(kind, old).context(
                "nothing was changed: give the current passphrase with --passphrase-file FILE or OUTPOST_PASSPHRASE",
            )?;
            let text = keyfile::seal(kind, public, &secret, new.get(), KdfParams::DEFAULT, &mut rand::rng())?;
            sealed.push((kind, path, Zeroizing::new(text)));
        }
        make_private_dir(&staging)?;
        let new_files: Vec<(&Path, &str)> = sealed.iter().map(|(_, p, t)| (p.as_path(), t.as_str())).collect();
        let staged = stage_keys(&keys, &staging, &new_files);
        if let Err(e) = staged {
            let _ = fs::remove_dir_all(&staging);
            return Err(e.context("nothing was changed"));
        }
        exchange_dirs(&self.dir, &staging, &keys)?;
        // keys.new now holds the old files.
        if let Err(e) = fs::remove_dir_all(&staging) {
            tracing::warn!("cannot remove the old key files in {}: {e}", staging.display());
        }
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("cannot sync {}", self.dir.display()))?;
        Ok(sealed.into_iter().map(|(k, _, _)| k).collect())
    }

    /// True if the member key file is encrypted under a passphrase.
    pub fn keys_encrypted(&self) -> Result<bool> {
        self.require_init()?;
        let path = self.key_path(KeyKind::Member);
        let text = fs::read_to_string(&path).with_context(|| format!("cannot read key file {}", path.display()))?;
        Ok(keyfile::is_encrypted(&text)?)
    }

    /// Opens the store.
    pub fn store(&self) -> Result<Store> {
        self.require_init()?;
        let store = Store::open(&self.store_path())?;
        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot set permissions on {}", store.path().display()))?;
        Ok(store)
    }
}

fn blake3_fingerprint(key: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let mut h = blake3::Hasher::new_derive_key("outpost 2026 storage key fingerprint v1");
    h.update(key);
    Zeroizing::new(*h.finalize().as_bytes())
}

/// Writes `new_files` (each: the path of a key file in `keys`, its new
/// text) and every other file of `keys` into `staging`.
fn stage_keys(keys: &Path, staging: &Path, new_files: &[(&Path, &str)]) -> Result<()> {
    // Other files in keys/ move over unchanged.
    for entry in fs::read_dir(keys).with_context(|| format!("cannot read {}", keys.display()))? {
        let entry = entry.with_context(|| format!("cannot read {}", keys.display()))?;
        let name = entry.file_name();
        if !entry.file_type()?.is_file() || new_files.iter().any(|(p, _)| p.file_name() == Some(&name)) {
            continue;
        }
        let bytes = Zeroizing::new(fs::read(entry.path())?);
        write_private(&staging.join(&name), &bytes)?;
    }
    for (path, text) in new_files {
        let name = path.file_name().context("a key path has a file name")?;
        write_private(&staging.join(name), text.as_bytes())?;
    }
    Ok(())
}

fn remove_dir_if_present(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", dir.display())),
    }
}

/// Swaps directories `a` and `b` (both in `parent`) in one atomic step
/// (`renameat2` with `RENAME_EXCHANGE`); where the file system cannot,
/// by two renames through a third name.
fn exchange_dirs(parent: &Path, a: &Path, b: &Path) -> Result<()> {
    let dir = fs::File::open(parent).with_context(|| format!("cannot open {}", parent.display()))?;
    let name = |p: &Path| {
        p.file_name()
            .map(std::ffi::OsStr::to_owned)
            .context("a directory has a name")
    };
    let (an, bn) = (name(a)?, name(b)?);
    match rustix::fs::renameat_with(
        &dir,
        an.as_os_str(),
        &dir,
        bn.as_os_str(),
        rustix::fs::RenameFlags::EXCHANGE,
    ) {
        Ok(()) => {}
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {
            let aside = parent.join("keys.old");
            remove_dir_if_present(&aside)?;
            fs::rename(b, &aside).with_context(|| format!("cannot move {}", b.display()))?;
            fs::rename(a, b).with_context(|| format!("cannot move {} into place", a.display()))?;
            fs::rename(&aside, a).with_context(|| format!("cannot move {}", aside.display()))?;
        }
        Err(e) => {
            return Err(std::io::Error::from(e))
                .with_context(|| format!("cannot swap {} and {}", a.display(), b.display()));
        }
    }
    dir.sync_all()
        .with_context(|| format!("cannot sync {}", parent.display()))
}

/// Creates `dir` (and parents) with mode 0700 for the last component.
fn make_private_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create directory {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot set permissions on {}", dir.display()))
}

/// Writes `bytes` to `path` with mode 0600: to a temporary file, synced,
/// then renamed over `path`, so a crash leaves the old file or the new one.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("a key path has a parent directory")?;
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_writes_private_keys_that_open_with_the_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join("h"));
        let pass = Passphrase::new("s3cret");
        let (member, device) = home.init(&pass).unwrap();
        for name in ["member.key", "device.key"] {
            let mode = fs::metadata(dir.path().join("h/keys").join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
        assert_eq!(
            fs::metadata(dir.path().join("h")).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(home.member_keys(&pass).unwrap().public(), member);
        assert_eq!(home.device_key(&pass).unwrap().0.public(), device);
        assert_eq!(home.member_public().unwrap(), member);
        let err = format!("{:#}", home.member_keys(&Passphrase::new("nope")).unwrap_err());
        assert!(err.contains("wrong passphrase"), "{err}");
        assert!(home.init(&pass).is_err());
    }
}
