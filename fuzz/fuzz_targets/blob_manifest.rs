//! File manifests, as fetched from peers on `/outpost/blob/1`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use outpost_seal::blob::Manifest;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Manifest::decode(data) {
        assert_eq!(m.encode(), data, "a manifest has one encoding");
        for i in 0..m.chunks.len().min(4) {
            let _ = m.check_chunk(i, data);
        }
    }
});
