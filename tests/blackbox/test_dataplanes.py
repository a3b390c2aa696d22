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


# ---------------------------------------------------------------- the whole flow, with agents

HB = ["--heartbeat-interval-s", "1", "--reap-interval-s", "1", "--hub-dead-after-s", "3"]


@pytest.fixture(scope="module")
def fstack(binaries, pg):
    """Two hubs behind the gateway's splice, fast heartbeats and reaping."""
    s = harness.Stack(pg, registries=1, name="flow", compilers=1, hubs=2, hub_args=HB).start()
    register_plugin(s, "mock", "0.1.0", "dispatcher")
    yield s
    s.close()
    s.remove_files()


def project_with_key(stack):
    p = new_project(stack)
    key = assert_json(stack.post(f"/projects/{p['id']}/api-keys", json={"name": "dp"}), 201)
    return p, key


def dp_rows(stack, pid):
    return assert_json(stack.get(f"/projects/{pid}/data-planes"), 200)


def row_of(stack, pid, name):
    rows = [r for r in dp_rows(stack, pid) if r["name"] == name]
    return rows[0] if rows else None


def test_register_deploy_download_and_converge(fstack):
    from agent import Agent
    p, key = project_with_key(fstack)
    art = built_artifact(fstack, p["id"])
    manifest_hash = assert_json(fstack.get(f"/artifacts/{art}"), 200)["manifest"]["artifact_hash"]
    with Agent(fstack, p["id"], key["key"], name="edge-1") as agent:
        reg = agent.wait_for("registered", timeout=15)
        assert reg["heartbeat_interval_secs"] >= 1
        row = wait_until(lambda: row_of(fstack, p["id"], "edge-1"), 10, what="the row")
        assert_schema(row, "DataPlane")
        assert row["status"] == "online" and row["id"] == reg["data_plane_id"]
        body = assert_json(fstack.post(f"/projects/{p['id']}/deploy"), 200)
        assert body == {"artifact_id": art, "data_planes_notified": 1}
        avail = agent.wait_for("artifact_available", timeout=10)
        assert avail["artifact_id"] == art and avail["download_url"].startswith("/artifacts/")
        assert avail["sha256"] == assert_json(fstack.get(f"/artifacts/{art}"), 200)["sha256"]
        verified_ev = agent.wait_for("verified", timeout=15)
        assert verified_ev["artifact_hash"] == manifest_hash
        done = wait_until(lambda: (lambda r: r if r and r["status"] == "online"
                                   and r["artifact_hash"] == manifest_hash else None)(
            row_of(fstack, p["id"], "edge-1")), 10, what="the row to converge")
        assert done["artifact_id"] == art and done["drift_detected"] is False
        assert done["last_seen"] and done["connected_at"]
    wait_until(lambda: row_of(fstack, p["id"], "edge-1")["status"] == "offline", 10,
               what="the row to go offline after the agent left")


def test_a_late_data_plane_converges_without_a_new_deploy(fstack):
    from agent import Agent
    p, key = project_with_key(fstack)
    art = built_artifact(fstack, p["id"])
    assert_json(fstack.post(f"/projects/{p['id']}/deploy"), 200)
    with Agent(fstack, p["id"], key["key"], name="late") as agent:
        assert agent.wait_for("artifact_available", timeout=10)["artifact_id"] == art
        agent.wait_for("verified", timeout=15)


def test_drift_is_flagged_when_the_reported_hash_differs(fstack):
    from agent import Agent
    p, key = project_with_key(fstack)
    first = built_artifact(fstack, p["id"])
    assert_json(fstack.post(f"/projects/{p['id']}/deploy"), 200)
    with Agent(fstack, p["id"], key["key"], name="drifter") as agent:
        agent.wait_for("verified", timeout=15)
        # a desired artifact the data plane cannot take (its deployment outlived it: the
        # download is a 404; a row only, the hub finds it when it re-reads): it keeps running the first one and says so in its heartbeats,
        # which the hub flags as drift
        second = built_artifact(fstack, p["id"], ops=2)
        assert second != first
        h2 = assert_json(fstack.get(f"/artifacts/{second}"), 200)
        assert fstack.delete(f"/artifacts/{second}").status_code == 204
        mark = agent.mark()
        fstack.psql("INSERT INTO deployments (project_id, artifact_id, artifact_hash, sha256)"
                    f" VALUES ('{p['id']}', '{second}', '{h2['artifact_hash']}', '{h2['sha256']}')")
        agent.wait_for("artifact_downloaded", lambda e: e["artifact_id"] == second
                       and e["success"] is False, timeout=20, since=mark)
        agent.wait_for("heartbeat_ack", lambda e: e["drift_detected"] is True, timeout=15,
                       since=mark)
        wait_until(lambda: fstack.psql(f"SELECT drift_detected FROM data_planes WHERE project_id"
                                       f" = '{p['id']}'") == [["t"]], 10,
                   what="the data-plane row to show the drift")
        # a good one converges and the drift is gone
        third = built_artifact(fstack, p["id"], ops=3)
        h = assert_json(fstack.get(f"/artifacts/{third}"), 200)
        mark = agent.mark()
        assert_json(fstack.post(f"/projects/{p['id']}/deploy", json={"artifact_id": third}), 200)
        agent.wait_for("verified", lambda e: e["artifact_hash"] == h["artifact_hash"], timeout=20,
                       since=mark)
        agent.wait_for("heartbeat_ack", lambda e: e["drift_detected"] is False, timeout=15,
                       since=agent.mark())


@pytest.mark.parametrize("how", ["revoke", "disconnect", "delete-project"])
def test_kicks_and_bans_close_the_session_within_a_second(fstack, how):
    import time
    from agent import Agent
    p, key = project_with_key(fstack)
    other_p, other_key = project_with_key(fstack)
    with Agent(fstack, p["id"], key["key"], name="target") as target, \
            Agent(fstack, other_p["id"], other_key["key"], name="bystander") as bystander:
        target.wait_for("registered", timeout=15)
        bystander.wait_for("registered", timeout=15)
        row = wait_until(lambda: row_of(fstack, p["id"], "target"), 10, what="the row")
        mark = target.mark()
        if how == "revoke":
            assert fstack.delete(f"/projects/{p['id']}/api-keys/{key['id']}").status_code == 204
        elif how == "disconnect":
            assert fstack.delete(f"/projects/{p['id']}/data-planes/{row['id']}").status_code == 204
        else:
            assert fstack.delete(f"/projects/{p['id']}").status_code == 204
        answered_ms = time.time() * 1000
        target.wait_for("disconnect", since=mark, timeout=5)
        closed = target.wait_for("closed", since=mark, timeout=5)
        # closed within a second of the 204, by the agent's own clock (NOTES.md)
        assert closed["at_ms"] - answered_ms <= 1000 * harness.TIME_FACTOR, closed
        if how == "disconnect":   # a kick: it comes back
            target.wait_for("registered", since=mark, timeout=15)
        else:                     # a ban: it cannot
            target.wait_for("registration_failed", since=mark, timeout=15)
            assert not [e for e in target.events("registered", since=mark)]
        assert not bystander.events("disconnect")
        assert bystander.alive()


def test_one_deploy_reaches_data_planes_on_both_hubs(fstack):
    from agent import Agent
    p, key = project_with_key(fstack)
    art = built_artifact(fstack, p["id"])
    agents = [Agent(fstack, p["id"], key["key"], name=f"n{i}", url=fstack.ws_url(hub))
              for i, hub in enumerate(fstack.hubs)]
    try:
        for a in agents:
            a.wait_for("registered", timeout=15)
        hubs = {r["id"]: r for r in dp_rows(fstack, p["id"])}
        assert len(hubs) == 2
        body = assert_json(fstack.post(f"/projects/{p['id']}/deploy"), 200)
        assert body["data_planes_notified"] == 2
        for a in agents:
            assert a.wait_for("artifact_available", timeout=10)["artifact_id"] == art
    finally:
        for a in agents:
            a.stop()


def test_a_killed_hub_s_rows_go_offline_and_its_agents_converge_elsewhere(make_stack):
    from agent import Agent
    s = make_stack(registries=1, compilers=1, hubs=2, hub_args=HB)
    register_plugin(s, "mock", "0.1.0", "dispatcher")
    p, key = project_with_key(s)
    art = built_artifact(s, p["id"])
    victim = s.hubs[0]
    # the agent talks to the victim through the splice's list order: pin it to the victim
    a = Agent(s, p["id"], key["key"], name="survivor", url=s.ws_url(victim),
              extra=["--reconnect-max-ms", "1000"])
    try:
        a.wait_for("registered", timeout=15)
        s.kill(victim)
        wait_until(lambda: row_of(s, p["id"], "survivor")["status"] == "offline", 10,
                   what="the killed hub's row to go offline")
        # the agent only knows the dead hub's address: give it the gateway's splice instead
        a.stop()
        b = Agent(s, p["id"], key["key"], name="survivor")
        b.wait_for("registered", timeout=15)
        assert_json(s.post(f"/projects/{p['id']}/deploy"), 200)
        b.wait_for("verified", timeout=20)
        row = wait_until(lambda: (lambda r: r if r["status"] == "online" and r["artifact_id"] == art
                                  else None)(row_of(s, p["id"], "survivor")), 10, what="converged")
        assert row
        b.stop()
    finally:
        a.stop()


def test_deploy_while_the_event_proxy_is_away_still_converges(make_stack):
    from agent import Agent
    s = make_stack(registries=1, compilers=1, hubs=1, hub_args=HB, hub_download_base=True)
    register_plugin(s, "mock", "0.1.0", "dispatcher")
    p, key = project_with_key(s)
    art = built_artifact(s, p["id"])
    # on the hub's own port, so the session outlives the gateway's restart
    with Agent(s, p["id"], key["key"], name="patient", url=s.ws_url(s.hubs[0])) as agent:
        agent.wait_for("registered", timeout=15)
        s.kill(s.gateway)               # no broker and no event proxy for a moment
        s.start_gateway()
        s.wait_healthy(20)
        assert_json(s.post(f"/projects/{p['id']}/deploy"), 200)  # the event may be lost
        assert agent.wait_for("artifact_available", timeout=15)["artifact_id"] == art
        agent.wait_for("verified", timeout=15)
