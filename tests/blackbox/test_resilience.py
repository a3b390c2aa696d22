"""Resilience: killed workers, a restarted gateway, load spread over workers, concurrent migrations.

Every test here runs on its own fresh stack (own database, own ports) because it kills processes.
"""
import signal
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

import harness
from harness import assert_json, assert_problem, describe, wait_until

pytestmark = pytest.mark.resilience


def timed(fn, *args, **kw):
    t0 = time.monotonic()
    resp = fn(*args, **kw)
    return resp, time.monotonic() - t0


def create_project(stack):
    resp = stack.post("/projects", json={"name": f"res-{uuid.uuid4().hex[:10]}"})
    return assert_json(resp, 201)


def registry_rids(proc, rids):
    """The subset of rids mentioned by proc's log."""
    text = proc.log_text()
    return {rid for rid in rids if rid in text}


_local = threading.local()


def _thread_session():
    s = getattr(_local, "session", None)
    if s is None:
        s = _local.session = requests.Session()
    return s


def fire(stack, path, rids, threads=16):
    """GET path once per rid (as X-Request-Id) from a thread pool; returns [(rid, status)]."""
    def one(rid):
        try:
            r = stack.get(path, headers={"X-Request-Id": rid}, session=_thread_session(),
                          timeout=harness.HTTP_TIMEOUT)
            return rid, r.status_code, r.headers.get("X-Request-Id")
        except requests.RequestException as exc:
            return rid, repr(exc), None
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(one, rids))


def make_rids(prefix, n):
    run = uuid.uuid4().hex[:8]
    return [f"{prefix}-{run}-{i:05d}" for i in range(n)]


# ---------------------------------------------------------------- (a) no registry at all

def test_all_registries_killed_gives_503_then_recovers(make_stack):
    s = make_stack(registries=2)
    project = create_project(s)
    for reg in s.live_registries():
        s.kill(reg, signal.SIGKILL)
    assert not s.live_registries()

    for attempt in range(3):
        resp, elapsed = timed(s.get, "/projects", timeout=10)
        assert elapsed < 5.0, f"GET /projects took {elapsed:.2f}s with no registry (attempt {attempt})"
        assert_problem(resp, 503, "service-unavailable")
        assert resp.headers.get("Retry-After"), f"503 without Retry-After: {describe(resp)}"

    def health_is_503():
        resp, elapsed = timed(s.get, "/health", auth=False, timeout=10)
        assert elapsed < 5.0, f"GET /health took {elapsed:.2f}s with no registry"
        return [resp] if resp.status_code == 503 else None  # a 503 Response is falsy
    resp, = wait_until(health_is_503, 5, interval=0.1, what="GET /health == 503 without registry")
    assert_problem(resp, 503, "service-unavailable")

    s.start_registry()
    t0 = time.monotonic()

    def serves():
        r = s.get("/projects", timeout=5)
        return r if r.status_code == 200 else None
    wait_until(serves, 3, interval=0.05, what="GET /projects == 200 after restarting one registry")
    took = time.monotonic() - t0
    got = assert_json(s.get(f"/projects/{project['id']}"), 200)
    assert got == project, "data written before the crash must survive it"
    wait_until(lambda: s.get("/health", auth=False).status_code == 200, 3,
               what="GET /health == 200 again")
    print(f"recovered {took:.2f}s after starting a registry")


# ---------------------------------------------------------------- (b) gateway restart

def test_gateway_restart_reuses_running_registries(make_stack):
    s = make_stack(registries=2)
    project = create_project(s)
    regs = list(s.registries)
    pids = [r.pid for r in regs]

    s.kill(s.gateway, signal.SIGKILL)
    s.start_gateway(wait=True)  # returns once the HTTP port accepts TCP
    t_ready = time.monotonic()

    def serves():
        r = s.get(f"/projects/{project['id']}", timeout=5)
        return r if r.status_code == 200 else None
    resp = wait_until(serves, 3, interval=0.05,
                      what="registries to serve through the restarted gateway")
    print(f"served {time.monotonic() - t_ready:.2f}s after the gateway accepted TCP")
    assert resp.json() == project
    assert [r.pid for r in s.registries] == pids, "the harness must not have started registries"
    assert all(r.alive() for r in regs), f"registries died: {regs}"

    # Both pre-existing instances are back in rotation, not just one.
    seen = set()

    def both_serve():
        rids = make_rids("gwrs", 32)
        results = fire(s, f"/projects/{project['id']}", rids, threads=8)
        assert all(st == 200 for _, st, _ in results), results[:5]
        for i, reg in enumerate(regs):
            if registry_rids(reg, rids):
                seen.add(i)
        return len(seen) == len(regs)
    wait_until(both_serve, 5, interval=0.1, what="both running registries to take requests again")


# ---------------------------------------------------------------- (c) load spread

def test_two_registries_share_load(make_stack):
    s = make_stack(registries=2)
    project = create_project(s)
    rids = make_rids("load", 400)
    t0 = time.monotonic()
    results = fire(s, f"/projects/{project['id']}", rids, threads=16)
    elapsed = time.monotonic() - t0
    bad = [(rid, st) for rid, st, _ in results if st != 200]
    assert not bad, f"{len(bad)} of {len(rids)} requests failed, e.g. {bad[:5]}"
    echoed = [rid for rid, _, hdr in results if hdr != rid]
    assert not echoed, f"X-Request-Id not echoed for {len(echoed)} requests, e.g. {echoed[:3]}"

    regs = s.registries
    want = set(rids)

    def all_logged():
        per = [registry_rids(r, want) for r in regs]
        return per if set().union(*per) == want else None
    per = wait_until(all_logged, 5, interval=0.1,
                     what="every request id to appear in a registry log")
    counts = [len(p) for p in per]
    print(f"400 requests in {elapsed:.2f}s; per instance: {counts}")
    assert all(c >= 1 for c in counts), f"an instance took no work: {counts}"
    assert not (per[0] & per[1]), f"{len(per[0] & per[1])} requests were handled by both instances"


# ---------------------------------------------------------------- one of two registries killed

def test_one_registry_killed_others_keep_serving(make_stack):
    s = make_stack(registries=2)
    project = create_project(s)
    s.kill(s.registries[0], signal.SIGKILL)
    t_kill = time.monotonic()
    streak = 0
    statuses = []
    while streak < 10:
        assert time.monotonic() - t_kill < 8, f"no stable service after the kill: {statuses}"
        resp, elapsed = timed(s.get, f"/projects/{project['id']}", timeout=10)
        assert elapsed < 5.0, f"request took {elapsed:.2f}s after one registry was killed"
        statuses.append(resp.status_code)
        if resp.status_code == 200:
            streak += 1
        else:  # a request caught by the dead worker must still fail cleanly
            assert resp.status_code in (503, 504), describe(resp)
            assert_problem(resp, resp.status_code,
                           "service-unavailable" if resp.status_code == 503 else "gateway-timeout")
            streak = 0
    print(f"statuses after kill: {statuses}")


# ---------------------------------------------------------------- stalled workers: deadline

def test_stalled_registries_give_504_at_the_deadline(make_stack):
    # SIGSTOP keeps the workers connected but silent: the request waits for its deadline
    # (--request-timeout-ms 1000, shorter than heartbeat liveness) and gets a clean 504.
    s = make_stack(registries=2, gateway_args=["--request-timeout-ms", "1000"])
    project = create_project(s)
    try:
        for reg in s.registries:
            s.send_signal(reg, signal.SIGSTOP)
        resp, elapsed = timed(s.get, f"/projects/{project['id']}", timeout=10)
        assert_problem(resp, 504, "gateway-timeout")
        assert 0.8 <= elapsed < 2.5, f"504 after {elapsed:.2f}s with a 1000 ms deadline"
    finally:
        for reg in s.registries:
            s.send_signal(reg, signal.SIGCONT)

    def serves():
        r = s.get(f"/projects/{project['id']}", timeout=5)
        return r.status_code == 200
    wait_until(serves, 5, interval=0.05, what="service after SIGCONT")
    assert all(r.alive() for r in s.registries)


def _in_flight(stack):
    """Requests the gateway is waiting on, from its Prometheus gauge."""
    text = stack.get("/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith("barbacane_http_pending_requests "):
            return int(line.split()[1])
    raise AssertionError(f"no pending gauge in /metrics: {text!r}")


def test_busy_worker_is_not_dropped_for_silence(make_stack):
    # Heartbeats every 200 ms with liveness 2: silence alone would condemn a worker after
    # 400 ms. A worker frozen mid-request (SIGSTOP stands in for a long handler) for well over
    # that must still deliver its answer, because its connection is alive.
    hb = ["--heartbeat-ms", "200", "--liveness", "2"]
    s = make_stack(registries=1, gateway_args=hb, registry_args=hb)
    project = create_project(s)
    reg = s.registries[0]
    result = {}

    def call():
        result["resp"] = s.get(f"/projects/{project['id']}", timeout=20)

    s.send_signal(reg, signal.SIGSTOP)
    t = threading.Thread(target=call)
    try:
        t.start()
        wait_until(lambda: _in_flight(s) == 1, 5, interval=0.05, what="request in flight")
        frozen_until = time.monotonic() + 1.5  # the scenario: 1.5 s of silence, > 400 ms
        while time.monotonic() < frozen_until:
            assert _in_flight(s) == 1, "the gateway gave up on a frozen but connected worker"
            time.sleep(0.1)
    finally:
        s.send_signal(reg, signal.SIGCONT)
    t.join(20)
    assert_json(result["resp"], 200)


def test_killed_busy_worker_gives_prompt_503(make_stack):
    # A worker that dies holding a request: the broker notices the dropped connection on its
    # next heartbeat and answers 503 long before the 30 s deadline.
    s = make_stack(registries=1)
    project = create_project(s)
    reg = s.registries[0]
    result = {}

    def call():
        result["resp"], result["elapsed"] = timed(s.get, f"/projects/{project['id']}", timeout=20)

    s.send_signal(reg, signal.SIGSTOP)
    t = threading.Thread(target=call)
    t.start()
    wait_until(lambda: _in_flight(s) == 1, 5, interval=0.05, what="request in flight")
    s.kill(reg, signal.SIGKILL)
    t.join(20)
    assert_problem(result["resp"], 503, "service-unavailable")
    assert result["elapsed"] < 5, f"503 took {result['elapsed']:.2f}s"


# ---------------------------------------------------------------- (d) concurrent migrations

def sql_file_count():
    files = sorted(harness.SQL_DIR.glob("*.sql"))
    assert files, f"no migrations found in {harness.SQL_DIR}"
    return len(files)


def run_migrate_only(pg, dbname, n):
    broker, events = harness.free_ports(2)
    argv = [str(harness.REGISTRY_BIN), "--database-url", pg.url(dbname),
            "--broker", f"tcp://127.0.0.1:{broker}", "--events", f"tcp://127.0.0.1:{events}",
            "--migrate-only"]
    procs = [subprocess.Popen(argv + ["--instance", f"mig{i}"], env=harness.clean_env(),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for i in range(n)]
    outs = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise AssertionError("--migrate-only did not exit within 30s")
        outs.append((p.returncode, err.decode("utf-8", "replace")[-2000:]))
    return outs


def test_concurrent_migrations_apply_once(binaries, pg):
    expected = sql_file_count()
    db = pg.create_database("mig")
    outs = run_migrate_only(pg, db, 2)
    for code, err in outs:
        assert code == 0, f"--migrate-only exited {code}:\n{err}"
    dups = pg.psql("SELECT version, count(*) FROM schema_migrations "
                   "GROUP BY version HAVING count(*) > 1", db)
    assert dups == [], f"migrations applied more than once: {dups}"
    rows = pg.psql("SELECT count(*) FROM schema_migrations", db)
    assert int(rows[0][0]) == expected, \
        f"schema_migrations has {rows[0][0]} rows, common/sql has {expected} files"
    assert pg.psql("SELECT to_regclass('public.projects') IS NOT NULL", db) == [["t"]]

    # A later start finds everything applied and changes nothing.
    before = pg.psql("SELECT version, name, applied_at FROM schema_migrations ORDER BY 1", db)
    (code, err), = run_migrate_only(pg, db, 1)
    assert code == 0, f"second --migrate-only exited {code}:\n{err}"
    after = pg.psql("SELECT version, name, applied_at FROM schema_migrations ORDER BY 1", db)
    assert after == before


# ---------------------------------------------------------------- (e) an HTTP front on an external broker

def _front_gateway(s, extra=()):
    """A second gateway with no broker of its own, using the stack gateway's broker."""
    port = harness.free_ports(1)[0]
    argv = [str(harness.GATEWAY_BIN), "--http-port", str(port), "--broker-bind", "",
            "--broker", s.broker_endpoint(), "--events-in-bind", "",
            "--admin-token-file", str(s.token_file), "--mesh-keys", str(s.keys_dir),
            "--instance", f"{s.name}-front", *extra]
    proc = harness.Proc("front", "gateway", argv, harness.clean_env({}), s._logpath("front"))
    s.procs.append(proc)
    wait_until(lambda: harness.port_accepts(port), 10, what="front gateway port")
    return proc, f"http://127.0.0.1:{port}"


def test_front_on_external_broker_serves_and_times_out_when_broker_goes_silent(make_stack):
    s = make_stack(registries=1)
    project = create_project(s)
    front, url = _front_gateway(s, ["--request-timeout-ms", "1000"])
    auth = {"Authorization": f"Bearer {s.token}"}

    def served():
        r = requests.get(f"{url}/projects/{project['id']}", headers=auth, timeout=5)
        return r.status_code == 200 and r.json()["id"] == project["id"]
    wait_until(served, 5, what="a request through the front to be served")

    # The broker (inside the stack's gateway) freezes: only the front's own backstop can
    # answer, 504 shortly after the deadline, instead of hanging.
    s.send_signal(s.gateway, signal.SIGSTOP)
    try:
        resp, elapsed = timed(requests.get, f"{url}/projects/{project['id']}", headers=auth,
                              timeout=15)
        assert_problem(resp, 504, "gateway-timeout")
        assert elapsed < 6, f"504 after {elapsed:.2f}s with a 1000 ms deadline"
    finally:
        s.send_signal(s.gateway, signal.SIGCONT)
    assert front.alive()
    wait_until(served, 5, what="service through the front after the broker resumes")
