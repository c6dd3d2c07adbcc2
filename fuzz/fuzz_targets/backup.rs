//! Backup files, as read back by `backup verify` and `backup restore`:
//! the armored backup key, manifests and segments (headers checked before
//! decryption, so a fixed key reaches the framing), and the decrypted
//! bodies of both. The first byte picks the decoder, the rest is the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use outpost_store::backup::{self, BackupKey, SegmentAt};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let key = BackupKey([7; 32]);
    match pick % 5 {
        0 => {
            let _ = backup::decode_key_text(bytes);
        }
        1 => {
            let _ = backup::decode_manifest(bytes, &key);
        }
        2 => {
            let at = SegmentAt { chain: [1; 16], seq: 0, index: 0 };
            let _ = backup::open_segment(bytes, &key, at);
        }
        3 => {
            let _ = backup::decode_manifest_body(bytes);
        }
        _ => {
            let _ = backup::decode_records(bytes);
        }
    }
});
