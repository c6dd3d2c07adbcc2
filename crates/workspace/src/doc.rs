//! A text document: a title and a body, both automerge text.
//!
//! Layout of the automerge document: `ROOT.title` (text) and `ROOT.body`
//! (text). Readers accept a plain string in either place too, as written by
//! other automerge implementations.

use automerge::{ActorId, AutoCommit, Change, ObjType, ROOT, ReadDoc, Value, transaction::Transactable};

/// Largest body accepted from one edit, in bytes.
pub const BODY_BYTES_MAX: usize = 2 * 1024 * 1024;

/// A document could not be built or changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocError {
    /// A change is not valid automerge.
    #[error("a change of this document is damaged: {0}")]
    BadChange(String),
    /// The document lacks the expected fields.
    #[error("this is not a text document (no title/body)")]
    NotText,
    /// Too large.
    #[error("the text is {0} bytes; the limit is 2 MiB (attach larger content as a file)")]
    TooLarge(usize),
}

/// A text document.
#[derive(Debug)]
pub struct TextDoc {
    doc: AutoCommit,
}

fn read_text(doc: &AutoCommit, key: &str) -> Option<String> {
    match doc.get(ROOT, key).ok()?? {
        (Value::Object(ObjType::Text), id) => doc.text(&id).ok(),
        (Value::Scalar(s), _) => s.as_str().map(str::to_owned),
        _ => None,
    }
}

impl TextDoc {
    /// A new document titled `title` with an empty body, written by
    /// `actor`. Returns the document and its first change.
    pub fn create(actor: &[u8], title: &str) -> Result<(TextDoc, Vec<u8>), DocError> {
        if title.len() > BODY_BYTES_MAX {
            return Err(DocError::TooLarge(title.len()));
        }
        let mut doc = AutoCommit::new().with_actor(ActorId::from(actor));
        let t = doc
            .put_object(ROOT, "title", ObjType::Text)
            .map_err(|e| DocError::BadChange(e.to_string()))?;
        doc.splice_text(&t, 0, 0, title)
            .map_err(|e| DocError::BadChange(e.to_string()))?;
        doc.put_object(ROOT, "body", ObjType::Text)
            .map_err(|e| DocError::BadChange(e.to_string()))?;
        doc.commit();
        let change = doc
            .get_last_local_change()
            .expect("a change was just committed")
            .raw_bytes()
            .to_vec();
        Ok((TextDoc { doc }, change))
    }

    /// Rebuilds a document from its changes (dependencies first or not:
    /// automerge orders them), as `actor` for later edits.
    pub fn from_changes(actor: &[u8], changes: impl IntoIterator<Item = Vec<u8>>) -> Result<TextDoc, DocError> {
        let changes = changes
            .into_iter()
            .map(|c| Change::from_bytes(c).map_err(|e| DocError::BadChange(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let mut doc = AutoCommit::new().with_actor(ActorId::from(actor));
        doc.apply_changes(changes)
            .map_err(|e| DocError::BadChange(e.to_string()))?;
        Ok(TextDoc { doc })
    }

    /// Loads a document saved with [`TextDoc::save`], as `actor`.
    pub fn load(actor: &[u8], bytes: &[u8]) -> Result<TextDoc, DocError> {
        let doc = AutoCommit::load(bytes)
            .map_err(|e| DocError::BadChange(e.to_string()))?
            .with_actor(ActorId::from(actor));
        Ok(TextDoc { doc })
    }

    /// The title.
    pub fn title(&self) -> String {
        read_text(&self.doc, "title").unwrap_or_default()
    }

    /// The body.
    pub fn body(&self) -> String {
        read_text(&self.doc, "body").unwrap_or_default()
    }

    fn body_obj(&mut self) -> Result<automerge::ObjId, DocError> {
        match self
            .doc
            .get(ROOT, "body")
            .map_err(|e| DocError::BadChange(e.to_string()))?
        {
            Some((Value::Object(ObjType::Text), id)) => Ok(id),
            _ => {
                let current = self.body();
                let id = self
                    .doc
                    .put_object(ROOT, "body", ObjType::Text)
                    .map_err(|e| DocError::BadChange(e.to_string()))?;
                self.doc
                    .splice_text(&id, 0, 0, &current)
                    .map_err(|e| DocError::BadChange(e.to_string()))?;
                Ok(id)
            }
        }
    }

    fn commit(&mut self) -> Option<Vec<u8>> {
        self.doc.commit()?;
        Some(
            self.doc
                .get_last_local_change()
                .expect("a change was just committed")
                .raw_bytes()
                .to_vec(),
        )
    }

    /// Replaces the body with `text` (as a minimal diff, so concurrent edits
    /// elsewhere in the text survive). Returns the change, or `None` if the
    /// text was already that.
    pub fn set_body(&mut self, text: &str) -> Result<Option<Vec<u8>>, DocError> {
        if text.len() > BODY_BYTES_MAX {
            return Err(DocError::TooLarge(text.len()));
        }
        let body = self.body_obj()?;
        self.doc
            .update_text(&body, text)
            .map_err(|e| DocError::BadChange(e.to_string()))?;
        Ok(self.commit())
    }

    /// Appends `text` to the body. Returns the change.
    pub fn append(&mut self, text: &str) -> Result<Option<Vec<u8>>, DocError> {
        if text.len() > BODY_BYTES_MAX {
            return Err(DocError::TooLarge(text.len()));
        }
        let body = self.body_obj()?;
        let len = self.doc.length(&body);
        self.doc
            .splice_text(&body, len, 0, text)
            .map_err(|e| DocError::BadChange(e.to_string()))?;
        Ok(self.commit())
    }

    /// The automerge binary of the whole document (loadable by other
    /// automerge implementations).
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }
}

/// A one-line summary of a change from `before` to `after`: characters
/// added and removed.
pub fn summarize(before: &str, after: &str) -> String {
    let a: Vec<char> = before.chars().collect();
    let b: Vec<char> = after.chars().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let removed = a.len() - prefix - suffix;
    let added = b.len() - prefix - suffix;
    match (added, removed) {
        (0, 0) => "no text change".to_owned(),
        (n, 0) => format!("+{n} chars"),
        (0, m) => format!("-{m} chars"),
        (n, m) => format!("+{n} -{m} chars"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_edits_merge_and_rebuild_from_changes() {
        let (mut a, genesis) = TextDoc::create(b"aaaa", "Plan 计划").unwrap();
        let mut changes = vec![genesis.clone()];
        changes.push(a.set_body("hello world").unwrap().unwrap());
        let mut b = TextDoc::from_changes(b"bbbb", changes.clone()).unwrap();
        let ca = a.append(" from A").unwrap().unwrap();
        let cb = b.set_body("HELLO world").unwrap().unwrap();
        changes.push(ca);
        changes.push(cb);
        let merged = TextDoc::from_changes(b"cccc", changes.iter().rev().cloned()).unwrap();
        assert_eq!(merged.title(), "Plan 计划");
        assert_eq!(merged.body(), "HELLO world from A");
        assert!(a.set_body("hello world from A").unwrap().is_none());
    }

    #[test]
    fn summaries() {
        assert_eq!(summarize("abc", "abXc"), "+1 chars");
        assert_eq!(summarize("abc", "ac"), "-1 chars");
        assert_eq!(summarize("abc", "aZc"), "+1 -1 chars");
        assert_eq!(summarize("同步", "同步"), "no text change");
    }
}
