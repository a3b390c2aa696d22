"""test_agent.py — bin/barbacane-agent against a stand-in control plane (no hub needed).

The stand-in (a python3-websockets server in a thread) plays the control plane exactly as
../shared/contract/NOTES.md says: `registered` (or `registration_failed` + close 1008) as the
first frame, `heartbeat_ack {drift_detected}` for each heartbeat, `artifact_available` with a
relative download_url carrying a token, served on the same port by a plain HTTP GET. Artifacts
are real: the C writer's output (build/tests/test_bca with BCA_WRITE_DIR; the Python scratch
builder of tests/tools when that is not built), checked by the independent
tests/tools/bca_verify.py before use. Each test asserts what the server sees on
the wire (the agent's JSON lines say why, but the wire is the proof).
"""
import asyncio
import gzip
import hashlib
import http
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from pathlib import Path

import pytest
import websockets

import harness
from agent import Agent

sys.path.insert(0, str(harness.REPO_ROOT / "tests" / "tools"))
import bca_verify  # noqa: E402

PROJECT = "0f6c8a4e-6a52-4b4c-9d7e-0c1f0c2d3e4f"
KEY = "bbk_" + "k" * 43
TOOLS_DIR = Path(os.environ.get("BARBACANE_TOOLS_DIR") or harness.REPO_ROOT / "build" / "tests")
FAST = ["--reconnect-min-ms", "200", "--reconnect-max-ms", "2000"]


# ------------------------------------------------------------------ the stand-in control plane

class Conn:
    def __init__(self, ws, path):
        self.ws = ws
        self.path = path
        self.headers = dict(ws.request_headers)
        self.opened = time.monotonic()
        self.messages = []          # (monotonic time, parsed JSON or raw text)
        self.closed = None
        self.close_code = None

    def of_type(self, t):
        return [(at, m) for at, m in self.messages if isinstance(m, dict) and m.get("type") == t]


class StandIn:
    """A control plane on 127.0.0.1:<port>. mode: "ok" (registered), "fail"
    (registration_failed + 1008), "silent" (never answers register), "wrong-first" (a
    heartbeat_ack before registered)."""

    def __init__(self, mode="ok", interval=1):
        self.mode = mode
        self.interval = interval
        self.conns = []
        self.downloads = []         # (path, headers) of every HTTP GET
        self.files = {}             # path with query -> (bytes, delay_s, status)
        self.loop = asyncio.new_event_loop()
        self.port = harness.free_ports(1)[0]
        self._ready = threading.Event()
        self._stop = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self._ready.wait(10), "stand-in did not start"

    @property
    def url(self):
        return f"ws://127.0.0.1:{self.port}/ws/data-plane"

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._main())

    async def _main(self):
        self._stop = asyncio.Event()
        async with websockets.serve(self._handler, "127.0.0.1", self.port,
                                    process_request=self._http, ping_interval=None,
                                    max_size=1 << 20):
            self._ready.set()
            await self._stop.wait()

    async def _http(self, path, headers):
        if not path.startswith("/artifacts/"):
            return None                     # the WebSocket upgrade goes on
        self.downloads.append((path, dict(headers)))
        data, delay, status = self.files.get(path, (b"", 0, 404))
        if delay:
            await asyncio.sleep(delay)
        return http.HTTPStatus(status), [("Content-Type", "application/octet-stream")], data

    async def _handler(self, ws, path=None):
        conn = Conn(ws, path)
        self.conns.append(conn)
        try:
            first = await ws.recv()
            conn.messages.append((time.monotonic(), _parse(first)))
            if self.mode == "fail":
                await ws.send(json.dumps({"type": "registration_failed",
                                          "reason": "invalid API key"}))
                await ws.close(1008, "registration failed")
                return
            if self.mode == "silent":
                await ws.wait_closed()
                return
            if self.mode == "wrong-first":
                await ws.send(json.dumps({"type": "heartbeat_ack", "drift_detected": False}))
            await ws.send(json.dumps({"type": "registered", "data_plane_id": str(uuid.uuid4()),
                                      "heartbeat_interval_secs": self.interval}))
            async for raw in ws:
                msg = _parse(raw)
                conn.messages.append((time.monotonic(), msg))
                if isinstance(msg, dict) and msg.get("type") == "heartbeat":
                    await ws.send(json.dumps({"type": "heartbeat_ack", "drift_detected": False}))
        except websockets.ConnectionClosed:
            pass
        finally:
            conn.closed = time.monotonic()
            conn.close_code = ws.close_code

    # --- driven from the test thread
    def call(self, coro, timeout=10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def send(self, conn, payload):
        text = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
        self.call(conn.ws.send(text))

    def close(self, conn, code=1000, reason="bye"):
        self.call(conn.ws.close(code, reason))

    def serve(self, data, delay=0, status=200):
        """Publishes data at a fresh /artifacts/<id>/download?token=… path; (id, path)."""
        art = str(uuid.uuid4())
        path = f"/artifacts/{art}/download?token=t0k-{uuid.uuid4().hex}"
        self.files[path] = (data, delay, status)
        return art, path

    def offer(self, conn, data, sha=None, delay=0, status=200):
        art, path = self.serve(data, delay, status)
        self.send(conn, {"type": "artifact_available", "artifact_id": art, "download_url": path,
                         "sha256": sha or hashlib.sha256(data).hexdigest()})
        return art, path

    def registered_conn(self, i=0, timeout=10):
        """The i-th connection once its first heartbeat arrived (so it is registered)."""
        harness.wait_until(lambda: len(self.conns) > i and self.conns[i].of_type("heartbeat"),
                           timeout, what=f"connection {i} registered and heartbeating")
        return self.conns[i]

    def shutdown(self):
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(10)


def _parse(raw):
    if isinstance(raw, bytes):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


# ------------------------------------------------------------------ fixtures

@pytest.fixture
def standin():
    servers = []

    def make(mode="ok", interval=1):
        s = StandIn(mode, interval)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.shutdown()


@pytest.fixture
def agents(tmp_path):
    started = []

    def make(url, *extra, name=None, key=KEY, project=PROJECT, work_dir=None):
        a = Agent(None, project, key, name=name, url=url, extra=extra, work_dir=work_dir,
                  log_dir=tmp_path)
        started.append(a)
        return a

    yield make
    for a in started:
        a.stop()


def _manifest(bca):
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(bca))) as tar:
        return json.loads(tar.extractfile("manifest.json").read())


def _python_artifacts():
    """The same three artifacts from the scratch builder of tests/tools/test_bca_verify.py, for
    a tree where the C writer's test binary is not built (make test-blackbox)."""
    import test_bca_verify as tbv

    def huge_waf(m):
        m["waf"]["max_response_body"] = 2 ** 64 - 1
        m["artifact_hash"] = bca_verify.artifact_hash(m, m["source_specs"], m["plugins"],
                                                      m["waf"], 6)
    return {"golden6.bca": tbv.build(6)[1], "golden4.bca": tbv.build(4)[1],
            "waf_u64.bca": tbv.build(6, edit_manifest=huge_waf)[1]}


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    """Real artifacts (format 6 and 4, a WAF value past int64): the C writer's output
    (build/tests/test_bca with BCA_WRITE_DIR) when built, else the Python scratch builder's;
    each verified by the independent Python checker first. name -> (bytes, artifact_hash from
    its manifest)."""
    writer = TOOLS_DIR / "test_bca"
    if os.access(writer, os.X_OK):
        out = tmp_path_factory.mktemp("bca")
        r = subprocess.run([str(writer)], env=dict(os.environ, BCA_WRITE_DIR=str(out)),
                           capture_output=True, timeout=120)
        assert r.returncode == 0, r.stdout.decode()[-2000:]
        blobs = {name: (out / name).read_bytes()
                 for name in ("golden6.bca", "golden4.bca", "waf_u64.bca")}
    else:
        blobs = _python_artifacts()
    got = {}
    for name, data in blobs.items():
        assert bca_verify.verify(data) == [], name
        got[name] = (data, _manifest(data)["artifact_hash"])
    return got


def _with_manifest(bca, edit):
    """The artifact with manifest.json's bytes changed by edit (same length, so the tar
    header stays valid), recompressed into one gzip member."""
    tar = bytearray(gzip.decompress(bca))
    assert tar[:13] == b"manifest.json"
    size = int(tar[124:135], 8)
    body = bytes(tar[512:512 + size])
    new = edit(body)
    assert len(new) == len(body)
    tar[512:512 + size] = new
    return gzip.compress(bytes(tar), mtime=0)


# ------------------------------------------------------------------ registration, heartbeats

def test_registers_nameless_and_heartbeats_at_the_advertised_interval(standin, agents):
    cp = standin(interval=1)
    a = agents(cp.url)
    conn = cp.registered_conn()
    reg = conn.messages[0][1]
    # what the real data plane sends: no name member when it runs without one
    assert set(reg) == {"type", "project_id", "api_key", "metadata"}
    assert reg["type"] == "register" and reg["project_id"] == PROJECT and reg["api_key"] == KEY
    assert reg["metadata"]["agent"] == "barbacane-agent"
    assert "authorization" not in {k.lower() for k in conn.headers}
    harness.wait_until(lambda: len(conn.of_type("heartbeat")) >= 4, 8,
                       what="four heartbeats")
    beats = conn.of_type("heartbeat")
    # the first right after registered, then one per heartbeat_interval_secs
    assert beats[0][0] - conn.messages[0][0] < 0.5
    gaps = [b[0] - a_[0] for a_, b in zip(beats, beats[1:4])]
    assert all(0.7 < g < 1.4 for g in gaps), gaps
    for _, hb in beats:
        # no artifact yet: the member is absent, as serde writes None
        assert set(hb) == {"type", "uptime_secs", "requests_total"}, hb
        assert hb["requests_total"] == 0
    assert [hb["uptime_secs"] for _, hb in beats[:3]] == [0, 1, 2]
    ev = a.wait_for("registered")
    assert ev["heartbeat_interval_secs"] == 1 and ev["name"] is None
    assert len(a.wait_count("heartbeat_ack", 2)) == 2


def test_name_metadata_and_bearer(standin, agents):
    cp = standin()
    agents(cp.url, "--bearer", "--metadata", '{"region": "eu-west", "n": 3}', name="edge-7")
    conn = cp.registered_conn()
    reg = conn.messages[0][1]
    assert reg["name"] == "edge-7"
    assert reg["metadata"] == {"region": "eu-west", "n": 3}
    headers = {k.lower(): v for k, v in conn.headers.items()}
    assert headers.get("authorization") == f"Bearer {KEY}"


def test_answers_pings(standin, agents):
    cp = standin()
    agents(cp.url)
    conn = cp.registered_conn()

    async def ping():
        waiter = await conn.ws.ping(b"are-you-there")
        await asyncio.wait_for(waiter, 5)
        return True

    assert cp.call(ping())


# ------------------------------------------------------------------ artifacts

@pytest.mark.parametrize("name", ["golden6.bca", "golden4.bca", "waf_u64.bca"])
def test_downloads_verifies_and_reports_the_new_hash(standin, agents, artifacts, name):
    data, want_hash = artifacts[name]
    cp = standin(interval=1)
    a = agents(cp.url)
    conn = cp.registered_conn()
    art, path = cp.offer(conn, data)
    harness.wait_until(lambda: conn.of_type("artifact_downloaded"), 10,
                       what="artifact_downloaded")
    ack = conn.of_type("artifact_downloaded")[0][1]
    assert ack == {"type": "artifact_downloaded", "artifact_id": art, "success": True}
    # a plain GET of the relative URL joined to ws://host:port, with no credential at all
    assert [p for p, _ in cp.downloads] == [path]
    sent = {k.lower() for k in cp.downloads[0][1]}
    assert not sent & {"authorization", "cookie", "proxy-authorization"}, sent
    # the next heartbeats report the artifact_hash of the loaded manifest
    harness.wait_until(lambda: any(hb.get("artifact_hash") == want_hash
                                   for _, hb in conn.of_type("heartbeat")), 5,
                       what="a heartbeat with the new artifact_hash")
    ev = a.wait_for("verified")
    assert ev["artifact_hash"] == want_hash and ev["artifact_id"] == art
    assert ev["format"] == (4 if name == "golden4.bca" else 6)
    assert a.wait_for("downloaded")["bytes"] == len(data)


def test_checksum_mismatch_is_reported_and_not_loaded(standin, agents, artifacts):
    data, _ = artifacts["golden6.bca"]
    cp = standin(interval=1)
    a = agents(cp.url)
    conn = cp.registered_conn()
    art, _ = cp.offer(conn, data, sha="0" * 64)
    harness.wait_until(lambda: conn.of_type("artifact_downloaded"), 10,
                       what="artifact_downloaded")
    ack = conn.of_type("artifact_downloaded")[0][1]
    assert ack["artifact_id"] == art and ack["success"] is False
    assert "checksum mismatch" in ack["error"]
    mark = len(conn.of_type("heartbeat"))
    harness.wait_until(lambda: len(conn.of_type("heartbeat")) > mark, 5, what="a heartbeat")
    assert all("artifact_hash" not in hb for _, hb in conn.of_type("heartbeat"))
    assert "checksum mismatch" in a.wait_for("rejected")["error"]


def test_tampered_manifest_is_rejected_by_the_hash_recomputation(standin, agents, artifacts):
    data, good_hash = artifacts["golden6.bca"]
    # a manifest that claims another artifact_hash: same length, valid JSON, wrong digest
    claimed = good_hash[:-4] + ("0000" if not good_hash.endswith("0000") else "1111")
    bad = _with_manifest(data, lambda m: m.replace(good_hash.encode(), claimed.encode()))
    assert bca_verify.verify(bad) != []
    cp = standin(interval=1)
    a = agents(cp.url)
    conn = cp.registered_conn()
    art, _ = cp.offer(conn, bad)        # the file's own sha256: the download itself is fine
    harness.wait_until(lambda: conn.of_type("artifact_downloaded"), 10,
                       what="artifact_downloaded")
    ack = conn.of_type("artifact_downloaded")[0][1]
    assert ack["success"] is False and "artifact hash mismatch" in ack["error"], ack
    assert a.wait_for("rejected")["artifact_id"] == art
    # then a good one still loads: the agent is not stuck in a reload
    art2, _ = cp.offer(conn, data)
    harness.wait_until(lambda: len(conn.of_type("artifact_downloaded")) == 2, 10,
                       what="the second artifact_downloaded")
    assert conn.of_type("artifact_downloaded")[1][1]["success"] is True


def test_http_error_is_reported(standin, agents, artifacts):
    cp = standin()
    agents(cp.url)
    conn = cp.registered_conn()
    cp.offer(conn, b"gone", status=404)
    harness.wait_until(lambda: conn.of_type("artifact_downloaded"), 10,
                       what="artifact_downloaded")
    ack = conn.of_type("artifact_downloaded")[0][1]
    assert ack["success"] is False and "404" in ack["error"]


def test_download_size_and_time_are_bounded(standin, agents, artifacts):
    data, _ = artifacts["golden6.bca"]
    cp = standin()
    agents(cp.url, "--max-download-bytes", "1000", "--download-timeout-ms", "500")
    conn = cp.registered_conn()
    cp.offer(conn, data)                         # 1,425 bytes > 1,000
    harness.wait_until(lambda: conn.of_type("artifact_downloaded"), 10,
                       what="artifact_downloaded")
    ack = conn.of_type("artifact_downloaded")[0][1]
    assert ack["success"] is False and "larger than" in ack["error"], ack
    started = time.monotonic()
    cp.offer(conn, data[:900], delay=3)          # small enough, but far too slow
    harness.wait_until(lambda: len(conn.of_type("artifact_downloaded")) == 2, 10,
                       what="the second artifact_downloaded")
    ack = conn.of_type("artifact_downloaded")[1][1]
    assert ack["success"] is False and "timed out" in ack["error"], ack
    assert time.monotonic() - started < 2.5


def test_notification_during_a_reload_is_refused_like_the_data_plane(standin, agents,
                                                                       artifacts):
    data, want_hash = artifacts["golden6.bca"]
    cp = standin(interval=1)
    agents(cp.url)
    conn = cp.registered_conn()
    slow, _ = cp.offer(conn, data, delay=1.5)       # the first download takes 1.5 s
    harness.wait_until(lambda: cp.downloads, 5, what="the first download to start")
    second, _ = cp.offer(conn, data)
    harness.wait_until(lambda: len(conn.of_type("artifact_downloaded")) == 2, 10,
                       what="both answers")
    # the refusal goes out at once, the slow reload's answer when it is done
    second_ack, first_ack = (m for _, m in conn.of_type("artifact_downloaded"))
    assert second_ack == {"type": "artifact_downloaded", "artifact_id": second,
                          "success": False, "error": "hot-reload already in progress"}
    assert first_ack == {"type": "artifact_downloaded", "artifact_id": slow, "success": True}
    assert len(cp.downloads) == 1


# ------------------------------------------------------------------ failures and reconnects

def test_registration_failed_retries_with_growing_jittered_backoff(standin, agents):
    cp = standin(mode="fail")
    a = agents(cp.url, *FAST)
    harness.wait_until(lambda: len(cp.conns) >= 5, 15, what="five registration attempts")
    assert a.wait_for("registration_failed")["reason"] == "invalid API key"
    gaps = [b.opened - x.opened for x, b in zip(cp.conns, cp.conns[1:5])]
    # ceilings 200, 400, 800, 1600 ms; each delay in the upper half of its ceiling
    for k, g in enumerate(gaps):
        ceiling = 0.2 * 2 ** k
        assert ceiling / 2 - 0.02 <= g <= ceiling + 0.25, (k, gaps)
    delays = [e["delay_ms"] for e in a.events("reconnecting")[:4]]
    assert [e["attempt"] for e in a.events("reconnecting")[:4]] == [0, 1, 2, 3]
    assert all(200 * 2 ** k // 2 <= d <= 200 * 2 ** k for k, d in enumerate(delays)), delays


def test_reconnect_delays_are_jittered_never_a_fixed_sleep(standin, agents):
    cp = standin(mode="fail")
    a = agents(cp.url, "--sessions", "20", "--reconnect-min-ms", "1000")
    first = a.wait_count("reconnecting", 20, lambda e: e["attempt"] == 0, timeout=15)
    delays = [e["delay_ms"] for e in first]
    assert all(500 <= d <= 1000 for d in delays), delays
    # 20 draws from 501 values: all equal (or only two values) would mean no jitter
    assert len(set(delays)) >= 5, delays


def test_disconnect_is_only_logged_and_the_close_brings_a_reconnect(standin, agents):
    cp = standin(interval=1)
    a = agents(cp.url, *FAST)
    conn = cp.registered_conn()
    cp.send(conn, {"type": "disconnect", "reason": "kicked by an operator"})
    assert a.wait_for("disconnect")["reason"] == "kicked by an operator"
    # the data plane does not close on its own: it goes on heartbeating until we close
    mark = len(conn.of_type("heartbeat"))
    harness.wait_until(lambda: len(conn.of_type("heartbeat")) > mark, 3,
                       what="a heartbeat after disconnect")
    assert conn.closed is None
    cp.close(conn, 1000, "bye")
    closed_at = time.monotonic()
    again = cp.registered_conn(1)
    # registered before, so back after the base delay (200 ms ceiling), not a longer backoff
    assert again.opened - closed_at < 0.2 + 0.3
    ev = a.wait_for("closed")
    assert ev["code"] == 1000
    assert a.wait_for("reconnecting")["attempt"] == 0
    assert len(a.wait_count("registered", 2)) == 2


def test_first_frame_must_be_registered(standin, agents):
    cp = standin(mode="wrong-first")
    a = agents(cp.url, *FAST)
    harness.wait_until(lambda: len(cp.conns) >= 2, 10, what="a second attempt")
    assert "unexpected first frame" in a.wait_for("protocol_error")["reason"]
    assert not a.events("registered")
    # the agent dropped the connection: no heartbeat ever went out
    assert all(not c.of_type("heartbeat") for c in cp.conns)


def test_registration_timeout_then_retry(standin, agents):
    cp = standin(mode="silent")
    a = agents(cp.url, *FAST, "--register-timeout-ms", "500")
    harness.wait_until(lambda: len(cp.conns) >= 2, 10, what="a second attempt")
    assert a.wait_for("registration_timeout")["after_ms"] == 500
    harness.wait_until(lambda: cp.conns[0].closed is not None, 5,
                       what="the first connection dropped")


class _Refusing(StandIn):
    """A control plane (or a gateway without a hub) that answers the upgrade with status."""

    def __init__(self, status):
        self.status = status
        super().__init__()

    async def _http(self, path, headers):
        return http.HTTPStatus(self.status), [("WWW-Authenticate", "Bearer")], b"{}"


@pytest.mark.parametrize("status", [401, 503])
def test_upgrade_refused_is_reported_with_its_status(agents, status):
    cp = _Refusing(status)
    try:
        a = agents(cp.url, *FAST, "--bearer")
        ev = a.wait_for("connect_failed")
        assert ev["status"] == status
        assert a.wait_for("reconnecting")["attempt"] == 0
        harness.wait_until(lambda: len(a.events("connect_failed")) >= 2, 5,
                           what="a second attempt")
        assert not a.events("registered")
    finally:
        cp.shutdown()


def test_hostile_messages_are_ignored_and_the_session_lives(standin, agents):
    cp = standin(interval=1)
    a = agents(cp.url)
    conn = cp.registered_conn()
    for junk in ["not json", "[]", '{"no": "type"}', '{"type": 7}', '{"type": "bogus"}',
                 '{"type": "artifact_available", "artifact_id": "nope"}',
                 '{"type": "heartbeat_ack"}', '{"type": "disconnect", "reason": 1}',
                 '{"type": "registered", "data_plane_id": "x"}',
                 '{"type": "a", "type": "b"}', "{" * 5000 + "}" * 5000,
                 b"\x00\xff binary", "x" * (1 << 20) + "y"]:
        cp.send(conn, junk)
    a.wait_count("ignored", 13, timeout=10)
    mark = len(conn.of_type("heartbeat"))
    harness.wait_until(lambda: len(conn.of_type("heartbeat")) >= mark + 2, 5,
                       what="heartbeats after the junk")
    assert conn.closed is None and a.alive()
    assert len(cp.conns) == 1


# ------------------------------------------------------------------ many sessions

def test_200_sessions_from_one_process(standin, agents):
    cp = standin(interval=5)
    a = agents(cp.url, "--sessions", "200", "--no-download", name="bench")
    summary = a.wait_for("all_registered", timeout=30)
    assert summary["sessions"] == 200
    harness.wait_until(lambda: sum(1 for c in cp.conns if c.of_type("heartbeat")) >= 200, 15,
                       what="200 heartbeating sessions")
    names = sorted(c.messages[0][1]["name"] for c in cp.conns)
    assert names == sorted(f"bench-{i}" for i in range(200))
    assert len(cp.conns) == 200
    art = str(uuid.uuid4())
    for c in cp.conns:
        cp.send(c, {"type": "artifact_available", "artifact_id": art,
                    "download_url": f"/artifacts/{art}/download?token=x", "sha256": "0" * 64})
    done = a.wait_for("all_artifact_available", timeout=15)
    assert done["artifact_id"] == art and done["sessions"] == 200
    assert done["first_at_ms"] <= done["last_at_ms"]
    assert len(a.events("artifact_available")) == 200
    assert not cp.downloads           # --no-download: nothing fetched


def test_nameless_sessions_register_without_a_name(standin, agents):
    cp = standin(interval=5)
    a = agents(cp.url, "--sessions", "3")
    a.wait_for("all_registered", timeout=15)
    harness.wait_until(lambda: len(cp.conns) == 3, 5, what="3 connections")
    assert all("name" not in c.messages[0][1] for c in cp.conns)


def test_sigterm_closes_sessions_cleanly(standin, agents):
    cp = standin(interval=1)
    a = agents(cp.url)
    conn = cp.registered_conn()
    assert a.stop() == 0
    harness.wait_until(lambda: conn.closed is not None, 5, what="the close")
    assert conn.close_code == 1000
    assert a.events("exit")


# ------------------------------------------------------------------ wss and https

class _TlsStandIn(StandIn):
    def __init__(self, cert, key):
        import ssl
        self.ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ssl.load_cert_chain(cert, key)
        super().__init__()

    @property
    def url(self):
        return f"wss://127.0.0.1:{self.port}/ws/data-plane"

    async def _main(self):
        self._stop = asyncio.Event()
        async with websockets.serve(self._handler, "127.0.0.1", self.port, ssl=self.ssl,
                                    process_request=self._http, ping_interval=None):
            self._ready.set()
            await self._stop.wait()


def test_wss_downloads_over_https_with_the_given_ca(agents, artifacts, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1", "-days", "1"], capture_output=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    data, want_hash = artifacts["golden6.bca"]
    cp = _TlsStandIn(str(cert), str(key))
    try:
        # without trusting the certificate: the upgrade never happens
        untrusting = agents(cp.url, *FAST)
        assert untrusting.wait_for("connect_failed")["status"] is None
        untrusting.stop()
        assert not cp.conns
        a = agents(cp.url, "--ca-file", str(cert))
        conn = cp.registered_conn()
        art, path = cp.offer(conn, data)
        assert a.wait_for("verified")["artifact_hash"] == want_hash
        # the relative URL went to https on the same authority (a TLS GET on this port)
        assert [p for p, _ in cp.downloads] == [path]
    finally:
        cp.shutdown()
