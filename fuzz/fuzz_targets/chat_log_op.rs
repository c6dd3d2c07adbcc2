//! Chat log ops, as opened from envelopes written by other members.
#![no_main]

use libfuzzer_sys::fuzz_target;
use outpost_workspace::chat::LogOp;

fuzz_target!(|data: &[u8]| {
    if let Ok(op) = LogOp::decode(data) {
        assert_eq!(op.encode(), data, "an op has one encoding");
    }
});
