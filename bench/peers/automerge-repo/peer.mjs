// An empty peer: a Repo with the WebSocket client adapter and its own
// file-system storage connects to the sync server, asks for every document
// of --docs (ids and heads written by seed.mjs) and waits until each has
// the seeded heads; then flushes its storage. Prints the times (seconds)
// as JSON: from connecting, and from the process start.
//
//   node peer.mjs --url ws://127.0.0.1:PORT --docs docs.json --dir PEER_DIR [--timeout 300] [--concurrency 100]
import fs from "fs"
import { Repo } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import * as A from "@automerge/automerge"
import { args, count, fail } from "./common.mjs"

const a = args({ url: true, docs: true, dir: true, timeout: false, concurrency: false })
const concurrency = a.concurrency === undefined ? 100 : count(a.concurrency, "concurrency")
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
let retries = 0
// A handle gives up on a request after 60 s ("unavailable"); with 1,000
// requests at once the server takes longer than that to answer the last
// ones, so at most --concurrency documents are asked for at a time (and a
// document reported unavailable is asked for again, counted).
async function fetchOne(s) {
  for (;;) {
    try {
      const handle = await repo.find(s.id)
      await waitForHeads(handle)
      return handle
    } catch (e) {
      if (!String(e.message).includes("unavailable") || retries >= 3 * seeded.length) throw e
      retries++
    }
  }
}
let next = 0
async function worker() {
  while (next < seeded.length) {
    const s = seeded[next++]
    const handle = await fetchOne(s)
    const doc = handle.doc()
    // The heads matched (they name every change, through their hashes);
    // the content must be as large as the server's.
    const size = JSON.stringify(doc).length
    if (size !== s.size) {
      fail(`document ${s.id} has ${size} characters as JSON, not ${s.size}`)
    }
    loaded++
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, seeded.length) }, worker))
const synced = performance.now()
await repo.flush()
const flushed = performance.now()
clearTimeout(timeout)
console.log(JSON.stringify({
  docs: loaded,
  retries,
  concurrency,
  synced_s: (synced - connecting) / 1000,
  flushed_s: (flushed - connecting) / 1000,
  from_process_start_s: flushed / 1000,
}))
await repo.shutdown()
process.exit(0)
