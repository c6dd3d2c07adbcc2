//! Signed records (announcements, meetings, approvals, templates), as
//! opened from envelopes written by other members. The first byte picks
//! the kind, the rest is the record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use outpost_workspace::record::{self, RecordKind};
use outpost_workspace::{announce, approval, meeting};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    match pick % 4 {
        0 => {
            let _ = record::decode::<announce::Entry>(RecordKind::Announcement, bytes);
        }
        1 => {
            let _ = record::decode::<meeting::Entry>(RecordKind::Meeting, bytes);
        }
        2 => {
            let _ = record::decode::<approval::Op>(RecordKind::Approval, bytes);
        }
        _ => {
            let _ = record::decode::<approval::TemplateOp>(RecordKind::Templates, bytes);
        }
    }
});
