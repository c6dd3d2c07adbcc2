//! Authorisation ops, certificate bundles (a peer's hello), join requests
//! and invites: signed objects from peers and files.
#![no_main]

use libfuzzer_sys::fuzz_target;
use outpost_identity::SignedOp;
use outpost_identity::request::{Bundle, Invite, Request};

fuzz_target!(|data: &[u8]| {
    if let Ok(op) = SignedOp::decode(data) {
        // One op, one encoding.
        assert_eq!(op.bytes, data);
    }
    let _ = Bundle::decode(data);
    let _ = Request::decode(data);
    let _ = Invite::decode(data);
});
