//! Document contents (automerge) as loaded from what peers sent: text
//! documents, task boards, files, and the generic model.
#![no_main]

use libfuzzer_sys::fuzz_target;
use outpost_workspace::{Board, FileDoc, Model, TextDoc};

fuzz_target!(init: {
    // The decoders catch automerge's own panics on damaged input and
    // refuse it; libFuzzer's panic hook would abort on those even though
    // they are caught. A panic that escapes still fails the run (the
    // harness aborts on it).
    let _ = std::panic::take_hook();
}, |data: &[u8]| {
    let actor = [7u8; 16];
    let _ = TextDoc::load(&actor, data);
    let _ = Board::load(&actor, data);
    let _ = FileDoc::load(&actor, data);
    let _ = Model::load(&actor, data);
});
