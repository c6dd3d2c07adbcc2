//! Runs one session between two in-memory nodes over a perfect link.

use outpost_sync::{Config, MemView, Message, Output, Session, Stats, Time};

/// What one session cost.
#[derive(Debug)]
pub struct Run {
    /// The initiator's counters.
    pub initiator: Stats,
    /// The responder's counters.
    pub responder: Stats,
}

impl Run {
    /// Encoded bytes in both directions.
    pub fn bytes(&self) -> u64 {
        self.initiator.bytes_sent + self.responder.bytes_sent
    }
}

fn perform(view: &mut MemView, outputs: Vec<Output>, end: &mut Option<Stats>) -> Vec<Message> {
    let mut sends = Vec::new();
    for output in outputs {
        match output {
            Output::Send(m) => sends.push(m),
            Output::Deliver(item) => {
                view.insert(item).expect("delivered only after its dependencies");
            }
            Output::Done(stats) => *end = Some(stats),
            Output::Failed(f) => panic!("session failed: {f}"),
        }
    }
    sends
}

/// Runs a session from `a` (initiator) to `b` until both end.
pub fn sync(a: &mut MemView, b: &mut MemView, config: &Config, salt: [u8; 16]) -> Run {
    let now = Time(0);
    let (mut end_a, mut end_b) = (None, None);
    let (mut initiator, outputs) = Session::initiate(&*a, config.clone(), salt, now);
    let mut responder = Session::accept(config.clone(), now);
    let mut requests = perform(a, outputs, &mut end_a);
    while let Some(request) = requests.pop() {
        let outputs = responder.handle_bytes(&*b, &request.encode(), now);
        for response in perform(b, outputs, &mut end_b) {
            let outputs = initiator.handle_bytes(&*a, &response.encode(), now);
            requests.extend(perform(a, outputs, &mut end_a));
        }
    }
    Run {
        initiator: end_a.expect("the initiator finished"),
        responder: end_b.expect("the responder finished"),
    }
}
