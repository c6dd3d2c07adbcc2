// Fills a Repo on the file-system storage adapter (the storage the sync
// server then starts from), flushes it, checks that every document loads
// back from that directory (a sample), and writes the documents' ids, heads, change
// counts and sizes to --out (what the peer must end up with).
//
// Either imports saved Automerge documents (every file in --import, e.g.
// Outpost's documents exported with `GET /api/docs/ID/export?format=
// automerge`, so that both systems sync the same documents), or makes
// --docs documents of --changes changes each (appends of ~100 characters,
// one change each, made with Automerge itself; slow: ~1-2 ms per change).
//
//   node seed.mjs --dir DATA_DIR --import EXPORT_DIR --out docs.json
//   node seed.mjs --dir DATA_DIR --docs 1000 --changes 100 --out docs.json
import fs from "fs"
import path from "path"
import { Repo } from "@automerge/automerge-repo"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import * as A from "@automerge/automerge"
import { args, count, changeText, fail } from "./common.mjs"

const a = args({ dir: true, out: true, import: false, docs: false, changes: false })
if ((a.import === undefined) === (a.docs === undefined || a.changes === undefined)) {
  fail("give either --import DIR, or --docs N and --changes M")
}
/** The saved documents to put into the repo, one at a time. */
function* sources() {
  if (a.import !== undefined) {
    let names
    try {
      names = fs.readdirSync(a.import).filter(n => n.endsWith(".automerge")).sort()
    } catch (e) {
      fail(`cannot read the directory of documents to import ${a.import}: ${e.message}`)
    }
    if (names.length === 0) fail(`${a.import} holds no .automerge files to import`)
    for (const n of names) yield fs.readFileSync(path.join(a.import, n))
    return
  }
  const docs = count(a.docs, "docs")
  const changes = count(a.changes, "changes")
  for (let d = 0; d < docs; d++) {
    let doc = A.from({ title: `Doc ${d}`, text: "" })
    for (let c = 0; c < changes; c++) {
      const text = changeText(d, c)
      doc = A.change(doc, x => {
        A.splice(x, ["text"], x.text.length, 0, text)
      })
    }
    yield A.save(doc)
  }
}

fs.mkdirSync(a.dir, { recursive: true })
const repo = new Repo({ storage: new NodeFSStorageAdapter(a.dir), network: [], peerId: "seeder" })
const started = performance.now()
const made = []
for (const bytes of sources()) {
  const handle = repo.import(bytes)
  const doc = handle.doc()
  made.push({ id: handle.documentId, heads: A.getHeads(doc), changes: A.getAllChanges(doc).length, size: JSON.stringify(doc).length })
  if (made.length % 50 === 0) await repo.flush()
}
await repo.flush()
// A save the repo scheduled itself (debounced) may still be writing the
// same snapshot file: let it finish before the process ends.
await new Promise(resolve => setTimeout(resolve, 500))
await repo.shutdown()
const seconds = (performance.now() - started) / 1000

// Check what the server will start from: documents load from the storage
// directory with the heads they were made with (every 25th and the last:
// loading them all costs as much as making them; the peer checks all).
const check = new Repo({ storage: new NodeFSStorageAdapter(a.dir), network: [], peerId: "checker" })
for (const m of made.filter((_, i) => i % 25 === 0 || i === made.length - 1)) {
  const handle = await check.find(m.id)
  const heads = A.getHeads(handle.doc())
  if (heads.join() !== m.heads.join()) {
    fail(`document ${m.id} loads from ${a.dir} with heads ${JSON.stringify(heads)}, not ${JSON.stringify(m.heads)}`)
  }
}
await check.shutdown()
const changes = made.reduce((n, m) => n + m.changes, 0)
fs.writeFileSync(a.out, JSON.stringify({ docs: made, seconds }))
console.log(JSON.stringify({ docs: made.length, changes, seconds }))
