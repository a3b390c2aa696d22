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
    """Polls in submission order and stops at the first job still running, so the poller itself
    costs about one GET per tick instead of one per job (compiler-svc serves those GETs too)."""
    left, done = list(ids), {}
    t_end = time.monotonic() + timeout
    while left and time.monotonic() < t_end:
        while left:
            j = s.get(f"/compilations/{left[0]}").json()
            if j["status"] not in ("succeeded", "failed"):
                break
            done[left.pop(0)] = (j, time.monotonic())
        time.sleep(0.02)
    return done


def cpu_s(pid):
    """utime + stime of one process, in seconds."""
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_s():
    """Non-idle CPU time of the whole machine, in seconds (all cores)."""
    f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(f) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")


def submit_all(s, spec_ids, threads=8):
    """POST /compile for every spec from `threads` clients at once: the submission is not one
    client's round trips in a row, so the run measures the compilers."""
    import requests
    from concurrent.futures import ThreadPoolExecutor
    sessions = [requests.Session() for _ in range(threads)]

    def one(i):
        return s.post(f"/specs/{spec_ids[i]}/compile", session=sessions[i % threads]).json()["id"]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(len(spec_ids))))


def bench_compile_rest(pg):
    print("\n== Compile through the REST API (1 compile thread per process, 8 submitting clients)")
    sizes = (("tiny", 20), ("small", 150))
    rates, ceiling = {}, {}
    for procs in (1, 2):
        s = harness.Stack(pg, registries=2, name="bcc", compilers=procs,
                          compiler_args=["--compile-threads", "1", "--log-level", "warn",
                                         "--poll-ms", "200"]).start()
        try:
            s.post("/plugins", files={"name": (None, "mock"), "version": (None, "0.1.0"),
                                      "type": (None, "dispatcher"), "file": ("m.wasm", WASM)})
            for label, ops in sizes:
                body = spec(ops)
                ids = [s.post("/specs", files={"file": (f"{label}.yaml", body.replace(
                    'title: "', f'title: "{i}-'))}).json()["id"] for i in range(200)]
                c0 = sum(cpu_s(c.pid) for c in s.compilers)
                m0, t0 = machine_busy_s(), time.monotonic()
                done = wait_all(s, submit_all(s, ids))
                took = time.monotonic() - t0
                busy = machine_busy_s() - m0
                share = (sum(cpu_s(c.pid) for c in s.compilers) - c0) / busy if busy else 0
                ok = sum(1 for j, _ in done.values() if j["status"] == "succeeded")
                rates[(label, procs)] = ok / took
                print(f"200 {label} specs ({ops} operations, {len(body) // 1024} KiB), {procs} "
                      f"compiler process(es): {ok} succeeded in {took:.2f} s = "
                      f"{rates[(label, procs)]:.1f} compilations/s; the machine was busy "
                      f"{busy:.2f} core-s, {share * 100:.0f}% of it in compiler-svc")
                if procs == 1:   # Amdahl on this machine: the rest of the work does not shrink
                    ceiling[label] = took / max(busy / os.cpu_count(), took * (1 - share))
            if procs == 2:
                latency_under_load(s)
        finally:
            s.close()
            s.remove_files()
    for label, _ in sizes:
        print(f"speed-up with 2 processes, {label} specs: "
              f"{rates[(label, 2)] / rates[(label, 1)]:.2f}x (target >= 1.8x; the most "
              f"{os.cpu_count()} cores allow with the 1-process run's CPU split: "
              f"{ceiling[label]:.2f}x)")


def latency_under_load(s):
    big = s.post("/specs", files={"file": ("big.yaml", spec(12000).encode())}).json()["id"]
    small = s.post("/specs", files={"file": ("s.yaml", spec(5).encode())}).json()["id"]
    t_big = time.monotonic()
    big_job = compile_one(s, big)
    while s.get(f"/compilations/{big_job}").json()["status"] == "pending":
        time.sleep(0.01)
    lat = []
    for _ in range(30):
        t0 = time.monotonic()
        jid = compile_one(s, small)
        (_, t1), = wait_all(s, [jid], 60).values()
        if s.get(f"/compilations/{big_job}").json()["status"] != "compiling":
            break   # only the small compiles that overlapped the large one count
        lat.append((t1 - t0) * 1000)
    (_, t_end), = wait_all(s, [big_job], 600).values()
    lat.sort()
    if not lat:
        print("small compile while a large one runs: the large one finished first (no figure)")
        return
    print(f"small compile while a large one (12000 operations, {t_end - t_big:.1f} s) runs: "
          f"{len(lat)} compiles, p50 {statistics.median(lat):.0f} ms, "
          f"p99 {lat[max(0, int(len(lat) * 0.99) - 1)]:.0f} ms")


def bench_compile(pg):
    tool = BUILD / "tests" / "bench-compile"
    if tool.exists():
        print("\n== Compiler library (bench-compile)")
        subprocess.run([str(tool)], timeout=900)
    bench_compile_rest(pg)


# ---------------------------------------------------------------- fan-out


def bench_fanout(pg):
    if not (harness.HUB_BIN.exists() and harness.AGENT_BIN.exists()):
        print("\n== Fan-out: skipped (barbacane-hub or barbacane-agent not built)")
        return
    from agent import Agent   # noqa: E402
    counts = [int(n) for n in os.environ.get("BENCH_SESSIONS", "5000,10000").split(",")]
    print("\n== Fan-out: POST /deploy to the last artifact_available")
    import resource
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    for n in counts:
        if hard != resource.RLIM_INFINITY and 2 * n + 512 > hard:
            capped = (hard - 512) // 2   # the gateway holds two sockets per spliced session
            print(f"{n:>6} sessions: capped at {capped} by the file descriptor limit ({hard}; "
                  f"a splice holds two), both runs")
            n = capped
        direct = fanout_once(pg, Agent, n, "direct")
        splice = fanout_once(pg, Agent, n, "splice")
        print(f"{n:>6} sessions: the splice adds {(splice / direct - 1) * 100:.0f}% "
              f"(target <= 20%; targets: 5000 <= 50 ms, 10000 <= 100 ms, <= 10 KiB per session)")


def fanout_once(pg, Agent, n, via, reps=5):
    s = harness.Stack(pg, registries=1, name="bfo", compilers=1, hubs=1,
                      gateway_args=["--log-level", "warn", "--max-splices", str(n + 100),
                                    "--http-max-per-ip", str(n + 100),
                                    "--http-max-connections", str(n + 100)],
                      hub_args=["--log-level", "info", "--heartbeat-interval-s", "60",
                                "--max-unauthenticated", "20000"]).start()
    try:
        hub = s.hubs[0]
        project = s.post("/projects", json={"name": "fanout"}).json()["id"]
        key = s.post(f"/projects/{project}/api-keys", json={"name": "k"}).json()["key"]
        s.post("/plugins", files={"name": (None, "mock"), "version": (None, "0.1.0"),
                                  "type": (None, "dispatcher"), "file": ("m.wasm", WASM)})

        def new_artifact(i):
            sid = s.post(f"/projects/{project}/specs",
                         files={"file": (f"a{i}.yaml", spec(1).encode())}).json()["id"]
            wait_all(s, [compile_one(s, sid)], 60)
        new_artifact(0)
        idle_before = harness.rss_kib(hub.pid)
        url = s.ws_url(hub if via == "direct" else None)
        agent = Agent(s, project, key, url=url, extra=["--sessions", str(n), "--no-download"])
        agent.wait_for("all_registered", timeout=300)
        time.sleep(1)
        per = (harness.rss_kib(hub.pid) - idle_before) / n
        took = []
        for i in range(reps):   # each deploy a new artifact: the same one again announces nothing
            new_artifact(i + 1)
            mark = agent.mark()
            t0 = time.time() * 1000
            s.post(f"/projects/{project}/deploy")
            last = agent.wait_for("all_artifact_available", timeout=120, since=mark)
            took.append(last["at_ms"] - t0)
        hub_ms = [float(m) for m in re.findall(r"artifact_available written to \d+ session\(s\) "
                                               r"in ([\d.]+) ms", Path(hub.logpath).read_text())]
        print(f"{n:>6} sessions [{via:>6}]: last artifact_available after median "
              f"{statistics.median(took):6.1f} ms (min {min(took):.1f}, max {max(took):.1f}, "
              f"{reps} deploys); the hub's writes took median {statistics.median(hub_ms):.1f} ms; "
              f"hub RSS {per:.1f} KiB per idle session")
        agent.stop()
        return statistics.median(took)
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
