//! The wire format of a sync session, version 1.
//!
//! A message is the postcard encoding of [`Message`]. Its first byte is the
//! variant index, which is the version (`0` = version 1); a node that does
//! not know a version refuses the message with
//! [`DecodeError::UnsupportedVersion`] and the session fails. Each message
//! carries the session id, the request id (the initiator numbers its
//! requests 0, 1, 2…; a response repeats the id of its request), whether
//! the sender has more queued, and a list of [`Part`]s.
//!
//! Layout notes: ids are 32 raw bytes, document keys 48, tags 8
//! (big-endian), range bounds are length-prefixed prefixes of up to 8 bytes
//! ([`Bound`]), integers are varints, byte strings are length-prefixed.
//! Within one `Ops` or `Envelopes` part a dependency on an earlier item of
//! the same part is sent as its index ([`Dep::Earlier`]) instead of its id.
//!
//! Decoding checks the limits below and never panics, whatever the input.

use crate::range::{Bound, Fingerprint, Tag};
use crate::{DocKey, Id};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Largest message a node accepts by default, in bytes.
pub const FRAME_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Smallest frame limit a node may announce, in bytes: every control part
/// fits in it.
pub const FRAME_BYTES_MIN: usize = 64 * 1024;
/// Most ids, tags and ranges one message may carry by default (each id,
/// tag, range, item and dependency counts one).
pub const IDS_PER_MESSAGE_MAX: usize = 65_536;
/// Smallest per-message id limit a node may announce: every control part
/// fits in it.
pub const IDS_PER_MESSAGE_MIN: usize = 1_024;
/// Most heads one `Heads` part may list. A document with more is settled
/// by reconciling its envelope ids instead.
pub const HEADS_MAX: usize = 256;
/// Most dependencies one item may name.
pub const DEPS_MAX: usize = 256;
/// Largest item (op or envelope) sent, in bytes; the same bound as the
/// largest envelope a node accepts.
pub const ITEM_BYTES_MAX: usize = 4 * 1024 * 1024;

/// A sync message, tagged by wire version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Message {
    /// Version 1.
    V1(Frame),
}

/// A session id: chosen by the initiator (the first 8 bytes of its salt),
/// so the node can route messages to sessions.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SessionId(pub [u8; 8]);

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", crate::short_hex(&self.0))
    }
}

/// The body of a version-1 message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    /// The session this message belongs to.
    pub session: SessionId,
    /// The request id: the initiator's request counter, repeated by the
    /// response.
    pub request: u32,
    /// The sender has queued parts that did not fit.
    pub more: bool,
    /// The content.
    pub parts: Vec<Part>,
}

/// One piece of a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Part {
    /// First part of the first request and of its response.
    Hello(Hello),
    /// Ranges of one set, as fingerprints or item lists.
    Ranges(Ranges),
    /// "Send me the ops with these tags."
    WantOps(Vec<Tag>),
    /// "I hold nothing of the documents with these tags: send them whole."
    WantDocs(Vec<Tag>),
    /// "Send me these envelopes of this document."
    WantEnvelopes {
        /// The document.
        doc: DocKey,
        /// The envelope tags.
        tags: Vec<Tag>,
    },
    /// "My heads of this document." With `reply` set: an answer to the
    /// other side's heads, sent because they were not all known here.
    Heads {
        /// The document.
        doc: DocKey,
        /// The sender's heads of it (empty if it holds none).
        heads: Vec<Id>,
        /// Whether this answers the other side's `Heads`.
        reply: bool,
    },
    /// Authorisation ops, dependencies first.
    Ops(Vec<WireItem>),
    /// Envelopes of one document, dependencies first.
    Envelopes {
        /// The document.
        doc: DocKey,
        /// The envelopes.
        items: Vec<WireItem>,
    },
}

impl Part {
    /// Whether the part only carries items (needs no answer).
    pub fn is_data(&self) -> bool {
        matches!(self, Part::Ops(_) | Part::Envelopes { .. })
    }

    /// Whether the receiver must process it and may answer it (everything
    /// but items and `Hello`).
    pub fn needs_answer(&self) -> bool {
        !matches!(self, Part::Hello(_) | Part::Ops(_) | Part::Envelopes { .. })
    }

    /// How many ids, tags, ranges, items and dependencies it carries.
    pub fn id_count(&self) -> usize {
        fn items(items: &[WireItem]) -> usize {
            items.iter().map(|i| 1 + i.deps.len()).sum()
        }
        match self {
            Part::Hello(_) => 0,
            Part::Ranges(r) => r
                .ranges
                .iter()
                .map(|range| {
                    1 + match &range.body {
                        Body::Fingerprint(_) => 0,
                        Body::Tags(t) => t.len(),
                        Body::Docs(d) => d.len(),
                    }
                })
                .sum(),
            Part::WantOps(t) | Part::WantDocs(t) => t.len(),
            Part::WantEnvelopes { tags, .. } => 1 + tags.len(),
            Part::Heads { heads, .. } => 1 + heads.len(),
            Part::Ops(i) => items(i),
            Part::Envelopes { items: i, .. } => 1 + items(i),
        }
    }
}

/// What each side announces in its first message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The initiator's salt for this session's tags (repeated by the
    /// responder).
    pub salt: [u8; 16],
    /// The largest message the sender accepts, in bytes.
    pub frame_bytes_max: u32,
    /// The most ids per message the sender accepts.
    pub ids_per_message_max: u32,
}

/// Which set a range belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SetId {
    /// The authorisation ops.
    Ops,
    /// The documents, keyed by document tag, valued by state tag.
    Docs,
    /// The envelopes of one document (only when both sides wrote to it).
    Doc(DocKey),
}

/// Consecutive ranges of one set: the first starts at `lower`, each next
/// one at the previous one's upper bound.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ranges {
    /// The set.
    pub set: SetId,
    /// Where the first range starts.
    pub lower: Bound,
    /// The ranges, ascending.
    pub ranges: Vec<Range>,
}

/// One range: its upper bound and what the sender holds in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// Exclusive upper bound.
    pub upper: Bound,
    /// The sender's summary or items of the range.
    pub body: Body,
}

/// What the sender holds in a range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// A summary; the receiver answers if its own differs.
    Fingerprint(Fingerprint),
    /// Every item's tag (ops and envelope sets), ascending.
    Tags(Vec<Tag>),
    /// Every document's tag and state tag (the document set), ascending.
    Docs(Vec<DocTag>),
}

/// A document in a range list: the tag of its key and of its state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DocTag {
    /// Tag of the document key.
    pub doc: Tag,
    /// Tag of the document's state id.
    pub state: Tag,
}

/// An op or envelope on the wire: its dependencies and bytes. Its id is
/// blake3 of the bytes, computed by the receiver.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireItem {
    /// Its dependencies.
    pub deps: Vec<Dep>,
    /// Its encoding.
    pub bytes: Bytes,
}

/// A dependency of an item on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dep {
    /// By id.
    Id(Id),
    /// The item at this index earlier in the same part.
    Earlier(u32),
}

/// A byte string, encoded as one length-prefixed run (not element by
/// element).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Bytes(pub Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes({} bytes)", self.0.len())
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Bytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
                Ok(Bytes(v))
            }
        }
        d.deserialize_byte_buf(Visit)
    }
}

/// Why bytes are not a valid message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Longer than the frame limit.
    #[error("message of {len} bytes exceeds the frame limit of {max} bytes")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Another wire version (the first byte); the peer runs another release.
    #[error("sync message version {0} is not supported by this node (version 1): upgrade one of the nodes")]
    UnsupportedVersion(u8),
    /// Not a valid encoding.
    #[error("malformed sync message: {0}")]
    Malformed(String),
    /// Bytes left over after the message.
    #[error("malformed sync message: {0} bytes after its end")]
    TrailingBytes(usize),
    /// More ids than the per-message limit.
    #[error("message carries {count} ids, more than the limit of {max}")]
    TooManyIds {
        /// How many it carries.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A field is over its limit or inconsistent.
    #[error("sync message exceeds a limit: {0}")]
    Limit(&'static str),
}

impl Message {
    /// A version-1 message.
    pub fn v1(frame: Frame) -> Message {
        Message::V1(frame)
    }

    /// The version-1 body.
    pub fn frame(&self) -> &Frame {
        match self {
            Message::V1(f) => f,
        }
    }

    /// The session it belongs to.
    pub fn session(&self) -> SessionId {
        self.frame().session
    }

    /// Its encoding.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("serialising plain data into a Vec cannot fail")
    }

    /// The length of its encoding, in bytes.
    pub fn encoded_len(&self) -> usize {
        postcard::experimental::serialized_size(self).expect("sizing plain data cannot fail")
    }

    /// Decodes a message under the default limits.
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        Message::decode_with(bytes, FRAME_BYTES_MAX, IDS_PER_MESSAGE_MAX)
    }

    /// Decodes a message, refusing more than `frame_bytes_max` bytes or
    /// `ids_per_message_max` ids, and checking every field's limit.
    pub fn decode_with(
        bytes: &[u8],
        frame_bytes_max: usize,
        ids_per_message_max: usize,
    ) -> Result<Message, DecodeError> {
        if bytes.len() > frame_bytes_max {
            return Err(DecodeError::TooLarge {
                len: bytes.len(),
                max: frame_bytes_max,
            });
        }
        match bytes.first() {
            None => return Err(DecodeError::Malformed("empty".into())),
            Some(0) => {}
            Some(v) => return Err(DecodeError::UnsupportedVersion(v.saturating_add(1))),
        }
        let (message, rest): (Message, &[u8]) =
            postcard::take_from_bytes(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(DecodeError::TrailingBytes(rest.len()));
        }
        message.check(ids_per_message_max)?;
        Ok(message)
    }

    /// Checks the limits of every field.
    pub fn check(&self, ids_per_message_max: usize) -> Result<(), DecodeError> {
        let mut count = 0usize;
        for part in &self.frame().parts {
            count = count.saturating_add(part.id_count());
            match part {
                Part::Heads { heads, .. } if heads.len() > HEADS_MAX => {
                    return Err(DecodeError::Limit("more heads than HEADS_MAX"));
                }
                Part::Ops(items) | Part::Envelopes { items, .. } => check_items(items)?,
                Part::Ranges(r) => {
                    let mut lower = r.lower;
                    for range in &r.ranges {
                        if range.upper <= lower {
                            return Err(DecodeError::Limit("range bounds not ascending"));
                        }
                        lower = range.upper;
                    }
                }
                _ => {}
            }
        }
        if count > ids_per_message_max {
            return Err(DecodeError::TooManyIds {
                count,
                max: ids_per_message_max,
            });
        }
        Ok(())
    }
}

fn check_items(items: &[WireItem]) -> Result<(), DecodeError> {
    for (i, item) in items.iter().enumerate() {
        if item.deps.len() > DEPS_MAX {
            return Err(DecodeError::Limit("more dependencies than DEPS_MAX"));
        }
        if item.bytes.0.len() > ITEM_BYTES_MAX {
            return Err(DecodeError::Limit("item larger than ITEM_BYTES_MAX"));
        }
        for dep in &item.deps {
            if let Dep::Earlier(j) = dep
                && *j as usize >= i
            {
                return Err(DecodeError::Limit("dependency on a later item of the part"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tag() -> impl Strategy<Value = Tag> {
        any::<u64>().prop_map(Tag)
    }

    fn doc() -> impl Strategy<Value = DocKey> {
        (any::<[u8; 32]>(), any::<[u8; 16]>()).prop_map(|(s, d)| DocKey::new(s, d))
    }

    fn item() -> impl Strategy<Value = WireItem> {
        (
            proptest::collection::vec(
                prop_oneof![any::<[u8; 32]>().prop_map(Dep::Id), (0u32..4).prop_map(Dep::Earlier)],
                0..3,
            ),
            proptest::collection::vec(any::<u8>(), 0..40),
        )
            .prop_map(|(deps, bytes)| WireItem {
                deps,
                bytes: Bytes(bytes),
            })
    }

    fn body() -> impl Strategy<Value = Body> {
        prop_oneof![
            (any::<u32>(), tag()).prop_map(|(count, xor)| Body::Fingerprint(Fingerprint { count, xor })),
            proptest::collection::vec(tag(), 0..5).prop_map(Body::Tags),
            proptest::collection::vec((tag(), tag()).prop_map(|(doc, state)| DocTag { doc, state }), 0..5)
                .prop_map(Body::Docs),
        ]
    }

    pub(crate) fn part() -> impl Strategy<Value = Part> {
        prop_oneof![
            (any::<[u8; 16]>(), any::<u32>(), any::<u32>()).prop_map(|(salt, f, i)| Part::Hello(Hello {
                salt,
                frame_bytes_max: f,
                ids_per_message_max: i
            })),
            (
                prop_oneof![Just(SetId::Ops), Just(SetId::Docs), doc().prop_map(SetId::Doc)],
                any::<u64>(),
                proptest::collection::vec((any::<u64>(), body()), 0..4)
            )
                .prop_map(|(set, lower, ranges)| Part::Ranges(Ranges {
                    set,
                    lower: Bound(lower),
                    ranges: ranges
                        .into_iter()
                        .map(|(u, body)| Range { upper: Bound(u), body })
                        .collect()
                })),
            proptest::collection::vec(tag(), 0..4).prop_map(Part::WantOps),
            proptest::collection::vec(tag(), 0..4).prop_map(Part::WantDocs),
            (doc(), proptest::collection::vec(tag(), 0..4)).prop_map(|(doc, tags)| Part::WantEnvelopes { doc, tags }),
            (doc(), proptest::collection::vec(any::<[u8; 32]>(), 0..3), any::<bool>())
                .prop_map(|(doc, heads, reply)| Part::Heads { doc, heads, reply }),
            proptest::collection::vec(item(), 0..3).prop_map(Part::Ops),
            (doc(), proptest::collection::vec(item(), 0..3)).prop_map(|(doc, items)| Part::Envelopes { doc, items }),
        ]
    }

    pub(crate) fn message() -> impl Strategy<Value = Message> {
        (
            any::<[u8; 8]>(),
            any::<u32>(),
            any::<bool>(),
            proptest::collection::vec(part(), 0..6),
        )
            .prop_map(|(s, request, more, parts)| {
                Message::v1(Frame {
                    session: SessionId(s),
                    request,
                    more,
                    parts,
                })
            })
    }

    #[test]
    fn version_and_limits_are_enforced() {
        let m = Message::v1(Frame {
            session: SessionId([1; 8]),
            request: 3,
            more: false,
            parts: vec![Part::WantOps(vec![Tag(1); 10])],
        });
        let bytes = m.encode();
        assert_eq!(bytes.len(), m.encoded_len());
        assert_eq!(Message::decode(&bytes), Ok(m.clone()));
        let mut v2 = bytes.clone();
        v2[0] = 1;
        assert_eq!(Message::decode(&v2), Err(DecodeError::UnsupportedVersion(2)));
        assert!(matches!(
            Message::decode_with(&bytes, 5, 100),
            Err(DecodeError::TooLarge { .. })
        ));
        assert!(matches!(
            Message::decode_with(&bytes, 1000, 9),
            Err(DecodeError::TooManyIds { count: 10, max: 9 })
        ));
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(Message::decode(&long), Err(DecodeError::TrailingBytes(1)));
        assert!(Message::decode(&[]).is_err());
    }

    #[test]
    fn forward_dependencies_are_refused() {
        let item = |deps| WireItem {
            deps,
            bytes: Bytes(vec![1]),
        };
        let m = Message::v1(Frame {
            session: SessionId([0; 8]),
            request: 0,
            more: false,
            parts: vec![Part::Ops(vec![item(vec![]), item(vec![Dep::Earlier(1)])])],
        });
        assert_eq!(
            Message::decode(&m.encode()),
            Err(DecodeError::Limit("dependency on a later item of the part"))
        );
    }

    proptest! {
        #[test]
        fn round_trips(m in message()) {
            let bytes = m.encode();
            prop_assert_eq!(bytes.len(), m.encoded_len());
            match Message::decode(&bytes) {
                Ok(back) => prop_assert_eq!(back, m),
                // Random messages may break a semantic limit; never the codec.
                Err(DecodeError::Limit(_)) => {}
                Err(e) => prop_assert!(false, "{e}"),
            }
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Message::decode(&data);
            let mut v1 = data.clone();
            if let Some(b) = v1.first_mut() { *b = 0; }
            let _ = Message::decode(&v1);
        }

        #[test]
        fn mutated_messages_never_panic(m in message(), pos in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
            let mut bytes = m.encode();
            let i = pos.index(bytes.len());
            bytes[i] = byte;
            let _ = Message::decode(&bytes);
            let n = cut.index(bytes.len() + 1);
            let _ = Message::decode(&bytes[..n]);
        }
    }
}
