//! Armored texts (certificates, requests, invites, key files) as read from
//! files and pasted by people; key files without a passphrase (with one,
//! each run would spend an argon2 derivation).
#![no_main]

use libfuzzer_sys::fuzz_target;
use outpost_identity::armor;
use outpost_identity::keyfile::{self, KeyKind};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok((label, bytes)) = armor::decode(text) {
        // What decodes encodes back to text that decodes the same.
        let again = armor::decode(&armor::encode(label, &bytes)).expect("an encoding decodes");
        assert_eq!(again, (label, bytes));
    }
    for kind in [KeyKind::Member, KeyKind::Device] {
        let _ = keyfile::open(text, kind, None);
    }
});
