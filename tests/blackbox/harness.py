"""Black-box harness: a private PostgreSQL cluster and process stacks (gateway + registry-svc).

Everything here talks to the product only through its binaries, its HTTP port and the database.
"""
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
# BARBACANE_BIN_DIR (as tests/run-all.sh sets it) or BB_TEST_BIN_DIR selects another build
# (e.g. bin-asan); relative paths are from the repo root. Neither is passed to the product.
BIN_DIR = REPO_ROOT / (os.environ.get("BARBACANE_BIN_DIR") or os.environ.get("BB_TEST_BIN_DIR")
                       or "bin")
GATEWAY_BIN = BIN_DIR / "barbacane-gateway"
REGISTRY_BIN = BIN_DIR / "barbacane-registry"
KEYGEN_BIN = BIN_DIR / "barbacane-keygen"
COMPILER_BIN = BIN_DIR / "barbacane-compiler"
HUB_BIN = BIN_DIR / "barbacane-hub"
AGENT_BIN = BIN_DIR / "barbacane-agent"
SQL_DIR = REPO_ROOT / "common" / "sql"
# Sanitizer builds run several times slower: time bounds that guard against denial of service
# (a hostile document must be refused quickly) scale by this factor (make test-asan sets it).
TIME_FACTOR = float(os.environ.get("BARBACANE_TIME_FACTOR", "1"))

_SHARED_CONTRACT = REPO_ROOT.parent / "shared" / "contract" / "openapi.yaml"
CONTRACT_PATH = Path(os.environ.get(
    "BARBACANE_CONTRACT", _SHARED_CONTRACT if _SHARED_CONTRACT.exists()
    else REPO_ROOT / "tests" / "contract" / "openapi.yaml"))

IS_ROOT = os.geteuid() == 0
PG_OWNER = "postgres"
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
HTTP_TIMEOUT = 10.0  # seconds; no single request in this suite may hang longer

# Stacks alive right now; conftest attaches their log tails to failing test reports.
ACTIVE_STACKS = []


class HarnessError(RuntimeError):
    pass


# ---------------------------------------------------------------- small utilities

def wait_until(cond, timeout, interval=0.05, what="condition"):
    """Bounded poll: return cond()'s first truthy value, or raise AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = cond()
            if value:
                return value
        except Exception as exc:  # keep polling; report the last error on timeout
            last_exc = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_exc!r})" if last_exc else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")
        time.sleep(interval)


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (all held open at once so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_accepts(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    text = data.decode("utf-8", "replace").splitlines()
    return "\n".join(text[-lines:])


def missing_binaries():
    return [str(p) for p in (GATEWAY_BIN, REGISTRY_BIN, KEYGEN_BIN) if not os.access(p, os.X_OK)]


def make_mesh_keys(directory):
    """Every role's CURVE key pair in directory (barbacane-keygen), as `make run` makes them."""
    r = subprocess.run([str(KEYGEN_BIN), str(directory), "--all"], capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        raise HarnessError(f"barbacane-keygen failed: {r.stderr}")
    return Path(directory)


def make_secret_file(path):
    """A fresh service secret (0600), as `make run` makes var/service-secret."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    return Path(path)


def clean_env(extra=None):
    """The caller's environment without any Barbacane/database configuration, plus extra."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("BARBACANE_") and k not in ("DATABASE_URL", "PGHOST", "PGPORT",
                                                              "PGDATABASE", "PGUSER")}
    env.update(extra or {})
    return env


def pg_bindir():
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        if out and os.path.exists(os.path.join(out, "initdb")):
            return out
    except (OSError, subprocess.SubprocessError):
        pass
    for cand in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (cand / "initdb").exists():
            return str(cand)
    raise HarnessError("PostgreSQL server binaries not found (pg_config --bindir, /usr/lib/postgresql/*/bin)")


# ---------------------------------------------------------------- PostgreSQL

class PgCluster:
    """A throw-away PostgreSQL cluster under /tmp, TCP on 127.0.0.1 only, scram-sha-256 with a
    generated password (in a 0600 pgpass file that PGPASSFILE points every child process at)."""

    def __init__(self):
        self.bindir = pg_bindir()
        self.base = Path(tempfile.mkdtemp(prefix="bb-pg-", dir="/tmp"))
        os.chmod(self.base, 0o755)
        self.data = self.base / "data"
        self.sockdir = self.base / "sock"
        self.logfile = self.base / "postgres.log"
        self.port = None
        self.proc = None
        self.user = "postgres"
        self.password = secrets.token_urlsafe(24)
        self.passfile = self.base / "pgpass"

    def _as_owner(self, cmd):
        return (["runuser", "-u", PG_OWNER, "--"] + cmd) if IS_ROOT else cmd

    def _bin(self, name):
        return os.path.join(self.bindir, name)

    def start(self):
        self.data.mkdir(mode=0o700)
        self.sockdir.mkdir(mode=0o755)
        os.chmod(self.sockdir, 0o755)
        if IS_ROOT:
            shutil.chown(self.data, PG_OWNER, PG_OWNER)
            shutil.chown(self.sockdir, PG_OWNER, PG_OWNER)
            log_fd = os.open(self.logfile, os.O_CREAT | os.O_WRONLY, 0o644)
            os.close(log_fd)
            shutil.chown(self.logfile, PG_OWNER, PG_OWNER)
        pwfile = self.base / "initdb-pw"
        pwfile.write_text(self.password + "\n")
        if IS_ROOT:
            shutil.chown(pwfile, PG_OWNER, PG_OWNER)
        os.chmod(pwfile, 0o600)
        r = subprocess.run(
            self._as_owner([self._bin("initdb"), "-D", str(self.data), "-U", self.user,
                            "--auth=scram-sha-256", f"--pwfile={pwfile}", "--no-sync",
                            "--encoding=UTF8", "--locale=C", "--no-instructions"]),
            capture_output=True, text=True, timeout=60, cwd=str(self.base))
        pwfile.unlink()
        if r.returncode != 0:
            raise HarnessError(f"initdb failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        self.port = free_ports(1)[0]
        fd = os.open(self.passfile, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"127.0.0.1:{self.port}:*:{self.user}:{self.password}\n")
        os.environ["PGPASSFILE"] = str(self.passfile)  # psql, pg_dump and every service
        log = open(self.logfile, "ab")
        self.proc = subprocess.Popen(
            self._as_owner([self._bin("postgres"), "-D", str(self.data),
                            "-p", str(self.port), "-h", "127.0.0.1", "-k", str(self.sockdir),
                            "-c", "fsync=off", "-c", "synchronous_commit=off",
                            "-c", "full_page_writes=off", "-c", "max_connections=200",
                            "-c", "log_min_messages=warning"]),
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=str(self.base))
        log.close()
        try:
            wait_until(self._ready, 30, interval=0.05, what="postgres to accept connections")
        except AssertionError as exc:
            self.stop()
            raise HarnessError(f"{exc}\n{tail(self.logfile)}") from None
        return self

    def _ready(self):
        if self.proc.poll() is not None:
            raise HarnessError(f"postgres exited with {self.proc.returncode}:\n{tail(self.logfile)}")
        r = subprocess.run([self._bin("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port),
                            "-U", self.user, "-d", "postgres"], timeout=5)
        return r.returncode == 0

    def postmaster_pid(self):
        try:
            return int((self.data / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self):
        if self.proc is None:
            return
        pid = self.postmaster_pid()
        try:
            subprocess.run(self._as_owner([self._bin("pg_ctl"), "stop", "-D", str(self.data),
                                           "-m", "immediate", "-w", "-t", "10"]),
                           capture_output=True, timeout=15, cwd=str(self.base))
        except (OSError, subprocess.SubprocessError):
            pass
        if pid and _pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc = None
        shutil.rmtree(self.base, ignore_errors=True)

    def url(self, dbname):
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def psql(self, sql, dbname="postgres"):
        """Run SQL, return stdout rows as lists of '|'-separated fields."""
        psql = self._bin("psql") if os.path.exists(self._bin("psql")) else "/usr/bin/psql"
        r = subprocess.run([psql, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
                            "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                            "-d", dbname, "-c", sql],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise HarnessError(f"psql failed on {sql!r}: {r.stderr.strip()}")
        return [line.split("|") for line in r.stdout.splitlines() if line != ""]

    def create_database(self, prefix="bb"):
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return name


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def rss_kib(pid):
    """Resident memory of a process (VmRSS), in KiB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# ---------------------------------------------------------------- processes

class Proc:
    """One started product process with its log file."""

    def __init__(self, name, kind, argv, env, logpath):
        self.name, self.kind, self.argv, self.logpath = name, kind, argv, logpath
        with open(logpath, "ab") as log:
            self.popen = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=log, start_new_session=True)
        self.pid = self.popen.pid
        self.killed = False  # set when the harness signalled it on purpose

    def alive(self):
        return self.popen.poll() is None

    def signal(self, sig, timeout=10, escalate=False):
        """Sends sig by PID, marks the exit as wanted and waits for it; past timeout, SIGKILL
        when escalate is set, else AssertionError. The exit code."""
        self.killed = True
        if self.alive():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            if not escalate:
                raise AssertionError(f"{self} did not exit within {timeout}s after signal {sig}")
            os.kill(self.pid, signal.SIGKILL)
            self.popen.wait(timeout=timeout)
        return self.popen.returncode

    def log_text(self):
        try:
            return Path(self.logpath).read_text("utf-8", "replace")
        except OSError:
            return ""

    def __repr__(self):
        state = "running" if self.alive() else f"exited {self.popen.returncode}"
        return f"<{self.name} pid={self.pid} {state}>"


class Stack:
    """A gateway (with its embedded broker/event proxy) plus N registry-svc workers, and when
    asked, compiler-svc workers and data-plane hubs (the gateway splices to the hubs)."""

    def __init__(self, pg, registries=2, name="stack", gateway_args=(), registry_args=(),
                 config_via_env=False, tls_ca=None, compilers=0, compiler_args=(), hubs=0,
                 hub_args=(), hub_download_base=False):
        self.pg = pg
        self.config_via_env = config_via_env  # pass settings as BARBACANE_* variables, not flags
        self.name = name
        self.gateway_args = list(gateway_args)
        self.registry_args = list(registry_args)
        self.workdir = Path(tempfile.mkdtemp(prefix=f"bb-{name}-", dir="/tmp"))
        self.http_port, self.broker_port, self.ev_in_port, self.ev_out_port = free_ports(4)
        self.base_url = f"{'https' if tls_ca else 'http'}://127.0.0.1:{self.http_port}"
        self.token = "tok_" + secrets.token_urlsafe(32)
        self.token_file = self.workdir / "admin-token"
        self.keys_dir = make_mesh_keys(self.workdir / "keys")
        self.secret_file = make_secret_file(self.workdir / "service-secret")
        fd = os.open(self.token_file, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.token + "\n")
        self.dbname = pg.create_database()
        self.database_url = pg.url(self.dbname)
        self.procs = []
        self.gateway = None
        self.registries = []
        self._seq = 0
        self.session = requests.Session()
        # passed on every call: requests lets REQUESTS_CA_BUNDLE override a session's verify
        self.verify = str(tls_ca) if tls_ca else True
        self.n_registries = registries
        self.n_compilers = compilers
        self.compiler_args = list(compiler_args)
        self.compilers = []
        self.hub_args = list(hub_args)
        if hub_download_base:   # absolute download URLs: data planes on a hub's own port
            self.hub_args += ["--download-base", self.base_url]
        self.hub_ports = free_ports(hubs) if hubs else []
        self.hubs = []

    # --- lifecycle
    def start(self, timeout=20):
        ACTIVE_STACKS.append(self)
        try:
            self.start_gateway()
            for _ in range(self.n_registries):
                self.start_registry()
            for _ in range(self.n_compilers):
                self.start_compiler()
            for port in self.hub_ports:
                self.start_hub(port)
            if self.n_registries:   # without a registry /health is 503 by design
                self.wait_healthy(timeout)
            for hub in self.hubs:
                self.wait_hub(hub, timeout)
        except BaseException:
            self.close()
            raise
        return self

    def _logpath(self, name):
        self._seq += 1
        return str(self.workdir / f"{self._seq:02d}-{name}.log")

    def broker_endpoint(self):
        return f"tcp://127.0.0.1:{self.broker_port}"

    def events_in_endpoint(self):
        return f"tcp://127.0.0.1:{self.ev_in_port}"

    def events_out_endpoint(self):
        return f"tcp://127.0.0.1:{self.ev_out_port}"

    def gateway_argv(self):
        return [str(GATEWAY_BIN),
                "--http-bind", "127.0.0.1", "--http-port", str(self.http_port),
                "--broker-bind", self.broker_endpoint(),
                "--events-in-bind", self.events_in_endpoint(),
                "--events-out-bind", self.events_out_endpoint(),
                "--admin-token-file", str(self.token_file),
                "--mesh-keys", str(self.keys_dir),
                # the suite opens many connections and sends many wrong tokens from one
                # address; the tests of those limits set them again (a later flag wins)
                "--http-conn-rate", "0", "--auth-failures-per-min", "0",
                *(["--hubs", ",".join(f"127.0.0.1:{p}" for p in self.hub_ports)]
                  if self.hub_ports else []),
                "--instance", f"{self.name}-gw"] + self.gateway_args

    @staticmethod
    def _flags_to_env(argv):
        """Split [bin, --flag, value, ...] into ([bin], {BARBACANE_FLAG: value})."""
        env, i = {}, 1
        while i < len(argv):
            env["BARBACANE_" + argv[i].lstrip("-").upper().replace("-", "_")] = argv[i + 1]
            i += 2
        return argv[:1], env

    def start_gateway(self, wait=True, timeout=15):
        assert self.gateway is None or not self.gateway.alive(), "gateway already running"
        argv, env = self.gateway_argv(), {}
        if self.config_via_env:
            argv, env = self._flags_to_env(argv)
        proc = Proc("gateway", "gateway", argv, clean_env(env), self._logpath("gateway"))
        self.procs.append(proc)
        self.gateway = proc
        if wait:
            self.wait_gateway_tcp(timeout)
        return proc

    def wait_gateway_tcp(self, timeout=15):
        def ready():
            if not self.gateway.alive():
                raise AssertionError(f"gateway exited with {self.gateway.popen.returncode}:\n"
                                     f"{tail(self.gateway.logpath)}")
            return port_accepts(self.http_port)
        wait_until(ready, timeout, what="gateway HTTP port to accept TCP")

    def registry_argv(self, instance, extra=()):
        return [str(REGISTRY_BIN), "--database-url", self.database_url,
                "--broker", self.broker_endpoint(), "--events", self.events_in_endpoint(),
                "--mesh-keys", str(self.keys_dir), "--service-secret-file", str(self.secret_file),
                "--instance", instance] + self.registry_args + list(extra)

    def start_registry(self):
        idx = len([p for p in self.procs if p.kind == "registry"]) + 1
        inst = f"{self.name}-reg{idx}"
        argv, env = self.registry_argv(inst), {}
        if self.config_via_env:
            argv, env = [argv[0]], {"DATABASE_URL": self.database_url,
                                    "BARBACANE_BROKER": self.broker_endpoint(),
                                    "BARBACANE_EVENTS": self.events_in_endpoint(),
                                    "BARBACANE_MESH_KEYS": str(self.keys_dir),
                                    "BARBACANE_SERVICE_SECRET_FILE": str(self.secret_file),
                                    "BARBACANE_INSTANCE": inst}
            argv += self.registry_args
        proc = Proc(inst, "registry", argv, clean_env(env), self._logpath(inst))
        self.procs.append(proc)
        self.registries.append(proc)
        return proc

    def live_registries(self):
        return [p for p in self.registries if p.alive()]

    def service_args(self, instance):
        """What every service process gets: database, broker, events, mesh keys, secret."""
        return ["--database-url", self.database_url, "--broker", self.broker_endpoint(),
                "--events", self.events_in_endpoint(), "--events-out", self.events_out_endpoint(),
                "--mesh-keys", str(self.keys_dir), "--service-secret-file", str(self.secret_file),
                "--instance", instance]

    def start_compiler(self, extra=()):
        idx = len([p for p in self.procs if p.kind == "compiler"]) + 1
        inst = f"{self.name}-cc{idx}"
        argv = [str(COMPILER_BIN)] + self.service_args(inst) + self.compiler_args + list(extra)
        proc = Proc(inst, "compiler", argv, clean_env(), self._logpath(inst))
        self.procs.append(proc)
        self.compilers.append(proc)
        return proc

    def start_hub(self, port=None, extra=()):
        """A hub on port (a fresh one when None); proc.ws_port is where it listens."""
        port = port or free_ports(1)[0]
        idx = len([p for p in self.procs if p.kind == "hub"]) + 1
        inst = f"{self.name}-hub{idx}"
        argv = [str(HUB_BIN), "--database-url", self.database_url,
                "--events-out", self.events_out_endpoint(), "--mesh-keys", str(self.keys_dir),
                "--service-secret-file", str(self.secret_file), "--instance", inst,
                "--ws-port", str(port)] + self.hub_args + list(extra)
        proc = Proc(inst, "hub", argv, clean_env(), self._logpath(inst))
        proc.ws_port = port
        self.procs.append(proc)
        self.hubs.append(proc)
        return proc

    def wait_hub(self, hub, timeout=15):
        def ready():
            if not hub.alive():
                raise AssertionError(f"{hub.name} exited with {hub.popen.returncode}:\n"
                                     f"{tail(hub.logpath)}")
            return port_accepts(hub.ws_port)
        wait_until(ready, timeout, what=f"{hub.name} WebSocket port")

    def ws_url(self, hub=None):
        """The data planes' URL: through the gateway's splice, or a hub's own port."""
        port = hub.ws_port if hub else self.http_port
        return f"ws://127.0.0.1:{port}/ws/data-plane"

    def kill(self, proc, sig=signal.SIGKILL, timeout=10):
        """Send sig to one process (by PID) and wait for it to exit."""
        return proc.signal(sig, timeout)

    def send_signal(self, proc, sig):
        """Send sig (e.g. SIGSTOP/SIGCONT) without waiting for anything."""
        os.kill(proc.pid, sig)

    def restart_gateway(self, sig=signal.SIGKILL, wait=True):
        self.kill(self.gateway, sig)
        return self.start_gateway(wait=wait)

    def wait_healthy(self, timeout=20):
        def healthy():
            for p in self.procs:
                if not p.alive() and not p.killed:
                    raise AssertionError(f"{p.name} exited with {p.popen.returncode}:\n{tail(p.logpath)}")
            r = self.session.get(self.base_url + "/health", timeout=2, verify=self.verify)
            return r.status_code == 200
        wait_until(healthy, timeout, interval=0.1, what=f"GET /health == 200 on {self.base_url}")

    def close(self):
        for p in self.procs:
            if p.alive():
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.session.close()
        if self in ACTIVE_STACKS:
            ACTIVE_STACKS.remove(self)

    def remove_files(self):
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tails(self, lines=30):
        out = []
        for p in self.procs:
            out.append(f"----- {self.name}/{p.name} pid={p.pid} "
                       f"({'running' if p.alive() else 'exit ' + str(p.popen.returncode)}) "
                       f"{p.logpath}\n{tail(p.logpath, lines)}")
        return "\n".join(out)

    # --- HTTP
    def url(self, path):
        return self.base_url + path

    def request(self, method, path, auth=True, headers=None, timeout=HTTP_TIMEOUT,
                session=None, **kw):
        h = {}
        if auth:
            h["Authorization"] = f"Bearer {self.token}"
        h.update(headers or {})
        s = session or self.session
        kw.setdefault("verify", self.verify)
        return s.request(method, self.url(path), headers=h, timeout=timeout, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def wait_until(self, cond, timeout, interval=0.05, what="condition"):
        return wait_until(cond, timeout, interval, what)

    def psql(self, sql):
        return self.pg.psql(sql, self.dbname)


# ---------------------------------------------------------------- assertions

PROBLEM_KINDS = {"bad-request", "unauthorized", "forbidden", "not-found", "method-not-allowed",
                 "conflict", "payload-too-large", "unsupported-media-type", "too-many-requests",
                 "internal-error", "service-unavailable", "gateway-timeout"}


def assert_request_id(resp):
    rid = resp.headers.get("X-Request-Id")
    assert rid, f"{resp.request.method} {resp.request.url}: no X-Request-Id header ({resp.status_code})"
    assert REQUEST_ID_RE.match(rid), f"X-Request-Id {rid!r} is not well-formed"
    return rid


def request_path(resp):
    return urlsplit(resp.request.url).path


def describe(resp):
    body = resp.content[:600].decode("utf-8", "replace")
    return (f"{resp.request.method} {request_path(resp)} -> {resp.status_code} "
            f"[{resp.headers.get('Content-Type')}] {body}")


def assert_problem(resp, status, kind):
    """resp is an RFC 9457 problem+json of the given status and urn:barbacane:error:<kind>."""
    assert kind in PROBLEM_KINDS, f"test bug: unknown problem kind {kind}"
    assert resp.status_code == status, f"expected {status}: {describe(resp)}"
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip().lower() == "application/problem+json", \
        f"expected application/problem+json: {describe(resp)}"
    rid = assert_request_id(resp)
    try:
        body = json.loads(resp.content)
    except ValueError:
        raise AssertionError(f"problem body is not JSON: {describe(resp)}")
    assert isinstance(body, dict), f"problem body is not an object: {describe(resp)}"
    assert body.get("type") == f"urn:barbacane:error:{kind}", f"type: {describe(resp)}"
    assert isinstance(body.get("title"), str) and body["title"], f"title: {describe(resp)}"
    st = body.get("status")
    assert isinstance(st, int) and not isinstance(st, bool) and st == status, \
        f"status member: {describe(resp)}"
    assert isinstance(body.get("detail"), str), f"detail: {describe(resp)}"
    assert body.get("instance") == request_path(resp), \
        f"instance should be {request_path(resp)!r}: {describe(resp)}"
    assert body.get("request_id") == rid, \
        f"request_id {body.get('request_id')!r} != X-Request-Id {rid!r}"
    if "errors" in body:
        assert isinstance(body["errors"], list), f"errors[] not an array: {describe(resp)}"
        for issue in body["errors"]:
            assert isinstance(issue, dict) and isinstance(issue.get("code"), str) \
                and isinstance(issue.get("message"), str), f"bad errors[] item {issue!r}"
            if "location" in issue:
                assert isinstance(issue["location"], str), f"bad errors[] location {issue!r}"
    return body


def assert_json(resp, status):
    assert resp.status_code == status, f"expected {status}: {describe(resp)}"
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip().lower() == "application/json", \
        f"expected application/json: {describe(resp)}"
    assert_request_id(resp)
    return resp.json()
