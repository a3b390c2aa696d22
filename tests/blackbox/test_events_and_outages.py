"""Events through the proxy, and a database outage seen from the API.

Events are wake-ups (DESIGN.md §4): a subscriber that joins late misses earlier ones, so each
test repeats the action until its event arrives, and checks the event names its own object.
"""
import json
import os
import queue
import subprocess
import threading
import uuid
from pathlib import Path

import requests

import harness
from harness import assert_json, assert_problem, wait_until

TOOLS = Path(os.environ.get("BARBACANE_TOOLS_DIR", harness.REPO_ROOT / "build" / "tests"))


class Subscriber:
    """bb-sub on the proxy's XPUB endpoint; events arrive as JSON lines in a queue."""

    def __init__(self, stack, *prefixes):
        tool = TOOLS / "bb-sub"
        assert tool.exists(), f"{tool} missing: run `make {tool.relative_to(harness.REPO_ROOT)}`"
        self.proc = subprocess.Popen([str(tool), "--keys", str(stack.keys_dir), "--key", "hub",
                                      f"tcp://127.0.0.1:{stack.ev_out_port}", *prefixes],
                                     stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        self.events = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        first = self.events.get(timeout=5)
        assert first["topic"] == "ready", first

    def _read(self):
        for line in self.proc.stdout:
            self.events.put(json.loads(line))

    def close(self):
        self.proc.kill()
        self.proc.wait(timeout=5)


def _until_event(sub, act, topic, key, timeout=10):
    """Repeats act() (returning the id it expects in the event) until such an event arrives."""
    expected = set()

    def seen():
        expected.add(act())
        try:
            while True:
                ev = sub.events.get(timeout=0.2)
                if ev["topic"] == topic and ev["data"].get(key) in expected:
                    return ev
        except queue.Empty:
            return None
    return wait_until(seen, timeout, interval=0.01, what=f"a {topic} event")


def test_project_delete_publishes_project_deleted(stack):
    sub = Subscriber(stack, "project.deleted")
    try:
        def act():
            p = assert_json(stack.post("/projects", json={"name": f"ev-{uuid.uuid4().hex[:10]}"}), 201)
            assert stack.delete(f"/projects/{p['id']}").status_code == 204
            return p["id"]
        ev = _until_event(sub, act, "project.deleted", "project_id")
        assert uuid.UUID(ev["data"]["project_id"]).version == 4
    finally:
        sub.close()


def test_key_revoke_publishes_apikey_revoked(stack):
    sub = Subscriber(stack, "apikey.")
    project = assert_json(stack.post("/projects", json={"name": f"evk-{uuid.uuid4().hex[:10]}"}), 201)
    try:
        def act():
            k = assert_json(stack.post(f"/projects/{project['id']}/api-keys",
                                       json={"name": uuid.uuid4().hex}), 201)
            assert stack.delete(f"/projects/{project['id']}/api-keys/{k['id']}").status_code == 204
            return k["id"]
        ev = _until_event(sub, act, "apikey.revoked", "key_id")
        assert ev["data"]["project_id"] == project["id"]
    finally:
        sub.close()


def test_health_is_503_while_the_database_refuses_and_recovers_after(make_stack, pg):
    s = make_stack(registries=1)
    project = assert_json(s.post("/projects", json={"name": "outage"}), 201)
    pg.psql(f'ALTER DATABASE "{s.dbname}" ALLOW_CONNECTIONS false')
    try:
        pg.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{s.dbname}'")
        assert_problem(requests.get(s.base_url + "/health", timeout=10), 503, "service-unavailable")
        assert_problem(s.get(f"/projects/{project['id']}"), 503, "service-unavailable")
        assert s.registries[0].alive(), "the registry must survive a database outage"
    finally:
        pg.psql(f'ALTER DATABASE "{s.dbname}" ALLOW_CONNECTIONS true')
    wait_until(lambda: requests.get(s.base_url + "/health", timeout=5).status_code == 200, 10,
               what="health after the database is back")
    assert assert_json(s.get(f"/projects/{project['id']}"), 200)["name"] == "outage"
