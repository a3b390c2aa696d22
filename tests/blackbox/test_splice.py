"""The gateway's splice of GET /ws/data-plane to a hub, against stand-in hubs written here
(a WebSocket echo server, a hub that refuses, a hub that never answers): upgrades pass
through and bytes flow both ways; failures are HTTP errors before any upgrade; a stalled hub,
a client that stops reading and many connections leave the gateway healthy and bounded."""
import asyncio
import socket
import threading
import time

import pytest
import requests
import websockets

import harness
from harness import assert_json, assert_problem, wait_until


class EchoHub:
    """A WebSocket server on a free port that echoes every message (and can flood)."""

    def __init__(self):
        self.port = harness.free_ports(1)[0]
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.seen_headers = []
        threading.Thread(target=self._run, daemon=True).start()
        assert self.ready.wait(10)

    async def _handler(self, ws, path=None):
        self.seen_headers.append(ws.request_headers.copy())
        async for msg in ws:
            if msg == "flood":
                for _ in range(400):
                    await ws.send("x" * 65536)
            else:
                await ws.send(msg)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            websockets.serve(self._handler, "127.0.0.1", self.port, max_size=None))
        self.ready.set()
        self.loop.run_forever()
        server.close()


class SilentHub:
    """Accepts connections and never answers (or answers a fixed status line)."""

    def __init__(self, answer=None):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.answer = answer
        self.conns = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            c, _ = self.sock.accept()
            self.conns.append(c)
            if self.answer:
                c.recv(65536)
                c.sendall(self.answer)
                c.close()


def run(coro, timeout=30):
    return asyncio.new_event_loop().run_until_complete(asyncio.wait_for(coro, timeout))


@pytest.fixture(scope="module")
def echo():
    return EchoHub()


@pytest.fixture
def sstack(make_stack, echo):
    return make_stack(registries=1, gateway_args=["--hubs", f"127.0.0.1:{echo.port}"])


def test_upgrade_is_spliced_and_bytes_flow_both_ways(sstack, echo):
    async def talk():
        async with websockets.connect(sstack.ws_url(), max_size=None) as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"
            big = "b" * (1 << 20)
            await ws.send(big)
            assert await ws.recv() == big
    run(talk())
    headers = echo.seen_headers[-1]
    assert headers.get("X-Forwarded-For") == "127.0.0.1" and headers.get("X-Request-Id")


def test_many_spliced_connections_at_once(sstack):
    async def one(i):
        async with websockets.connect(sstack.ws_url()) as ws:
            await ws.send(f"n{i}")
            return await ws.recv()

    async def all_of_them():
        return await asyncio.gather(*(one(i) for i in range(200)))
    assert run(all_of_them(), timeout=60) == [f"n{i}" for i in range(200)]
    assert_json(sstack.get("/health", auth=False), 200)


def test_a_plain_get_is_400(sstack):
    assert_problem(sstack.get("/ws/data-plane", auth=False), 400, "bad-request")


def status_of_upgrade(stack):
    async def attempt():
        try:
            async with websockets.connect(stack.ws_url()):
                return 101
        except websockets.exceptions.InvalidStatusCode as e:
            return e.status_code
    return run(attempt())


def test_no_reachable_hub_is_503(make_stack):
    dead = harness.free_ports(1)[0]
    s = make_stack(registries=1, gateway_args=["--hubs", f"127.0.0.1:{dead}"])
    assert status_of_upgrade(s) == 503
    assert_json(s.get("/health", auth=False), 200)


UPGRADE_HEADERS = {"Upgrade": "websocket", "Connection": "Upgrade",
                   "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}


def test_a_hub_refusing_the_upgrade_is_503_saying_why(make_stack):
    hub = SilentHub(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    s = make_stack(registries=1, gateway_args=["--hubs", f"127.0.0.1:{hub.port}"])
    for _ in range(3):   # the detail outlives the handshake that produced it
        r = s.get("/ws/data-plane", auth=False, headers=UPGRADE_HEADERS)
        assert_problem(r, 503, "service-unavailable")
        assert r.json()["detail"] == "the hub refused the upgrade (status 400)"


def test_a_busy_hub_hands_the_upgrade_to_the_next(make_stack, echo):
    busy = SilentHub(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
    s = make_stack(registries=1, gateway_args=[
        "--hubs", f"127.0.0.1:{busy.port},127.0.0.1:{echo.port}"])
    for _ in range(4):   # round robin: both orders
        assert status_of_upgrade(s) == 101
    assert len(busy.conns) >= 2


def test_a_hub_refusing_the_key_is_401_before_any_upgrade(make_stack):
    hub = SilentHub(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
    s = make_stack(registries=1, gateway_args=["--hubs", f"127.0.0.1:{hub.port}"])
    assert status_of_upgrade(s) == 401


def test_a_hub_that_never_answers_is_504_and_the_gateway_serves_on(make_stack):
    hub = SilentHub()
    s = make_stack(registries=1, gateway_args=["--hubs", f"127.0.0.1:{hub.port}",
                                               "--ws-handshake-ms", "500"])
    t0 = time.monotonic()
    assert status_of_upgrade(s) == 504
    assert time.monotonic() - t0 < 5
    assert_json(s.get("/health", auth=False), 200)


def test_the_next_hub_is_tried_when_one_is_down(make_stack, echo):
    dead = harness.free_ports(1)[0]
    s = make_stack(registries=1, gateway_args=["--hubs", f"127.0.0.1:{dead},127.0.0.1:{echo.port}"])
    assert all(status_of_upgrade(s) == 101 for _ in range(4))



def test_a_client_that_stops_reading_does_not_grow_the_gateway(sstack):
    before = harness.rss_kib(sstack.gateway.pid)

    async def flood_and_stall():
        ws = await websockets.connect(sstack.ws_url(), max_size=None, read_limit=1024,
                                      max_queue=1)
        await ws.send("flood")       # the hub sends 25 MiB; this client reads none of it
        await asyncio.sleep(3)
        grown = harness.rss_kib(sstack.gateway.pid) - before
        ws.transport.abort()         # no closing handshake: nobody is reading
        return grown
    grown = run(flood_and_stall())
    assert grown < 8 * 1024, f"the gateway grew by {grown} KiB for one stalled reader"
    assert_json(sstack.get("/health", auth=False), 200)


def test_a_client_stalling_mid_upgrade_is_closed_by_the_header_deadline(make_stack, echo):
    s = make_stack(registries=1, gateway_args=["--hubs", f"127.0.0.1:{echo.port}",
                                               "--http-header-timeout-s", "1"])
    with socket.create_connection(("127.0.0.1", s.http_port), timeout=10) as c:
        c.sendall(b"GET /ws/data-plane HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
        t0 = time.monotonic()
        c.settimeout(10)
        assert c.recv(1024) == b""
        assert time.monotonic() - t0 < 5
    assert status_of_upgrade(s) == 101
