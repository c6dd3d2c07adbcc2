//! Helpers shared by several test files (each includes this module).

use outpost_node::docs::doc_key_bytes;
use outpost_node::{Home, Local, Passphrase};
use outpost_seal::envelope::{Envelope, Header, Payload};

/// Writes, into the store of the stopped node `home`, a change appending
/// `text` to document `id`, sealed and signed by its member exactly as a
/// writer's would be but with no check of the validity rule: what a
/// tampered client of a view-only member would produce.
pub fn forge_edit(home: &std::path::Path, id: &str, text: &str) {
    let pass = Passphrase::from_sources(None).expect("no passphrase in tests");
    let local = Local::open(Home::at(home)).expect("the viewer's store opens");
    let open = local.open_doc(id, &pass).expect("the viewer holds the document");
    let mut doc = open.view.doc.expect("the viewer can read the document");
    let change = doc
        .append(text)
        .expect("appending is a change")
        .expect("the text is new");
    let member = local.home.member_keys(&pass).expect("the member key opens");
    let now = outpost_node::now();
    let state = local.require_org().expect("the viewer is in the org");
    let (cert, _) = state.role_of(&member.public(), now).expect("the viewer is certified");
    let epoch = state.writer_epoch(&open.key.0).expect("the scope has a key");
    let header = Header {
        doc: open.key.1,
        scope: open.key.0,
        author: member.public(),
        cert,
        deps: open.heads.clone(),
        auth_heads: state.heads(),
        epoch,
        time: now,
        nonce: [0; 24],
    };
    let secret = open.ring.get(&epoch).expect("readers hold the scope's key");
    let env = Envelope::seal(
        header,
        &Payload::Change(change),
        secret,
        &member.signing,
        &mut rand::rng(),
    );
    local
        .store
        .put_envelopes_with([(&doc_key_bytes(&open.key), &env.id.0, env.bytes.as_slice())], true)
        .expect("the store takes the forged change");
}
