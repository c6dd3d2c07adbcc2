//! Armored text: any Outpost object as copy-pasteable text.
//!
//! ```text
//! -----BEGIN OUTPOST CERTIFICATE-----
//! Checksum: 1a2b3c4d
//!
//! AQEK...base64, 64 columns...
//! -----END OUTPOST CERTIFICATE-----
//! ```
//!
//! The checksum is the first 4 bytes of blake3 over the decoded bytes, so a
//! paste that lost lines, or gained or changed characters, is reported as
//! damaged rather than as a bad signature.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// What an armored block holds; the word after `BEGIN OUTPOST`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Label {
    /// A certificate request.
    Request,
    /// A bundle carrying a certificate and its chain.
    Certificate,
    /// A bundle carrying a revocation.
    Revocation,
    /// A bundle carrying many ops (an org export).
    Bundle,
    /// A one-time invite.
    Invite,
    /// An encrypted private key file.
    PrivateKey,
}

impl Label {
    /// The text in the BEGIN/END lines.
    pub fn text(self) -> &'static str {
        match self {
            Label::Request => "REQUEST",
            Label::Certificate => "CERTIFICATE",
            Label::Revocation => "REVOCATION",
            Label::Bundle => "BUNDLE",
            Label::Invite => "INVITE",
            Label::PrivateKey => "PRIVATE KEY",
        }
    }

    fn parse(text: &str) -> Option<Label> {
        [
            Label::Request,
            Label::Certificate,
            Label::Revocation,
            Label::Bundle,
            Label::Invite,
            Label::PrivateKey,
        ]
        .into_iter()
        .find(|l| l.text() == text)
    }
}

/// Why a text could not be read as an armored object.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArmorError {
    /// No BEGIN line.
    #[error("no '-----BEGIN OUTPOST ...-----' line found: this is not an Outpost text")]
    NoBegin,
    /// BEGIN line with an unknown label.
    #[error("unknown Outpost object {0:?}")]
    UnknownLabel(String),
    /// BEGIN without a matching END: the paste was cut.
    #[error("the text is truncated: no '-----END OUTPOST {0}-----' line; paste the whole block")]
    Truncated(&'static str),
    /// Not valid base64.
    #[error("the text is damaged: it is not valid base64 (line {0}); paste it again")]
    Base64(usize),
    /// Missing checksum header.
    #[error("the text is damaged: its Checksum line is missing")]
    NoChecksum,
    /// Checksum mismatch.
    #[error("the text is damaged: the checksum does not match (lines lost or changed); paste it again")]
    Checksum,
    /// Another kind of object than expected.
    #[error("expected an Outpost {expected}, found an Outpost {found}")]
    WrongLabel {
        /// wanted
        expected: &'static str,
        /// found
        found: &'static str,
    },
}

fn checksum(bytes: &[u8]) -> String {
    hex::encode(&blake3::hash(bytes).as_bytes()[..4])
}

/// Wraps `bytes` as armored text with `label`.
pub fn encode(label: Label, bytes: &[u8]) -> String {
    let b64 = STANDARD.encode(bytes);
    let mut out = format!(
        "-----BEGIN OUTPOST {}-----\nChecksum: {}\n\n",
        label.text(),
        checksum(bytes)
    );
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END OUTPOST {}-----\n", label.text()));
    out
}

/// Reads the first armored block in `text` (surrounding text, such as a
/// mail body, is ignored). Returns its label and bytes.
pub fn decode(text: &str) -> Result<(Label, Vec<u8>), ArmorError> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
    let label = loop {
        let Some((_, line)) = lines.next() else {
            return Err(ArmorError::NoBegin);
        };
        if let Some(rest) = line
            .strip_prefix("-----BEGIN OUTPOST ")
            .and_then(|r| r.strip_suffix("-----"))
        {
            break Label::parse(rest).ok_or_else(|| ArmorError::UnknownLabel(rest.to_owned()))?;
        }
    };
    let end = format!("-----END OUTPOST {}-----", label.text());
    let mut sum = None;
    let mut body = String::new();
    let mut ended = false;
    for (n, line) in lines {
        if line == end {
            ended = true;
            break;
        }
        if let Some(v) = line.strip_prefix("Checksum:") {
            sum = Some(v.trim().to_ascii_lowercase());
        } else if !line.is_empty() {
            if !line
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
            {
                return Err(ArmorError::Base64(n));
            }
            body.push_str(line);
        }
    }
    if !ended {
        return Err(ArmorError::Truncated(label.text()));
    }
    let bytes = STANDARD.decode(body.as_bytes()).map_err(|_| ArmorError::Base64(0))?;
    match sum {
        None => Err(ArmorError::NoChecksum),
        Some(s) if s != checksum(&bytes) => Err(ArmorError::Checksum),
        Some(_) => Ok((label, bytes)),
    }
}

/// Like [`decode`], insisting on one of `expected`.
pub fn decode_as(text: &str, expected: &[Label]) -> Result<(Label, Vec<u8>), ArmorError> {
    let (label, bytes) = decode(text)?;
    if expected.contains(&label) {
        Ok((label, bytes))
    } else {
        Err(ArmorError::WrongLabel {
            expected: expected[0].text(),
            found: label.text(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_inside_a_mail() {
        let bytes: Vec<u8> = (0..=255).collect();
        let text = format!("Hi, here is my request:\n\n{}\nThanks", encode(Label::Request, &bytes));
        assert_eq!(decode(&text), Ok((Label::Request, bytes)));
    }

    #[test]
    fn truncation_and_damage_are_named() {
        let bytes: Vec<u8> = (0..200).collect();
        let text = encode(Label::Certificate, &bytes);
        let lines: Vec<&str> = text.lines().collect();
        // Cut before the END line.
        assert_eq!(
            decode(&lines[..lines.len() - 1].join("\n")),
            Err(ArmorError::Truncated("CERTIFICATE"))
        );
        // Lose a middle line.
        let mut lost = lines.clone();
        lost.remove(4);
        assert!(matches!(
            decode(&lost.join("\n")),
            Err(ArmorError::Checksum | ArmorError::Base64(_))
        ));
        // Change one character.
        let changed = text.replacen("AAECAwQF", "AAECAwQG", 1);
        assert_ne!(changed, text);
        assert_eq!(decode(&changed), Err(ArmorError::Checksum));
        assert_eq!(decode("hello"), Err(ArmorError::NoBegin));
        assert_eq!(
            decode_as(&text, &[Label::Request]),
            Err(ArmorError::WrongLabel {
                expected: "REQUEST",
                found: "CERTIFICATE"
            })
        );
    }

    proptest! {
        #[test]
        fn any_bytes_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            prop_assert_eq!(decode(&encode(Label::Bundle, &bytes)), Ok((Label::Bundle, bytes)));
        }

        #[test]
        fn garbage_never_panics(text in "\\PC{0,400}") {
            let _ = decode(&text);
            let _ = decode(&format!("-----BEGIN OUTPOST INVITE-----\n{text}\n-----END OUTPOST INVITE-----"));
        }
    }
}
