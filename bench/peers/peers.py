#!/usr/bin/env python3
"""Outpost side by side with Syncthing and automerge-repo, in one run.

Called by `bench/peers/run MODE` (which installs the peer systems and builds
the release `outpost`); see docs/performance.md, "Side by side with
Syncthing and automerge-repo". Everything listens on 127.0.0.1 only.

    peers.py MODE --outpost BIN --work DIR --out FILE [--only SCENARIO,...]

Writes the suite's figures (FILE, `{"group": "peers", ...}`) and prints a
table. Exit status 1 with a message naming what failed.
"""

import argparse
import concurrent.futures
import datetime
import hashlib
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
AUTOMERGE_DIR = HERE / "automerge-repo"

# Sizes per mode. MB = 10^6 bytes.
# Documents get fewer runs in full mode: on a busy 2-core machine a run of
# each system takes 30-50 s, and the whole of full mode should stay near 6
# minutes.
MODES = {
    "full": {"runs": 3, "doc_runs": 2, "big_mb": 100, "small_files": 1000, "docs": 1000, "changes": 100},
    "quick": {"runs": 2, "doc_runs": 2, "big_mb": 20, "small_files": 200, "docs": 200, "changes": 50},
    "smoke": {"runs": 1, "doc_runs": 1, "big_mb": 1, "small_files": 20, "docs": 20, "changes": 10},
}
SMALL_MIN, SMALL_MAX = 1_000, 10_000
# Concurrent requests a client of the Outpost API keeps in flight when it
# saves many files or reads many documents.
API_WORKERS = 8
# Concurrent writers making the documents on Outpost node A. Four were
# no faster than one (64.9 s against 65.6 s for 1,000 x 100) and B's
# "all stored" then varied more (15-48 s against 12-14 s).
MAKE_WORKERS = 1
SCENARIOS = ("file-big", "small-files", "docs")


class BenchError(Exception):
    """A failure the run reports and stops on."""


def log(msg):
    print(f"[peers {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, timeout, check, interval=0.05):
    """Calls `check` until it returns a true value; raises after `timeout` s
    with the last value or error it gave."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            got = check()
            if got:
                return got
            last = got
        except (OSError, BenchError, ValueError, KeyError) as e:
            last = e
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout} s waiting for {what} (last: {last})")
        time.sleep(interval)


def request(port, method, path, body=None, headers=None, timeout=120):
    """One HTTP request to 127.0.0.1:port; returns (status, bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_file(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def make_files(directory, names_sizes, seed):
    """Writes random files (synced); returns [(relative name, size, sha256)]."""
    rng = random.Random(seed)
    out = []
    for name, size in names_sizes:
        data = rng.randbytes(size)
        write_file(directory / name, data)
        out.append((name, size, hashlib.sha256(data).hexdigest()))
    return out


def check_files(directory, expected, who):
    for name, size, digest in expected:
        p = directory / name
        if not p.is_file():
            raise BenchError(f"{who}: {p} is missing after the sync reported it complete")
        if p.stat().st_size != size or sha256_file(p) != digest:
            raise BenchError(f"{who}: {p} differs from the original (size {p.stat().st_size}, expected {size})")


def changetext(d, c):
    """The text change c of document d appends (about 100 characters); the
    same as changeText in automerge-repo/common.mjs."""
    head = f"doc {d} change {c} "
    filler = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore"
    return head + filler[: 99 - len(head)] + "\n"


class Procs:
    """Processes this run started; stopped by pid at the end."""

    def __init__(self):
        self.live = []

    def start(self, name, argv, log_path, env=None, cwd=None):
        f = open(log_path, "wb")
        p = subprocess.Popen(
            argv,
            stdout=f,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        f.close()
        p.bench_name = name
        p.bench_log = log_path
        self.live.append(p)
        return p

    def stop(self, p, timeout=20):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        if p in self.live:
            self.live.remove(p)

    def stop_all(self):
        for p in list(self.live):
            self.stop(p)

    @staticmethod
    def check_alive(p):
        if p.poll() is not None:
            tail = Path(p.bench_log).read_text(errors="replace")[-3000:]
            raise BenchError(f"{p.bench_name} exited with status {p.returncode}; its log ends:\n{tail}")


# ---------------------------------------------------------------- Syncthing


class Syncthing:
    """One Syncthing instance with its own home, on 127.0.0.1 only."""

    FOLDER = "bench"

    def __init__(self, procs, work, name):
        self.procs = procs
        self.name = name
        self.home = work / f"syncthing-{name}"
        self.folder = work / f"syncthing-{name}-folder"
        self.folder.mkdir(parents=True)
        (self.folder / ".stfolder").mkdir()
        out = subprocess.run(
            ["syncthing", "generate", f"--home={self.home}", "--no-default-folder", "--skip-port-probing"],
            capture_output=True,
            text=True,
            check=False,
        )
        m = re.search(r"Device ID:\s*([A-Z0-9-]{63})", out.stdout + out.stderr)
        if out.returncode != 0 or not m:
            raise BenchError(f"syncthing generate failed for {self.home}: {out.stdout}{out.stderr}")
        self.device_id = m.group(1)
        self.listen_port = free_port()
        self.gui_port = free_port()
        self.api_key = secrets.token_hex(16)
        self.proc = None

    def configure(self, peer):
        """Writes config.xml: GUI/REST and sync on 127.0.0.1, every
        discovery, relay, NAT, reporting and upgrade feature off, the peer
        by device id at its static address, one shared folder."""
        path = self.home / "config.xml"
        tree = ET.parse(path)
        root = tree.getroot()
        template = root.find("defaults/folder")
        device_template = root.find("defaults/device")
        for d in root.findall("device"):
            root.remove(d)
        for f in root.findall("folder"):
            root.remove(f)
        for inst in (self, peer):
            dev = ET.fromstring(ET.tostring(device_template))
            dev.set("id", inst.device_id)
            dev.set("name", inst.name)
            dev.find("address").text = f"tcp://127.0.0.1:{inst.listen_port}"
            root.insert(0, dev)
        folder = ET.fromstring(ET.tostring(template))
        folder.set("id", self.FOLDER)
        folder.set("label", self.FOLDER)
        folder.set("path", str(self.folder))
        folder.set("rescanIntervalS", "0")
        folder.set("fsWatcherEnabled", "false")
        for d in folder.findall("device"):
            folder.remove(d)
        for inst in (self, peer):
            dev = ET.SubElement(folder, "device")
            dev.set("id", inst.device_id)
            dev.set("introducedBy", "")
            ET.SubElement(dev, "encryptionPassword")
        root.insert(0, folder)
        gui = root.find("gui")
        gui.set("tls", "false")
        gui.find("address").text = f"127.0.0.1:{self.gui_port}"
        gui.find("apikey").text = self.api_key
        options = root.find("options")
        settings = {
            "listenAddress": f"tcp://127.0.0.1:{self.listen_port}",
            "globalAnnounceEnabled": "false",
            "globalAnnounceServer": "",
            "localAnnounceEnabled": "false",
            "relaysEnabled": "false",
            "natEnabled": "false",
            "urAccepted": "-1",
            "urURL": "",
            "autoUpgradeIntervalH": "0",
            "releasesURL": "",
            "crashReportingEnabled": "false",
            "crashReportingURL": "",
            "startBrowser": "false",
            "stunKeepaliveStartS": "0",
            "stunServer": "",
            "announceLANAddresses": "false",
            "setLowPriority": "false",
        }
        for key, value in settings.items():
            el = options.find(key)
            if el is None:
                el = ET.SubElement(options, key)
            el.text = value
        tree.write(path)

    def start(self, work):
        env = dict(os.environ, STNOUPGRADE="1", STNORESTART="1", STNODEFAULTFOLDER="1")
        self.proc = self.procs.start(
            f"syncthing {self.name}",
            ["syncthing", "serve", f"--home={self.home}", "--no-browser", "--no-restart", "--no-upgrade"],
            work / f"syncthing-{self.name}.log",
            env=env,
        )
        wait_for(f"syncthing {self.name}'s REST API", 30, lambda: self.get("/rest/system/ping")["ping"] == "pong")
        self.check_config()

    def get(self, path):
        Procs.check_alive(self.proc)
        status, body = request(self.gui_port, "GET", path, headers={"X-API-Key": self.api_key}, timeout=30)
        if status != 200:
            raise BenchError(f"syncthing {self.name}: GET {path} answered {status}: {body[:300]!r}")
        return json.loads(body)

    def post(self, path):
        status, body = request(self.gui_port, "POST", path, headers={"X-API-Key": self.api_key}, timeout=30)
        if status != 200:
            raise BenchError(f"syncthing {self.name}: POST {path} answered {status}: {body[:300]!r}")

    def check_config(self):
        """The configuration in effect keeps everything on loopback."""
        opts = self.get("/rest/config")["options"]
        bad = []
        if opts["listenAddresses"] != [f"tcp://127.0.0.1:{self.listen_port}"]:
            bad.append(f"listenAddresses {opts['listenAddresses']}")
        for key in ("globalAnnounceEnabled", "localAnnounceEnabled", "relaysEnabled", "natEnabled",
                    "crashReportingEnabled", "announceLANAddresses"):
            if opts.get(key):
                bad.append(f"{key} is on")
        if opts.get("urAccepted", 0) >= 0 and opts.get("urAccepted") != -1:
            bad.append(f"urAccepted {opts.get('urAccepted')}")
        if opts.get("autoUpgradeIntervalH"):
            bad.append(f"autoUpgradeIntervalH {opts['autoUpgradeIntervalH']}")
        if bad:
            raise BenchError(f"syncthing {self.name} runs with settings that leave 127.0.0.1: {', '.join(bad)}")

    def connected_to(self, other):
        conns = self.get("/rest/system/connections")["connections"]
        c = conns.get(other.device_id)
        return bool(c and c.get("connected"))

    def status(self):
        return self.get(f"/rest/db/status?folder={self.FOLDER}")


def session_pids(leaders):
    """The processes in the sessions these processes lead (each was started
    in a session of its own): a program may run its work in a child."""
    sids = set(leaders)
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) in sids:
            pids.append(int(entry.name))
    return pids


def sockets_of(leaders):
    """`ss -tunap` rows of these processes and their children: (proto,
    state, local, peer)."""
    pids = session_pids(leaders)
    out = subprocess.run(["ss", "-tunapH"], capture_output=True, text=True, check=False).stdout
    rows = []
    for line in out.splitlines():
        if any(f"pid={p}," in line for p in pids):
            parts = line.split()
            rows.append((parts[0], parts[1], parts[4], parts[5]))
    return rows


def off_loopback(rows):
    def loop(addr):
        host = addr.rsplit(":", 1)[0].strip("[]")
        return host in ("127.0.0.1", "::1", "*", "0.0.0.0", "::") or host.startswith("127.") or host.startswith(
            "::ffff:127."
        )

    bad = []
    for proto, state, local, peer in rows:
        lhost = local.rsplit(":", 1)[0].strip("[]")
        if lhost not in ("127.0.0.1", "::1") and not lhost.startswith("127."):
            bad.append(f"{proto} {state} {local} -> {peer}")
        elif not loop(peer):
            bad.append(f"{proto} {state} {local} -> {peer}")
    return bad


def syncthing_scenarios(procs, work, cfg, want, results):
    a = Syncthing(procs, work, "a")
    b = Syncthing(procs, work, "b")
    a.configure(b)
    b.configure(a)
    a.start(work)
    b.start(work)
    wait_for("the two Syncthing instances to connect", 60, lambda: a.connected_to(b) and b.connected_to(a), 0.2)
    version = a.get("/rest/system/version")["version"]
    sockets = sockets_of([a.proc.pid, b.proc.pid])
    bad = off_loopback(sockets)
    if bad:
        raise BenchError(f"Syncthing has sockets off 127.0.0.1: {bad}")
    log(f"syncthing {version}: two instances connected, {len(sockets)} sockets, all on 127.0.0.1")
    expected_bytes = 0
    expected_files = 0
    run_no = 0

    def one(files):
        nonlocal expected_bytes, expected_files, run_no
        run_no += 1
        sub = f"run-{run_no}"
        made = make_files(a.folder / sub, files, seed=run_no)
        expected_bytes += sum(s for _, s, _ in made)
        expected_files += len(made)
        started = time.monotonic()
        a.post(f"/rest/db/scan?folder={Syncthing.FOLDER}")

        def done():
            s = b.status()
            # (directories count in the bytes too)
            return (
                s["globalBytes"] >= expected_bytes
                and s["globalFiles"] == expected_files
                and s["needFiles"] == 0
                and s["needBytes"] == 0
                and s["inSyncFiles"] == expected_files
                and s["state"] == "idle"
            )

        wait_for("syncthing b to hold every file", 300, done, 0.02)
        seconds = time.monotonic() - started
        check_files(b.folder / sub, made, "syncthing b")
        return seconds

    if "file-big" in want:
        size = cfg["big_mb"] * 1_000_000
        runs = [one([("big.bin", size)]) for _ in range(cfg["runs"])]
        results["syncthing"]["file-big"] = {"seconds": runs, "version": version}
        log(f"syncthing, {cfg['big_mb']} MB file: {fmt_runs(runs)} s")
    if "small-files" in want:
        rng = random.Random(7)
        files = [(f"f{i:04}.bin", rng.randint(SMALL_MIN, SMALL_MAX)) for i in range(cfg["small_files"])]
        runs = [one(files) for _ in range(cfg["runs"])]
        results["syncthing"]["small-files"] = {
            "seconds": runs,
            "version": version,
            "bytes": sum(s for _, s in files),
        }
        log(f"syncthing, {cfg['small_files']} small files: {fmt_runs(runs)} s")
    procs.stop(a.proc)
    procs.stop(b.proc)
    results["syncthing"]["sockets"] = len(sockets)


def fmt_runs(runs):
    return ", ".join(f"{r:.2f}" for r in runs)


# ---------------------------------------------------------------- Outpost


class OutpostHome:
    """An Outpost home, made and run with the real `outpost` binary."""

    def __init__(self, procs, binary, work, name):
        self.procs = procs
        self.binary = binary
        self.work = work
        self.name = name
        self.home = work / f"outpost-{name}"
        self.proc = None
        self.api_port = None
        self.token = None
        self.addr = None

    def cli(self, *args):
        env = dict(os.environ, OUTPOST_MDNS="off", OUTPOST_PASSPHRASE="")
        out = subprocess.run(
            [str(self.binary), "--home", str(self.home), *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.work,
            check=False,
        )
        if out.returncode != 0:
            raise BenchError(f"outpost --home {self.home} {' '.join(args)} failed ({out.returncode}): {out.stderr}")
        return out.stdout

    def up(self, peers=()):
        p2p = free_port()
        self.api_port = free_port()
        args = [
            str(self.binary),
            "--home",
            str(self.home),
            "up",
            "--no-mdns",
            "--listen",
            f"/ip4/127.0.0.1/tcp/{p2p}",
            "--api",
            f"127.0.0.1:{self.api_port}",
        ]
        for p in peers:
            args += ["--peer", p]
        env = dict(os.environ, OUTPOST_MDNS="off", OUTPOST_PASSPHRASE="")
        api_json = self.home / "api.json"
        if api_json.exists():
            api_json.unlink()
        self.proc = self.procs.start(f"outpost {self.name}", args, self.work / f"outpost-{self.name}.log", env=env)

        def ready():
            Procs.check_alive(self.proc)
            if not api_json.exists():
                return False
            info = json.loads(api_json.read_text())
            if info.get("pid") != self.proc.pid:
                return False
            self.token = info["token"]
            self.addr = info["listen"][0]
            return self.get("/api/status") is not None

        wait_for(f"outpost {self.name}'s API", 60, ready)
        return self

    def call(self, method, path, body=None, raw=None, content_type="application/json", ok=(200,)):
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif raw is not None:
            data = raw
            headers["Content-Type"] = content_type
        status, answer = request(self.api_port, method, path, body=data, headers=headers, timeout=600)
        if status not in ok:
            Procs.check_alive(self.proc)
            raise BenchError(f"outpost {self.name}: {method} {path} answered {status}: {answer[:400]!r}")
        return json.loads(answer) if answer else None

    def get(self, path):
        return self.call("GET", path)

    def post(self, path, body):
        return self.call("POST", path, body=body)

    def envelopes(self):
        return self.get("/api/status")["envelopes"]

    def stop(self):
        if self.proc:
            self.procs.stop(self.proc)
            self.proc = None


def outpost_org(procs, binary, work, admin_name, member_names):
    """An admin home with a new org, and member homes certified in it (the
    CLI's request → issue → install), none running."""
    admin = OutpostHome(procs, binary, work, admin_name)
    admin.cli("init", "--name", "Alice")
    admin.cli("org", "create", "--name", f"Bench {admin_name}")
    members = []
    for name in member_names:
        m = OutpostHome(procs, binary, work, name)
        m.cli("init", "--name", name)
        req = work / f"{name}.req"
        cert = work / f"{name}.cert"
        m.cli("cert", "request", "--out", str(req))
        admin.cli("cert", "issue", str(req), "--role", "member", "--dept", "HQ/East", "--out", str(cert))
        m.cli("cert", "install", str(cert))
        members.append(m)
    return admin, members


def outpost_file_scenarios(procs, binary, work, cfg, want, results):
    a, (b,) = outpost_org(procs, binary, work, "files-a", ["files-b"])
    a.up()
    b.up([a.addr])
    wait_for("outpost b to be connected to a", 60, lambda: len(b.get("/api/peers")) == 1 and len(a.get("/api/peers")) == 1)
    src = work / "outpost-files-src"
    dst = work / "outpost-files-out"
    run_no = 0

    def one(files, parallel_upload):
        """Files in place on disk for node a; returns (total, add, seen, fetch) seconds."""
        nonlocal run_no
        run_no += 1
        sub = f"run-{run_no}"
        made = make_files(src / sub, files, seed=run_no)
        started = time.monotonic()

        def upload(item):
            name, size, _ = item
            with open(src / sub / name, "rb") as f:
                data = f.read()
            q = urllib.parse.urlencode({"name": name, "folder": sub})
            return a.call("POST", f"/api/files/upload?{q}", raw=data, content_type="application/octet-stream")["id"]

        if parallel_upload:
            with concurrent.futures.ThreadPoolExecutor(API_WORKERS) as pool:
                ids = list(pool.map(upload, made))
        else:
            ids = [upload(m) for m in made]
        added = time.monotonic()
        want_ids = set(ids)

        def listed():
            have = {e["id"] for e in b.get("/api/library") if e.get("kind") == "file"}
            return want_ids <= have

        wait_for("outpost b to list every file", 300, listed, 0.05)
        seen = time.monotonic()
        out = dst / sub
        out.mkdir(parents=True)

        def save(pair):
            fid, (name, size, _) = pair
            got = b.post(f"/api/files/{fid}/save", {"out": str(out / name)})
            if got["bytes"] != size:
                raise BenchError(f"outpost b saved {got['bytes']} bytes of {name}, not {size}")

        with concurrent.futures.ThreadPoolExecutor(API_WORKERS) as pool:
            list(pool.map(save, zip(ids, made)))
        done = time.monotonic()
        check_files(out, made, "outpost b")
        return (done - started, added - started, seen - added, done - seen)

    if "file-big" in want:
        size = cfg["big_mb"] * 1_000_000
        runs = [one([("big.bin", size)], False) for _ in range(cfg["runs"])]
        results["outpost"]["file-big"] = {"runs": runs}
        log(f"outpost, {cfg['big_mb']} MB file (total, add, listed, fetched): {runs}")
    if "small-files" in want:
        rng = random.Random(7)
        files = [(f"f{i:04}.bin", rng.randint(SMALL_MIN, SMALL_MAX)) for i in range(cfg["small_files"])]
        runs = [one(files, True) for _ in range(cfg["runs"])]
        results["outpost"]["small-files"] = {"runs": runs, "bytes": sum(s for _, s in files)}
        log(f"outpost, {cfg['small_files']} small files (total, add, listed, fetched): {runs}")
    bad = off_loopback(sockets_of([a.proc.pid, b.proc.pid]))
    if bad:
        raise BenchError(f"Outpost has sockets off 127.0.0.1: {bad}")
    a.stop()
    b.stop()


def outpost_doc_scenario(procs, binary, work, cfg, results):
    runs = cfg["doc_runs"]
    a, members = outpost_org(procs, binary, work, "docs-a", [f"docs-b{k}" for k in range(runs)])
    a.up()
    making = time.monotonic()

    def make(d):
        # One request to create, one for its changes (`appends`: each text
        # its own change, stored in one transaction).
        did = a.post("/api/docs", {"title": f"Doc {d}"})["id"]
        texts = [changetext(d, c) for c in range(cfg["changes"])]
        saved = a.post(f"/api/docs/{did}", {"appends": texts})
        if len(saved.get("changes", [])) != cfg["changes"]:
            raise BenchError(f"outpost a saved {len(saved.get('changes', []))} of {cfg['changes']} changes: {saved}")
        return did

    with concurrent.futures.ThreadPoolExecutor(MAKE_WORKERS) as pool:
        ids = list(pool.map(make, range(cfg["docs"])))
    made_s = time.monotonic() - making
    expected = {}
    export = work / "outpost-docs-export"
    export.mkdir()
    for d, did in enumerate(ids):
        shown = a.get(f"/api/docs/{did}")
        expected[did] = (shown["heads"], len(shown["body"]))
        # The same document as Automerge bytes, for the automerge-repo side.
        status, saved = request(a.api_port, "GET", f"/api/docs/{did}/export?format=automerge",
                                headers={"Authorization": f"Bearer {a.token}"})
        if status != 200:
            raise BenchError(f"outpost a: exporting document {did} answered {status}: {saved[:300]!r}")
        (export / f"{d:06}.automerge").write_bytes(saved)
    audited = len(a.post("/api/audit", {"action": "list"}).get("entries", []))
    total = a.envelopes() - audited
    log(f"outpost: {cfg['docs']} documents x {cfg['changes']} changes made through the API in {made_s:.1f} s; "
        f"{total} envelopes for a member to fetch")
    figures = []
    for b in members:
        started = time.monotonic()
        b.up([a.addr])
        api_up = time.monotonic()
        got = {"n": 0}

        def stored():
            got["n"] = b.envelopes()
            if got["n"] > total:
                raise BenchError(f"outpost {b.name} holds {got['n']} envelopes, more than the {total} expected")
            return got["n"] == total

        wait_for(f"outpost {b.name} to store every envelope", 600, stored, 0.05)
        stored_at = time.monotonic()

        def read(did):
            shown = b.get(f"/api/docs/{did}")
            heads, length = expected[did]
            if shown["heads"] != heads or len(shown["body"]) != length:
                raise BenchError(f"outpost {b.name} shows document {did} with heads {shown['heads']}, "
                                 f"{len(shown['body'])} characters; a has {heads}, {length}")

        with concurrent.futures.ThreadPoolExecutor(API_WORKERS) as pool:
            list(pool.map(read, ids))
        readable_at = time.monotonic()
        figures.append((stored_at - started, readable_at - started, api_up - started))
        log(f"outpost {b.name}: all stored {stored_at - started:.2f} s, all readable {readable_at - started:.2f} s "
            f"(API up after {api_up - started:.2f} s)")
        b.stop()
        shutil.rmtree(b.home, ignore_errors=True)
    bad = off_loopback(sockets_of([a.proc.pid]))
    a.stop()
    if bad:
        raise BenchError(f"Outpost has sockets off 127.0.0.1: {bad}")
    results["outpost"]["docs"] = {"runs": figures, "made_s": made_s, "envelopes": total}
    return export


# ---------------------------------------------------------------- automerge-repo


def automerge_scenario(procs, work, cfg, export, results):
    node = shutil.which("node")
    if not node:
        raise BenchError("node (Node.js) is not on PATH; install Node.js 18 or later")
    data = work / "automerge-server"
    docs_json = work / "automerge-docs.json"
    seed = subprocess.run(
        [node, "seed.mjs", "--dir", str(data), "--import", str(export), "--out", str(docs_json)],
        cwd=AUTOMERGE_DIR, capture_output=True, text=True, check=False,
    )
    if seed.returncode != 0:
        raise BenchError(f"automerge-repo seed.mjs failed: {seed.stderr[-2000:]}")
    seeded = json.loads(seed.stdout.strip().splitlines()[-1])
    if seeded["docs"] != cfg["docs"]:
        raise BenchError(f"automerge-repo seed.mjs imported {seeded['docs']} documents, not {cfg['docs']}")
    log(f"automerge-repo: {seeded['docs']} documents ({seeded['changes']} changes) imported and flushed in "
        f"{seeded['seconds']:.1f} s")
    port = free_port()
    server = procs.start(
        "automerge-repo sync server",
        [node, "server.mjs", "--dir", str(data), "--port", str(port)],
        work / "automerge-server.log",
        cwd=AUTOMERGE_DIR,
    )

    def listening():
        Procs.check_alive(server)
        return '"port"' in Path(server.bench_log).read_text()

    wait_for("the automerge-repo sync server to listen", 30, listening)
    runs = []
    version = json.loads((AUTOMERGE_DIR / "node_modules/@automerge/automerge-repo/package.json").read_text())["version"]
    for k in range(cfg["doc_runs"]):
        peer_dir = work / f"automerge-peer-{k}"
        started = time.monotonic()
        peer = subprocess.run(
            [node, "peer.mjs", "--url", f"ws://127.0.0.1:{port}", "--docs", str(docs_json), "--dir", str(peer_dir),
             "--timeout", "600"],
            cwd=AUTOMERGE_DIR, capture_output=True, text=True, check=False,
        )
        wall = time.monotonic() - started
        if peer.returncode != 0:
            raise BenchError(f"automerge-repo peer.mjs failed: {peer.stderr[-2000:]}")
        got = json.loads(peer.stdout.strip().splitlines()[-1])
        if got["docs"] != cfg["docs"]:
            raise BenchError(f"the automerge-repo peer loaded {got['docs']} of {cfg['docs']} documents")
        got["wall_s"] = wall
        runs.append(got)
        log(f"automerge-repo peer {k}: synced {got['synced_s']:.2f} s, flushed {got['flushed_s']:.2f} s, "
            f"process {wall:.2f} s")
        shutil.rmtree(peer_dir, ignore_errors=True)
        if k == 0:
            bad = off_loopback(sockets_of([server.pid]))
            if bad:
                raise BenchError(f"the automerge-repo server has sockets off 127.0.0.1: {bad}")
    procs.stop(server)
    results["automerge"] = {"runs": runs, "seed_s": seeded["seconds"], "version": version,
                            "changes": seeded["changes"]}


# ---------------------------------------------------------------- figures


def stats(values):
    return {
        "median": round(statistics.median(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "runs": [round(v, 4) for v in values],
    }


def figure(scenario, title, unit, outpost_values, baseline_name, baseline_values, notes):
    o = stats(outpost_values)
    b = None
    ratio = None
    if baseline_values:
        b = {"name": baseline_name, "kind": "peer", **stats(baseline_values)}
        ratio = round(o["median"] / b["median"], 3) if b["median"] else None
    return {
        "group": "peers",
        "scenario": scenario,
        "title": title,
        "unit": unit,
        "better": "higher",
        "outpost": o,
        "baseline": b,
        "ratio": ratio,
        "target": None,
        "met": None,
        "notes": notes,
    }


def build_figures(cfg, results):
    out = []
    st = results["syncthing"]
    op = results["outpost"]
    st_name = f"Syncthing {st.get('file-big', st.get('small-files', {})).get('version', '?')} (two instances on 127.0.0.1)"
    if "file-big" in op:
        mb = cfg["big_mb"]
        o = [mb / r[0] for r in op["file-big"]["runs"]]
        s = [mb / x for x in st.get("file-big", {}).get("seconds", [])]
        parts = "; ".join(f"{r[0]:.2f} s = add {r[1]:.2f} + listed on B {r[2]:.2f} + fetch and save {r[3]:.2f}"
                          for r in op["file-big"]["runs"])
        out.append(figure(
            f"file-{mb}mb", f"{mb} MB file between two nodes", "MB/s", o, st_name, s,
            f"{mb} MB (10^6 bytes) of random bytes in a file on node A's disk until B holds the same bytes "
            f"(sha256 checked). Outpost: upload through A's API (encrypted into its blob store, added to the "
            f"library), B waits for the entry, then POST /api/files/ID/save fetches the chunks from A and writes "
            f"the file ({parts}). Syncthing: file written into A's folder, scan triggered by REST, until B's "
            f"/rest/db/status shows it in sync (runs {fmt_runs(st.get('file-big', {}).get('seconds', []))} s).",
        ))
    if "small-files" in op:
        n = cfg["small_files"]
        o = [n / r[0] for r in op["small-files"]["runs"]]
        s = [n / x for x in st.get("small-files", {}).get("seconds", [])]
        parts = "; ".join(f"{r[0]:.2f} s = add {r[1]:.2f} + listed on B {r[2]:.2f} + fetch and save {r[3]:.2f}"
                          for r in op["small-files"]["runs"])
        out.append(figure(
            f"small-files-{n}", f"{n:,} small files between two nodes", "files/s", o, st_name, s,
            f"{n} random files of {SMALL_MIN // 1000}-{SMALL_MAX // 1000} KB ({op['small-files']['bytes'] / 1e6:.1f} MB in all) "
            f"on A's disk until B holds them all (sha256 checked). Outpost: {API_WORKERS} concurrent uploads to A's "
            f"API, B waits for every entry, then {API_WORKERS} concurrent saves on B ({parts}). Syncthing: scan "
            f"triggered by REST until B is in sync (runs {fmt_runs(st.get('small-files', {}).get('seconds', []))} s).",
        ))
    if "docs" in op:
        d, c = cfg["docs"], cfg["changes"]
        am = results.get("automerge", {})
        am_runs = am.get("runs", [])
        am_name = f"automerge-repo {am.get('version', '?')} (Node.js sync server, NodeFS storage, WebSocket, 127.0.0.1)"
        o_runs = op["docs"]["runs"]
        total_changes = d * c
        a_flushed = [total_changes / r["flushed_s"] for r in am_runs]
        notes_common = (
            f"{d} documents of {c} changes (appends of ~100 characters) on one node; an empty peer fetches them "
            f"all. Outpost: {op['docs']['envelopes']} envelopes, made through A's API ({op['docs']['made_s']:.1f} s, "
            f"one `appends` request per document, {MAKE_WORKERS} writer(s) at once); the time runs from starting B's `outpost up` (dialling A) and "
            f"includes B's start-up (API up after {', '.join(f'{r[2]:.2f}' for r in o_runs)} s). automerge-repo: "
            f"the same documents (exported from A as Automerge bytes, {am.get('changes', 0)} changes in all) "
            f"imported into a Repo on the file-system storage adapter and flushed ({am.get('seed_s', 0):.1f} s), "
            f"then the sync server started from that storage; the peer "
            f"process asks for every id ({am_runs[0]['concurrency'] if am_runs else '?'} at a time; documents asked again after "
            f"the repo's 60 s request timeout: {', '.join(str(r['retries']) for r in am_runs)}), waits until each has "
            f"the seeded heads and flushes its own storage; timed "
            f"from connecting (synced {fmt_runs([r['synced_s'] for r in am_runs])} s, flushed "
            f"{fmt_runs([r['flushed_s'] for r in am_runs])} s, whole process {fmt_runs([r['wall_s'] for r in am_runs])} s)."
        )
        out.append(figure(
            f"docs-{d}x{c}-stored", f"{d:,} documents x {c} changes to an empty peer: all stored", "changes/s",
            [total_changes / r[0] for r in o_runs], am_name, a_flushed,
            "Outpost: until B's /api/status counts every envelope (verified, stored durably; documents not yet "
            f"materialised): {fmt_runs([r[0] for r in o_runs])} s. " + notes_common,
        ))
        out.append(figure(
            f"docs-{d}x{c}-readable", f"{d:,} documents x {c} changes to an empty peer: each readable",
            "changes/s", [total_changes / r[1] for r in o_runs], am_name, a_flushed,
            f"Outpost: all stored, then every document read through B's API (GET /api/docs/ID, {API_WORKERS} at a "
            f"time; decrypt + automerge load), heads and length checked against A: {fmt_runs([r[1] for r in o_runs])} s. "
            + notes_common,
        ))
    return out


def print_table(figs):
    print()
    print(f"{'scenario':<28} {'unit':<10} {'Outpost':>10} {'peer':>10} {'ratio':>7}  peer system")
    for f in figs:
        b = f["baseline"]
        print(
            f"{f['scenario']:<28} {f['unit']:<10} {f['outpost']['median']:>10.2f} "
            f"{(b['median'] if b else float('nan')):>10.2f} {(f['ratio'] or float('nan')):>7.2f}  "
            f"{b['name'] if b else '-'}"
        )
    print("(medians; ratio = Outpost / peer, higher is better for Outpost)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=sorted(MODES))
    ap.add_argument("--outpost", required=True, type=Path, help="the release outpost binary")
    ap.add_argument("--work", required=True, type=Path, help="an empty temporary directory")
    ap.add_argument("--out", required=True, type=Path, help="where to write peers.figures.json")
    ap.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {','.join(SCENARIOS)}")
    opts = ap.parse_args()
    want = [s.strip() for s in opts.only.split(",") if s.strip()]
    unknown = [s for s in want if s not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario(s) {unknown}; choose from {', '.join(SCENARIOS)}")
    if not os.access(opts.outpost, os.X_OK):
        ap.error(f"--outpost {opts.outpost} is not an executable file; build it with cargo build --release -p outpost")
    cfg = MODES[opts.mode]
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    load = [round(x, 2) for x in os.getloadavg()]
    procs = Procs()
    results = {"syncthing": {}, "outpost": {}}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t0 = time.monotonic()
    try:
        opts.work.mkdir(parents=True, exist_ok=True)
        files = [s for s in want if s in ("file-big", "small-files")]
        if files:
            syncthing_scenarios(procs, opts.work, cfg, files, results)
            outpost_file_scenarios(procs, opts.outpost, opts.work, cfg, files, results)
        if "docs" in want:
            export = outpost_doc_scenario(procs, opts.outpost, opts.work, cfg, results)
            automerge_scenario(procs, opts.work, cfg, export, results)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        procs.stop_all()
    figs = build_figures(cfg, results)
    doc = {"group": "peers", "mode": opts.mode, "started": started, "load_avg": load, "figures": figs}
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(doc, indent=2) + "\n")
    print_table(figs)
    print(f"wrote {opts.out} in {time.monotonic() - t0:.0f} s (load average at start {load})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
