// The sync server as @automerge/automerge-repo-sync-server sets it up (a
// Repo with the file-system storage adapter and the WebSocket server
// adapter, sharing only documents a peer asks for by id), on 127.0.0.1
// only, without express (it only served a status page). Prints
// {"port": N} once listening.
//
//   node server.mjs --dir DATA_DIR [--port 0]
import fs from "fs"
import http from "http"
import { WebSocketServer } from "ws"
import { Repo } from "@automerge/automerge-repo"
import { NodeWSServerAdapter } from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import { args, fail } from "./common.mjs"

const a = args({ dir: true, port: false })
if (!fs.existsSync(a.dir)) fail(`the data directory ${a.dir} does not exist; run seed.mjs first`)
const port = a.port === undefined ? 0 : Number(a.port)
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be 0..65535, not ${JSON.stringify(a.port)}`)
const socket = new WebSocketServer({ noServer: true })
const repo = new Repo({
  network: [new NodeWSServerAdapter(socket)],
  storage: new NodeFSStorageAdapter(a.dir),
  peerId: "storage-server-bench",
  sharePolicy: async () => false,
})
const server = http.createServer((req, res) => {
  res.end("automerge-repo sync server (bench)\n")
})
server.on("upgrade", (request, sock, head) => {
  socket.handleUpgrade(request, sock, head, ws => socket.emit("connection", ws, request))
})
server.listen(port, "127.0.0.1", () => {
  console.log(JSON.stringify({ port: server.address().port }))
})
const stop = async () => {
  socket.close()
  server.close()
  await repo.shutdown()
  process.exit(0)
}
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
