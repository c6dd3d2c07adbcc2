// An empty peer: a Repo with the WebSocket client adapter and its own
// file-system storage connects to the sync server, asks for every document
// of --docs (ids and heads written by seed.mjs) and waits until each has
// the seeded heads; then flushes its storage. Prints the times (seconds)
// as JSON: from connecting, and from the process start.
//
//   node peer.mjs --url ws://127.0.0.1:PORT --docs docs.json --dir PEER_DIR [--timeout 300]
import fs from "fs"
import { Repo } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import * as A from "@automerge/automerge"
import { args, count, fail } from "./common.mjs"

const a = args({ url: true, docs: true, dir: true, timeout: false })
const timeoutS = a.timeout === undefined ? 300 : count(a.timeout, "timeout")
if (!a.url.startsWith("ws://127.0.0.1:")) fail(`--url must be ws://127.0.0.1:PORT (loopback only), not ${a.url}`)
let seeded
try {
  seeded = JSON.parse(fs.readFileSync(a.docs, "utf8")).docs
} catch (e) {
  fail(`cannot read the seeded documents from ${a.docs}: ${e.message}`)
}
if (fs.existsSync(a.dir) && fs.readdirSync(a.dir).length > 0) fail(`the peer's storage ${a.dir} is not empty`)
fs.mkdirSync(a.dir, { recursive: true })

const byId = new Map(seeded.map(s => [s.id, s]))
const sameHeads = (x, y) => x.length === y.length && [...x].sort().join() === [...y].sort().join()
const connecting = performance.now()
const network = new WebSocketClientAdapter(a.url)
const repo = new Repo({ network: [network], storage: new NodeFSStorageAdapter(a.dir), peerId: `peer-${process.pid}` })
const waitForHeads = handle => new Promise(resolve => {
  const want = byId.get(handle.documentId).heads
  const check = () => {
    if (sameHeads(A.getHeads(handle.doc()), want)) {
      handle.off("change", check)
      resolve()
    }
  }
  handle.on("change", check)
  check()
})
const timeout = setTimeout(() => fail(`the peer did not get every document within ${timeoutS} s (${loaded} of ${seeded.length})`), timeoutS * 1000)
let loaded = 0
await Promise.all(seeded.map(async s => {
  const handle = await repo.find(s.id)
  await waitForHeads(handle)
  const doc = handle.doc()
  const changes = A.getAllChanges(doc).length
  const size = JSON.stringify(doc).length
  if (changes !== s.changes || size !== s.size) {
    fail(`document ${s.id} has ${changes} changes and ${size} characters as JSON, not ${s.changes} and ${s.size}`)
  }
  loaded++
}))
const synced = performance.now()
await repo.flush()
const flushed = performance.now()
clearTimeout(timeout)
console.log(JSON.stringify({
  docs: loaded,
  synced_s: (synced - connecting) / 1000,
  flushed_s: (flushed - connecting) / 1000,
  from_process_start_s: flushed / 1000,
}))
await repo.shutdown()
process.exit(0)
