"""Data planes and deployments through the REST API (registry-svc shows the rows the hub
writes; deploy records the desired artifact and announces it), and the whole flow with real
agents through the gateway's splice: register, deploy, download verified, statuses, drift,
kicks and bans, several hubs, a killed hub, a deploy while the event proxy is away."""
import json
import subprocess
import uuid

import pytest

import harness
from harness import assert_json, assert_problem, wait_until
from schema import assert_schema
from test_compile import compile_spec, register_plugin, spec_text, upload, wait_done
from test_events_and_outages import Subscriber


@pytest.fixture(scope="module")
def dstack(binaries, pg):
    s = harness.Stack(pg, registries=1, name="dp", compilers=1).start()
    register_plugin(s, "mock", "0.1.0", "dispatcher")
    yield s
    s.close()
    s.remove_files()


def new_project(stack):
    return assert_json(stack.post("/projects", json={"name": f"dp-{uuid.uuid4().hex[:8]}"}), 201)


def built_artifact(stack, project_id, ops=1):
    spec = upload(stack, spec_text(ops=ops), project=project_id)
    done = wait_done(stack, compile_spec(stack, spec["id"])["id"])
    assert done["status"] == "succeeded", done["errors"]
    return done["artifact_id"]


# ---------------------------------------------------------------- REST, no session

def test_a_new_project_has_no_data_planes(dstack):
    p = new_project(dstack)
    assert assert_json(dstack.get(f"/projects/{p['id']}/data-planes"), 200) == []
    assert_problem(dstack.get(f"/projects/{uuid.uuid4()}/data-planes"), 404, "not-found")
    missing = f"/projects/{p['id']}/data-planes/{uuid.uuid4()}"
    assert_problem(dstack.get(missing), 404, "not-found")
    assert_problem(dstack.delete(missing), 404, "not-found")
    assert_problem(dstack.get(f"/projects/{p['id']}/data-planes/nope"), 400, "bad-request")


def test_deploy_needs_an_artifact_of_the_project(dstack):
    p = new_project(dstack)
    assert_problem(dstack.post(f"/projects/{p['id']}/deploy"), 404, "not-found")
    assert_problem(dstack.post(f"/projects/{p['id']}/deploy",
                               json={"artifact_id": str(uuid.uuid4())}), 404, "not-found")
    assert_problem(dstack.post(f"/projects/{p['id']}/deploy", json={"artifact_id": "x"}), 400,
                   "bad-request")
    assert_problem(dstack.post(f"/projects/{uuid.uuid4()}/deploy"), 404, "not-found")


def test_deploy_defaults_to_the_newest_artifact_and_is_announced(dstack):
    p = new_project(dstack)
    first = built_artifact(dstack, p["id"])
    newest = built_artifact(dstack, p["id"], ops=2)
    sub = Subscriber(dstack, f"deploy.{p['id']}")
    try:
        def deployed():
            body = assert_json(dstack.post(f"/projects/{p['id']}/deploy"), 200)
            assert_schema(body, "DeployResponse")
            assert body == {"artifact_id": newest, "data_planes_notified": 0}
            return sub.events.get(timeout=0.5)
        ev = wait_until(deployed, 10, what="a deploy event (the subscription may be late)")
        assert ev["topic"] == f"deploy.{p['id']}" and ev["data"]["artifact_id"] == newest
    finally:
        sub.close()
    explicit = assert_json(dstack.post(f"/projects/{p['id']}/deploy",
                                       json={"artifact_id": first}), 200)
    assert explicit["artifact_id"] == first
    rows = dstack.psql(f"SELECT artifact_id FROM deployments WHERE project_id = '{p['id']}' "
                       "ORDER BY created_at DESC LIMIT 1")
    assert rows == [[first]]
