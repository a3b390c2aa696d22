"""`make bench`: figures, not assertions. Starts real stacks with the black-box harness (real
processes, a private PostgreSQL) and prints, each with the ratio its target is stated in:

  http     wrk against a bare libmicrohttpd server (the baseline, same run), GET /health and
           GET /projects/{id}, with the mesh on (CURVE, the default) and with --insecure-mesh
  compile  the compiler library on a >= 10 MB spec and a ~300 KB spec (bench-compile), then
           through the REST API: 200 small specs with 1 and 2 compiler processes, and the
           latency of a small compile while a large one runs
  fanout   (when barbacane-hub and barbacane-agent exist) sessions held by the agent's
           --sessions mode on one hub, directly and through the gateway's splice: time from
           POST /deploy to the last artifact_available, and hub RSS per idle session

Usage: bench.py BUILD BIN [http compile fanout]   (BENCH_SECONDS, BENCH_CONNECTIONS,
BENCH_SESSIONS=5000,10000 adjust the runs)."""
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "blackbox"))
os.environ.setdefault("BARBACANE_BIN_DIR", str(ROOT / (sys.argv[2] if len(sys.argv) > 2 else "bin")))
import harness  # noqa: E402

BUILD = ROOT / (sys.argv[1] if len(sys.argv) > 1 else "build")
WHAT = sys.argv[3:] or ["http", "compile", "fanout"]
SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
CONNS = int(os.environ.get("BENCH_CONNECTIONS", "64"))
WASM = b"\x00asm\x01\x00\x00\x00"


def wrk(url, token=None):
    cmd = ["wrk", "-t2", f"-c{CONNS}", f"-d{SECONDS}s", "--latency", url]
    if token:
        cmd[1:1] = ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=SECONDS + 60).stdout

    def ms(v):
        m = re.match(r"([\d.]+)(us|ms|s)", v)
        n = float(m.group(1))
        return n / 1000 if m.group(2) == "us" else n * 1000 if m.group(2) == "s" else n
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p50, p99, int(errs.group(1)) if errs else 0


def row(label, rps, p50, p99, base, errs):
    print(f"{label:<34} {rps:>10.0f} {p50:>9.2f} {p99:>9.2f} {rps / base:>8.2f} {errs:>8}")


# ---------------------------------------------------------------- http

def bench_http(pg):
    hello_port = harness.free_ports(1)[0]
    hello = subprocess.Popen([str(BUILD / "tests" / "bench-hello"), str(hello_port), "2"])
    time.sleep(0.5)
    print(f"\n== HTTP: wrk -t2 -c{CONNS} -d{SECONDS}s on {os.cpu_count()} cores")
    print(f"{'route':<34} {'req/s':>10} {'p50 ms':>9} {'p99 ms':>9} {'ratio':>8} {'non2xx':>8}")
    base, b50, b99, berr = wrk(f"http://127.0.0.1:{hello_port}/")
    row("baseline (bare libmicrohttpd)", base, b50, b99, base, berr)
    results = {}
    for mode, extra in (("mesh on (CURVE)", []), ("--insecure-mesh", ["--insecure-mesh"])):
        s = harness.Stack(pg, registries=2, name="bench",
                          gateway_args=extra + ["--log-level", "warn"],
                          registry_args=extra + ["--log-level", "warn"]).start()
        try:
            if extra:   # an insecure mesh has no keys: the flags the harness adds are harmless
                pass
            pid = s.post("/projects", json={"name": "bench"}).json()["id"]
            for route in ("/health", f"/projects/{pid}"):
                r = wrk(s.url(route), s.token)
                label = f"GET {'/projects/{id}' if 'projects' in route else route} [{mode}]"
                row(label, *r[:3], base, r[3])
                results[(route.split("/")[1], mode)] = r[0]
        finally:
            s.close()
            s.remove_files()
    hello.send_signal(signal.SIGTERM)
    hello.wait()
    on, off = results[("projects", "mesh on (CURVE)")], results[("projects", "--insecure-mesh")]
    print(f"cost of CURVE on GET /projects/{{id}}: {on:.0f} vs {off:.0f} req/s = {on / off:.2f}x")
    print("target: GET /projects/{id} >= 0.25 of baseline with p99 <= 10 ms")


# ---------------------------------------------------------------- compile

def spec(ops, title=None):
    lines = ['openapi: "3.1.0"', "info:", f'  title: "{title or uuid.uuid4().hex}"',
             '  version: "1.0.0"', "paths:"]
    for i in range(ops):
        lines += [f"  /r{i}/{{id}}:", "    get:", f"      operationId: op{i}", "      parameters:",
                  "        - {name: id, in: path, required: true, schema: {type: string}}",
                  "      responses: {'200': {description: ok}}",
                  "      x-barbacane-dispatch: {name: mock, config: {status: 200}}"]
    return "\n".join(lines) + "\n"


def compile_one(s, spec_id):
    job = s.post(f"/specs/{spec_id}/compile").json()
    return job["id"]


def wait_all(s, ids, timeout=600):
    left, done = set(ids), {}
    t_end = time.monotonic() + timeout
    while left and time.monotonic() < t_end:
        for jid in list(left):
            j = s.get(f"/compilations/{jid}").json()
            if j["status"] in ("succeeded", "failed"):
                done[jid] = (j, time.monotonic())
                left.discard(jid)
        time.sleep(0.02)
    return done


def bench_compile_rest(pg):
    print("\n== Compile through the REST API")
    rates = {}
    for procs in (1, 2):
        s = harness.Stack(pg, registries=2, name="bcc", compilers=procs,
                          compiler_args=["--compile-threads", "1", "--log-level", "warn",
                                         "--poll-ms", "200"]).start()
        try:
            s.post("/plugins", files={"name": (None, "mock"), "version": (None, "0.1.0"),
                                      "type": (None, "dispatcher"), "file": ("m.wasm", WASM)})
            ids = [s.post("/specs", files={"file": ("a.yaml", spec(20).encode())}).json()["id"]
                   for _ in range(200)]
            t0 = time.monotonic()
            jobs = [compile_one(s, i) for i in ids]
            done = wait_all(s, jobs)
            took = time.monotonic() - t0
            ok = sum(1 for j, _ in done.values() if j["status"] == "succeeded")
            rates[procs] = ok / took
            print(f"200 small specs, {procs} compiler process(es): {ok} succeeded in {took:.2f} s"
                  f" = {rates[procs]:.1f} compilations/s")
            if procs == 2:
                latency_under_load(s)
        finally:
            s.close()
            s.remove_files()
    print(f"speed-up with 2 processes: {rates[2] / rates[1]:.2f}x (target >= 1.8x)")


def latency_under_load(s):
    big = s.post("/specs", files={"file": ("big.yaml", spec(12000).encode())}).json()["id"]
    small = s.post("/specs", files={"file": ("s.yaml", spec(5).encode())}).json()["id"]
    big_job = compile_one(s, big)
    lat = []
    for _ in range(30):
        t0 = time.monotonic()
        jid = compile_one(s, small)
        (_, t1), = wait_all(s, [jid], 60).values()
        lat.append((t1 - t0) * 1000)
    still = s.get(f"/compilations/{big_job}").json()["status"]
    lat.sort()
    print(f"small compile while a large one runs ({still} during the run): "
          f"p50 {statistics.median(lat):.0f} ms, p99 {lat[int(len(lat) * 0.99) - 1]:.0f} ms "
          f"(the large one alone takes seconds: the small one does not wait for it)")


def bench_compile(pg):
    tool = BUILD / "tests" / "bench-compile"
    if tool.exists():
        print("\n== Compiler library (bench-compile)")
        subprocess.run([str(tool)], timeout=900)
    bench_compile_rest(pg)


# ---------------------------------------------------------------- fan-out

def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def bench_fanout(pg):
    if not (harness.HUB_BIN.exists() and harness.AGENT_BIN.exists()):
        print("\n== Fan-out: skipped (barbacane-hub or barbacane-agent not built)")
        return
    sys.path.insert(0, str(ROOT / "tests" / "blackbox"))
    from agent import Agent   # noqa: E402
    counts = [int(n) for n in os.environ.get("BENCH_SESSIONS", "5000,10000").split(",")]
    print("\n== Fan-out: POST /deploy to the last artifact_available")
    for n in counts:
        for via in ("direct", "splice"):
            fanout_once(pg, Agent, n, via)


def fanout_once(pg, Agent, n, via):
    s = harness.Stack(pg, registries=1, name="bfo", compilers=1, hubs=1,
                      gateway_args=["--log-level", "warn", "--max-splices", "30000",
                                    "--http-max-per-ip", "30000",
                                    "--http-max-connections", "30000"],
                      hub_args=["--log-level", "warn", "--heartbeat-interval-s", "60",
                                "--max-unauthenticated", "30000"]).start()
    try:
        hub = s.hubs[0]
        project = s.post("/projects", json={"name": "fanout"}).json()["id"]
        key = s.post(f"/projects/{project}/api-keys", json={"name": "k"}).json()["key"]
        s.post("/plugins", files={"name": (None, "mock"), "version": (None, "0.1.0"),
                                  "type": (None, "dispatcher"), "file": ("m.wasm", WASM)})
        sid = s.post(f"/projects/{project}/specs", files={"file": ("a.yaml", spec(1).encode())}).json()["id"]
        jid = compile_one(s, sid)
        wait_all(s, [jid], 60)
        idle_before = rss_kib(hub.pid)
        url = s.ws_url(hub if via == "direct" else None)
        agent = Agent(s, project, key, url=url, extra=["--sessions", str(n), "--no-download"])
        agent.wait_for("all_registered", timeout=300)
        time.sleep(1)
        per = (rss_kib(hub.pid) - idle_before) / n
        t0 = time.time() * 1000
        s.post(f"/projects/{project}/deploy")
        last = agent.wait_for("all_artifact_available", timeout=120)
        took = last["at_ms"] - t0
        print(f"{n:>6} sessions [{via:>6}]: last artifact_available after {took:7.1f} ms; "
              f"hub RSS {per:.1f} KiB per idle session")
        agent.stop()
    finally:
        s.close()
        s.remove_files()


def main():
    pg = harness.PgCluster().start()
    try:
        if "http" in WHAT:
            bench_http(pg)
        if "compile" in WHAT:
            bench_compile(pg)
        if "fanout" in WHAT:
            bench_fanout(pg)
        if "loader" in WHAT or WHAT == ["http", "compile", "fanout"]:
            tool = BUILD / "tests" / "bench-loader"
            if tool.exists():
                print("\n== Spec loader")
                subprocess.run([str(tool)], timeout=600)
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
