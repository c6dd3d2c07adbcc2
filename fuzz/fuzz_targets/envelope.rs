//! Envelopes as they come from peers (gossip, sync) and from the store.
#![no_main]

use libfuzzer_sys::fuzz_target;
use outpost_seal::Envelope;

fuzz_target!(|data: &[u8]| {
    let verified = Envelope::decode(data);
    let stored = Envelope::decode_stored(data);
    // A verified envelope parses the same way without verification.
    if let Ok(e) = &verified {
        let s = stored.as_ref().expect("an envelope that verifies also parses");
        assert_eq!(e.id, s.id);
    }
    // Batches reach the same verdict as one at a time.
    let batch = Envelope::decode_batch(&[data, data]);
    assert_eq!(batch.len(), 2);
    assert_eq!(batch[0].is_ok(), verified.is_ok());
});
