"""Gateway behaviour: auth, health, routing errors, body limits, request ids, unavailable services."""
import json
import re
import subprocess
import time
import uuid

import pytest
import requests

import harness
from harness import REQUEST_ID_RE, assert_json, assert_problem, assert_request_id, describe
from schema import assert_schema


# ---------------------------------------------------------------- authentication

@pytest.mark.parametrize("path", ["/projects", f"/projects/{uuid.UUID(int=1)}"])
def test_missing_token_is_401(stack, path):
    resp = stack.get(path, auth=False)
    assert_problem(resp, 401, "unauthorized")
    assert resp.headers.get("WWW-Authenticate", "").startswith("Bearer"), \
        f"WWW-Authenticate: {resp.headers.get('WWW-Authenticate')!r}"


@pytest.mark.parametrize("authz", ["Bearer wrong-token", "Bearer ", "Basic YWRtaW46YWRtaW4=",
                                   "bearer-but-not", "Token abc"])
def test_wrong_token_is_401(stack, authz):
    resp = stack.get("/projects", auth=False, headers={"Authorization": authz})
    assert_problem(resp, 401, "unauthorized")
    assert resp.headers.get("WWW-Authenticate", "").startswith("Bearer")


def test_token_prefix_or_extension_is_401(stack):
    for candidate in (stack.token[:-1], stack.token + "x", stack.token.upper()):
        resp = stack.get("/projects", auth=False,
                         headers={"Authorization": f"Bearer {candidate}"})
        assert_problem(resp, 401, "unauthorized")


def test_unauthenticated_post_creates_nothing(stack):
    name = f"unauth-{uuid.uuid4().hex[:8]}"
    resp = stack.post("/projects", auth=False, json={"name": name})
    assert_problem(resp, 401, "unauthorized")
    names = [p["name"] for p in assert_json(stack.get("/projects"), 200)]
    assert name not in names


def test_valid_token_is_accepted(stack):
    assert_json(stack.get("/projects"), 200)


# ---------------------------------------------------------------- health

def test_health_without_token(stack):
    resp = stack.get("/health", auth=False)
    body = assert_json(resp, 200)
    assert_schema(body, "HealthResponse")
    assert body["status"] == "healthy"
    assert isinstance(body["version"], str) and body["version"]


def test_health_with_token_too(stack):
    assert assert_json(stack.get("/health"), 200)["status"] == "healthy"


# ---------------------------------------------------------------- routing

@pytest.mark.parametrize("path", ["/nope", "/projectsx", "/projects/{id}/nothing-here",
                                  "/", "/health/extra"])
def test_unknown_path_is_404(stack, path):
    path = path.replace("{id}", str(uuid.uuid4()))
    resp = stack.get(path)
    assert_problem(resp, 404, "not-found")


def allow_set(resp):
    allow = resp.headers.get("Allow")
    assert allow, f"405 without Allow header: {describe(resp)}"
    return {m.strip().upper() for m in allow.split(",") if m.strip()}


def test_wrong_method_on_collection_is_405_with_allow(stack):
    resp = stack.request("PATCH", "/projects", json={"name": "x"})
    assert_problem(resp, 405, "method-not-allowed")
    allowed = allow_set(resp)
    assert {"GET", "POST"} <= allowed, f"Allow: {resp.headers.get('Allow')!r}"
    assert not allowed & {"PATCH", "PUT", "DELETE"}, f"Allow: {resp.headers.get('Allow')!r}"


def test_wrong_method_on_item_is_405_with_allow(stack):
    resp = stack.request("POST", f"/projects/{uuid.uuid4()}", json={"name": "x"})
    assert_problem(resp, 405, "method-not-allowed")
    allowed = allow_set(resp)
    assert {"GET", "PUT", "DELETE"} <= allowed, f"Allow: {resp.headers.get('Allow')!r}"
    assert not allowed & {"POST", "PATCH"}, f"Allow: {resp.headers.get('Allow')!r}"


def test_wrong_method_on_health_is_405(stack):
    resp = stack.request("DELETE", "/health")
    assert_problem(resp, 405, "method-not-allowed")
    assert "GET" in allow_set(resp)


# ---------------------------------------------------------------- bodies

@pytest.mark.parametrize("raw", [b'{"name": ', b"{name: 'x'}", b'{"name": "a",}', b"\xff\xfe{}",
                                 b'{"name": "a"} trailing'],
                         ids=["truncated", "unquoted", "trailing-comma", "not-utf8", "trailing-data"])
def test_malformed_json_is_400(stack, raw):
    resp = stack.post("/projects", data=raw, headers={"Content-Type": "application/json"})
    assert_problem(resp, 400, "bad-request")


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded",
                                   "application/xml"])
def test_wrong_content_type_is_415(stack, ctype):
    resp = stack.post("/projects", data=json.dumps({"name": "ct-" + uuid.uuid4().hex[:8]}),
                      headers={"Content-Type": ctype})
    assert_problem(resp, 415, "unsupported-media-type")


def test_json_body_over_1mib_is_413(stack):
    body = json.dumps({"name": "big-" + uuid.uuid4().hex[:8],
                       "description": "a" * (1024 * 1024 + 1024)}).encode()
    resp = stack.post("/projects", data=body, headers={"Content-Type": "application/json"},
                      timeout=15)
    assert_problem(resp, 413, "payload-too-large")


def test_chunked_json_body_over_1mib_is_413(stack):
    # No Content-Length: the limit must hold while the body streams in, not only on the header.
    def chunks():
        yield b'{"name": "chunked-big", "description": "'
        for _ in range(20):
            yield b"c" * 65536
        yield b'"}'
    resp = stack.post("/projects", data=chunks(), headers={"Content-Type": "application/json"},
                      timeout=15)
    assert_problem(resp, 413, "payload-too-large")


def test_json_body_without_content_type_is_415(stack):
    resp = stack.post("/projects", data=json.dumps({"name": "no-ctype"}).encode())
    assert "Content-Type" not in resp.request.headers
    assert_problem(resp, 415, "unsupported-media-type")


def test_json_body_under_limit_is_accepted(stack):
    # 900 KiB of an unknown (ignored) member: the 1 MiB limit must not be smaller than announced.
    name = "large-" + uuid.uuid4().hex[:8]
    body = json.dumps({"name": name, "padding": "p" * (900 * 1024)}).encode()
    resp = stack.post("/projects", data=body, headers={"Content-Type": "application/json"},
                      timeout=15)
    created = assert_json(resp, 201)
    assert created["name"] == name


def test_malformed_uuid_in_path_is_400(stack):
    assert_problem(stack.get("/projects/not-a-uuid"), 400, "bad-request")


# ---------------------------------------------------------------- request ids

def test_every_response_has_request_id(stack):
    for resp in (stack.get("/health", auth=False), stack.get("/projects"),
                 stack.get("/projects", auth=False), stack.get("/nope")):
        assert_request_id(resp)


def test_generated_request_ids_differ(stack):
    ids = {assert_request_id(stack.get("/health", auth=False)) for _ in range(5)}
    assert len(ids) == 5


def test_incoming_request_id_is_echoed(stack):
    resp = stack.get("/projects", headers={"X-Request-Id": "my-request-id-1234"})
    assert_json(resp, 200)
    assert resp.headers["X-Request-Id"] == "my-request-id-1234"


def test_request_id_with_all_allowed_characters_is_kept(stack):
    rid = "Ab0._:-" + "x" * 121  # 128 chars, the maximum
    resp = stack.get("/health", auth=False, headers={"X-Request-Id": rid})
    assert resp.headers.get("X-Request-Id") == rid


def test_correlation_id_used_when_no_request_id(stack):
    resp = stack.get("/projects", headers={"X-Correlation-Id": "corr-id-5678abcd"})
    assert_json(resp, 200)
    assert resp.headers["X-Request-Id"] == "corr-id-5678abcd"


@pytest.mark.parametrize("bad", ["bad id!", "abc", "x" * 129, "semi;colon-id", "ünïcode-id-1"])
def test_malformed_incoming_request_id_is_replaced(stack, bad):
    resp = stack.get("/projects", headers={"X-Request-Id": bad.encode("utf-8")})
    assert_json(resp, 200)
    rid = resp.headers.get("X-Request-Id")
    assert rid and rid != bad and REQUEST_ID_RE.match(rid), f"X-Request-Id {rid!r}"


def test_problem_request_id_equals_header(stack):
    resp = stack.get(f"/projects/{uuid.uuid4()}", headers={"X-Request-Id": "problem-rid-0001"})
    body = assert_problem(resp, 404, "not-found")
    assert body["request_id"] == "problem-rid-0001" == resp.headers["X-Request-Id"]
    resp = stack.get("/projects", auth=False)
    body = assert_problem(resp, 401, "unauthorized")
    assert body["request_id"] == resp.headers["X-Request-Id"]


# ---------------------------------------------------------------- services without workers

@pytest.fixture(scope="module")
def no_compiler(binaries, pg):
    """A stack without compiler-svc: its routes have no worker."""
    s = harness.Stack(pg, registries=1, name="nocc").start()
    yield s
    s.close()
    s.remove_files()


@pytest.mark.parametrize("path", ["/artifacts", f"/artifacts/{uuid.UUID(int=7)}"])
def test_route_without_worker_is_503_quickly(no_compiler, path):
    t0 = time.monotonic()
    resp = no_compiler.get(path, timeout=10)
    elapsed = time.monotonic() - t0
    assert_problem(resp, 503, "service-unavailable")
    retry = resp.headers.get("Retry-After")
    assert retry and re.fullmatch(r"\d+", retry.strip()), f"Retry-After: {retry!r}"
    assert elapsed < 3.0, f"503 took {elapsed:.2f}s (should be answered within a couple of seconds)"


# ---------------------------------------------------------------- command line

@pytest.mark.parametrize("binary,flags", [
    ("GATEWAY_BIN", ["--http-port", "--admin-token-file", "--broker-bind", "--max-json-body"]),
    ("REGISTRY_BIN", ["--database-url", "--broker", "--migrate-only"]),
])
def test_help_prints_flags(binaries, binary, flags):
    r = subprocess.run([str(getattr(harness, binary)), "--help"], capture_output=True, text=True,
                       timeout=10, env=harness.clean_env())
    assert r.returncode == 0, f"--help exited {r.returncode}: {r.stderr[-500:]}"
    out = r.stdout + r.stderr
    for flag in flags:
        assert flag in out, f"{flag} missing from --help output:\n{out}"
        if binary == "GATEWAY_BIN":  # every gateway flag has a BARBACANE_* variable
            env = "BARBACANE_" + flag.lstrip("-").upper().replace("-", "_")
            assert env in out, f"{env} missing from --help output:\n{out}"


def test_configuration_from_environment(make_stack):
    # Every flag has a BARBACANE_* variable; this stack passes ports, token file, ... only that way.
    s = make_stack(registries=1, config_via_env=True)
    assert assert_json(s.get("/health", auth=False), 200)["status"] == "healthy"
    assert_json(s.get("/projects"), 200)
    assert_problem(s.get("/projects", auth=False), 401, "unauthorized")


def test_gateway_refuses_to_start_without_admin_token(binaries):
    # DESIGN.md section 8: the gateway does not start without an admin token.
    http, broker, ev_in, ev_out = harness.free_ports(4)
    argv = [str(harness.GATEWAY_BIN), "--http-bind", "127.0.0.1", "--http-port", str(http),
            "--broker-bind", f"tcp://127.0.0.1:{broker}",
            "--events-in-bind", f"tcp://127.0.0.1:{ev_in}",
            "--events-out-bind", f"tcp://127.0.0.1:{ev_out}"]
    p = subprocess.Popen(argv, env=harness.clean_env(), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        pytest.fail("gateway without an admin token kept running")
    assert p.returncode != 0


# ---------------------------------------------------------------- health checks and metrics

def test_health_reports_database_broker_and_worker_counts(stack):
    def health():
        return assert_json(requests.get(stack.base_url + "/health", timeout=5), 200)
    # both registry workers register within a heartbeat of the stack starting
    harness.wait_until(lambda: health()["checks"]["workers"].get("registry") == 2, 5,
                       interval=0.05, what="two registry workers")
    body = health()
    checks = body.get("checks")
    assert checks["database"] == "ok" and checks["broker"] == "ok", body
    # the default stack runs two registry workers and no compiler or hub yet
    assert checks["workers"] == {"registry": 2, "compiler": 1}, body


def test_metrics_is_prometheus_text_with_worker_gauges(stack):
    harness.wait_until(lambda: 'barbacane_broker_workers{service="registry"} 2'
                       in stack.get("/metrics").text, 5, interval=0.05, what="two workers")
    resp = stack.get("/metrics")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
    lines = resp.text.splitlines()
    assert 'barbacane_broker_workers{service="registry"} 2' in lines, resp.text
    assert any(l.startswith('barbacane_http_responses_total{class="2xx"} ') for l in lines)
    for line in lines:  # every sample line is "name{labels} number"
        if line and not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])


def test_metrics_requires_the_admin_token(stack):
    assert_problem(requests.get(stack.base_url + "/metrics", timeout=5), 401, "unauthorized")


def test_several_admin_tokens_are_all_accepted(make_stack):
    # The file's token plus two given on the command line (one per line): all three work,
    # others do not.
    second, third = "second-" + "b" * 40, "third-" + "c" * 40
    s = make_stack(registries=1, gateway_args=["--admin-token", f"{second}\n{third}"])
    for token in (s.token, second, third):
        resp = requests.get(s.base_url + "/projects", timeout=5,
                            headers={"Authorization": f"Bearer {token}"})
        assert_json(resp, 200)
    resp = requests.get(s.base_url + "/projects", timeout=5,
                        headers={"Authorization": f"Bearer {second[:-1]}"})
    assert_problem(resp, 401, "unauthorized")


def test_stalled_connection_is_closed_after_the_idle_timeout(make_stack):
    # Half a request, then silence (slowloris): the gateway drops it after --http-idle-timeout-s.
    import socket
    s = make_stack(registries=1, gateway_args=["--http-idle-timeout-s", "1"])
    with socket.create_connection(("127.0.0.1", s.http_port), timeout=10) as c:
        c.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()
        data = c.recv(1024)
        waited = time.monotonic() - t0
    assert data == b"" or data.startswith(b"HTTP/1.1 "), data
    assert waited < 5, f"stalled connection held for {waited:.1f}s"
    assert_json(requests.get(s.base_url + "/health", timeout=5), 200)
