//! One anti-entropy session between two nodes, as a sans-I/O state machine.
//!
//! The initiator calls [`Session::initiate`] and sends the request it
//! returns; the responder creates a session with [`Session::accept`] when a
//! request with id 0 arrives. Each side then feeds every message it
//! receives to [`Session::handle_bytes`] (or [`Session::handle_message`])
//! and performs the [`Output`]s: send a message, store a delivered item,
//! note the end. [`Session::tick`] checks the timeouts; [`Session::deadline`]
//! says when to call it. The responder answers every request with exactly
//! one response, so the protocol runs over a request/response transport.
//!
//! # Message flow
//! ```text
//! initiator                                          responder
//! request 0: Hello{salt, limits}
//!            Ranges(Ops):  fingerprints, or ids if few
//!            Ranges(Docs): ~n/16 fingerprints (≤ 64)  ───▶
//!                                                    per range: equal → nothing;
//!                                                    differs → its ids (≤ 16) or k
//!                                                    sub-fingerprints; an id list it
//!                                                    receives it settles (below)
//!            ◀─── response 0: Hello{limits}, Ranges(…), settled leaves
//! settle each id list: send the ops the other
//! lacks (Ops), ask for the ones it has (WantOps);
//! send whole the documents it lacks (Envelopes),
//! ask for the ones it alone holds (WantDocs);
//! for a document whose state differs:
//!   Heads{doc, my heads}                       ───▶
//!                                                    knows all those heads → sends the
//!                                                    envelopes outside their causal past;
//!                                                    else Heads{doc, its heads, reply}
//!            ◀─── response 1: Envelopes…, Heads{reply}…
//! knows all the replied heads → sends what the
//! other lacks; else both wrote concurrently:
//! Ranges(Doc(d)) over the document's envelope ids ───▶  … settled like the sets above
//! … until a response carries only items and neither side has more queued.
//! ```
//! For two nodes that share most documents and differ in a few, that is two
//! round trips when the initiator is behind and three when the responder
//! is (see the crate's `tests/targets.rs` for measured figures).
//!
//! Every message starts with authorisation work: ops are settled in the
//! same messages as documents, and a message carries ops before any
//! envelope, so envelopes rarely arrive before the ops that authorise
//! them (the validity rule holds such envelopes as pending if they do).
//!
//! # Guarantees
//! - An item is delivered only after its dependencies: held by the view or
//!   delivered earlier in the session. Items that arrive early wait in a
//!   buffer of at most [`Config::holdback_bytes_max`]; what is still waiting
//!   when the session ends is dropped (and fetched by a later session).
//! - A document is never sent, nor its heads, unless [`View::may_hold`]
//!   accepts it for this peer.
//! - Every message is at most the smaller of both sides'
//!   `frame_bytes_max` and `ids_per_message_max`.
//! - A session ends in [`Output::Done`] or [`Output::Failed`]: after
//!   [`Config::round_trips_max`] round trips, after
//!   [`Config::session_timeout_ms`], or when the peer is silent for
//!   [`Config::idle_timeout_ms`].
//!
//! # Example
//! ```
//! use outpost_sync::{Config, DocKey, MemView, Message, Output, Session, Time};
//!
//! let doc = DocKey::new([1; 32], [2; 16]);
//! let mut alice = MemView::new();
//! let mut bob = MemView::new();
//! let first = alice.insert_envelope(doc, vec![], b"first change".to_vec()).unwrap();
//! alice.insert_envelope(doc, vec![first], b"second change".to_vec()).unwrap();
//! bob.insert_envelope(doc, vec![], b"first change".to_vec()).unwrap();
//!
//! // Performs the outputs on `view`; returns the messages to send.
//! fn perform(view: &mut MemView, outputs: Vec<Output>) -> Vec<Message> {
//!     let mut sends = Vec::new();
//!     for output in outputs {
//!         match output {
//!             Output::Send(message) => sends.push(message),
//!             Output::Deliver(item) => {
//!                 view.insert(item).expect("delivered after its dependencies");
//!             }
//!             Output::Done(_) => {}
//!             Output::Failed(why) => panic!("{why}"),
//!         }
//!     }
//!     sends
//! }
//!
//! let now = Time(0);
//! let (mut initiator, outputs) = Session::initiate(&alice, Config::default(), [7; 16], now);
//! let mut responder = Session::accept(Config::default(), now);
//! let mut requests = perform(&mut alice, outputs);
//! while let Some(request) = requests.pop() {
//!     let outputs = responder.handle_bytes(&bob, &request.encode(), now);
//!     for response in perform(&mut bob, outputs) {
//!         let outputs = initiator.handle_bytes(&alice, &response.encode(), now);
//!         requests.extend(perform(&mut alice, outputs));
//!     }
//! }
//! assert!(initiator.is_finished() && responder.is_finished());
//! assert_eq!(bob.envelope_count(), 2);
//! assert_eq!(initiator.stats().round_trips, 2);
//! ```

use crate::message::{
    Body, DEPS_MAX, DecodeError, Dep, DocTag, FRAME_BYTES_MAX, FRAME_BYTES_MIN, Frame, HEADS_MAX, Hello,
    IDS_PER_MESSAGE_MAX, IDS_PER_MESSAGE_MIN, ITEM_BYTES_MAX, Message, Part, Range, Ranges, SessionId, SetId, WireItem,
};
use crate::range::{Bound, Domain, Entries, Entry, Tag, TagKey};
use crate::view::{Envelope, Item, Op, View};
use crate::{DocKey, Id, Time, id_of, state_id};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::Range as Span;

/// Most ids, tags or ranges in one control part, so that every control
/// part fits in the smallest frame a peer may announce.
const PART_IDS_MAX: usize = 256;
/// Bytes of a message besides its parts: version, session id, request id,
/// `more`, the parts' count (with slack).
const FRAME_OVERHEAD_BYTES: usize = 32;

/// The limits and tuning of a session. Every limit has a unit in its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Largest message this node sends or accepts, in bytes (at least
    /// [`FRAME_BYTES_MIN`]). Messages are bounded by the smaller of both
    /// sides' limits.
    pub frame_bytes_max: usize,
    /// Most ids, tags and ranges in one message (at least
    /// [`IDS_PER_MESSAGE_MIN`]).
    pub ids_per_message_max: usize,
    /// Longest a session may last, in milliseconds.
    pub session_timeout_ms: u64,
    /// Longest the peer may stay silent while an answer is due, in
    /// milliseconds.
    pub idle_timeout_ms: u64,
    /// Most request/response round trips in a session.
    pub round_trips_max: u32,
    /// A range with at most this many items is sent as its item list rather
    /// than split (1 to 255).
    pub leaf_items_max: usize,
    /// Most sub-ranges a differing range is split into (2 to 64).
    pub split_max: usize,
    /// Most ranges of the first message for one set (1 to 1024).
    pub initial_ranges_max: usize,
    /// Most bytes of received items kept waiting for their dependencies.
    pub holdback_bytes_max: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            frame_bytes_max: FRAME_BYTES_MAX,
            ids_per_message_max: IDS_PER_MESSAGE_MAX,
            session_timeout_ms: 10 * 60 * 1000,
            idle_timeout_ms: 30 * 1000,
            round_trips_max: 10_000,
            leaf_items_max: 16,
            split_max: 16,
            initial_ranges_max: 64,
            holdback_bytes_max: 16 * 1024 * 1024,
        }
    }
}

impl Config {
    /// The configuration with every value brought inside its allowed span.
    fn normalised(mut self) -> Config {
        self.frame_bytes_max = self.frame_bytes_max.clamp(FRAME_BYTES_MIN, u32::MAX as usize);
        self.ids_per_message_max = self.ids_per_message_max.clamp(IDS_PER_MESSAGE_MIN, u32::MAX as usize);
        self.leaf_items_max = self.leaf_items_max.clamp(1, PART_IDS_MAX - 1);
        self.split_max = self.split_max.clamp(2, 64);
        self.initial_ranges_max = self.initial_ranges_max.clamp(1, 1024);
        self.round_trips_max = self.round_trips_max.max(1);
        self
    }
}

/// Which end of the session this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sends requests.
    Initiator,
    /// Answers them.
    Responder,
}

/// What the node must do after a call.
#[derive(Debug)]
pub enum Output {
    /// Send this message to the peer (the initiator as a request, the
    /// responder as the response to the request just handled).
    Send(Message),
    /// Verify this item and store it; its dependencies were held or
    /// delivered before it.
    Deliver(Item),
    /// The session ended; both sides hold what the other offered.
    Done(Stats),
    /// The session ended early; what was delivered stays delivered.
    Failed(Failure),
}

/// Counters of one session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages sent.
    pub messages_sent: u64,
    /// Messages received.
    pub messages_received: u64,
    /// Encoded bytes sent.
    pub bytes_sent: u64,
    /// Encoded bytes received.
    pub bytes_received: u64,
    /// Request/response round trips (completed, for the initiator; answered,
    /// for the responder).
    pub round_trips: u32,
    /// Ops sent.
    pub ops_sent: u64,
    /// Envelopes sent.
    pub envelopes_sent: u64,
    /// Bytes of the items sent (their encodings only).
    pub item_bytes_sent: u64,
    /// Ops delivered.
    pub ops_delivered: u64,
    /// Envelopes delivered.
    pub envelopes_delivered: u64,
    /// Bytes of the items delivered.
    pub item_bytes_delivered: u64,
    /// Items received that were already held.
    pub items_redundant: u64,
    /// Items received but never delivered: their dependencies did not
    /// arrive, or the holdback buffer was full.
    pub items_dropped: u64,
    /// Items not sent: over [`ITEM_BYTES_MAX`], [`DEPS_MAX`] or the frame.
    pub items_unsendable: u64,
    /// Documents whose heads the peer sent.
    pub docs_heads_received: u64,
    /// Documents sent whole because the peer held none of them.
    pub docs_sent_whole: u64,
    /// Documents whose envelope ids were reconciled (concurrent writes).
    pub docs_ranged: u64,
}

/// Why a session failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// The peer was silent too long, or the session lasted too long.
    #[error("sync session timed out after {0} ms; a later session will resume")]
    Timeout(u64),
    /// A message could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The peer broke the protocol.
    #[error("sync peer broke the protocol: {0}")]
    Protocol(&'static str),
    /// The session reached [`Config::round_trips_max`].
    #[error("sync session reached its limit of {0} round trips; a later session will resume")]
    TooManyRoundTrips(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Initiator: a request is out.
    AwaitResponse,
    /// Responder: waiting for the next request.
    AwaitRequest,
    Finished,
}

/// A snapshot of the authorisation op set.
#[derive(Debug, Default)]
struct OpSet {
    entries: Entries,
    ids: Vec<Id>,
}

/// A snapshot of the document set.
#[derive(Debug, Default)]
struct DocSet {
    /// Documents the peer may hold, keyed by document tag.
    entries: Entries,
    docs: Vec<DocKey>,
    /// Every document held, shared or not, by tag: to recognise a document
    /// the peer lists.
    by_tag: BTreeMap<u64, Vec<DocKey>>,
}

/// A snapshot of one document's envelope ids, dependencies first.
#[derive(Debug, Default)]
struct EnvSet {
    entries: Entries,
    ids: Vec<Id>,
}

#[derive(Debug, Default)]
struct DocState {
    heads_sent: bool,
    envelopes: Option<EnvSet>,
}

/// Consecutive ranges being written as answer parts.
struct RangeWriter {
    set: SetId,
    parts: Vec<Part>,
    current: Option<(Ranges, usize)>,
    last_upper: Bound,
}

impl RangeWriter {
    fn new(set: SetId) -> RangeWriter {
        RangeWriter {
            set,
            parts: Vec::new(),
            current: None,
            last_upper: Bound::START,
        }
    }

    fn push(&mut self, lower: Bound, upper: Bound, body: Body) {
        let ids = 1 + match &body {
            Body::Fingerprint(_) => 0,
            Body::Tags(t) => t.len(),
            Body::Docs(d) => d.len(),
        };
        let range = Range { upper, body };
        match &mut self.current {
            Some((ranges, count)) if self.last_upper == lower && *count + ids <= PART_IDS_MAX => {
                ranges.ranges.push(range);
                *count += ids;
            }
            _ => {
                self.flush();
                self.current = Some((
                    Ranges {
                        set: self.set,
                        lower,
                        ranges: vec![range],
                    },
                    ids,
                ));
            }
        }
        self.last_upper = upper;
    }

    fn flush(&mut self) {
        if let Some((ranges, _)) = self.current.take() {
            self.parts.push(Part::Ranges(ranges));
        }
    }

    fn finish(mut self) -> Vec<Part> {
        self.flush();
        self.parts
    }
}

/// One anti-entropy session with one peer. See the [module docs](self).
#[derive(Debug)]
pub struct Session {
    role: Role,
    config: Config,
    id: SessionId,
    salt: [u8; 16],
    key: TagKey,
    started: Time,
    last_heard: Time,
    phase: Phase,
    /// Initiator: the id of the next request. Responder: the id expected.
    next_request: u32,
    peer_frame_bytes_max: usize,
    peer_ids_per_message_max: usize,
    ops: OpSet,
    docs: DocSet,
    per_doc: BTreeMap<DocKey, DocState>,
    control: VecDeque<Part>,
    ops_out: BTreeSet<Id>,
    ops_order: VecDeque<Id>,
    ops_order_stale: bool,
    envelopes_out: BTreeMap<DocKey, VecDeque<Id>>,
    /// Every id ever queued to send, so nothing is sent twice.
    queued: BTreeSet<Id>,
    delivered: BTreeSet<Id>,
    delivered_op_tags: BTreeSet<u64>,
    delivered_envelope_tags: BTreeSet<u64>,
    held: BTreeMap<Id, Item>,
    waiting: BTreeMap<Id, Vec<Id>>,
    held_bytes: usize,
    stats: Stats,
}

impl Session {
    fn new(role: Role, config: Config, salt: [u8; 16], now: Time) -> Session {
        let mut id = [0u8; 8];
        id.copy_from_slice(&salt[..8]);
        Session {
            role,
            config: config.normalised(),
            id: SessionId(id),
            salt,
            key: TagKey::new(&salt),
            started: now,
            last_heard: now,
            phase: Phase::AwaitRequest,
            next_request: 0,
            peer_frame_bytes_max: FRAME_BYTES_MIN,
            peer_ids_per_message_max: IDS_PER_MESSAGE_MIN,
            ops: OpSet::default(),
            docs: DocSet::default(),
            per_doc: BTreeMap::new(),
            control: VecDeque::new(),
            ops_out: BTreeSet::new(),
            ops_order: VecDeque::new(),
            ops_order_stale: false,
            envelopes_out: BTreeMap::new(),
            queued: BTreeSet::new(),
            delivered: BTreeSet::new(),
            delivered_op_tags: BTreeSet::new(),
            delivered_envelope_tags: BTreeSet::new(),
            held: BTreeMap::new(),
            waiting: BTreeMap::new(),
            held_bytes: 0,
            stats: Stats::default(),
        }
    }

    /// Starts a session as initiator. `salt` must be fresh random bytes
    /// (they key this session's fingerprints and name the session).
    /// Returns the session and the first request to send.
    pub fn initiate<V: View + ?Sized>(view: &V, config: Config, salt: [u8; 16], now: Time) -> (Session, Vec<Output>) {
        let mut session = Session::new(Role::Initiator, config, salt, now);
        session.snapshot(view);
        session.control.push_back(Part::Hello(session.hello()));
        session.open_set(SetId::Ops);
        session.open_set(SetId::Docs);
        let mut out = Vec::new();
        session.send_request(view, &mut out);
        (session, out)
    }

    /// A responder session, created when a request with id 0 arrives; hand
    /// that request to [`Session::handle_bytes`].
    pub fn accept(config: Config, now: Time) -> Session {
        Session::new(Role::Responder, config, [0; 16], now)
    }

    /// This end's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The session id (for a responder, known once the first request is
    /// handled).
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// The counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Whether the session has ended (in `Done` or `Failed`).
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    /// When [`Session::tick`] must be called next, if the session is live.
    pub fn deadline(&self) -> Option<Time> {
        if self.is_finished() {
            return None;
        }
        let idle = self.last_heard.0.saturating_add(self.config.idle_timeout_ms);
        let total = self.started.0.saturating_add(self.config.session_timeout_ms);
        Some(Time(idle.min(total)))
    }

    /// Checks the timeouts at `now`.
    pub fn tick<V: View + ?Sized>(&mut self, view: &V, now: Time) -> Vec<Output> {
        let mut out = Vec::new();
        if self.is_finished() {
            return out;
        }
        let idle = now.since(self.last_heard) >= self.config.idle_timeout_ms;
        let total = now.since(self.started) >= self.config.session_timeout_ms;
        if !(idle || total) {
            return out;
        }
        let ms = if idle {
            self.config.idle_timeout_ms
        } else {
            self.config.session_timeout_ms
        };
        self.finish(view, Some(Failure::Timeout(ms)), &mut out);
        out
    }

    /// Handles a received message given as bytes (decoded under this
    /// session's limits).
    pub fn handle_bytes<V: View + ?Sized>(&mut self, view: &V, bytes: &[u8], now: Time) -> Vec<Output> {
        let mut out = Vec::new();
        if self.is_finished() {
            return out;
        }
        match Message::decode_with(bytes, self.config.frame_bytes_max, self.config.ids_per_message_max) {
            Ok(message) => self.handle_sized(view, message, bytes.len(), now, &mut out),
            Err(e) => self.finish(view, Some(Failure::Decode(e)), &mut out),
        }
        out
    }

    /// Handles a received message.
    pub fn handle_message<V: View + ?Sized>(&mut self, view: &V, message: Message, now: Time) -> Vec<Output> {
        let mut out = Vec::new();
        if self.is_finished() {
            return out;
        }
        let len = message.encoded_len();
        if len > self.config.frame_bytes_max {
            let e = DecodeError::TooLarge {
                len,
                max: self.config.frame_bytes_max,
            };
            self.finish(view, Some(Failure::Decode(e)), &mut out);
            return out;
        }
        self.handle_sized(view, message, len, now, &mut out);
        out
    }

    fn handle_sized<V: View + ?Sized>(
        &mut self,
        view: &V,
        message: Message,
        len: usize,
        now: Time,
        out: &mut Vec<Output>,
    ) {
        self.stats.messages_received += 1;
        self.stats.bytes_received += len as u64;
        self.last_heard = now;
        let result = message
            .check(self.config.ids_per_message_max)
            .map_err(Failure::Decode)
            .and_then(|()| {
                if now.since(self.started) >= self.config.session_timeout_ms {
                    return Err(Failure::Timeout(self.config.session_timeout_ms));
                }
                let Message::V1(frame) = message;
                match self.role {
                    Role::Initiator => self.on_response(view, frame, out),
                    Role::Responder => self.on_request(view, frame, out),
                }
            });
        if let Err(failure) = result {
            self.finish(view, Some(failure), out);
        }
    }

    fn on_response<V: View + ?Sized>(&mut self, view: &V, frame: Frame, out: &mut Vec<Output>) -> Result<(), Failure> {
        if self.phase != Phase::AwaitResponse
            || frame.session != self.id
            || frame.request.checked_add(1) != Some(self.next_request)
        {
            return Err(Failure::Protocol("a response that answers no outstanding request"));
        }
        self.stats.round_trips += 1;
        let last = is_final(&frame);
        self.absorb(view, frame, out)?;
        if last && self.nothing_queued() {
            self.finish(view, None, out);
        } else if self.next_request >= self.config.round_trips_max {
            self.finish(view, Some(Failure::TooManyRoundTrips(self.config.round_trips_max)), out);
        } else {
            self.send_request(view, out);
        }
        Ok(())
    }

    fn on_request<V: View + ?Sized>(&mut self, view: &V, frame: Frame, out: &mut Vec<Output>) -> Result<(), Failure> {
        if self.phase != Phase::AwaitRequest || frame.request != self.next_request {
            return Err(Failure::Protocol("a request out of sequence"));
        }
        if frame.request >= self.config.round_trips_max {
            return Err(Failure::TooManyRoundTrips(self.config.round_trips_max));
        }
        if frame.request == 0 {
            let Some(Part::Hello(hello)) = frame.parts.first() else {
                return Err(Failure::Protocol("the first request does not start with Hello"));
            };
            let (id, now) = (SessionId(frame.session.0), self.last_heard);
            let mut fresh = Session::new(Role::Responder, self.config.clone(), hello.salt, now);
            fresh.started = self.started;
            fresh.stats = std::mem::take(&mut self.stats);
            if fresh.id != id {
                return Err(Failure::Protocol("the session id is not the salt's"));
            }
            *self = fresh;
            self.snapshot(view);
            self.control.push_front(Part::Hello(self.hello()));
        } else if frame.session != self.id {
            return Err(Failure::Protocol("a request of another session"));
        }
        self.stats.round_trips += 1;
        let initiator_has_more = frame.more;
        let request = frame.request;
        self.absorb(view, frame, out)?;
        let response = self.build(view, request);
        // The initiator stops after a response that needs no answer if it
        // had nothing more queued: absorbing items queues nothing.
        let last = is_final(response.frame()) && !initiator_has_more;
        self.next_request += 1;
        self.send(response, out);
        if last {
            self.finish(view, None, out);
        }
        Ok(())
    }

    fn hello(&self) -> Hello {
        Hello {
            salt: self.salt,
            frame_bytes_max: u32::try_from(self.config.frame_bytes_max).unwrap_or(u32::MAX),
            ids_per_message_max: u32::try_from(self.config.ids_per_message_max).unwrap_or(u32::MAX),
        }
    }

    fn send_request<V: View + ?Sized>(&mut self, view: &V, out: &mut Vec<Output>) {
        let message = self.build(view, self.next_request);
        self.next_request += 1;
        self.phase = Phase::AwaitResponse;
        self.send(message, out);
    }

    fn send(&mut self, message: Message, out: &mut Vec<Output>) {
        self.stats.messages_sent += 1;
        self.stats.bytes_sent += message.encoded_len() as u64;
        out.push(Output::Send(message));
    }

    fn nothing_queued(&self) -> bool {
        self.control.is_empty() && self.ops_out.is_empty() && self.envelopes_out.is_empty()
    }

    fn finish<V: View + ?Sized>(&mut self, view: &V, failure: Option<Failure>, out: &mut Vec<Output>) {
        self.release_ready(view, out);
        self.stats.items_dropped += self.held.len() as u64;
        self.held.clear();
        self.waiting.clear();
        self.held_bytes = 0;
        self.phase = Phase::Finished;
        out.push(match failure {
            None => Output::Done(self.stats.clone()),
            Some(f) => Output::Failed(f),
        });
    }

    // ---- snapshots -------------------------------------------------------

    fn snapshot<V: View + ?Sized>(&mut self, view: &V) {
        let ids = view.op_ids();
        let entries = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let t = self.key.tag(Domain::Op, id).0;
                Entry {
                    key: t,
                    value: t,
                    index: index32(i),
                }
            })
            .collect();
        self.ops = OpSet {
            entries: Entries::new(entries),
            ids,
        };
        let mut docs = Vec::new();
        let mut entries = Vec::new();
        let mut by_tag: BTreeMap<u64, Vec<DocKey>> = BTreeMap::new();
        for doc in view.docs() {
            let t = self.key.tag(Domain::Doc, &doc.0).0;
            by_tag.entry(t).or_default().push(doc);
            if !view.may_hold(&doc) {
                continue;
            }
            let heads = view.heads(&doc);
            if heads.is_empty() {
                continue;
            }
            entries.push(Entry {
                key: t,
                value: self.key.tag(Domain::State, &state_id(&doc, &heads)).0,
                index: index32(docs.len()),
            });
            docs.push(doc);
        }
        self.docs = DocSet {
            entries: Entries::new(entries),
            docs,
            by_tag,
        };
    }

    fn ensure_envelope_set<V: View + ?Sized>(&mut self, view: &V, doc: &DocKey) {
        let state = self.per_doc.entry(*doc).or_default();
        if state.envelopes.is_some() {
            return;
        }
        let ids = view.not_in_past_of(doc, &[]);
        let entries = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let t = self.key.tag(Domain::Envelope, id).0;
                Entry {
                    key: t,
                    value: t,
                    index: index32(i),
                }
            })
            .collect();
        state.envelopes = Some(EnvSet {
            entries: Entries::new(entries),
            ids,
        });
    }

    fn entries(&self, set: SetId) -> &Entries {
        static EMPTY: Entries = Entries::empty();
        match set {
            SetId::Ops => &self.ops.entries,
            SetId::Docs => &self.docs.entries,
            SetId::Doc(doc) => self
                .per_doc
                .get(&doc)
                .and_then(|s| s.envelopes.as_ref())
                .map(|e| &e.entries)
                .unwrap_or(&EMPTY),
        }
    }

    fn items_body(&self, set: SetId, span: Span<usize>) -> Body {
        let entries = self.entries(set).get(span);
        match set {
            SetId::Docs => Body::Docs(
                entries
                    .iter()
                    .map(|e| DocTag {
                        doc: Tag(e.key),
                        state: Tag(e.value),
                    })
                    .collect(),
            ),
            SetId::Ops | SetId::Doc(_) => Body::Tags(entries.iter().map(|e| Tag(e.key)).collect()),
        }
    }

    /// Queues the first ranges of a set: its ids if few, else fingerprints
    /// of about `leaf_items_max` items each.
    fn open_set(&mut self, set: SetId) {
        let entries = self.entries(set);
        let n = entries.len();
        let mut writer = RangeWriter::new(set);
        if n <= self.config.leaf_items_max {
            writer.push(Bound::START, Bound::END, self.items_body(set, 0..n));
        } else {
            let parts = n
                .div_ceil(self.config.leaf_items_max)
                .min(self.config.initial_ranges_max);
            let mut lower = Bound::START;
            for (upper, span) in entries.split(0..n, Bound::END, parts) {
                writer.push(lower, upper, Body::Fingerprint(entries.fingerprint(span)));
                lower = upper;
            }
        }
        self.control.extend(writer.finish());
    }

    // ---- receiving -------------------------------------------------------

    fn absorb<V: View + ?Sized>(&mut self, view: &V, frame: Frame, out: &mut Vec<Output>) -> Result<(), Failure> {
        let mut parts = frame.parts;
        if frame.request == 0 {
            match parts.first() {
                Some(Part::Hello(hello)) => {
                    let frame_max = hello.frame_bytes_max as usize;
                    let ids_max = hello.ids_per_message_max as usize;
                    if frame_max < FRAME_BYTES_MIN || ids_max < IDS_PER_MESSAGE_MIN {
                        return Err(Failure::Protocol("the peer's limits are below the minimums"));
                    }
                    self.peer_frame_bytes_max = frame_max;
                    self.peer_ids_per_message_max = ids_max;
                    parts.remove(0);
                }
                _ => return Err(Failure::Protocol("the first message does not start with Hello")),
            }
        }
        let (data, control): (Vec<Part>, Vec<Part>) = parts.into_iter().partition(Part::is_data);
        // Items first, ops before envelopes, so that what follows sees them.
        let (ops, envelopes): (Vec<Part>, Vec<Part>) = data.into_iter().partition(|p| matches!(p, Part::Ops(_)));
        for part in ops.into_iter().chain(envelopes) {
            match part {
                Part::Ops(items) => self.on_items(view, None, items, out)?,
                Part::Envelopes { doc, items } => self.on_items(view, Some(doc), items, out)?,
                _ => unreachable!("partitioned by is_data"),
            }
        }
        for part in control {
            match part {
                Part::Hello(_) => return Err(Failure::Protocol("Hello after the first message")),
                Part::Ranges(ranges) => self.on_ranges(view, ranges)?,
                Part::WantOps(tags) => {
                    for t in tags {
                        let span = self.ops.entries.with_key(t.0);
                        let ids: Vec<Id> = self
                            .ops
                            .entries
                            .get(span)
                            .iter()
                            .map(|e| self.ops.ids[e.index as usize])
                            .collect();
                        ids.into_iter().for_each(|id| self.queue_op(id));
                    }
                }
                Part::WantDocs(tags) => {
                    for t in tags {
                        let docs = self.docs.by_tag.get(&t.0).cloned().unwrap_or_default();
                        for doc in docs {
                            self.serve(view, &doc, &[], true);
                        }
                    }
                }
                Part::WantEnvelopes { doc, tags } => {
                    if !view.may_hold(&doc) {
                        continue;
                    }
                    self.ensure_envelope_set(view, &doc);
                    let set = self.per_doc[&doc].envelopes.as_ref().expect("just ensured");
                    let mut positions: Vec<u32> = tags
                        .iter()
                        .flat_map(|t| set.entries.get(set.entries.with_key(t.0)).iter().map(|e| e.index))
                        .collect();
                    positions.sort_unstable();
                    let ids: Vec<Id> = positions.iter().map(|p| set.ids[*p as usize]).collect();
                    self.queue_envelopes(view, doc, ids);
                }
                Part::Heads { doc, heads, reply } => self.on_heads(view, doc, heads, reply),
                Part::Ops(_) | Part::Envelopes { .. } => unreachable!("partitioned by is_data"),
            }
        }
        self.release_ready(view, out);
        Ok(())
    }

    fn on_ranges<V: View + ?Sized>(&mut self, view: &V, ranges: Ranges) -> Result<(), Failure> {
        let set = ranges.set;
        if let SetId::Doc(doc) = set {
            if !view.may_hold(&doc) {
                return Ok(());
            }
            self.ensure_envelope_set(view, &doc);
        }
        let leaf = self.config.leaf_items_max;
        let mut writer = RangeWriter::new(set);
        // Work is collected first: settling needs `&mut self`.
        let mut peer_lacks: Vec<Span<usize>> = Vec::new();
        let mut leaves: Vec<(Bound, Bound, Span<usize>, Body)> = Vec::new();
        let mut lower = ranges.lower;
        for range in ranges.ranges {
            let upper = range.upper;
            let entries = self.entries(set);
            let span = entries.span(lower, upper);
            match range.body {
                Body::Fingerprint(theirs) => {
                    if entries.fingerprint(span.clone()) == theirs {
                        // Equal: settled.
                    } else if theirs.count == 0 {
                        peer_lacks.push(span);
                    } else if span.len() <= leaf {
                        writer.push(lower, upper, self.items_body(set, span));
                    } else {
                        let parts = span.len().div_ceil(leaf).clamp(2, self.config.split_max);
                        let mut sub_lower = lower;
                        for (sub_upper, sub) in entries.split(span, upper, parts) {
                            writer.push(sub_lower, sub_upper, Body::Fingerprint(entries.fingerprint(sub)));
                            sub_lower = sub_upper;
                        }
                    }
                }
                body @ Body::Tags(_) if set != SetId::Docs => leaves.push((lower, upper, span, body)),
                body @ Body::Docs(_) if set == SetId::Docs => leaves.push((lower, upper, span, body)),
                _ => return Err(Failure::Protocol("an item list of the wrong kind for its set")),
            }
            lower = upper;
        }
        self.control.extend(writer.finish());
        for span in peer_lacks {
            self.peer_lacks(view, set, span);
        }
        for (lower, upper, span, body) in leaves {
            match body {
                Body::Tags(tags) => self.settle_tags(view, set, lower, upper, span, tags),
                Body::Docs(docs) => self.settle_docs(view, lower, upper, span, docs),
                Body::Fingerprint(_) => unreachable!("only lists are settled"),
            }
        }
        Ok(())
    }

    /// The peer holds nothing in `span` of `set`: send all of it.
    fn peer_lacks<V: View + ?Sized>(&mut self, view: &V, set: SetId, span: Span<usize>) {
        match set {
            SetId::Ops => {
                let ids: Vec<Id> = self
                    .ops
                    .entries
                    .get(span)
                    .iter()
                    .map(|e| self.ops.ids[e.index as usize])
                    .collect();
                ids.into_iter().for_each(|id| self.queue_op(id));
            }
            SetId::Docs => {
                let docs: Vec<DocKey> = self
                    .docs
                    .entries
                    .get(span)
                    .iter()
                    .map(|e| self.docs.docs[e.index as usize])
                    .collect();
                for doc in docs {
                    self.serve(view, &doc, &[], true);
                }
            }
            SetId::Doc(doc) => {
                let ids = self.envelope_ids(&doc, self.entries(set).get(span).iter().map(|e| e.index));
                self.queue_envelopes(view, doc, ids);
            }
        }
    }

    /// Settles a range of ops or envelopes whose tags the peer listed.
    fn settle_tags<V: View + ?Sized>(
        &mut self,
        view: &V,
        set: SetId,
        lower: Bound,
        upper: Bound,
        span: Span<usize>,
        tags: Vec<Tag>,
    ) {
        let theirs: BTreeSet<u64> = tags
            .iter()
            .map(|t| t.0)
            .filter(|t| lower.0 <= *t && *t < upper.0)
            .collect();
        let mine = self.entries(set).get(span);
        let mine_keys: BTreeSet<u64> = mine.iter().map(|e| e.key).collect();
        let lacking: Vec<u32> = mine
            .iter()
            .filter(|e| !theirs.contains(&e.key))
            .map(|e| e.index)
            .collect();
        let delivered = match set {
            SetId::Ops => &self.delivered_op_tags,
            _ => &self.delivered_envelope_tags,
        };
        let wanted: Vec<Tag> = theirs
            .iter()
            .filter(|t| !mine_keys.contains(*t) && !delivered.contains(*t))
            .map(|t| Tag(*t))
            .collect();
        match set {
            SetId::Ops => {
                let ids: Vec<Id> = lacking.iter().map(|i| self.ops.ids[*i as usize]).collect();
                ids.into_iter().for_each(|id| self.queue_op(id));
                for chunk in wanted.chunks(PART_IDS_MAX) {
                    self.control.push_back(Part::WantOps(chunk.to_vec()));
                }
            }
            SetId::Doc(doc) => {
                let ids = self.envelope_ids(&doc, lacking.into_iter());
                self.queue_envelopes(view, doc, ids);
                for chunk in wanted.chunks(PART_IDS_MAX - 1) {
                    self.control.push_back(Part::WantEnvelopes {
                        doc,
                        tags: chunk.to_vec(),
                    });
                }
            }
            SetId::Docs => unreachable!("documents are listed as DocTags"),
        }
    }

    /// Settles a range of documents whose tags and states the peer listed.
    fn settle_docs<V: View + ?Sized>(
        &mut self,
        view: &V,
        lower: Bound,
        upper: Bound,
        span: Span<usize>,
        docs: Vec<DocTag>,
    ) {
        let mut theirs: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for d in docs.iter().filter(|d| lower.0 <= d.doc.0 && d.doc.0 < upper.0) {
            theirs.entry(d.doc.0).or_default().push(d.state.0);
        }
        let mut lacked = Vec::new();
        let mut differ = Vec::new();
        for e in self.docs.entries.get(span) {
            let doc = self.docs.docs[e.index as usize];
            match theirs.get(&e.key) {
                None => lacked.push(doc),
                Some(states) if states.contains(&e.value) => {}
                Some(_) => differ.push(doc),
            }
        }
        let wanted: Vec<Tag> = theirs
            .keys()
            .filter(|t| !self.docs.by_tag.contains_key(*t))
            .map(|t| Tag(*t))
            .collect();
        for doc in lacked {
            self.serve(view, &doc, &[], true);
        }
        for doc in differ {
            self.send_heads(view, doc, false);
        }
        for chunk in wanted.chunks(PART_IDS_MAX) {
            self.control.push_back(Part::WantDocs(chunk.to_vec()));
        }
    }

    fn send_heads<V: View + ?Sized>(&mut self, view: &V, doc: DocKey, reply: bool) {
        let state = self.per_doc.entry(doc).or_default();
        if state.heads_sent {
            return;
        }
        state.heads_sent = true;
        let heads = view.heads(&doc);
        if heads.len() > HEADS_MAX {
            self.open_document(view, doc);
        } else {
            self.control.push_back(Part::Heads { doc, heads, reply });
        }
    }

    fn on_heads<V: View + ?Sized>(&mut self, view: &V, doc: DocKey, heads: Vec<Id>, reply: bool) {
        if !view.may_hold(&doc) {
            return;
        }
        self.stats.docs_heads_received += 1;
        if heads.iter().all(|h| view.has_envelope(h) || self.delivered.contains(h)) {
            // The peer's document is a subset of ours: send the rest.
            self.serve(view, &doc, &heads, false);
            return;
        }
        let heads_sent = self.per_doc.get(&doc).is_some_and(|s| s.heads_sent);
        if !reply && !heads_sent {
            self.send_heads(view, doc, true);
        } else if reply || self.role == Role::Initiator {
            // Neither side knows all the other's heads: both wrote.
            self.open_document(view, doc);
        }
    }

    /// Starts reconciling the envelope ids of one document.
    fn open_document<V: View + ?Sized>(&mut self, view: &V, doc: DocKey) {
        if self.per_doc.get(&doc).is_some_and(|s| s.envelopes.is_some()) {
            return;
        }
        self.ensure_envelope_set(view, &doc);
        self.stats.docs_ranged += 1;
        self.open_set(SetId::Doc(doc));
    }

    fn on_items<V: View + ?Sized>(
        &mut self,
        view: &V,
        doc: Option<DocKey>,
        items: Vec<WireItem>,
        out: &mut Vec<Output>,
    ) -> Result<(), Failure> {
        let mut ids: Vec<Id> = Vec::with_capacity(items.len());
        for item in items {
            let bytes = item.bytes.0;
            let id = id_of(&bytes);
            let mut deps = Vec::with_capacity(item.deps.len());
            for dep in &item.deps {
                deps.push(match dep {
                    Dep::Id(d) => *d,
                    Dep::Earlier(i) => *ids
                        .get(*i as usize)
                        .ok_or(Failure::Protocol("a dependency on a later item"))?,
                });
            }
            ids.push(id);
            let item = match doc {
                None => Item::Op(Op { id, deps, bytes }),
                Some(doc) => Item::Envelope(Envelope { id, doc, deps, bytes }),
            };
            self.receive(view, item, out);
        }
        Ok(())
    }

    fn holds<V: View + ?Sized>(&self, view: &V, op: bool, id: &Id) -> bool {
        self.delivered.contains(id) || if op { view.has_op(id) } else { view.has_envelope(id) }
    }

    fn missing_deps<V: View + ?Sized>(&self, view: &V, item: &Item) -> Vec<Id> {
        let op = matches!(item, Item::Op(_));
        item.deps()
            .iter()
            .filter(|d| !self.holds(view, op, d))
            .copied()
            .collect()
    }

    fn receive<V: View + ?Sized>(&mut self, view: &V, item: Item, out: &mut Vec<Output>) {
        let id = *item.id();
        if self.held.contains_key(&id) || self.holds(view, matches!(item, Item::Op(_)), &id) {
            self.stats.items_redundant += 1;
            return;
        }
        let missing = self.missing_deps(view, &item);
        if missing.is_empty() {
            self.deliver(view, item, out);
        } else if self.held_bytes + item.bytes().len() <= self.config.holdback_bytes_max {
            for dep in missing {
                self.waiting.entry(dep).or_default().push(id);
            }
            self.held_bytes += item.bytes().len();
            self.held.insert(id, item);
        } else {
            self.stats.items_dropped += 1;
        }
    }

    /// Delivers `item` and then whatever was waiting only for it.
    fn deliver<V: View + ?Sized>(&mut self, view: &V, item: Item, out: &mut Vec<Output>) {
        let mut work = vec![item];
        while let Some(item) = work.pop() {
            let id = *item.id();
            self.delivered.insert(id);
            match &item {
                Item::Op(op) => {
                    self.delivered_op_tags.insert(self.key.tag(Domain::Op, &id).0);
                    self.stats.ops_delivered += 1;
                    self.stats.item_bytes_delivered += op.bytes.len() as u64;
                }
                Item::Envelope(env) => {
                    self.delivered_envelope_tags
                        .insert(self.key.tag(Domain::Envelope, &id).0);
                    self.stats.envelopes_delivered += 1;
                    self.stats.item_bytes_delivered += env.bytes.len() as u64;
                }
            }
            out.push(Output::Deliver(item));
            for waiter in self.waiting.remove(&id).unwrap_or_default() {
                let ready = self
                    .held
                    .get(&waiter)
                    .is_some_and(|h| self.missing_deps(view, h).is_empty());
                if ready && let Some(h) = self.held.remove(&waiter) {
                    self.held_bytes -= h.bytes().len();
                    work.push(h);
                }
            }
        }
    }

    /// Delivers held items whose dependencies reached the view otherwise.
    fn release_ready<V: View + ?Sized>(&mut self, view: &V, out: &mut Vec<Output>) {
        if self.held.is_empty() {
            return;
        }
        let ready: Vec<Id> = self
            .held
            .iter()
            .filter(|(_, item)| self.missing_deps(view, item).is_empty())
            .map(|(id, _)| *id)
            .collect();
        for id in ready {
            if let Some(item) = self.held.remove(&id) {
                self.held_bytes -= item.bytes().len();
                self.deliver(view, item, out);
            }
        }
    }

    // ---- sending ---------------------------------------------------------

    fn envelope_ids(&self, doc: &DocKey, positions: impl Iterator<Item = u32>) -> Vec<Id> {
        let Some(set) = self.per_doc.get(doc).and_then(|s| s.envelopes.as_ref()) else {
            return Vec::new();
        };
        let mut positions: Vec<u32> = positions.collect();
        positions.sort_unstable(); // the snapshot is in dependency order
        positions.iter().map(|p| set.ids[*p as usize]).collect()
    }

    /// Queues the envelopes of `doc` outside the causal past of `heads`.
    fn serve<V: View + ?Sized>(&mut self, view: &V, doc: &DocKey, heads: &[Id], whole: bool) {
        if !view.may_hold(doc) {
            return;
        }
        if whole {
            self.stats.docs_sent_whole += 1;
        }
        let ids = view.not_in_past_of(doc, heads);
        self.queue_envelopes(view, *doc, ids);
    }

    fn queue_envelopes<V: View + ?Sized>(&mut self, view: &V, doc: DocKey, ids: Vec<Id>) {
        if !view.may_hold(&doc) {
            return;
        }
        for id in ids {
            if self.queued.insert(id) {
                self.envelopes_out.entry(doc).or_default().push_back(id);
            }
        }
    }

    fn queue_op(&mut self, id: Id) {
        if self.queued.insert(id) {
            self.ops_out.insert(id);
            self.ops_order_stale = true;
        }
    }

    /// The next message: queued control parts, then ops, then envelopes,
    /// within the frame and id limits of both sides.
    fn build<V: View + ?Sized>(&mut self, view: &V, request: u32) -> Message {
        let frame_max = self.config.frame_bytes_max.min(self.peer_frame_bytes_max);
        let ids_max = self.config.ids_per_message_max.min(self.peer_ids_per_message_max);
        let mut fill = Fill {
            parts: Vec::new(),
            budget: frame_max - FRAME_OVERHEAD_BYTES,
            bytes: 0,
            ids_max,
            ids: 0,
        };
        while let Some(part) = self.control.front() {
            let (bytes, ids) = (part_len(part), part.id_count());
            if !fill.parts.is_empty() && !fill.fits(bytes, ids) {
                break;
            }
            fill.bytes += bytes;
            fill.ids += ids;
            fill.parts.push(self.control.pop_front().expect("front exists"));
        }
        self.fill_ops(view, &mut fill);
        if self.ops_out.is_empty() {
            self.fill_envelopes(view, &mut fill);
        }
        let more = !self.nothing_queued();
        Message::v1(Frame {
            session: self.id,
            request,
            more,
            parts: fill.parts,
        })
    }

    fn fill_ops<V: View + ?Sized>(&mut self, view: &V, fill: &mut Fill) {
        if self.ops_out.is_empty() {
            return;
        }
        if self.ops_order_stale {
            self.ops_order = dependency_order(&self.ops_out, |id| view.op(id).map(|op| op.deps).unwrap_or_default());
            self.ops_order_stale = false;
        }
        let mut part = PartFill::new(1 + 5);
        while let Some(id) = self.ops_order.front().copied() {
            let Some(op) = view.op(&id) else {
                self.ops_order.pop_front();
                self.ops_out.remove(&id);
                continue;
            };
            match part.try_add(fill, id, &op.deps, op.bytes) {
                Added::Yes(len) => {
                    self.stats.ops_sent += 1;
                    self.stats.item_bytes_sent += len as u64;
                }
                Added::Never => self.stats.items_unsendable += 1,
                Added::Full => break,
            }
            self.ops_order.pop_front();
            self.ops_out.remove(&id);
        }
        if let Some((bytes, ids, items)) = part.finish() {
            fill.bytes += bytes;
            fill.ids += ids;
            fill.parts.push(Part::Ops(items));
        }
    }

    fn fill_envelopes<V: View + ?Sized>(&mut self, view: &V, fill: &mut Fill) {
        let docs: Vec<DocKey> = self.envelopes_out.keys().copied().collect();
        for doc in docs {
            if !view.may_hold(&doc) {
                self.envelopes_out.remove(&doc);
                continue;
            }
            let mut part = PartFill::new(1 + 48 + 5);
            part.ids = 1;
            if !fill.fits(part.bytes, part.ids + 1) {
                break;
            }
            let queue = self.envelopes_out.get_mut(&doc).expect("listed above");
            let mut full = false;
            while let Some(id) = queue.front().copied() {
                let env = view.envelope(&id).filter(|e| e.doc == doc);
                if let Some(env) = env {
                    match part.try_add(fill, id, &env.deps, env.bytes) {
                        Added::Yes(len) => {
                            self.stats.envelopes_sent += 1;
                            self.stats.item_bytes_sent += len as u64;
                        }
                        Added::Never => self.stats.items_unsendable += 1,
                        Added::Full => {
                            full = true;
                            break;
                        }
                    }
                }
                queue.pop_front();
            }
            if queue.is_empty() {
                self.envelopes_out.remove(&doc);
            }
            if let Some((bytes, ids, items)) = part.finish() {
                fill.bytes += bytes;
                fill.ids += ids;
                fill.parts.push(Part::Envelopes { doc, items });
            }
            if full {
                break;
            }
        }
    }
}

/// A message being filled.
struct Fill {
    parts: Vec<Part>,
    budget: usize,
    bytes: usize,
    ids_max: usize,
    ids: usize,
}

impl Fill {
    fn fits(&self, bytes: usize, ids: usize) -> bool {
        self.bytes + bytes <= self.budget && self.ids + ids <= self.ids_max
    }
}

/// An `Ops` or `Envelopes` part being filled.
struct PartFill {
    items: Vec<WireItem>,
    index: BTreeMap<Id, u32>,
    bytes: usize,
    ids: usize,
    overhead: usize,
}

enum Added {
    Yes(usize),
    /// Too large for any message.
    Never,
    /// Does not fit in this one.
    Full,
}

impl PartFill {
    fn new(overhead: usize) -> PartFill {
        PartFill {
            items: Vec::new(),
            index: BTreeMap::new(),
            bytes: overhead,
            ids: 0,
            overhead,
        }
    }

    fn try_add(&mut self, fill: &Fill, id: Id, deps: &[Id], bytes: Vec<u8>) -> Added {
        let len = bytes.len();
        if len > ITEM_BYTES_MAX || deps.len() > DEPS_MAX {
            return Added::Never;
        }
        let item = WireItem {
            deps: deps
                .iter()
                .map(|d| self.index.get(d).map_or(Dep::Id(*d), |i| Dep::Earlier(*i)))
                .collect(),
            bytes: crate::message::Bytes(bytes),
        };
        let item_bytes = postcard::experimental::serialized_size(&item).expect("sizing plain data cannot fail");
        let item_ids = 1 + deps.len();
        if self.overhead + item_bytes > fill.budget {
            return Added::Never;
        }
        if !fill.fits(self.bytes + item_bytes, self.ids + item_ids) {
            return Added::Full;
        }
        self.index.insert(id, index32(self.items.len()));
        self.items.push(item);
        self.bytes += item_bytes;
        self.ids += item_ids;
        Added::Yes(len)
    }

    fn finish(self) -> Option<(usize, usize, Vec<WireItem>)> {
        (!self.items.is_empty()).then_some((self.bytes, self.ids, self.items))
    }
}

fn part_len(part: &Part) -> usize {
    postcard::experimental::serialized_size(part).expect("sizing plain data cannot fail")
}

/// Whether a message needs no answer: nothing more queued behind it and
/// no part that asks for one.
fn is_final(frame: &Frame) -> bool {
    !frame.more && frame.parts.iter().all(|p| !p.needs_answer())
}

fn index32(i: usize) -> u32 {
    u32::try_from(i).expect("a set holds fewer than 2^32 items")
}

/// `ids` ordered so that each comes after those of its dependencies that
/// are also in `ids` (Kahn's algorithm, smallest id first among the ready).
fn dependency_order(ids: &BTreeSet<Id>, deps_of: impl Fn(&Id) -> Vec<Id>) -> VecDeque<Id> {
    let mut waiting: BTreeMap<Id, usize> = BTreeMap::new();
    let mut dependants: BTreeMap<Id, Vec<Id>> = BTreeMap::new();
    let mut ready: BTreeSet<Id> = BTreeSet::new();
    for id in ids {
        let deps: BTreeSet<Id> = deps_of(id).into_iter().filter(|d| ids.contains(d) && d != id).collect();
        for d in &deps {
            dependants.entry(*d).or_default().push(*id);
        }
        if deps.is_empty() {
            ready.insert(*id);
        } else {
            waiting.insert(*id, deps.len());
        }
    }
    let mut order = VecDeque::with_capacity(ids.len());
    while let Some(id) = ready.pop_first() {
        order.push_back(id);
        for next in dependants.remove(&id).unwrap_or_default() {
            if let Some(n) = waiting.get_mut(&next) {
                *n -= 1;
                if *n == 0 {
                    waiting.remove(&next);
                    ready.insert(next);
                }
            }
        }
    }
    // Only a cycle (impossible with hashes) is left; send it anyway.
    order.extend(waiting.into_keys());
    order
}

#[cfg(test)]
mod tests;
