"""barbacane-hub against real processes: WebSocket sessions speaking exactly what the real
Barbacane data plane speaks (python3-websockets as the client, raw sockets where the bytes on
the wire matter), data_planes rows and statuses, convergence by heartbeat, events from the
registry (revoke, project delete, kick), a SIGKILLed hub, and hostile clients."""
import asyncio
import base64
import hashlib
import json
import os
import re
import secrets
import selectors
import signal
import socket
import struct
import threading
import time
import uuid

import pytest
import requests
import websockets

import harness
from harness import assert_json, wait_until

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TF = harness.TIME_FACTOR
HB = 2   # heartbeat_interval_secs of the module's hub


# ---------------------------------------------------------------- clients

class _Loop:
    """One asyncio loop in a thread, so tests stay synchronous."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def run(self, coro, timeout):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


LOOP = _Loop()


class DataPlane:
    """A data plane as the real one behaves: no pings of its own, JSON text messages."""

    def __init__(self, url, headers=None):
        async def connect():
            return await websockets.connect(url, ping_interval=None, open_timeout=5,
                                            close_timeout=2, max_size=2 ** 20,
                                            extra_headers=headers or {})
        self.ws = LOOP.run(connect(), 10)
        self.seen = []

    def send(self, msg):
        text = msg if isinstance(msg, (str, bytes)) else json.dumps(msg)
        LOOP.run(self.ws.send(text), 10)

    def recv(self, timeout=5):
        text = LOOP.run(asyncio.wait_for(self.ws.recv(), timeout), timeout + 2)
        msg = json.loads(text)
        self.seen.append(msg)
        return msg

    def recv_type(self, kind, timeout=5):
        """The next message of type kind (others are kept in self.seen)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind} within {timeout}s; saw {self.seen[-5:]}")
            try:
                msg = self.recv(left)
            except asyncio.TimeoutError:
                continue
            if msg.get("type") == kind:
                return msg

    def register(self, project_id, api_key, name=None, metadata=None):
        msg = {"type": "register", "project_id": project_id, "api_key": api_key,
               "metadata": metadata if metadata is not None else {}}
        if name is not None:
            msg["name"] = name
        self.send(msg)
        return self.recv()

    def heartbeat(self, artifact_hash, uptime=1, requests_total=0):
        msg = {"type": "heartbeat", "uptime_secs": uptime, "requests_total": requests_total}
        if artifact_hash is not None:
            msg["artifact_hash"] = artifact_hash
        self.send(msg)
        return self.recv_type("heartbeat_ack")

    def wait_closed(self, timeout=5):
        """(close code, reason) once the hub has closed the connection."""
        LOOP.run(asyncio.wait_for(self.ws.wait_closed(), timeout), timeout + 2)
        return self.ws.close_code, self.ws.close_reason

    def close(self):
        try:
            LOOP.run(self.ws.close(), 5)
        except Exception:
            pass


class RawWS:
    """A hand-written WebSocket client for checking bytes on the wire and misbehaving."""

    def __init__(self, port, path="/ws/data-plane", headers=(), rcvbuf=None, timeout=5):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        extra = "".join(f"{h}\r\n" for h in headers)
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"{extra}\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
        self.headers = {k.strip().lower(): v.strip() for k, _, v in
                        (line.partition(":") for line in lines[1:])}

    def send_frame(self, opcode, payload, fin=True):
        head = bytes([(0x80 if fin else 0) | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def send_json(self, obj):
        self.send_frame(1, json.dumps(obj).encode())

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_frame(self):
        """(opcode, payload) of the next frame, whatever it is."""
        b0, b1 = self._read(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
        return b0 & 0x0F, self._read(n)

    def recv_json(self):
        op, payload = self.recv_frame()
        assert op == 1, f"expected a text frame, got opcode {op}: {payload[:80]!r}"
        return json.loads(payload)

    def close(self):
        self.sock.close()


# ---------------------------------------------------------------- fixtures and helpers

HUB_FLAGS = ["--heartbeat-interval-s", str(HB), "--register-timeout-s", "2",
             "--reap-interval-s", "1", "--hub-dead-after-s", "3", "--offline-ttl-s", "3"]


@pytest.fixture(scope="module")
def hstack(binaries, pg):
    """A gateway, a registry, a compiler (artifact downloads) and one hub."""
    s = harness.Stack(pg, registries=1, compilers=1, hubs=1, hub_args=HUB_FLAGS,
                      name="hub").start()
    yield s
    s.close()
    s.remove_files()


@pytest.fixture
def hub(hstack):
    return hstack.hubs[0]


def new_project(stack):
    return assert_json(stack.post("/projects", json={"name": f"hub-{uuid.uuid4().hex[:10]}"}),
                       201)


def new_key(stack, pid, **fields):
    return assert_json(stack.post(f"/projects/{pid}/api-keys",
                                  json={"name": f"k-{uuid.uuid4().hex[:8]}", **fields}), 201)


@pytest.fixture
def tenant(hstack):
    p = new_project(hstack)
    return p["id"], new_key(hstack, p["id"])


def hub_id(stack, hub):
    rows = stack.psql(f"SELECT id FROM hubs WHERE instance = '{hub.name}'")
    assert len(rows) == 1, f"hubs row of {hub.name}: {rows}"
    return rows[0][0]


ROW_COLS = ("name", "named", "status", "hub_id", "session_id", "api_key_id", "artifact_hash",
            "artifact_id", "drift_detected", "pending_artifact_id", "last_seen", "metadata",
            "connected_at")


def row(stack, dp_id):
    rows = stack.psql(f"SELECT {', '.join(ROW_COLS)} FROM data_planes WHERE id = '{dp_id}'")
    return dict(zip(ROW_COLS, rows[0])) if rows else None


def wait_row(stack, dp_id, timeout=5, **want):
    def ok():
        r = row(stack, dp_id)
        return r if r and all(r[k] == v for k, v in want.items()) else None
    return wait_until(ok, timeout * TF, interval=0.05, what=f"data plane {dp_id} with {want}")


def registered(dp, project_id, key, name=None, metadata=None):
    msg = dp.register(project_id, key["key"], name=name, metadata=metadata)
    assert msg["type"] == "registered", msg
    return msg["data_plane_id"]


def insert_artifact(stack, pid):
    """An artifacts row as compiler-svc writes it (the content is what a download returns)."""
    aid, content = str(uuid.uuid4()), os.urandom(200)
    sha, ahash = hashlib.sha256(content).hexdigest(), "sha256:" + secrets.token_hex(32)
    stack.psql("INSERT INTO artifacts (id, project_id, manifest, sha256, size_bytes, artifact_hash,"
               " artifact_format, compiler_version, compiled_at, content) VALUES"
               f" ('{aid}', '{pid}', '{{}}', '{sha}', {len(content)}, '{ahash}', 6, 'test', now(),"
               f" '\\x{content.hex()}')")
    return {"id": aid, "sha256": sha, "hash": ahash, "content": content}


def insert_deployment(stack, pid, art):
    """What POST /deploy records, written directly: no event is published."""
    stack.psql("INSERT INTO deployments (project_id, artifact_id, artifact_hash, sha256) VALUES"
               f" ('{pid}', '{art['id']}', '{art['hash']}', '{art['sha256']}')")


def upgrade_status(port, headers=()):
    ws = RawWS(port, headers=headers)
    ws.close()
    return ws.status



def hub_health(hub):
    r = requests.get(f"http://127.0.0.1:{hub.ws_port}/health", timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


# ---------------------------------------------------------------- registration

def test_first_frame_is_registered_and_the_row_is_online(hstack, hub, tenant):
    pid, key = tenant
    ws = RawWS(hub.ws_port)
    try:
        assert ws.status == 101
        ws.send_json({"type": "register", "project_id": pid, "api_key": key["key"],
                      "name": "edge-1", "metadata": {"region": "eu"}})
        op, payload = ws.recv_frame()   # the very first frame: no ping, nothing else before it
        assert op == 1, f"first frame has opcode {op}"
        msg = json.loads(payload)
        assert msg["type"] == "registered"
        assert UUID_RE.match(msg["data_plane_id"])
        hb = msg["heartbeat_interval_secs"]
        assert isinstance(hb, int) and not isinstance(hb, bool) and hb >= 1 and hb == HB
        r = row(hstack, msg["data_plane_id"])
        assert r["status"] == "online" and r["name"] == "edge-1" and r["named"] == "t"
        assert r["hub_id"] == hub_id(hstack, hub)
        assert UUID_RE.match(r["session_id"]) and r["api_key_id"] == key["id"]
        assert json.loads(r["metadata"]) == {"region": "eu"}
        assert r["last_seen"] and r["connected_at"]
        used = hstack.psql(f"SELECT last_used_at IS NOT NULL FROM api_keys WHERE id = '{key['id']}'")
        assert used == [["t"]]
        listed = assert_json(hstack.get(f"/projects/{pid}/data-planes/{msg['data_plane_id']}"), 200)
        assert listed["status"] == "online" and listed["name"] == "edge-1"
    finally:
        ws.close()


def test_registration_through_the_gateway(hstack, tenant):
    pid, key = tenant
    dp = DataPlane(hstack.ws_url())
    try:
        dp_id = registered(dp, pid, key, name="via-gateway")
        assert dp.heartbeat("sha256:" + "0" * 64) == {"type": "heartbeat_ack",
                                                      "drift_detected": False}
        wait_row(hstack, dp_id, status="online")
    finally:
        dp.close()


@pytest.mark.parametrize("case", ["unknown", "other-project", "no-scope", "revoked", "expired"])
def test_bad_key_gets_registration_failed_and_close_1008(hstack, hub, tenant, case):
    pid, key = tenant
    api_key = key["key"]
    if case == "unknown":
        api_key = "bbk_" + secrets.token_urlsafe(32)
    elif case == "other-project":
        other = new_project(hstack)
        api_key = new_key(hstack, other["id"])["key"]
    elif case == "no-scope":
        api_key = new_key(hstack, pid, scopes=["artifacts:read"])["key"]
    elif case == "revoked":
        assert hstack.delete(f"/projects/{pid}/api-keys/{key['id']}").status_code == 204
    elif case == "expired":
        hstack.psql(f"UPDATE api_keys SET expires_at = now() - interval '1 second'"
                    f" WHERE id = '{key['id']}'")
    dp = DataPlane(hstack.ws_url(hub))
    try:
        msg = dp.register(pid, api_key, name="bad")
        assert msg["type"] == "registration_failed", msg
        assert isinstance(msg["reason"], str) and msg["reason"]
        code, _ = dp.wait_closed(3)
        assert code == 1008
    finally:
        dp.close()
    assert hstack.psql(f"SELECT count(*) FROM data_planes WHERE project_id = '{pid}'") == [["0"]]


def test_malformed_register_is_refused(hstack, hub, tenant):
    pid, key = tenant
    dp = DataPlane(hstack.ws_url(hub))
    try:
        dp.send({"type": "register", "project_id": "not-a-uuid", "api_key": key["key"]})
        msg = dp.recv()
        assert msg["type"] == "registration_failed" and "project_id" in msg["reason"]
        assert dp.wait_closed(3)[0] == 1008
    finally:
        dp.close()


def test_bearer_key_on_the_upgrade(hstack, hub, tenant):
    pid, key = tenant
    for bad in ("Bearer bbk_" + secrets.token_urlsafe(32), "Basic dXNlcjpwdw==", "Bearer"):
        ws = RawWS(hub.ws_port, headers=[f"Authorization: {bad}"])
        try:
            assert ws.status == 401, f"{bad!r} -> {ws.status}"
            assert ws.headers.get("www-authenticate", "").startswith("Bearer")
            assert ws.headers.get("content-type", "").startswith("application/problem+json")
            assert "sec-websocket-accept" not in ws.headers
        finally:
            ws.close()
    # a brand-new key is known to the upgrade check within about a second
    bearer = [f"Authorization: Bearer {key['key']}"]
    wait_until(lambda: upgrade_status(hub.ws_port, bearer) == 101, 5 * TF, interval=0.2,
               what="the new key accepted on the upgrade")
    dp = DataPlane(hstack.ws_url(hub), headers={"Authorization": f"Bearer {key['key']}"})
    try:
        registered(dp, pid, key)
    finally:
        dp.close()
    # through the gateway's splice too
    with pytest.raises(websockets.exceptions.InvalidStatusCode) as err:
        DataPlane(hstack.ws_url(), headers={"Authorization": "Bearer bbk_nope"})
    assert err.value.status_code == 401
    # a revoked key is refused on the upgrade once the cache has heard of it
    assert hstack.delete(f"/projects/{pid}/api-keys/{key['id']}").status_code == 204
    wait_until(lambda: upgrade_status(hub.ws_port, bearer) == 401, 5 * TF, interval=0.2,
               what="the revoked key refused on the upgrade")


def test_register_timeout(hstack, hub):
    ws = RawWS(hub.ws_port)
    try:
        assert ws.status == 101
        t0 = time.monotonic()
        msg = ws.recv_json()   # nothing sent: the hub gives up after --register-timeout-s 2
        assert msg["type"] == "registration_failed" and "timeout" in msg["reason"]
        op, payload = ws.recv_frame()
        assert op == 8 and struct.unpack("!H", payload[:2])[0] == 1008
        assert 1.5 <= time.monotonic() - t0 <= 4 * TF
    finally:
        ws.close()


def test_other_paths_and_plain_requests(hub):
    ws = RawWS(hub.ws_port, path="/somewhere")
    ws.close()
    assert ws.status == 404
    r = requests.get(f"http://127.0.0.1:{hub.ws_port}/ws/data-plane", timeout=5)
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
    body = hub_health(hub)
    assert body["status"] == "healthy" and UUID_RE.match(body["hub_id"])


# ---------------------------------------------------------------- messages

def test_heartbeat_ack_and_row_fresh(hstack, hub, tenant):
    pid, key = tenant
    dp = DataPlane(hstack.ws_url(hub))
    try:
        dp_id = registered(dp, pid, key, name="beating")
        before = row(hstack, dp_id)["last_seen"]
        ack = dp.heartbeat("sha256:" + "a" * 64, uptime=10, requests_total=5)
        assert ack == {"type": "heartbeat_ack", "drift_detected": False}   # nothing deployed
        r = wait_row(hstack, dp_id, artifact_hash="sha256:" + "a" * 64)
        assert r["last_seen"] > before and r["drift_detected"] == "f" and r["artifact_id"] == ""
        ack = dp.heartbeat(None)   # a heartbeat without a hash is acknowledged too
        assert ack["type"] == "heartbeat_ack"
    finally:
        dp.close()


@pytest.mark.parametrize("frame, why", [
    ((1, b"not json at all"), "malformed"),
    ((1, json.dumps({"type": "heartbeat"}).encode()), "first message must be register"),
    ((2, b"\x00\x01binary"), "binary"),
    ((1, json.dumps({"type": "register", "metadata": {"pad": "x" * 70000}}).encode()), "exceeds"),
])
def test_bad_input_before_registering_is_a_registration_failure(hstack, hub, frame, why):
    """The data plane drops a connection whose first frame is not registered or
    registration_failed, so the hub says why with the latter, then closes."""
    before = hub_health(hub)["totals"]["rejections"]
    ws = RawWS(hub.ws_port)
    try:
        ws.send_frame(*frame)
        msg = ws.recv_json()
        assert msg["type"] == "registration_failed" and why in msg["reason"], msg
        op, payload = ws.recv_frame()
        assert op == 8 and struct.unpack("!H", payload[:2])[0] == 1008
    finally:
        ws.close()
    assert hub_health(hub)["totals"]["rejections"] >= before + 1


def test_garbage_unknown_and_oversize_get_error_and_the_hub_lives(hstack, hub, tenant):
    pid, key = tenant
    ws = RawWS(hub.ws_port)
    try:
        ws.send_json({"type": "register", "project_id": pid, "api_key": key["key"]})
        assert ws.recv_json()["type"] == "registered"
        cases = [b"{", b"[1,2,3]", b'{"type":7}', json.dumps({"type": "subscribe"}).encode(),
                 b'{"type":"heartbeat","uptime_secs":"long"}', b"\xff\xfe",
                 b'{"type":"heartbeat","type":"heartbeat"}',
                 b'{"type":"artifact_downloaded","artifact_id":"x","success":true}',
                 json.dumps({"type": "register", "project_id": pid, "api_key": "x"}).encode()]
        for payload in cases:
            ws.send_frame(1, payload)
            msg = ws.recv_json()
            assert msg["type"] == "error" and msg["message"], f"{payload!r} -> {msg}"
        ws.send_frame(2, b"\x00\x01binary")
        assert "binary" in ws.recv_json()["message"]
        big = json.dumps({"type": "heartbeat", "pad": "x" * 70000}).encode()
        ws.send_frame(1, big)
        assert "exceeds" in ws.recv_json()["message"]
        # an oversize message split into fragments, and a normal one split into fragments
        ws.send_frame(1, big[:40000], fin=False)
        ws.send_frame(0, big[40000:], fin=True)
        assert "exceeds" in ws.recv_json()["message"]
        hb = json.dumps({"type": "heartbeat", "artifact_hash": "sha256:ff"}).encode()
        ws.send_frame(1, hb[:10], fin=False)
        ws.send_frame(9, b"ping")            # a control frame between fragments
        ws.send_frame(0, hb[10:20], fin=False)
        ws.send_frame(0, hb[20:], fin=True)
        got = [ws.recv_frame() for _ in range(2)]
        assert (10, b"ping") in got            # the pong
        acks = [json.loads(p) for op, p in got if op == 1]
        assert acks == [{"type": "heartbeat_ack", "drift_detected": False}]
    finally:
        ws.close()
    assert hub.alive()
    hub_health(hub)


# ---------------------------------------------------------------- rows

def test_row_goes_offline_when_the_session_ends(hstack, hub, tenant):
    pid, key = tenant
    dp = DataPlane(hstack.ws_url(hub))
    dp_id = registered(dp, pid, key, name="leaving")
    dp.close()
    r = wait_row(hstack, dp_id, status="offline")
    assert r["hub_id"] == "" and r["session_id"] == ""


def test_named_row_is_reused_and_a_newer_session_takes_it(hstack, hub, tenant):
    pid, key = tenant
    first = DataPlane(hstack.ws_url(hub))
    second = None
    try:
        dp_id = registered(first, pid, key, name="edge-7")
        sid1 = row(hstack, dp_id)["session_id"]
        second = DataPlane(hstack.ws_url())   # same name, through the gateway
        assert registered(second, pid, key, name="edge-7") == dp_id
        msg = first.recv_type("disconnect")
        assert "replaced" in msg["reason"]
        first.wait_closed(3)
        r = wait_row(hstack, dp_id, status="online")
        assert r["session_id"] != sid1
        second.close()
        wait_row(hstack, dp_id, status="offline")
        third = DataPlane(hstack.ws_url(hub))
        assert registered(third, pid, key, name="edge-7") == dp_id   # reconnect: same row
        third.close()
        n = hstack.psql(f"SELECT count(*) FROM data_planes WHERE project_id = '{pid}'")
        assert n == [["1"]]
    finally:
        first.close()
        if second:
            second.close()


def test_nameless_rows_are_per_session_and_reaped_when_offline(hstack, hub, tenant):
    pid, key = tenant
    dps = [DataPlane(hstack.ws_url(hub)) for _ in range(2)]
    ids = [registered(dp, pid, key) for dp in dps]
    assert ids[0] != ids[1]
    for dp_id in ids:
        r = row(hstack, dp_id)
        assert r["name"] == f"dp-{dp_id[:8]}" and r["named"] == "f" and r["status"] == "online"
    for dp in dps:
        dp.close()
    for dp_id in ids:
        wait_row(hstack, dp_id, status="offline")
    # --offline-ttl-s 3 with the reaper every second
    wait_until(lambda: all(row(hstack, i) is None for i in ids), 8 * TF, interval=0.2,
               what="nameless rows removed after the offline TTL")


# ---------------------------------------------------------------- events from the registry

def test_revoked_key_closes_the_session_within_a_second_and_bans(hstack, hub, tenant):
    pid, key = tenant
    dp = DataPlane(hstack.ws_url(hub))
    try:
        dp_id = registered(dp, pid, key, name="to-revoke")
        other_key = new_key(hstack, pid)
        other = DataPlane(hstack.ws_url(hub))
        registered(other, pid, other_key, name="keeps-its-key")
        assert hstack.delete(f"/projects/{pid}/api-keys/{key['id']}").status_code == 204
        t0 = time.monotonic()   # NOTES: within 1 s of the 204
        msg = dp.recv_type("disconnect", timeout=2)
        assert "revoked" in msg["reason"]
        dp.wait_closed(2)
        assert time.monotonic() - t0 <= 1.0 * TF, "disconnect + close took more than 1 s"
        wait_row(hstack, dp_id, status="offline")
        assert other.heartbeat("sha256:x")["type"] == "heartbeat_ack"   # other keys unaffected
        other.close()
    finally:
        dp.close()
    again = DataPlane(hstack.ws_url(hub))
    try:
        msg = again.register(pid, key["key"], name="to-revoke")
        assert msg["type"] == "registration_failed"
    finally:
        again.close()


def test_deleted_project_closes_its_sessions(hstack, hub):
    p = new_project(hstack)
    key = new_key(hstack, p["id"])
    dp = DataPlane(hstack.ws_url(hub))
    try:
        registered(dp, p["id"], key, name="doomed")
        assert hstack.delete(f"/projects/{p['id']}").status_code == 204
        t0 = time.monotonic()   # NOTES: within 1 s of the 204
        msg = dp.recv_type("disconnect", timeout=2)
        assert "deleted" in msg["reason"]
        dp.wait_closed(2)
        assert time.monotonic() - t0 <= 1.0 * TF
    finally:
        dp.close()
    again = DataPlane(hstack.ws_url(hub))
    try:
        assert again.register(p["id"], key["key"])["type"] == "registration_failed"
    finally:
        again.close()


def test_delete_of_a_data_plane_is_a_kick(hstack, hub, tenant):
    pid, key = tenant
    dp = DataPlane(hstack.ws_url(hub))
    try:
        dp_id = registered(dp, pid, key, name="kicked")
        assert hstack.delete(f"/projects/{pid}/data-planes/{dp_id}").status_code == 204
        t0 = time.monotonic()   # NOTES: within 1 s of the 204
        assert dp.recv_type("disconnect", timeout=2)["reason"]
        dp.wait_closed(2)
        assert time.monotonic() - t0 <= 1.0 * TF
        wait_row(hstack, dp_id, status="offline")
    finally:
        dp.close()
    back = DataPlane(hstack.ws_url(hub))   # a kick, not a ban
    try:
        assert registered(back, pid, key, name="kicked") == dp_id
        time.sleep(1.5 * HB)   # a reconciliation passes; it must not kick the new session again
        assert back.heartbeat("sha256:y")["type"] == "heartbeat_ack"
    finally:
        back.close()


# ---------------------------------------------------------------- convergence

def test_lost_deploy_converges_by_heartbeat(hstack, hub, tenant):
    """A deployments row written without any event: the next heartbeat gets the artifact, with
    a download URL the data plane can use without a credential."""
    pid, key = tenant
    dp = DataPlane(hstack.ws_url(hub))
    try:
        dp_id = registered(dp, pid, key, name="converging")
        old = "sha256:" + "1" * 64
        assert dp.heartbeat(old)["drift_detected"] is False   # nothing desired yet
        art = insert_deployment_and_artifact(hstack, pid)
        t0 = time.monotonic()
        deadline = t0 + (HB + 1.5) * TF
        avail = None
        while avail is None and time.monotonic() < deadline:
            dp.heartbeat(old)
            avail = next((m for m in dp.seen if m.get("type") == "artifact_available"), None)
            if avail is None:
                time.sleep(HB / 2)
        assert avail, f"no artifact_available within one heartbeat interval; saw {dp.seen[-4:]}"
        assert avail["artifact_id"] == art["id"] and avail["sha256"] == art["sha256"]
        url = avail["download_url"]
        assert url.startswith(f"/artifacts/{art['id']}/download?token=")
        expiry = int(url.split("token=")[1].split(".")[0])   # default --token-ttl-s 300
        assert 150 - 5 <= expiry - time.time() <= 300 + 5
        got = requests.get(hstack.url(url), timeout=10)   # no credential, as the data plane
        assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == art["sha256"]
        wait_row(hstack, dp_id, status="deploying", pending_artifact_id=art["id"])
        assert dp.heartbeat(old)["drift_detected"] is False   # pending: no drift, no repeat
        assert sum(m.get("type") == "artifact_available" for m in dp.seen) == 1
        dp.send({"type": "artifact_downloaded", "artifact_id": art["id"], "success": True})
        wait_row(hstack, dp_id, status="online", pending_artifact_id="")
        assert dp.heartbeat(art["hash"])["drift_detected"] is False
        r = wait_row(hstack, dp_id, artifact_hash=art["hash"], artifact_id=art["id"])
        assert r["drift_detected"] == "f"
        # reporting another hash later, with nothing pending, is drift (and gets the artifact)
        ack = dp.heartbeat("sha256:" + "2" * 64)
        assert ack["drift_detected"] is True
        dp.recv_type("artifact_available")
    finally:
        dp.close()


def insert_deployment_and_artifact(stack, pid):
    art = insert_artifact(stack, pid)
    insert_deployment(stack, pid, art)
    return art


def test_failed_download_is_retried_on_a_later_heartbeat(hstack, hub, tenant):
    pid, key = tenant
    art = insert_deployment_and_artifact(hstack, pid)
    dp = DataPlane(hstack.ws_url(hub))
    try:
        dp_id = registered(dp, pid, key)
        dp.heartbeat("sha256:old")
        avail = dp.recv_type("artifact_available")
        assert avail["artifact_id"] == art["id"]
        wait_row(hstack, dp_id, status="deploying")
        dp.send({"type": "artifact_downloaded", "artifact_id": art["id"], "success": False,
                 "error": "hot-reload already in progress"})
        wait_row(hstack, dp_id, status="online", pending_artifact_id="")
        dp.heartbeat("sha256:old")
        assert dp.recv_type("artifact_available")["artifact_id"] == art["id"]
    finally:
        dp.close()


def test_deploy_through_the_api_reaches_the_session_at_once(hstack, hub, tenant):
    pid, key = tenant
    dp = DataPlane(hstack.ws_url(hub))
    try:
        registered(dp, pid, key, name="deployed-to")
        dp.heartbeat("sha256:before")
        art = insert_artifact(hstack, pid)
        body = assert_json(hstack.post(f"/projects/{pid}/deploy",
                                       json={"artifact_id": art["id"]}), 200)
        t0 = time.monotonic()
        assert body["data_planes_notified"] == 1
        avail = dp.recv_type("artifact_available", timeout=2)
        assert time.monotonic() - t0 <= 1.0 * TF
        assert avail["artifact_id"] == art["id"] and avail["sha256"] == art["sha256"]
    finally:
        dp.close()


def test_registering_on_the_desired_artifact_gets_nothing(hstack, hub, tenant):
    pid, key = tenant
    art = insert_deployment_and_artifact(hstack, pid)
    dp = DataPlane(hstack.ws_url(hub))
    try:
        registered(dp, pid, key, name="up-to-date")
        assert dp.heartbeat(art["hash"])["drift_detected"] is False
        time.sleep(HB + 0.5)
        assert dp.heartbeat(art["hash"])["drift_detected"] is False
        assert not [m for m in dp.seen if m.get("type") == "artifact_available"]
    finally:
        dp.close()


# ---------------------------------------------------------------- hubs dying and stopping

def test_sigkilled_hub_rows_turn_offline(make_stack):
    flags = ["--reap-interval-s", "1", "--hub-dead-after-s", "3"]
    s = make_stack(registries=1, hubs=2, hub_args=flags)
    victim, survivor = s.hubs
    p = new_project(s)
    key = new_key(s, p["id"])
    dp = DataPlane(s.ws_url(victim))
    try:
        dp_id = registered(dp, p["id"], key, name="orphan")
        assert row(s, dp_id)["hub_id"] == hub_id(s, victim)
        s.kill(victim, signal.SIGKILL)
        t0 = time.monotonic()
        r = wait_row(s, dp_id, timeout=8, status="offline")
        assert r["hub_id"] == "" and time.monotonic() - t0 <= (3 + 1 + 2) * TF
        assert survivor.alive()
    finally:
        dp.close()
    again = DataPlane(s.ws_url(survivor))   # the data plane comes back on the other hub
    try:
        assert registered(again, p["id"], key, name="orphan") == dp_id
        assert row(s, dp_id)["hub_id"] == hub_id(s, survivor)
    finally:
        again.close()


def test_sigterm_disconnects_sessions_and_marks_rows_offline(make_stack):
    s = make_stack(registries=1, hubs=1)
    hub = s.hubs[0]
    p = new_project(s)
    key = new_key(s, p["id"])
    dp = DataPlane(s.ws_url(hub))
    try:
        dp_id = registered(dp, p["id"], key, name="graceful")
        s.send_signal(hub, signal.SIGTERM)
        msg = dp.recv_type("disconnect", timeout=3)
        assert "shutting down" in msg["reason"]
        assert dp.wait_closed(3)[0] == 1001
        hub.popen.wait(timeout=10 * TF)
        hub.killed = True
        assert hub.popen.returncode == 0
        assert row(s, dp_id)["status"] == "offline"
        assert s.psql(f"SELECT count(*) FROM hubs WHERE instance = '{hub.name}'") == [["0"]]
    finally:
        dp.close()


# ---------------------------------------------------------------- hostile clients

def test_thousand_sockets_that_never_register(make_stack):
    cap = 200
    s = make_stack(registries=1, hubs=1, hub_args=["--max-unauthenticated", str(cap),
                                                   "--register-timeout-s", "3"])
    hub = s.hubs[0]
    before = harness.rss_kib(hub.pid)
    sel, conns, statuses = selectors.DefaultSelector(), [], {}
    try:
        for _ in range(1000):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", hub.ws_port))
            conns.append(c)
            sel.register(c, selectors.EVENT_WRITE, b"")
        request = (f"GET /ws/data-plane HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n").encode()
        deadline = time.monotonic() + 20 * TF
        while len(statuses) < len(conns) and time.monotonic() < deadline:
            for k, ev in sel.select(timeout=0.5):
                c = k.fileobj
                if ev & selectors.EVENT_WRITE:
                    try:
                        c.send(request)
                    except OSError:
                        statuses[c] = -1
                        sel.unregister(c)
                        continue
                    sel.modify(c, selectors.EVENT_READ, b"")
                else:
                    try:
                        data = c.recv(4096)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    statuses[c] = int(data.split()[1]) if data.startswith(b"HTTP/1.") else -1
                    sel.unregister(c)
        upgraded = sum(1 for v in statuses.values() if v == 101)
        refused = sum(1 for v in statuses.values() if v == 503)
        assert upgraded <= cap, f"{upgraded} unauthenticated sessions, cap {cap}"
        assert upgraded >= cap // 2 and upgraded + refused >= 900, (upgraded, refused)
        body = hub_health(hub)
        assert body["unauthenticated"] <= cap
        assert harness.rss_kib(hub.pid) - before < 64 * 1024, "hub memory grew by more than 64 MiB"
        # they are all closed after the registration timeout, and a real one gets in
        wait_until(lambda: hub_health(hub)["sessions"] == 0, 10 * TF, interval=0.2,
                   what="never-registering sockets closed")
        p = new_project(s)
        dp = DataPlane(s.ws_url(hub))
        registered(dp, p["id"], new_key(s, p["id"]))
        dp.close()
    finally:
        for c in conns:
            c.close()
    assert hub.alive()


def test_reader_that_never_reads_is_dropped(hstack, hub, tenant):
    pid, key = tenant
    ws = RawWS(hub.ws_port, rcvbuf=4096)
    ws.send_json({"type": "register", "project_id": pid, "api_key": key["key"], "name": "deaf"})
    dp_id = ws.recv_json()["data_plane_id"]
    hb = json.dumps({"type": "heartbeat", "artifact_hash": "sha256:deaf"}).encode()
    ws.sock.settimeout(2)
    dropped = False
    try:
        for _ in range(200000):   # heartbeats, never reading one ack
            ws.send_frame(1, hb)
    except OSError:
        dropped = True   # reset by the hub, or our send blocked on a hub no longer reading
    finally:
        ws.close()
    assert dropped, "200000 heartbeats went in and the hub never gave up on the deaf reader"
    wait_row(hstack, dp_id, status="offline", timeout=10)
    assert "outbound queue full" in hub.log_text()
    assert hub.alive()
    hub_health(hub)


def test_stalled_and_dribbling_handshakes(hstack, hub, tenant):
    pid, key = tenant
    stalled = []
    for _ in range(50):
        c = socket.create_connection(("127.0.0.1", hub.ws_port))
        c.sendall(b"GET /ws/data-plane HTTP/1.1\r\nHost: x\r\n")   # never finished
        stalled.append(c)
    dribbler = socket.create_connection(("127.0.0.1", hub.ws_port))
    try:
        dp = DataPlane(hstack.ws_url(hub))   # served meanwhile
        registered(dp, pid, key)
        dp.close()
        dribbler.setblocking(False)
        t0, closed = time.monotonic(), False
        header = b"GET /ws/data-plane HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 4000
        for byte in header:   # one byte every 50 ms: never a complete request
            try:
                dribbler.send(bytes([byte]))
                closed = dribbler.recv(1) == b""
            except BlockingIOError:
                pass
            except OSError:
                closed = True
            if closed or time.monotonic() - t0 > 30 * TF:
                break
            time.sleep(0.05)
        assert closed, "a handshake dribbled a byte at a time was never cut off"
        for c in stalled:
            c.settimeout(15 * TF)
            assert c.recv(1) == b"", "a stalled handshake was answered instead of closed"
    finally:
        for c in stalled:
            c.close()
        dribbler.close()
    assert hub.alive()


def test_session_cap_and_absolute_download_base(make_stack):
    """--max-sessions refuses upgrades past the cap with 503 before upgrading; --download-base
    makes download_url absolute (data planes that reach a hub directly)."""
    s = make_stack(registries=1, hubs=1,
                   hub_args=["--max-sessions", "2", "--max-unauthenticated", "2",
                             "--download-base", "http://gateway.example:9090/"])
    hub = s.hubs[0]
    p = new_project(s)
    key = new_key(s, p["id"])
    art = insert_deployment_and_artifact(s, p["id"])
    dps = [DataPlane(s.ws_url(hub)) for _ in range(2)]
    try:
        for dp in dps:
            registered(dp, p["id"], key)
        ws = RawWS(hub.ws_port)
        ws.close()
        assert ws.status == 503 and ws.headers.get("retry-after") == "1"
        dps[0].heartbeat("sha256:old")
        url = dps[0].recv_type("artifact_available")["download_url"]
        assert url.startswith(f"http://gateway.example:9090/artifacts/{art['id']}/download?token=")
        dps[1].close()
        wait_until(lambda: upgrade_status(hub.ws_port) == 101, 5 * TF, interval=0.2,
                   what="a slot freed by a closed session")
    finally:
        for dp in dps:
            dp.close()


def test_reconnecting_to_the_event_proxy_reconciles_what_was_missed(make_stack):
    """While the gateway (and its event proxy) is down a key is revoked and a data plane is
    DELETEd: no event can reach the hub. With a heartbeat interval too long for the periodic
    reconciliation to matter, the reconciliation after the SUB reconnects closes both."""
    s = make_stack(registries=1, hubs=1, hub_args=["--heartbeat-interval-s", "120"])
    hub = s.hubs[0]
    p = new_project(s)
    k1, k2 = new_key(s, p["id"]), new_key(s, p["id"])
    revoked, kicked, kept = (DataPlane(s.ws_url(hub)) for _ in range(3))
    try:
        registered(revoked, p["id"], k1, name="revoked-meanwhile")
        dp_kicked = registered(kicked, p["id"], k2, name="kicked-meanwhile")
        registered(kept, p["id"], k2, name="untouched")
        s.kill(s.gateway, signal.SIGKILL)
        s.psql(f"UPDATE api_keys SET revoked_at = now() WHERE id = '{k1['id']}'")
        s.psql("INSERT INTO audit_log (action, subject) VALUES"
               f" ('dataplane.disconnect', '{dp_kicked}')")
        s.start_gateway()
        assert "revoked" in revoked.recv_type("disconnect", timeout=10 * TF)["reason"]
        assert "disconnected" in kicked.recv_type("disconnect", timeout=10 * TF)["reason"]
        revoked.wait_closed(3)
        kicked.wait_closed(3)
        assert kept.heartbeat("sha256:z")["type"] == "heartbeat_ack"
    finally:
        for dp in (revoked, kicked, kept):
            dp.close()
