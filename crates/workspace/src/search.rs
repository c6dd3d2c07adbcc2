//! Full-text search that works for Chinese and Japanese as well as for
//! languages written with spaces.
//!
//! Text is cut into terms without assuming whitespace between words: runs of
//! letters and digits from alphabetic scripts become lowercase words; runs of
//! CJK ideographs, kana and hangul become overlapping pairs of characters
//! (bigrams), plus single characters so that one-character queries work. A
//! query matches a text when every term of the query is among the text's
//! terms, so "会议室" (bigrams 会议, 议室) finds "明天的会议室改了" but not
//! "会场的议程".
//!
//! [`Index`] is an in-memory inverted index from terms to ids; the node
//! keeps it encrypted at rest like any other local cache.

use std::collections::{BTreeMap, BTreeSet};

/// Is `c` written without spaces between words (CJK ideographs, kana,
/// hangul)?
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // hiragana, katakana
        | 0x31F0..=0x31FF    // katakana phonetic extensions
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xAC00..=0xD7AF    // hangul syllables
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0xFF66..=0xFF9F    // half-width katakana
        | 0x20000..=0x2FA1F  // CJK extensions B-F, compatibility supplement
    )
}

/// The terms of `text`, in order, with repeats.
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut cjk: Vec<char> = Vec::new();
    let flush_cjk = |cjk: &mut Vec<char>, out: &mut Vec<String>| {
        for (i, c) in cjk.iter().enumerate() {
            out.push(c.to_string());
            if let Some(next) = cjk.get(i + 1) {
                out.push([*c, *next].iter().collect());
            }
        }
        cjk.clear();
    };
    for c in text.chars() {
        if is_cjk(c) {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            cjk.push(c);
        } else if c.is_alphanumeric() {
            flush_cjk(&mut cjk, &mut out);
            word.extend(c.to_lowercase());
        } else {
            flush_cjk(&mut cjk, &mut out);
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
        }
    }
    flush_cjk(&mut cjk, &mut out);
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The terms a query needs: like [`terms`], but a CJK run of two or more
/// characters needs only its bigrams (its single characters add nothing).
pub fn query_terms(query: &str) -> BTreeSet<String> {
    let all = terms(query);
    let has_bigram = |c: &str| {
        all.iter()
            .any(|t| t.chars().count() == 2 && t.chars().all(is_cjk) && t.contains(c))
    };
    all.iter()
        .filter(|t| {
            let mut chars = t.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if is_cjk(c) => !has_bigram(t),
                _ => true,
            }
        })
        .cloned()
        .collect()
}

/// An inverted index: term → ids of the texts that contain it.
#[derive(Debug, Clone, Default)]
pub struct Index<Id: Ord + Clone> {
    postings: BTreeMap<String, BTreeSet<Id>>,
    texts: BTreeMap<Id, BTreeSet<String>>,
}

impl<Id: Ord + Clone> Index<Id> {
    /// An empty index.
    pub fn new() -> Index<Id> {
        Index {
            postings: BTreeMap::new(),
            texts: BTreeMap::new(),
        }
    }

    /// Indexes `text` under `id`, replacing what `id` had (an edit).
    pub fn put(&mut self, id: Id, text: &str) {
        self.remove(&id);
        let terms: BTreeSet<String> = terms(text).into_iter().collect();
        for t in &terms {
            self.postings.entry(t.clone()).or_default().insert(id.clone());
        }
        self.texts.insert(id, terms);
    }

    /// Forgets `id` (a recalled or deleted text).
    pub fn remove(&mut self, id: &Id) {
        for t in self.texts.remove(id).unwrap_or_default() {
            if let Some(ids) = self.postings.get_mut(&t) {
                ids.remove(id);
                if ids.is_empty() {
                    self.postings.remove(&t);
                }
            }
        }
    }

    /// Ids whose text holds every term of `query`; nothing for a query
    /// without terms.
    pub fn search(&self, query: &str) -> BTreeSet<Id> {
        let mut wanted: Vec<&BTreeSet<Id>> = Vec::new();
        for t in query_terms(query) {
            match self.postings.get(&t) {
                Some(ids) => wanted.push(ids),
                None => return BTreeSet::new(),
            }
        }
        // Intersect starting from the rarest term.
        wanted.sort_by_key(|ids| ids.len());
        let Some((first, rest)) = wanted.split_first() else {
            return BTreeSet::new();
        };
        first
            .iter()
            .filter(|id| rest.iter().all(|ids| ids.contains(*id)))
            .cloned()
            .collect()
    }

    /// How many texts are indexed.
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// True if nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn index(texts: &[&str]) -> Index<usize> {
        let mut i = Index::new();
        for (n, t) in texts.iter().enumerate() {
            i.put(n, t);
        }
        i
    }

    #[test]
    fn words_are_lowercased_and_cjk_is_cut_into_pairs() {
        assert_eq!(terms("Hello, World-2!"), vec!["hello", "world", "2"]);
        assert_eq!(terms("会议室A"), vec!["会", "会议", "议", "议室", "室", "a"]);
        assert_eq!(terms("Straße"), vec!["straße"]);
    }

    #[test]
    fn chinese_japanese_and_korean_are_found_without_spaces() {
        let i = index(&[
            "明天的会议室改到三楼",
            "会场的议程已经发出",
            "東京オフィスの会議は午後3時から",
            "회의실 예약 완료",
            "The meeting room moved to floor 3",
        ]);
        assert_eq!(i.search("会议室"), BTreeSet::from([0]));
        assert_eq!(i.search("会"), BTreeSet::from([0, 1, 2]), "会 is in 会議 too");
        assert_eq!(i.search("会議"), BTreeSet::from([2]));
        assert_eq!(i.search("オフィス"), BTreeSet::from([2]));
        assert_eq!(i.search("회의실"), BTreeSet::from([3]));
        assert_eq!(i.search("MEETING room"), BTreeSet::from([4]));
        assert_eq!(i.search("meeting 会议"), BTreeSet::new());
        assert_eq!(i.search("  "), BTreeSet::new());
    }

    #[test]
    fn edits_replace_and_removal_forgets() {
        let mut i = index(&["budget draft", "travel plan"]);
        i.put(0, "final budget");
        assert_eq!(i.search("draft"), BTreeSet::new());
        assert_eq!(i.search("final budget"), BTreeSet::from([0]));
        i.remove(&1);
        assert_eq!(i.search("travel"), BTreeSet::new());
        assert_eq!(i.len(), 1);
    }

    proptest! {
        #[test]
        fn every_substring_of_a_cjk_text_finds_it(text in "[会议室明天三楼東京午後]{1,12}", a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>()) {
            let chars: Vec<char> = text.chars().collect();
            let (x, y) = (a.index(chars.len()), b.index(chars.len()));
            let (from, to) = (x.min(y), x.max(y) + 1);
            let query: String = chars[from..to].iter().collect();
            let i = index(&[&text]);
            prop_assert!(i.search(&query).contains(&0), "{query} in {text}");
        }

        #[test]
        fn any_text_never_panics(text in ".{0,64}", query in ".{0,16}") {
            let i = index(&[&text]);
            let _ = i.search(&query);
        }
    }
}
