//! Anti-entropy sync messages, as read from `/outpost/sync/1` frames.
#![no_main]

use libfuzzer_sys::fuzz_target;
use outpost_sync::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::decode(data) {
        // What decodes re-encodes into something that decodes.
        let again = Message::decode(&m.encode()).expect("an encoded message decodes");
        assert_eq!(again.encode(), m.encode());
    }
});
