// Creates DOCS documents of CHANGES changes each in a Repo on the
// file-system storage adapter (the storage the sync server then starts
// from), flushes them, and writes their ids and heads to --out.
//
//   node seed.mjs --dir DATA_DIR --docs 1000 --changes 100 --out docs.json
import fs from "fs"
import { Repo } from "@automerge/automerge-repo"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import * as A from "@automerge/automerge"
import { args, count, changeText } from "./common.mjs"

const a = args({ dir: true, docs: true, changes: true, out: true })
const docs = count(a.docs, "docs")
const changes = count(a.changes, "changes")
fs.mkdirSync(a.dir, { recursive: true })
const repo = new Repo({ storage: new NodeFSStorageAdapter(a.dir), network: [], peerId: "seeder" })
const started = performance.now()
const made = []
for (let d = 0; d < docs; d++) {
  // Each change made with Automerge itself (a separate change, as an
  // editor would commit them), then the document handed to the repo:
  // handle.change() per change costs ~2 ms in the repo's bookkeeping,
  // minutes for 100,000 changes, and the stored result is the same.
  let doc = A.from({ title: `Doc ${d}`, text: "" })
  for (let c = 0; c < changes; c++) {
    const text = changeText(d, c)
    doc = A.change(doc, x => {
      A.splice(x, ["text"], x.text.length, 0, text)
    })
  }
  const handle = repo.import(A.save(doc))
  made.push({ id: handle.documentId, heads: A.getHeads(handle.doc()), changes: A.getAllChanges(handle.doc()).length, length: handle.doc().text.length })
  if (d % 50 === 49) await repo.flush()
}
await repo.flush()
// A save the repo scheduled itself (debounced) may still be writing the
// same snapshot file: let it finish before the process ends.
await new Promise(resolve => setTimeout(resolve, 500))
await repo.shutdown()
const seconds = (performance.now() - started) / 1000

// Check what the server will start from: every document loads from the
// storage directory with the heads it was made with.
const check = new Repo({ storage: new NodeFSStorageAdapter(a.dir), network: [], peerId: "checker" })
for (const m of made) {
  const handle = await check.find(m.id)
  const heads = A.getHeads(handle.doc())
  if (heads.join() !== m.heads.join()) {
    console.error(`error: document ${m.id} loads from ${a.dir} with heads ${JSON.stringify(heads)}, not ${JSON.stringify(m.heads)}`)
    process.exit(1)
  }
}
await check.shutdown()
fs.writeFileSync(a.out, JSON.stringify({ docs: made, seconds }))
console.log(JSON.stringify({ docs, changes, seconds }))
