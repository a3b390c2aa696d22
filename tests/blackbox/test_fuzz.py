"""Hostile input against the running processes: garbage frames at the broker, mutated
multipart and JSON bodies, raw bytes at the HTTP port. Every answer must be a clean status
(errors as problem+json), nothing may crash, and service must carry on. Seeds are fixed."""
import os
import random
import select
import socket
import time
import subprocess
from pathlib import Path

import requests

import harness
from harness import assert_json, wait_until

TOOLS = Path(os.environ.get("BARBACANE_TOOLS_DIR", harness.REPO_ROOT / "build" / "tests"))
SPEC = (b"openapi: 3.1.0\ninfo:\n  title: Fuzz\n  version: '1'\npaths:\n  /a:\n    get:\n"
        b"      responses:\n        '200':\n          description: ok\n")


def assert_still_serving(stack):
    for proc in [stack.gateway, *stack.registries]:
        assert proc.alive(), f"{proc.name} died"
    wait_until(lambda: requests.get(stack.base_url + "/health", timeout=5).status_code == 200,
               10, what="health after fuzzing")
    assert_json(stack.get("/projects"), 200)


def assert_clean(resp, allowed):
    assert resp.status_code in allowed, f"unexpected {resp.status_code}: {resp.text[:200]}"
    if resp.status_code >= 400:
        assert resp.headers["Content-Type"] == "application/problem+json", resp.headers
        assert resp.json()["status"] == resp.status_code


def test_garbage_frames_at_the_broker(make_stack):
    s = make_stack(registries=2)
    tool = TOOLS / "bb-fuzz-broker"
    assert tool.exists(), f"{tool} missing"
    # With the front's key (client framing reaches the broker's parser) and a service's key
    # (worker framing does); a peer without a key is not even heard (test_security).
    for seed, key in ((1, "front"), (2, "registry"), (3, "front")):
        r = subprocess.run([str(tool), "--keys", str(s.keys_dir), "--key", key,
                            f"tcp://127.0.0.1:{s.broker_port}", "1500", str(seed)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    assert_still_serving(s)


def test_mutated_multipart_uploads(stack):
    rng = random.Random(7)
    boundary = "fuzzBoundary7"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.yaml\"\r\n"
            f"Content-Type: application/yaml\r\n\r\n").encode() + SPEC + f"\r\n--{boundary}--\r\n".encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    for _ in range(300):
        b = bytearray(body)
        for _ in range(rng.randint(1, 6)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        if rng.random() < 0.2:
            b = b[:rng.randrange(len(b))]
        resp = stack.post("/specs", data=bytes(b), headers=headers)
        assert_clean(resp, {201, 400})
    assert_still_serving(stack)


def test_mutated_json_bodies(stack):
    rng = random.Random(11)
    body = b'{"name": "fuzz-project", "description": "a \\u00e9 b"}'
    for i in range(300):
        b = bytearray(body)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        resp = stack.post("/projects", data=bytes(b), headers={"Content-Type": "application/json"})
        assert_clean(resp, {201, 400, 409})
    assert_still_serving(stack)


def test_raw_garbage_at_the_http_port(stack):
    # libmicrohttpd parses the HTTP framing: for a request it cannot parse at all it answers
    # with its own 400/414 (not problem+json; see README) or closes. What matters here: only
    # HTTP answers come back, and the gateway lives. Sent concurrently to keep the test short.
    rng = random.Random(13)
    starts = [b"GET / HTTP/1.1\r\n", b"POST /projects HTTP/1.1\r\nContent-Length: 99999999\r\n",
              b"\x16\x03\x01\x02\x00", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n", b""]
    socks = []
    for _ in range(150):
        data = rng.choice(starts) + bytes(rng.randrange(256) for _ in range(rng.randint(0, 600)))
        c = socket.create_connection(("127.0.0.1", stack.http_port), timeout=2)
        try:
            c.sendall(data)
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the gateway may close first: fine, as long as it lives
        socks.append(c)
    deadline = time.monotonic() + 2
    while socks and time.monotonic() < deadline:
        ready, _, _ = select.select(socks, [], [], 0.2)
        for c in ready:
            try:
                head = c.recv(64)
            except OSError:
                head = b""
            assert head == b"" or head.startswith(b"HTTP/1."), head
            socks.remove(c)
            c.close()
    for c in socks:  # still waiting for more request bytes: the idle timeout will reap them
        c.close()
    assert_still_serving(stack)
