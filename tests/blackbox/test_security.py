"""The security issue's findings, each checked by its effect on a running stack: the
authenticated mesh (no key, a random key or another role's key gets nothing done, next to a
positive control with the right key), the private database, nothing buffered before
authentication, slow clients, sealed idempotency records, admin token rules, TLS, and input
that used to give 500s."""
import hashlib
import hmac
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

import harness
from harness import assert_json, assert_problem, wait_until

TOOLS = Path(os.environ.get("BARBACANE_TOOLS_DIR", harness.REPO_ROOT / "build" / "tests"))
ROGUE = TOOLS / "bb-rogue"


def rogue(stack, identity, *args, timeout=20):
    """bb-rogue with identity: None (plain), "random" or a key name in the stack's key dir."""
    mesh = ["--keys", str(stack.keys_dir)]
    if identity == "random":
        mesh.append("--random-key")
    elif identity:
        mesh += ["--key", identity]
    r = subprocess.run([str(ROGUE), *mesh, *args], capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, f"bb-rogue {args}: {r.returncode} {r.stderr}"
    return r.stdout.strip().splitlines()


def create_project(stack, name=None):
    return assert_json(stack.post("/projects", json={"name": name or f"p-{uuid.uuid4().hex[:8]}"}),
                       201)


def key_count(stack, project_id):
    return int(stack.psql(f"SELECT count(*) FROM api_keys WHERE project_id = '{project_id}'")[0][0])


def refused(stack):
    """The gateway's barbacane_mesh_refused_total counters, by what was refused."""
    text = stack.get("/metrics").text
    return {m.group(1): int(m.group(2)) for m in
            re.finditer(r'barbacane_mesh_refused_total\{what="([^"]+)"\} (\d+)', text)}


# Where a refusal shows: a key the gateway does not know fails the CURVE handshake (ZAP); a
# known key of the wrong role gets through the handshake and its message is dropped. A plain
# (keyless) peer fails the mechanism negotiation, which libzmq does not report to anyone.
# The broker admits fronts and brokered workers (registry, compiler); the event proxy admits
# services (registry, compiler, hub).
BROKER_REFUSAL = {"random": "handshake", "hub": "handshake", "registry": "broker-message",
                  "front": "broker-message", "compiler": "broker-message"}
EVENT_REFUSAL = {"random": "handshake", "front": "handshake"}


def metric(stack, name):
    """One unlabelled value from the gateway's /metrics."""
    m = re.search(rf"^{name} (\d+)$", stack.get("/metrics").text, re.M)
    assert m, f"{name} missing from /metrics"
    return int(m.group(1))


def wait_refused(stack, before, what, timeout=10):
    """Waits until the counter `what` passed its value in before (the refusal happened)."""
    wait_until(lambda: refused(stack).get(what, 0) > before.get(what, 0), timeout,
               what=f"the gateway to count a refused {what}")


# ------------------------------------------------------------------------ the mesh (critical)

@pytest.mark.parametrize("identity", [None, "random", "hub", "registry"])
def test_a_peer_without_the_front_key_cannot_submit_requests(stack, identity):
    # The audit's attack: apikey.create with principal admin sent straight to the broker.
    project = create_project(stack)
    before = refused(stack)
    out = rogue(stack, identity, "submit", stack.broker_endpoint(), "registry", "apikey.create",
                project["id"], "1500")
    assert out == ["no reply"], out
    if identity in BROKER_REFUSAL:   # it reached the gateway and was turned away there
        wait_refused(stack, before, BROKER_REFUSAL[identity])
    assert key_count(stack, project["id"]) == 0, "a key was minted for a rogue peer"


def test_the_front_key_submits_requests(stack):
    # Positive control: the same message with the front's key is served (this is what an HTTP
    # front on an external broker does).
    project = create_project(stack)
    out = rogue(stack, "front", "submit", stack.broker_endpoint(), "registry", "apikey.create",
                project["id"], "3000")
    assert out == ["reply 201"], out
    assert key_count(stack, project["id"]) == 1


@pytest.mark.parametrize("identity", [None, "random", "hub", "front", "compiler"])
def test_a_peer_without_the_registry_key_cannot_register_as_registry(make_stack, identity):
    s = make_stack(registries=0)
    result = {}
    before = refused(s)
    t = threading.Thread(target=lambda: result.update(out=rogue(
        s, identity, "register", s.broker_endpoint(), "registry", "2500")))
    t.start()
    if identity in BROKER_REFUSAL:
        wait_refused(s, before, BROKER_REFUSAL[identity])   # its READY was refused
    else:
        time.sleep(0.8)   # plain: nothing observable; the READY would have landed long ago
    resp = s.get("/projects")
    t.join(30)
    assert_problem(resp, 503, "service-unavailable")  # no registry: the request went nowhere
    assert result["out"] == ["no request"], result["out"]


def test_the_registry_key_registers_as_registry(make_stack):
    # Positive control: a peer with the registry key is handed the request.
    s = make_stack(registries=0)
    result = {}
    t = threading.Thread(target=lambda: result.update(out=rogue(
        s, "registry", "register", s.broker_endpoint(), "registry", "2500")))
    t.start()
    time.sleep(0.8)  # the READY has reached the broker
    try:
        s.get("/projects", timeout=1.5)
    except requests.exceptions.ReadTimeout:
        pass  # the rogue never answers; what matters is that it received the request
    t.join(30)
    assert "request project.list" in result["out"], result["out"]


def test_a_service_key_cannot_register_as_another_service(make_stack):
    s = make_stack(registries=0)
    result = {}
    before = refused(s)
    t = threading.Thread(target=lambda: result.update(out=rogue(
        s, "registry", "register", s.broker_endpoint(), "compiler", "2500")))
    t.start()
    wait_refused(s, before, "broker-message")   # the READY arrived and was dropped
    metrics = s.get("/metrics").text
    assert re.search(r'barbacane_broker_workers\{service="compiler"\} 0', metrics), metrics
    assert_problem(s.get("/artifacts"), 503, "service-unavailable")   # compiler-svc's route
    t.join(30)
    assert result["out"] == ["no request"], result["out"]


class Subscriber:
    """bb-rogue subscribe in the background; its output lines ("event <topic>", or "no event"
    at the end) are collected as they come."""

    def __init__(self, stack, identity, prefix="", wait_ms=60000):
        mesh = ["--keys", str(stack.keys_dir)]
        if identity == "random":
            mesh.append("--random-key")
        elif identity:
            mesh += ["--key", identity]
        self.proc = subprocess.Popen([str(ROGUE), *mesh, "subscribe", stack.events_out_endpoint(),
                                      prefix, str(wait_ms)],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.strip())

    def wait_for(self, line, timeout=10):
        wait_until(lambda: line in self.lines, timeout, what=f"{line!r} at the subscriber")

    def events(self):
        """What it received so far ("event <topic>" lines); stops it."""
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self._reader.join(5)
        return [l for l in self.lines if l.startswith("event ")]


def publish_until_seen(stack, sub, topic, timeout=10):
    """Publishes topic with the registry's key until sub has it: the subscription is up and
    the proxy forwards (a fresh subscription takes a moment to reach the proxy)."""
    def seen():
        rogue(stack, "registry", "publish", stack.events_in_endpoint(), topic,
              str(uuid.uuid4()), "1")
        return f"event {topic}" in sub.lines
    wait_until(seen, timeout, what=f"{topic} to reach the subscriber")


@pytest.mark.parametrize("identity", [None, "random", "front"])
def test_a_peer_without_a_service_key_cannot_publish(stack, identity):
    # A genuine subscriber (the hub's key) must not receive what the rogue publishes, while it
    # does receive what a service publishes before and after.
    tag = uuid.uuid4().hex[:8]
    sub = Subscriber(stack, "hub", f"probe.{tag}")
    publish_until_seen(stack, sub, f"probe.{tag}.before")
    before = refused(stack)
    out = rogue(stack, identity, "publish", stack.events_in_endpoint(), f"probe.{tag}.rogue",
                str(uuid.uuid4()), "3")
    assert out == ["published"]
    if identity in EVENT_REFUSAL:
        wait_refused(stack, before, EVENT_REFUSAL[identity])
    publish_until_seen(stack, sub, f"probe.{tag}.after")
    assert f"event probe.{tag}.rogue" not in sub.events()


def test_a_service_key_publishes(stack):
    # Positive control: the registry's key publishes and the subscriber gets it.
    sub = Subscriber(stack, "hub", "apikey.revoked")
    publish_until_seen(stack, sub, "apikey.revoked")
    assert "event apikey.revoked" in sub.events()


@pytest.mark.parametrize("identity", [None, "random", "front"])
def test_a_peer_without_a_service_key_cannot_subscribe(stack, identity):
    # apikey.revoked events used to be delivered to anyone on the event port.
    before = refused(stack)
    sub = Subscriber(stack, identity, "apikey.revoked")
    good = Subscriber(stack, "hub", "apikey.revoked")
    publish_until_seen(stack, good, "apikey.revoked")   # the good subscription is up
    if identity in EVENT_REFUSAL:
        wait_refused(stack, before, EVENT_REFUSAL[identity])   # the rogue's was refused
    else:
        time.sleep(0.5)   # plain: not observable; it would have reached the proxy by now
    seen = good.lines.count("event apikey.revoked")
    project = create_project(stack)
    key = assert_json(stack.post(f"/projects/{project['id']}/api-keys", json={"name": "k"}), 201)
    assert stack.delete(f"/projects/{project['id']}/api-keys/{key['id']}").status_code == 204
    wait_until(lambda: good.lines.count("event apikey.revoked") > seen, 10,
               what="the revocation's event at the genuine subscriber")
    good.events()
    assert sub.events() == [], "a subscriber without a service key received events"


def test_a_key_removed_from_the_directory_is_refused_after_sighup(stack, make_stack):
    # Rotation: a new front key is admitted after SIGHUP, and refused again once removed.
    s = make_stack(registries=1)
    project = create_project(s)
    subprocess.run([str(harness.KEYGEN_BIN), str(s.keys_dir), "front", "front-new"], check=True,
                   capture_output=True)
    probe = ("submit", s.broker_endpoint(), "registry", "project.get", project["id"], "2000")
    assert rogue(s, "front-new", *probe) == ["no reply"]  # not yet allowed
    s.send_signal(s.gateway, signal.SIGHUP)
    wait_until(lambda: rogue(s, "front-new", *probe) == ["reply 200"], 10,
               what="the new key to be admitted after SIGHUP")
    (s.keys_dir / "front-new").unlink()
    s.send_signal(s.gateway, signal.SIGHUP)
    wait_until(lambda: rogue(s, "front-new", *probe) == ["no reply"], 10,
               what="the removed key to be refused after SIGHUP")


def test_worker_replies_are_sanitised_by_the_gateway(make_stack):
    # A worker (even one with a valid key) cannot make the gateway send a 1xx status or
    # hop-by-hop headers: statuses outside 200-599 become a 500 problem, hop-by-hop headers go.
    s = make_stack(registries=0)
    for status, expect in (("99", 500), ("600", 500), ("201", 201)):
        result = {}
        t = threading.Thread(target=lambda: result.update(out=rogue(
            s, "registry", "register", s.broker_endpoint(), "registry", "1500", status)))
        t.start()
        time.sleep(0.6)
        resp = s.get("/projects")
        t.join(30)
        assert resp.status_code == expect, (status, resp.status_code, resp.text)
        if expect == 500:
            assert_problem(resp, 500, "internal-error")
        else:
            assert resp.headers.get("X-Rogue") == "yes"
            assert "chunked" not in resp.headers.get("Transfer-Encoding", "")
            assert resp.headers.get("Connection", "").lower() != "close"
        wait_until(lambda: s.get("/projects").status_code == 503, 5, what="the rogue to leave")


def test_insecure_mesh_only_on_loopback_and_keys_required_otherwise(tmp_path, binaries):
    http, broker, ev_in, ev_out = harness.free_ports(4)
    token = tmp_path / "token"
    token.write_text("t" * 10 + "x" * 40 + "\n")
    os.chmod(token, 0o600)
    base = [str(harness.GATEWAY_BIN), "--http-port", str(http), "--admin-token-file", str(token),
            "--events-in-bind", f"tcp://127.0.0.1:{ev_in}",
            "--events-out-bind", f"tcp://127.0.0.1:{ev_out}"]
    cases = [
        (["--broker-bind", f"tcp://0.0.0.0:{broker}", "--insecure-mesh"], "refuses to bind"),
        (["--broker-bind", f"tcp://127.0.0.1:{broker}", "--insecure-mesh", "--http-bind",
          "0.0.0.0"], "only 127"),
        (["--broker-bind", f"tcp://127.0.0.1:{broker}"], "mesh-keys"),
    ]
    for extra, message in cases:
        r = subprocess.run(base + extra, capture_output=True, text=True, timeout=10,
                           env=harness.clean_env())
        assert r.returncode != 0, f"gateway started with {extra}"
        assert message in r.stderr, r.stderr


def test_gateway_binary_does_not_link_libpq(binaries):
    out = subprocess.run(["readelf", "-d", str(harness.GATEWAY_BIN)], capture_output=True,
                         text=True, check=True).stdout
    needed = re.findall(r"Shared library: \[(.*?)\]", out)
    assert needed and not any("libpq" in lib for lib in needed), needed


# ------------------------------------------------------------------------ the database

def test_private_cluster_needs_a_password_and_hides_its_socket(tmp_path, binaries):
    # deploy/pg.sh (make run's cluster): scram-sha-256, a password in a 0600 file, a socket
    # directory only the owner can enter.
    d = Path(tempfile.mkdtemp(prefix="bb-pgsh-", dir="/tmp"))
    os.chmod(d, 0o755)
    port = harness.free_ports(1)[0]
    try:
        url = subprocess.run(["bash", str(harness.REPO_ROOT / "deploy" / "pg.sh"), "start", str(d),
                              str(port)], capture_output=True, text=True, timeout=120,
                             check=True).stdout.strip()
        hba = [l for l in (d / "data" / "pg_hba.conf").read_text().splitlines()
               if l.strip() and not l.startswith("#")]
        assert hba and all(l.split()[-1] == "scram-sha-256" for l in hba), hba
        assert (d / "sock").stat().st_mode & 0o077 == 0
        assert (d / "password").stat().st_mode & 0o077 == 0
        psql = shutil.which("psql")
        env = harness.clean_env()
        env.pop("PGPASSFILE", None)
        no_pw = subprocess.run([psql, url, "-tAc", "SELECT 1"], capture_output=True, text=True,
                               env=env, stdin=subprocess.DEVNULL, timeout=20)
        assert no_pw.returncode != 0, "a login without the password succeeded"
        env["PGPASSFILE"] = str(d / "pgpass")
        ok = subprocess.run([psql, url, "-tAc", "SELECT 1"], capture_output=True, text=True,
                            env=env, timeout=20)
        assert ok.stdout.strip() == "1", ok.stderr
        if os.geteuid() == 0:  # another local user cannot even reach the socket
            other = subprocess.run(["runuser", "-u", "nobody", "--", psql, url, "-tAc",
                                    "SELECT 1"], capture_output=True, text=True, timeout=20,
                                   env=env, stdin=subprocess.DEVNULL)
            assert other.returncode != 0 and "ermission denied" in other.stderr, other.stderr
    finally:
        subprocess.run(["bash", str(harness.REPO_ROOT / "deploy" / "pg.sh"), "stop", str(d)],
                       capture_output=True, timeout=60)
        shutil.rmtree(d, ignore_errors=True)


# ------------------------------------------------------------------------ nothing before auth


def test_routes_without_a_body_refuse_one_before_reading_it(stack):
    # 413 is decided from the headers: the body is never read.
    with socket.create_connection(("127.0.0.1", stack.http_port), timeout=5) as c:
        c.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n")
        head = c.recv(4096)
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    assert b"application/problem+json" in head


def test_anonymous_connections_holding_bodies_do_not_grow_the_gateway(make_stack):
    # The audit: 300 anonymous connections each sending ~1 MiB took the gateway to 350 MiB.
    s = make_stack(registries=1, gateway_args=["--http-conn-rate", "0"])
    before = harness.rss_kib(s.gateway.pid)
    chunk = b"x" * 65536
    conns = []
    try:
        for i in range(300):
            c = socket.create_connection(("127.0.0.1", s.http_port), timeout=5)
            path = b"/health" if i % 2 else b"/projects"   # no body allowed / not authenticated
            c.sendall(b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                      b"\r\nContent-Length: 1048576\r\n\r\n")
            conns.append(c)
        for c in conns:
            try:
                for _ in range(16):
                    c.send(chunk)
            except OSError:
                pass  # the gateway answered and closed: that is the point
        grown = harness.rss_kib(s.gateway.pid) - before
        assert grown < 64 * 1024, f"gateway grew by {grown} KiB holding anonymous bodies"
    finally:
        for c in conns:
            c.close()
    assert_json(s.get("/projects"), 200)


# ------------------------------------------------------------------------ slow clients

def dribble_until_closed(port, data, every_s, limit_s):
    """Sends data a byte every every_s; seconds until the server answered or closed, or None."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.settimeout(every_s)
        for b in data:
            try:
                c.send(bytes([b]))
                c.recv(4096)          # anything (a close, an answer) ends the dribble
                return time.monotonic() - t0
            except socket.timeout:
                pass
            except OSError:
                return time.monotonic() - t0
            if time.monotonic() - t0 > limit_s:
                break
    return None


def test_headers_dribbled_a_byte_at_a_time_hit_the_total_deadline(make_stack):
    # The idle timeout (5 s here) restarts at every byte; the header deadline (2 s) does not.
    s = make_stack(registries=1, gateway_args=["--http-idle-timeout-s", "5",
                                               "--http-header-timeout-s", "2"])
    req = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: " + b"a" * 200 + b"\r\n\r\n"
    closed = dribble_until_closed(s.http_port, req, 0.5, 15)
    assert closed is not None and closed < 5, f"dribbling client held for {closed}"
    # a fresh connection: the stack's pooled one sat idle past the 2 s deadline too
    assert_json(requests.get(s.base_url + "/health", timeout=5), 200)


def test_a_body_dribbled_a_byte_at_a_time_hits_the_body_deadline(make_stack):
    s = make_stack(registries=1, gateway_args=["--http-idle-timeout-s", "5",
                                               "--http-body-timeout-s", "2"])
    head = (f"POST /projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {s.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: 400\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", s.http_port), timeout=5) as c:
        c.sendall(head)
        t0 = time.monotonic()
        closed = None
        for _ in range(40):
            try:
                c.send(b" ")
            except OSError:
                closed = time.monotonic() - t0
                break
            c.settimeout(0.5)
            try:
                if c.recv(4096) == b"":
                    closed = time.monotonic() - t0
                    break
            except socket.timeout:
                pass
            except OSError:
                closed = time.monotonic() - t0
                break
    assert closed is not None and closed < 5, f"dribbled body held for {closed}"


def test_new_connections_per_address_are_rate_limited(make_stack):
    s = make_stack(registries=1, gateway_args=["--http-conn-rate", "5"])
    refused = 0
    for _ in range(60):
        try:
            with socket.create_connection(("127.0.0.1", s.http_port), timeout=2) as c:
                c.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if not c.recv(64):
                    refused += 1
        except OSError:
            refused += 1
    assert refused > 30, f"only {refused} of 60 rapid connections refused at 5/s"

    def healthy():   # it recovers once the rate allows again
        try:
            return requests.get(s.base_url + "/health", timeout=5).status_code == 200
        except requests.exceptions.ConnectionError:
            return False
    wait_until(healthy, 10, interval=0.3, what="GET /health to be served again")
    counted = metric(s, "barbacane_http_refused_connections_total")
    assert counted >= refused, f"{refused} connections refused, /metrics counts {counted}"


def test_aborted_requests_are_logged_at_a_bounded_rate(make_stack):
    s = make_stack(registries=1, gateway_args=["--http-conn-rate", "0"])
    lines_before = len(s.gateway.log_text().splitlines())
    for _ in range(2000):
        with socket.create_connection(("127.0.0.1", s.http_port), timeout=2) as c:
            c.sendall(b"POST /projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                      + s.token.encode() + b"\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 100\r\n\r\n{")
    last = [-1]

    def settled():   # the abort count stopped moving: every connection has been dealt with
        now = metric(s, "barbacane_http_aborted_total")
        done, last[0] = now == last[0], now
        return done
    wait_until(settled, 20, interval=0.5, what="the gateway to finish with the aborted requests")
    assert last[0] > 0, "no aborted request was counted"
    assert_json(s.get("/health", auth=False), 200)
    logged = len(s.gateway.log_text().splitlines()) - lines_before
    assert logged < 100, f"2000 aborted requests wrote {logged} log lines"


# ------------------------------------------------------------------------ idempotency seals

def test_idempotency_records_cannot_be_opened_without_the_server_secret(stack):
    # The audit recovered keys offline from a dump because records were sealed under the
    # client's Idempotency-Key only. Now the record id and seal need the secret file too.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    project = create_project(stack)
    idem = "guessable-1"
    resp = stack.post(f"/projects/{project['id']}/api-keys", json={"name": "sealed"},
                      headers={"Idempotency-Key": idem})
    created = assert_json(resp, 201)
    rows = stack.psql("SELECT key_hash, encode(sealed_body, 'hex') FROM idempotency_keys")
    assert len(rows) >= 1
    dump = {k: bytes.fromhex(v) for k, v in rows}

    def lp(*parts):
        return b"".join(bytes([len(p)]) + p for p in parts)

    # What an attacker with only the dump can compute: the old derivations.
    old_id = hashlib.sha256()
    for part in (b"barbacane-idempotency-id-v1", b"admin", idem.encode()):
        old_id.update(len(part).to_bytes(8, "big") + part)
    assert old_id.hexdigest() not in dump
    # With the secret, the record opens and holds the key shown once (the positive control).
    secret = hashlib.sha256(stack.secret_file.read_bytes().rstrip(b"\r\n")).digest()
    rid = hmac.new(secret, lp(b"barbacane-idempotency-id-v2", b"admin", idem.encode()),
                   "sha256").hexdigest()
    seal = hmac.new(secret, lp(b"barbacane-idempotency-seal-v2", b"admin", idem.encode()),
                    "sha256").digest()
    sealed = dump[rid]
    plain = AESGCM(seal).decrypt(sealed[:12], sealed[12:], None)
    assert created["key"].encode() in plain
    assert created["key"].encode() not in b"".join(dump.values())


# ------------------------------------------------------------------------ admin tokens

def start_gateway_with_token(tmp_path, token_text, extra=()):
    http, broker, ev_in, ev_out = harness.free_ports(4)
    tok = tmp_path / "tok"
    tok.write_text(token_text)
    os.chmod(tok, 0o600)
    keys = harness.make_mesh_keys(tmp_path / "keys")
    return subprocess.run([str(harness.GATEWAY_BIN), "--http-port", str(http),
                           "--admin-token-file", str(tok), "--mesh-keys", str(keys),
                           "--broker-bind", f"tcp://127.0.0.1:{broker}",
                           "--events-in-bind", f"tcp://127.0.0.1:{ev_in}",
                           "--events-out-bind", f"tcp://127.0.0.1:{ev_out}", *extra],
                          capture_output=True, text=True, timeout=5, env=harness.clean_env())


@pytest.mark.parametrize("token,why", [("short-token-123", "too short"),
                                        ("CHANGE-ME-admin-token", "placeholder"),
                                        ("CHANGE-ME-" + "x" * 40, "placeholder"),
                                        ("a" * 48, "placeholder")])
def test_weak_admin_tokens_refuse_to_start(tmp_path, binaries, token, why):
    try:
        r = start_gateway_with_token(tmp_path, token + "\n")
    except subprocess.TimeoutExpired:
        pytest.fail(f"gateway started with the admin token {token!r}")
    assert r.returncode != 0 and why in r.stderr, r.stderr


def test_token_file_lines_are_the_tokens_commas_included(make_stack):
    long = "k" * 20 + "Z" * 20
    s = make_stack(registries=1, gateway_args=["--admin-token", f"a,{long}"])
    ok = requests.get(s.base_url + "/projects", timeout=5, headers={"Authorization": f"Bearer a,{long}"})
    assert_json(ok, 200)
    for piece in ("a", long):
        bad = requests.get(s.base_url + "/projects", timeout=5,
                           headers={"Authorization": f"Bearer {piece}"})
        assert_problem(bad, 401, "unauthorized")


def test_failed_authentications_are_throttled_per_address(make_stack):
    s = make_stack(registries=1, gateway_args=["--auth-failures-per-min", "10"])
    statuses = []
    for i in range(15):
        r = requests.get(s.base_url + "/projects", timeout=5,
                         headers={"Authorization": f"Bearer wrong-{i:040d}"})
        statuses.append(r.status_code)
    assert statuses[:10] == [401] * 10, statuses
    assert statuses[10:] == [429] * 5, statuses
    r = requests.get(s.base_url + "/projects", timeout=5,
                     headers={"Authorization": f"Bearer {s.token}"})
    body = assert_problem(r, 429, "too-many-requests")  # even a right guess is not tried now
    assert int(r.headers["Retry-After"]) >= 1, r.headers
    assert "authentication" in body["detail"]


# ------------------------------------------------------------------------ TLS

def test_gateway_serves_https_with_tls_cert_and_key(make_stack, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    s = make_stack(registries=1, gateway_args=["--tls-cert", str(cert), "--tls-key", str(key)],
                   tls_ca=cert)
    assert s.base_url.startswith("https://")
    assert_json(s.get("/health", auth=False), 200)
    assert_json(s.get("/projects"), 200)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{s.http_port}/health", timeout=5)


# ------------------------------------------------------------------------ 500s from bad input

def test_bad_input_that_used_to_give_500_is_400(stack):
    project = create_project(stack)
    pid = project["id"]
    assert_problem(stack.get("/plugins/%FF"), 400, "bad-request")
    assert_problem(stack.get("/plugins/%FF/1.0.0"), 400, "bad-request")
    import base64
    cursor = base64.urlsafe_b64encode(f"9999999999999999999,{pid}".encode()).decode().rstrip("=")
    assert_problem(stack.get(f"/projects?limit=2&cursor={cursor}"), 400, "bad-request")
    cursor = base64.urlsafe_b64encode(f"999999999999999999,{pid}".encode()).decode().rstrip("=")
    assert_problem(stack.get(f"/projects?limit=2&cursor={cursor}"), 400, "bad-request")
    r = stack.delete(f"/projects/{pid}", headers={"If-Match": "x" * 16384})
    body = assert_problem(r, 400, "bad-request")
    assert body["instance"] == f"/projects/{pid}" and body["request_id"]
    r = stack.post("/projects", json={"name": "idem"}, headers={"Idempotency-Key": "k" * 1024})
    assert_problem(r, 400, "bad-request")
    files = {"file": ("a" * 1024 + ".yaml", b"openapi: 3.1.0\n", "application/yaml")}
    assert_problem(stack.post("/specs", files=files), 400, "bad-request")
    r = stack.post(f"/projects/{pid}/api-keys",
                   json={"name": "far", "expires_at": "9999-12-31T23:30:00-01:00"})
    assert_problem(r, 400, "bad-request")
    for name in ("bad\u0001name", "tab\there", "nul\u0000x", "del\u007fx"):
        assert_problem(stack.post("/projects", json={"name": name}), 400, "bad-request")
        assert_problem(stack.post(f"/projects/{pid}/api-keys", json={"name": name}), 400,
                       "bad-request")
