//! The local view of the org: the store, and the authorisation state
//! rebuilt from the ops in it. Commands change the org only through here,
//! so that every op is durably stored before it counts.

use crate::home::{Home, Passphrase};
use anyhow::{Context, Result, bail};
use outpost_identity::keyfile::KeyKind;
use outpost_identity::request::Bundle;
use outpost_identity::{
    AuthState, DeptPath, DeviceCert, OpId, OrgRoot, PublicKey, Role, RoleCert, SignedOp, Timestamp,
};
use outpost_store::Store;

/// How long the first admin's certificate lasts.
pub const FIRST_ADMIN_VALID_SECS: u64 = 5 * 365 * 86_400;
/// How long a device certificate lasts.
pub const DEVICE_VALID_SECS: u64 = 2 * 365 * 86_400;

/// The member's view of their org on this node.
#[derive(Debug)]
pub struct Local {
    /// The home directory.
    pub home: Home,
    /// The open store.
    pub store: std::sync::Arc<Store>,
    /// This member's public key.
    pub member: PublicKey,
    /// This device's public key.
    pub device: PublicKey,
    org_name: String,
    state: Option<AuthState>,
    storage: std::cell::OnceCell<crate::at_rest::StorageKey>,
    /// The member's keys, once read (reading may cost an argon2 run).
    member_keys: std::cell::OnceCell<outpost_identity::MemberKeys>,
    /// Ops and envelopes made or received here since the last
    /// [`Local::take_outbox`], as gossip frames for peers.
    outbox: Vec<Vec<u8>>,
    /// Write this member's own envelopes without waiting for the disk; the
    /// daemon then makes them durable, many writers at once, before it
    /// acknowledges them (see `Shared::flush`). Off by default: the CLI
    /// writes durably.
    pub defer_durability: bool,
    /// Writes made with deferred durability, and how many of them are
    /// known durable (shared with the daemon, which advances `durable`
    /// after its shared commit). See [`Local::ensure_durable`].
    pub writes: std::sync::Arc<Writes>,
    /// The last replica built (see [`Local::replica`]).
    pub(crate) replica_cache: std::cell::RefCell<Option<CachedReplica>>,
    /// Chat entries already opened and decoded, by envelope id: a valid
    /// envelope's content never changes, so each is decrypted once per
    /// process.
    /// Counters for monitoring (see [`crate::metrics`]).
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    pub(crate) entry_cache: std::cell::RefCell<std::collections::HashMap<[u8; 32], outpost_workspace::chat::Entry>>,
    /// Work records already opened, by envelope id (see
    /// [`Local::records`]).
    pub(crate) record_cache: std::cell::RefCell<std::collections::HashMap<[u8; 32], crate::records::RawRecord>>,
    /// Channel views kept between requests, by document.
    pub(crate) channel_cache:
        std::cell::RefCell<std::collections::HashMap<outpost_seal::replica::DocKey, crate::chat::CachedChannel>>,
    /// Sync views kept between sessions (see [`crate::sync::view_for`]).
    pub(crate) sync_views: std::cell::RefCell<crate::sync::SyncViews>,
    /// Documents and files kept current in memory (see
    /// [`Local::live_doc`]).
    pub(crate) doc_cache:
        std::cell::RefCell<std::collections::HashMap<outpost_seal::replica::DocKey, crate::library::LiveDoc>>,
    /// What each entry is, from its first change (see
    /// [`Local::entry_kind`]); kinds never change.
    pub(crate) kind_cache: std::cell::RefCell<
        std::collections::HashMap<outpost_seal::replica::DocKey, Option<outpost_workspace::DocKind>>,
    >,
}

/// Counters of writes made with deferred durability.
#[derive(Debug, Default)]
pub struct Writes {
    /// How many were made (only under the lock of the `Local`).
    pub made: std::sync::atomic::AtomicU64,
    /// How many of the first ones are known to be durable.
    pub durable: std::sync::atomic::AtomicU64,
}

impl Writes {
    /// Records that every write made up to `made` is durable.
    pub fn durable_up_to(&self, made: u64) {
        self.durable.fetch_max(made, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A replica and what it was built from.
#[derive(Debug)]
pub(crate) struct CachedReplica {
    /// Ops in the authorisation state then.
    pub ops: usize,
    /// The replica.
    pub replica: outpost_seal::Replica,
}

/// Gossip frame kinds: the first byte of a frame.
pub mod frame {
    /// An authorisation op follows.
    pub const OP: u8 = 1;
    /// An envelope follows.
    pub const ENVELOPE: u8 = 2;
    /// A presence beat follows (an envelope never stored; see
    /// [`crate::presence`]).
    pub const PRESENCE: u8 = 3;

    /// Prefixes `bytes` with `kind`.
    pub fn wrap(kind: u8, bytes: &[u8]) -> Vec<u8> {
        let mut f = Vec::with_capacity(bytes.len() + 1);
        f.push(kind);
        f.extend_from_slice(bytes);
        f
    }
}

impl Local {
    /// Opens the store of an initialised home and rebuilds the state.
    pub fn open(home: Home) -> Result<Local> {
        let member = home.member_public()?;
        let device = home.device_public()?;
        let store = std::sync::Arc::new(home.store()?);
        let org_name = store
            .setting("org-name")?
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default();
        let state = match store.setting("org-root")? {
            None => None,
            Some(bytes) => {
                let root: [u8; 32] = bytes.as_slice().try_into().context("the stored org root is damaged")?;
                let mut state = AuthState::new(PublicKey(root));
                let ops = store
                    .auth_ops()?
                    .iter()
                    .map(|b| SignedOp::decode(b))
                    .collect::<Result<Vec<_>, _>>()
                    .with_context(|| format!("an authorisation op in {} is damaged", store.path().display()))?;
                state.insert_all(ops)?;
                Some(state)
            }
        };
        Ok(Local {
            home,
            store,
            member,
            device,
            org_name,
            state,
            storage: std::cell::OnceCell::new(),
            member_keys: std::cell::OnceCell::new(),
            defer_durability: false,
            writes: std::sync::Arc::new(Writes::default()),
            outbox: Vec::new(),
            replica_cache: std::cell::RefCell::new(None),
            metrics: std::sync::Arc::new(crate::metrics::Metrics::default()),
            entry_cache: std::cell::RefCell::new(std::collections::HashMap::new()),
            channel_cache: std::cell::RefCell::new(std::collections::HashMap::new()),
            record_cache: std::cell::RefCell::new(std::collections::HashMap::new()),
            doc_cache: std::cell::RefCell::new(std::collections::HashMap::new()),
            kind_cache: std::cell::RefCell::new(std::collections::HashMap::new()),
            sync_views: std::cell::RefCell::new(crate::sync::SyncViews::default()),
        })
    }

    /// Notes one write made with deferred durability.
    pub(crate) fn deferred_write(&self) {
        self.writes.made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// Makes every write so far durable if some is not yet: called before
    /// anything this node holds is sent to a peer, so that no peer holds a
    /// change this node could lose in a crash (and then write again with
    /// the same automerge sequence number).
    pub fn ensure_durable(&self) -> Result<()> {
        use std::sync::atomic::Ordering::SeqCst;
        let made = self.writes.made.load(SeqCst);
        if made > self.writes.durable.load(SeqCst) {
            self.store.sync()?;
            self.writes.durable_up_to(made);
        }
        Ok(())
    }

    /// The member's keys, read from the key file once per process.
    pub fn member_keys(&self, pass: &Passphrase) -> Result<outpost_identity::MemberKeys> {
        if let Some(k) = self.member_keys.get() {
            return Ok(outpost_identity::MemberKeys::from_secret(&k.secret()));
        }
        let keys = self.home.member_keys(pass)?;
        let copy = outpost_identity::MemberKeys::from_secret(&keys.secret());
        let _ = self.member_keys.set(keys);
        Ok(copy)
    }

    /// The node's storage key (read once per process).
    pub fn storage_key(&self, pass: &Passphrase) -> Result<&crate::at_rest::StorageKey> {
        if let Some(k) = self.storage.get() {
            return Ok(k);
        }
        if !self.home.has_storage_key() && !self.store.secrets()?.is_empty() {
            bail!(
                "the storage key {} is missing but the store holds secrets encrypted under it: restore the key file from a backup",
                self.home.dir().join("keys/storage.key").display()
            );
        }
        let key = self.home.storage_key(pass)?;
        Ok(self.storage.get_or_init(|| key))
    }

    /// The org state, if this node belongs to an org.
    pub fn state(&self) -> Option<&AuthState> {
        self.state.as_ref()
    }

    /// The org state, or an error telling how to join one.
    pub fn require_org(&self) -> Result<&AuthState> {
        self.state.as_ref().context(
            "this node belongs to no org yet: create one with `outpost org create --name NAME`, or install a certificate from your admin with `outpost cert install FILE`",
        )
    }

    /// The org's name.
    pub fn org_name(&self) -> &str {
        &self.org_name
    }

    /// Records that this node belongs to the org of `root`. Fails if it
    /// already belongs to another.
    pub fn pin_org(&mut self, root: PublicKey, name: &str) -> Result<()> {
        if let Some(state) = &self.state {
            if state.root() != root {
                bail!(
                    "this belongs to org {}, but this node belongs to org {} ({}); use another --home for a second org",
                    outpost_identity::OrgId::of_root(&root),
                    state.org(),
                    self.org_name
                );
            }
            return Ok(());
        }
        self.store
            .set_settings(&[("org-root", &root.0), ("org-name", name.as_bytes())])?;
        self.state = Some(AuthState::new(root));
        self.org_name = name.to_owned();
        Ok(())
    }

    /// Stores ops durably, then adds them to the state. If `redeem` is
    /// given, the invite is marked as redeemed in the same transaction.
    pub fn add_ops(&mut self, ops: Vec<SignedOp>, redeem: Option<([u8; 16], OpId)>) -> Result<usize> {
        let state = self
            .state
            .as_mut()
            .context("join or create an org before adding certificates")?;
        let mut trial = state.clone();
        trial.insert_all(ops.iter().cloned())?;
        let outcome = self
            .store
            .put_auth_ops(ops.iter().map(|o| (o.id, o.bytes.as_slice())), redeem, &[])?;
        if let Err(previous) = outcome {
            bail!("this invite was already redeemed by certificate {previous}; each invite can be used once");
        }
        let added = trial.len() - state.len();
        let known: std::collections::BTreeSet<OpId> = state.ops().map(|o| o.id).collect();
        self.outbox.extend(
            ops.iter()
                .filter(|o| !known.contains(&o.id))
                .map(|o| frame::wrap(frame::OP, &o.bytes)),
        );
        *state = trial;
        Ok(added)
    }

    /// Takes the frames waiting to be pushed to peers.
    pub fn take_outbox(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.outbox)
    }

    /// Queues a frame for peers.
    pub fn push_outbox(&mut self, frame: Vec<u8>) {
        self.outbox.push(frame);
    }

    /// A bundle of `subject` and everything needed to check it.
    pub fn bundle_of(&self, subject: OpId) -> Result<Bundle> {
        let state = self.require_org()?;
        Ok(Bundle::new(
            state.root(),
            &self.org_name,
            Some(subject),
            state.closure(subject),
        ))
    }

    /// A bundle of every op this node holds.
    pub fn bundle_all(&self) -> Result<Bundle> {
        let state = self.require_org()?;
        let mut ops: Vec<&SignedOp> = state.order().iter().filter_map(|id| state.op(id)).collect();
        let ordered: std::collections::BTreeSet<OpId> = ops.iter().map(|o| o.id).collect();
        ops.extend(state.ops().filter(|o| !ordered.contains(&o.id)));
        Ok(Bundle::new(state.root(), &self.org_name, None, ops))
    }

    /// Creates a new org with this member as its first admin and this
    /// device certified. The root key is written next to the member key.
    pub fn create_org(&mut self, name: &str, member_name: &str, pass: &Passphrase, now: Timestamp) -> Result<OpId> {
        if let Some(state) = &self.state {
            bail!(
                "this node already belongs to org {} ({}); use another --home to create a second org",
                state.org(),
                self.org_name
            );
        }
        outpost_identity::op::check_text("org name", name, true)?;
        let member = self.home.member_keys(pass)?;
        let root = OrgRoot::generate(&mut rand::rng());
        let mut state = AuthState::new(root.0.public());
        let cert = RoleCert {
            serial: rand::random(),
            subject: member.public(),
            exchange: member.exchange_public(),
            name: member_name.to_owned(),
            email: String::new(),
            dept: DeptPath::root(),
            position: "Administrator".into(),
            level: 0,
            role: Role::Admin,
            resources: Vec::new(),
            not_before: now,
            not_after: now.plus(FIRST_ADMIN_VALID_SECS),
            invite: None,
        };
        let grant = state.sign_grant(&root.0, cert, now)?;
        let id = grant.id;
        state.insert(grant.clone())?;
        // Root key first: if we crash after it, the org does not exist yet
        // on this node and `org create` can run again. The org and its first
        // admin are then stored in one transaction.
        self.home
            .write_key(KeyKind::OrgRoot, root.0.public(), &*root.0.secret(), pass)?;
        let settings: [(&str, &[u8]); 2] = [("org-root", &root.0.public().0), ("org-name", name.as_bytes())];
        self.store
            .put_auth_ops([(grant.id, grant.bytes.as_slice())], None, &settings)?
            .expect("no invite involved");
        self.state = Some(state);
        self.org_name = name.to_owned();
        self.ensure_device_cert(pass, now)?;
        Ok(id)
    }

    /// If this member holds a live certificate and this device is not yet
    /// certified, certifies it. Returns the new device certificate, if any.
    pub fn ensure_device_cert(&mut self, pass: &Passphrase, now: Timestamp) -> Result<Option<OpId>> {
        let Some(state) = &self.state else {
            return Ok(None);
        };
        let Some((_, mine)) = state.role_of(&self.member, now) else {
            return Ok(None);
        };
        // A relay certifies no device: it acts under its own certificate.
        if mine.role == Role::Relay {
            return Ok(None);
        }
        if state.device_principal(&self.device, now).is_some() {
            return Ok(None);
        }
        let until = now.plus(DEVICE_VALID_SECS).min(mine.not_after);
        let member = self.member_keys(pass)?;
        let name = format!("device {}", outpost_identity::keys::peer_id_of(&self.device));
        let cert = DeviceCert {
            serial: rand::random(),
            device: self.device,
            name,
            not_before: now,
            not_after: until,
        };
        let op = state.sign_device(&member.signing, cert, now)?;
        let id = op.id;
        self.add_ops(vec![op], None)?;
        Ok(Some(id))
    }
}
