//! Range-based set reconciliation (after Aljoscha Meyer, "Range-Based Set
//! Reconciliation", 2022), the way this crate uses it.
//!
//! # Items, tags and ranges
//! Every reconciled set is a sorted list of 64-bit **tags**: keyed blake3
//! hashes, truncated to 8 bytes, of the items' ids under a key derived from
//! the session's salt ([`TagKey`]). Tags are uniformly spread, so ranges
//! split evenly, and, being keyed by a salt nobody knew when the items were
//! made, nobody can craft items whose tags or fingerprints collide; an
//! accidental collision (2⁻⁶⁴ per comparison) only delays an item to a
//! later session, which has another salt.
//!
//! A **range** `[lower, upper)` of tag values is sent as a
//! [`Fingerprint`] (the number of items in it and the XOR of their value
//! tags) or, when small, as the list of its tags. A side receiving a
//! fingerprint compares it with its own for the same range: equal ranges
//! are done; otherwise it answers with its items (if at most
//! `leaf_items_max`) or with the fingerprints of `k` sub-ranges of equal
//! item counts. A side receiving a list knows both sides' items in the range
//! and settles it: it sends what the other lacks and asks for what it
//! lacks. Each exchange divides the differing ranges by `k`, so finding `d`
//! differences among `n` items takes about `log_k(n / leaf)` round trips and
//! `O(d · k · log_k n)` fingerprints.
//!
//! Range bounds are sent as the shortest big-endian prefix that separates
//! two neighbouring tags (usually one or two bytes); [`Bound::END`] closes
//! the last range.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::ops::Range as Span;

/// A 64-bit keyed hash of an item (or of a document's state).
///
/// Values are at most `u64::MAX - 1`, so [`Bound::END`] is above all of them.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Tag(pub u64);

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({:016x})", self.0)
    }
}

// Eight big-endian bytes: tags are uniformly random, so a varint would
// usually take ten.
impl Serialize for Tag {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.to_be_bytes().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <[u8; 8]>::deserialize(d).map(|b| Tag(u64::from_be_bytes(b)))
    }
}

/// What a tag is computed over; part of the hashed input, so the tag of an
/// op never equals the tag of an envelope with the same id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Domain {
    /// An authorisation op id.
    Op = 1,
    /// A document key.
    Doc = 2,
    /// A document state id.
    State = 3,
    /// An envelope id.
    Envelope = 4,
}

/// The key of a session's tags, derived from its salt.
#[derive(Clone)]
pub struct TagKey([u8; 32]);

impl fmt::Debug for TagKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TagKey(..)")
    }
}

impl TagKey {
    /// The key for a session salt.
    pub fn new(salt: &[u8; 16]) -> TagKey {
        let mut material = [0u8; 16];
        material.copy_from_slice(salt);
        TagKey(blake3::derive_key("outpost-sync 1 range tag", &material))
    }

    /// The tag of `data` in `domain`.
    pub fn tag(&self, domain: Domain, data: &[u8]) -> Tag {
        let mut h = blake3::Hasher::new_keyed(&self.0);
        h.update(&[domain as u8]);
        h.update(data);
        let mut b = [0u8; 8];
        b.copy_from_slice(&h.finalize().as_bytes()[..8]);
        Tag(u64::from_be_bytes(b).min(u64::MAX - 1))
    }
}

/// One end of a range of tag values: ranges are `[lower, upper)`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Bound(pub u64);

impl Bound {
    /// Below every tag.
    pub const START: Bound = Bound(0);
    /// Above every tag.
    pub const END: Bound = Bound(u64::MAX);

    /// The bound with the fewest significant bytes in `(below, at]`: the
    /// shortest prefix that separates two neighbouring tags.
    pub fn between(below: u64, at: u64) -> Bound {
        debug_assert!(below < at);
        let differ = (below ^ at).leading_zeros() / 8; // first differing byte
        let keep = (differ + 1) * 8;
        let mask = if keep >= 64 { u64::MAX } else { !(u64::MAX >> keep) };
        Bound(at & mask)
    }
}

impl fmt::Debug for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Bound::END {
            f.write_str("Bound(END)")
        } else {
            write!(f, "Bound({:016x})", self.0)
        }
    }
}

// The big-endian bytes without trailing zero bytes, length-prefixed.
impl Serialize for Bound {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bytes = self.0.to_be_bytes();
        let len = 8 - (self.0.trailing_zeros() / 8).min(8) as usize;
        s.serialize_bytes(&bytes[..len])
    }
}

impl<'de> Deserialize<'de> for Bound {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Bound;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("at most 8 bytes of a range bound")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bound, E> {
                if v.len() > 8 {
                    return Err(E::invalid_length(v.len(), &self));
                }
                let mut b = [0u8; 8];
                b[..v.len()].copy_from_slice(v);
                Ok(Bound(u64::from_be_bytes(b)))
            }
        }
        d.deserialize_bytes(Visit)
    }
}

/// The summary of the items of a range: their number and the XOR of their
/// value tags.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Fingerprint {
    /// How many items the range holds.
    pub count: u32,
    /// XOR of their value tags.
    pub xor: Tag,
}

/// One item of a reconciled set.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct Entry {
    /// Where the item sorts: its tag (for documents, the document's tag).
    pub key: u64,
    /// What the fingerprint covers: the key again for ops and envelopes,
    /// the state's tag for documents.
    pub value: u64,
    /// The item's position in the caller's table.
    pub index: u32,
}

/// A set of entries sorted by key, with range queries.
#[derive(Clone, Debug, Default)]
pub struct Entries {
    items: Vec<Entry>,
}

impl Entries {
    /// The empty set.
    pub const fn empty() -> Entries {
        Entries { items: Vec::new() }
    }

    /// Sorts `items` into a set.
    pub fn new(mut items: Vec<Entry>) -> Entries {
        items.sort_unstable();
        Entries { items }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The entries at positions `span`.
    pub fn get(&self, span: Span<usize>) -> &[Entry] {
        &self.items[span]
    }

    /// The positions of the entries with keys in `[lower, upper)`.
    pub fn span(&self, lower: Bound, upper: Bound) -> Span<usize> {
        let start = self.items.partition_point(|e| e.key < lower.0);
        let end = self.items.partition_point(|e| e.key < upper.0).max(start);
        start..end
    }

    /// The positions of the entries with this key (several only after a
    /// tag collision).
    pub fn with_key(&self, key: u64) -> Span<usize> {
        let start = self.items.partition_point(|e| e.key < key);
        let end = self.items.partition_point(|e| e.key <= key);
        start..end
    }

    /// The fingerprint of the entries at `span`.
    pub fn fingerprint(&self, span: Span<usize>) -> Fingerprint {
        let items = &self.items[span];
        Fingerprint {
            count: u32::try_from(items.len()).unwrap_or(u32::MAX),
            xor: Tag(items.iter().fold(0, |x, e| x ^ e.value)),
        }
    }

    /// Splits `[lower, upper)`, holding the entries at `span`, into at most
    /// `parts` sub-ranges with about equal entry counts. Returns each
    /// sub-range's upper bound and span; the first starts at `lower`.
    pub fn split(&self, span: Span<usize>, upper: Bound, parts: usize) -> Vec<(Bound, Span<usize>)> {
        let n = span.len();
        let parts = parts.clamp(1, n.max(1));
        let mut out = Vec::with_capacity(parts);
        let mut start = span.start;
        for i in 1..parts {
            let cut = span.start + i * n / parts;
            if cut <= start {
                continue;
            }
            let (below, at) = (self.items[cut - 1].key, self.items[cut].key);
            if below == at {
                continue; // a tag collision cannot be split; merge
            }
            out.push((Bound::between(below, at), start..cut));
            start = cut;
        }
        out.push((upper, start..span.end));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entries(keys: &[u64]) -> Entries {
        Entries::new(
            keys.iter()
                .enumerate()
                .map(|(i, k)| Entry {
                    key: *k,
                    value: *k,
                    index: i as u32,
                })
                .collect(),
        )
    }

    #[test]
    fn bound_between_is_short_and_separates() {
        let b = Bound::between(0x1234_0000_0000_0000, 0x2000_0000_0000_0001);
        assert_eq!(b, Bound(0x2000_0000_0000_0000));
        assert_eq!(postcard::to_stdvec(&b).unwrap(), vec![1, 0x20]);
        let b = Bound::between(0x1234_5678_0000_0000, 0x1234_5679_0000_0000);
        assert_eq!(b, Bound(0x1234_5679_0000_0000));
        assert_eq!(postcard::to_stdvec(&Bound::START).unwrap(), vec![0]);
        assert_eq!(postcard::to_stdvec(&Bound::END).unwrap().len(), 9);
    }

    #[test]
    fn split_covers_span_in_order() {
        let e = entries(&(0..100u64).map(|i| i << 56 | i).collect::<Vec<_>>());
        let span = e.span(Bound::START, Bound::END);
        let parts = e.split(span.clone(), Bound::END, 16);
        assert_eq!(parts.len(), 16);
        assert_eq!(parts.first().unwrap().1.start, 0);
        assert_eq!(parts.last().unwrap().1.end, 100);
        let mut lower = Bound::START;
        for (upper, sub) in &parts {
            assert!(lower < *upper);
            assert_eq!(e.span(lower, *upper), *sub);
            lower = *upper;
        }
    }

    #[test]
    fn colliding_keys_stay_together() {
        let e = entries(&[5, 5, 5, 5]);
        let parts = e.split(0..4, Bound::END, 4);
        assert_eq!(parts, vec![(Bound::END, 0..4)]);
    }

    proptest! {
        #[test]
        fn bound_round_trips(v in any::<u64>()) {
            let bytes = postcard::to_stdvec(&Bound(v)).unwrap();
            prop_assert_eq!(postcard::from_bytes::<Bound>(&bytes).unwrap(), Bound(v));
        }

        #[test]
        fn between_separates(a in any::<u64>(), b in any::<u64>()) {
            prop_assume!(a != b);
            let (lo, hi) = (a.min(b), a.max(b));
            let bound = Bound::between(lo, hi);
            prop_assert!(lo < bound.0 && bound.0 <= hi);
        }

        #[test]
        fn split_partitions(mut keys in proptest::collection::vec(0u64..u64::MAX - 1, 0..200), parts in 1usize..20) {
            keys.sort_unstable();
            keys.dedup();
            let e = entries(&keys);
            let span = e.span(Bound::START, Bound::END);
            let split = e.split(span, Bound::END, parts);
            let mut lower = Bound::START;
            let mut total = 0;
            for (upper, sub) in &split {
                prop_assert!(lower < *upper);
                prop_assert_eq!(e.span(lower, *upper), sub.clone());
                total += sub.len();
                lower = *upper;
            }
            prop_assert_eq!(lower, Bound::END);
            prop_assert_eq!(total, keys.len());
        }
    }
}
