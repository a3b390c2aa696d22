"""compiler-svc through the REST API: compilations (start, poll, list, get, delete), artifacts
(list, get, delete, download by admin token, signed token or a data plane's key), every
artifact re-checked by an independent verifier (tests/tools/bca_verify.py), the durable
queue across several compiler processes (each job succeeds exactly once, a killed worker's
job is finished by another, a deleted job leaves no artifact)."""
import base64
import hashlib
import hmac
import signal
import sys
import time
import uuid

import pytest
import requests

import harness
from harness import assert_json, assert_problem, wait_until
from schema import assert_schema

sys.path.insert(0, str(harness.REPO_ROOT / "tests" / "tools"))
import bca_verify  # noqa: E402

WASM = b"\x00asm\x01\x00\x00\x00"


@pytest.fixture(scope="module")
def cstack(binaries, pg):
    """Its own stack: one registry, three compiler processes, its own plugin registry."""
    s = harness.Stack(pg, registries=1, name="cc", compilers=3,
                      compiler_args=["--lease-s", "3", "--poll-ms", "500", "--retry-delay-ms",
                                     "200"]).start()
    register_plugin(s, "mock", "0.1.0", "dispatcher")
    register_plugin(s, "http-upstream", "1.0.0", "dispatcher",
                    schema='{"type":"object","required":["url"],"properties":{"url":'
                           '{"type":"string","format":"uri"},"timeout_ms":{"type":"integer",'
                           '"minimum":1,"maximum":60000}}}')
    yield s
    # Every artifact this module produced, re-checked by the independent verifier.
    for art in assert_json(s.get("/artifacts"), 200):
        verified(s, art["id"], art["artifact_format"])
    s.close()
    s.remove_files()


def register_plugin(stack, name, version, ptype, schema=None, wasm=WASM):
    fields = {"name": (None, name), "version": (None, version), "type": (None, ptype),
              "file": ("p.wasm", wasm, "application/wasm")}
    if schema:
        fields["config_schema"] = (None, schema)
    resp = stack.post("/plugins", files=fields)
    assert resp.status_code in (201, 409), resp.text
    return resp


def upload(stack, text, filename="api.yaml", project=None):
    path = f"/projects/{project}/specs" if project else "/specs"
    resp = stack.post(path, files={"file": (filename, text.encode(), "application/yaml")})
    return assert_json(resp, 201)


def spec_text(title=None, ops=1, dispatch="mock", extra=""):
    title = title or f"API {uuid.uuid4().hex[:8]}"
    lines = ['openapi: "3.1.0"', "info:", f'  title: "{title}"', '  version: "1.0.0"', "paths:"]
    for i in range(ops):
        lines += [f"  /items{i}/{{id}}:", "    get:", f"      operationId: getItem{i}",
                  "      parameters:", "        - name: id", "          in: path",
                  "          required: true", "          schema: {type: string}",
                  "      responses:", "        '200': {description: ok}",
                  "      x-barbacane-dispatch:", f"        name: {dispatch}",
                  "        config: {status: 200}"]
    return "\n".join(lines) + "\n" + extra


def compile_spec(stack, spec_id, body=None, expect=202):
    resp = stack.post(f"/specs/{spec_id}/compile", json=body) if body is not None \
        else stack.post(f"/specs/{spec_id}/compile")
    if expect != 202:
        return resp
    job = assert_json(resp, 202)
    assert_schema(job, "Compilation")
    assert job["status"] in ("pending", "compiling", "succeeded") and job["spec_id"] == spec_id
    return job


def wait_done(stack, job_id, timeout=30):
    def done():
        j = assert_json(stack.get(f"/compilations/{job_id}"), 200)
        return j if j["status"] in ("succeeded", "failed") else None
    job = wait_until(done, timeout * harness.TIME_FACTOR, interval=0.1, what=f"compilation {job_id}")
    assert_schema(job, "Compilation")
    return job


def download(stack, artifact_id, **kw):
    return stack.get(f"/artifacts/{artifact_id}/download", **kw)


def verified(stack, artifact_id, fmt=6):
    resp = download(stack, artifact_id)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == "application/octet-stream"
    assert f'filename="{artifact_id}.bca"' in resp.headers["Content-Disposition"]
    problems = bca_verify.verify(resp.content, fmt)
    assert problems == [], problems
    return resp.content


# ---------------------------------------------------------------- the happy path

@pytest.mark.parametrize("fmt", [6, 4])
def test_init_basic_template_compiles_to_a_verified_artifact(cstack, fmt):
    files = {f["path"]: f["content"] for f in
             assert_json(cstack.post("/init", json={"name": f"Basic {fmt} {uuid.uuid4().hex[:6]}"}),
                         200)["files"]}
    spec = upload(cstack, files["api.yaml"])
    job = compile_spec(cstack, spec["id"], {"artifact_format": fmt})
    done = wait_done(cstack, job["id"])
    assert done["status"] == "succeeded", done["errors"]
    assert done["errors"] == [] and done["completed_at"] and done["artifact_id"]
    art = assert_json(cstack.get(f"/artifacts/{done['artifact_id']}"), 200)
    assert_schema(art, "Artifact")
    assert art["manifest"]["barbacane_artifact_version"] == fmt
    assert art["manifest"]["plugins"][0]["name"] == "mock"
    data = verified(cstack, art["id"], fmt)
    assert hashlib.sha256(data).hexdigest() == art["sha256"]
    assert art["size_bytes"] == len(data)
    # compiled_at is the compilation's creation time, to the second
    assert art["manifest"]["compiled_at"] == done["started_at"][:19] + "Z"


def test_compile_body_is_optional_and_production_defaults_true(cstack):
    spec = upload(cstack, spec_text())
    for body in (None, {}, {"production": False}):
        job = compile_spec(cstack, spec["id"], body)
        assert job["production"] is (False if body == {"production": False} else True)
        assert wait_done(cstack, job["id"])["status"] == "succeeded"


def test_production_mode_refuses_http_upstreams(cstack):
    text = spec_text(dispatch="http-upstream").replace("config: {status: 200}",
                                                        "config: {url: 'http://backend.internal'}")
    spec = upload(cstack, text)
    bad = wait_done(cstack, compile_spec(cstack, spec["id"])["id"])
    assert bad["status"] == "failed" and [e["code"] for e in bad["errors"]] == ["E1031"]
    assert bad["artifact_id"] is None
    ok = wait_done(cstack, compile_spec(cstack, spec["id"], {"production": False})["id"])
    assert ok["status"] == "succeeded", ok["errors"]


def test_every_error_is_reported_with_its_location(cstack):
    text = spec_text(ops=2).replace("x-barbacane-dispatch:\n        name: mock\n"
                                    "        config: {status: 200}", "x-sunset: '2030-01-01'")
    spec = upload(cstack, text, filename="many.yaml")
    done = wait_done(cstack, compile_spec(cstack, spec["id"])["id"])
    assert done["status"] == "failed"
    codes = sorted(e["code"] for e in done["errors"])
    assert codes == ["E1020", "E1020", "E1030", "E1030"], done["errors"]
    for e in done["errors"]:
        assert e["location"].startswith("many.yaml:") and e["operation"].startswith("GET /items")


def test_plugin_config_is_validated_against_its_schema(cstack):
    text = spec_text(dispatch="http-upstream").replace(
        "config: {status: 200}", "config: {url: 'https://b.example', timeout_ms: 0}")
    done = wait_done(cstack, compile_spec(cstack, upload(cstack, text)["id"])["id"])
    assert done["status"] == "failed"
    e1023 = [e for e in done["errors"] if e["code"] == "E1023"]
    assert e1023 and "timeout_ms" in e1023[0]["message"], done["errors"]


def test_additional_specs_are_bundled_and_must_exist(cstack):
    a = upload(cstack, spec_text(), filename="a.yaml")
    b_text = spec_text().replace("/items0/", "/other/").replace("getItem0", "getOther")
    b = upload(cstack, b_text, filename="a.yaml")      # same file name: made unique
    job = compile_spec(cstack, a["id"], {"additional_specs": [b["id"], b["id"], a["id"]]})
    assert job["additional_specs"] == [b["id"]]
    done = wait_done(cstack, job["id"])
    assert done["status"] == "succeeded", done["errors"]
    manifest = assert_json(cstack.get(f"/artifacts/{done['artifact_id']}"), 200)["manifest"]
    assert [s["file"] for s in manifest["source_specs"]] == ["a-2.yaml", "a.yaml"]
    missing = str(uuid.uuid4())
    resp = compile_spec(cstack, a["id"], {"additional_specs": [missing]}, expect=404)
    assert_problem(resp, 404, "not-found")
    assert missing in resp.json()["detail"]


def test_compile_errors_of_the_request(cstack):
    spec = upload(cstack, spec_text())
    assert_problem(compile_spec(cstack, str(uuid.uuid4()), expect=404), 404, "not-found")
    assert_problem(cstack.post("/specs/not-a-uuid/compile"), 400, "bad-request")
    for body in ({"production": "yes"}, {"artifact_format": 5}, {"additional_specs": "x"},
                 {"additional_specs": ["nope"]}):
        assert_problem(compile_spec(cstack, spec["id"], body, expect=400), 400, "bad-request")
    resp = cstack.post(f"/specs/{spec['id']}/compile", data="{}",
                       headers={"Content-Type": "text/plain"})
    assert_problem(resp, 415, "unsupported-media-type")


def test_compilation_is_pinned_to_the_revision_current_at_request_time(cstack):
    title = f"Pinned {uuid.uuid4().hex[:6]}"
    spec = upload(cstack, spec_text(title=title))
    job = compile_spec(cstack, spec["id"])
    upload(cstack, spec_text(title=title, ops=3))      # revision 2 lands meanwhile
    assert job["spec_revision"] == 1
    done = wait_done(cstack, job["id"])
    manifest = assert_json(cstack.get(f"/artifacts/{done['artifact_id']}"), 200)["manifest"]
    assert manifest["routes_count"] == 1


def test_list_get_and_delete(cstack):
    spec = upload(cstack, spec_text())
    jobs = [compile_spec(cstack, spec["id"]) for _ in range(3)]
    for j in jobs:
        wait_done(cstack, j["id"])
    listed = assert_json(cstack.get(f"/specs/{spec['id']}/compilations"), 200)
    assert [j["id"] for j in listed] == [j["id"] for j in jobs]
    page = cstack.get(f"/specs/{spec['id']}/compilations?limit=2")
    assert len(assert_json(page, 200)) == 2 and 'rel="next"' in page.headers["Link"]
    assert_problem(cstack.get(f"/specs/{uuid.uuid4()}/compilations"), 404, "not-found")
    art = assert_json(cstack.get(f"/compilations/{jobs[0]['id']}"), 200)["artifact_id"]
    all_ids = [a["id"] for a in assert_json(cstack.get("/artifacts"), 200)]
    assert art in all_ids
    assert cstack.delete(f"/compilations/{jobs[0]['id']}").status_code == 204
    assert_problem(cstack.get(f"/compilations/{jobs[0]['id']}"), 404, "not-found")
    assert_json(cstack.get(f"/artifacts/{art}"), 200)   # artifacts outlive compilations
    assert cstack.delete(f"/artifacts/{art}").status_code == 204
    assert_problem(cstack.get(f"/artifacts/{art}"), 404, "not-found")
    assert_problem(cstack.delete(f"/artifacts/{art}"), 404, "not-found")
    assert cstack.psql(f"SELECT count(*) FROM artifact_plugins WHERE artifact_id = '{art}'") == [["0"]]


def test_recompiling_gives_identical_routes_and_specs(cstack):
    spec = upload(cstack, spec_text(ops=5))
    arts = [wait_done(cstack, compile_spec(cstack, spec["id"])["id"])["artifact_id"] for _ in range(2)]
    m = [assert_json(cstack.get(f"/artifacts/{a}"), 200)["manifest"] for a in arts]
    assert m[0]["checksums"] == m[1]["checksums"] and m[0]["artifact_hash"] == m[1]["artifact_hash"]


# ---------------------------------------------------------------- downloads

def download_token(stack, artifact_id, expires):
    master = hashlib.sha256(stack.secret_file.read_bytes().rstrip(b"\r\n")).digest()
    key = hmac.new(master, b"barbacane-download-token-v1", "sha256").digest()
    mac = hmac.new(key, f"{artifact_id}\n{expires}".encode(), "sha256").digest()
    return f"{expires}." + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def test_download_with_a_signed_token_and_no_credential(cstack):
    spec = upload(cstack, spec_text())
    art = wait_done(cstack, compile_spec(cstack, spec["id"])["id"])["artifact_id"]
    good = download_token(cstack, art, int(time.time()) + 120)
    resp = download(cstack, art, auth=False, params={"token": good})
    assert resp.status_code == 200 and bca_verify.verify(resp.content) == []
    other = wait_done(cstack, compile_spec(cstack, spec["id"])["id"])["artifact_id"]
    assert_problem(download(cstack, other, auth=False, params={"token": good}), 401,
                   "unauthorized")                                  # another artifact
    expired = download_token(cstack, art, int(time.time()) - 1)
    assert_problem(download(cstack, art, auth=False, params={"token": expired}), 401,
                   "unauthorized")
    assert_problem(download(cstack, art, auth=False), 401, "unauthorized")
    assert_problem(download(cstack, art, auth=False, params={"token": good[:-2] + "AA"}), 401,
                   "unauthorized")


def test_download_with_the_key_of_a_project_it_is_deployed_to(cstack):
    project = assert_json(cstack.post("/projects", json={"name": f"dl-{uuid.uuid4().hex[:6]}"}), 201)
    spec = upload(cstack, spec_text(), project=project["id"])
    art = wait_done(cstack, compile_spec(cstack, spec["id"])["id"])["artifact_id"]
    key = assert_json(cstack.post(f"/projects/{project['id']}/api-keys", json={"name": "dp"}), 201)
    auth = {"Authorization": f"Bearer {key['key']}"}
    assert_problem(download(cstack, art, auth=False, headers=auth), 404, "not-found")  # not deployed
    cstack.psql("INSERT INTO deployments (project_id, artifact_id, artifact_hash, sha256)"
                f" VALUES ('{project['id']}', '{art}', 'sha256:x', 'x')")
    got = download(cstack, art, auth=False, headers=auth)
    assert got.status_code == 200
    meta = assert_json(cstack.get(f"/artifacts/{art}"), 200)
    assert hashlib.sha256(got.content).hexdigest() == meta["sha256"]   # the artifact itself
    assert cstack.delete(f"/projects/{project['id']}/api-keys/{key['id']}").status_code == 204
    assert_problem(download(cstack, art, auth=False, headers=auth), 401, "unauthorized")


# ---------------------------------------------------------------- the durable queue

def test_fifty_compilations_across_three_processes_each_succeed_once(cstack):
    specs = [upload(cstack, spec_text(ops=3)) for _ in range(10)]
    jobs = [compile_spec(cstack, specs[i % 10]["id"]) for i in range(50)]
    done = [wait_done(cstack, j["id"], timeout=90) for j in jobs]
    assert all(d["status"] == "succeeded" for d in done), [d["errors"] for d in done][:3]
    ids = "','".join(j["id"] for j in jobs)
    rows = cstack.psql(f"SELECT compilation_id, count(*) FROM artifacts WHERE compilation_id IN "
                       f"('{ids}') GROUP BY 1")
    assert len(rows) == 50 and all(r[1] == "1" for r in rows)
    workers = cstack.psql(f"SELECT count(DISTINCT split_part(claimed_by, '/', 1)) FROM "
                          f"compilations WHERE id IN ('{ids}')")
    assert int(workers[0][0]) >= 2, "the work was not shared between processes"


def test_a_killed_compiler_s_job_is_finished_by_another(make_stack):
    s = make_stack(registries=1, compilers=1,
                   compiler_args=["--lease-s", "2", "--poll-ms", "300", "--compile-threads", "1"])
    register_plugin(s, "mock", "0.1.0", "dispatcher")
    spec = upload(s, spec_text(ops=12000), filename="big.yaml")
    job = compile_spec(s, spec["id"])
    victim = s.compilers[0]
    wait_until(lambda: s.psql(f"SELECT status FROM compilations WHERE id = '{job['id']}'")
               == [["compiling"]], 20, interval=0.02, what="the job to be claimed")
    s.kill(victim)                                  # SIGKILL mid-compile
    rescuer = s.start_compiler()
    done = wait_done(s, job["id"], timeout=120)
    assert done["status"] == "succeeded", done["errors"]
    assert done["attempts"] == 2
    claimed = s.psql(f"SELECT claimed_by FROM compilations WHERE id = '{job['id']}'")[0][0]
    assert claimed.startswith(f"{rescuer.name}/"), claimed
    assert s.psql(f"SELECT count(*) FROM artifacts WHERE compilation_id = '{job['id']}'") == [["1"]]
    assert s.psql("SELECT count(*) FROM compilations WHERE status IN ('pending', 'compiling')") \
        == [["0"]]


def test_deleting_a_running_compilation_leaves_no_artifact(make_stack):
    s = make_stack(registries=1, compilers=1, compiler_args=["--lease-s", "2"])
    register_plugin(s, "mock", "0.1.0", "dispatcher")
    spec = upload(s, spec_text(ops=12000), filename="big.yaml")
    job = compile_spec(s, spec["id"])
    wait_until(lambda: s.psql(f"SELECT status FROM compilations WHERE id = '{job['id']}'")
               == [["compiling"]], 20, interval=0.02, what="the job to be claimed")
    assert s.delete(f"/compilations/{job['id']}").status_code == 204
    time.sleep(3 * harness.TIME_FACTOR)   # longer than the lease: any late store would have landed
    assert s.psql(f"SELECT count(*) FROM artifacts WHERE compilation_id = '{job['id']}'") == [["0"]]
    assert s.psql("SELECT count(*) FROM artifact_plugins p WHERE NOT EXISTS "
                  "(SELECT 1 FROM artifacts a WHERE a.id = p.artifact_id)") == [["0"]]
    assert s.compilers[0].alive()
    # and the process carries on with the next job
    small = upload(s, spec_text())
    assert wait_done(s, compile_spec(s, small["id"])["id"])["status"] == "succeeded"


def test_reads_are_served_while_compiles_run(make_stack):
    s = make_stack(registries=1, compilers=1, compiler_args=["--compile-threads", "1"])
    register_plugin(s, "mock", "0.1.0", "dispatcher")
    spec = upload(s, spec_text(ops=12000), filename="big.yaml")
    job = compile_spec(s, spec["id"])
    wait_until(lambda: s.psql(f"SELECT status FROM compilations WHERE id = '{job['id']}'")
               == [["compiling"]], 20, interval=0.02, what="the job to be claimed")
    t0 = time.monotonic()
    assert_json(s.get(f"/compilations/{job['id']}"), 200)
    assert_json(s.get("/artifacts"), 200)
    assert time.monotonic() - t0 < 2, "REST reads waited for the compile"
    assert assert_json(s.get(f"/compilations/{job['id']}"), 200)["status"] == "compiling"


def test_capabilities_come_from_the_plugins_embedded_manifest(cstack):
    name = f"caps-{uuid.uuid4().hex[:8]}"
    toml_text = (f'[plugin]\nname = "{name}"\nversion = "0.3.0"\ntype = "dispatcher"\n\n'
                 '[capabilities]\nhost_functions = ["log", "http_call"]\nbody_access = true\n').encode()
    section = b"\x12barbacane_manifest" + toml_text
    size = len(section)
    assert size < 16384
    module = WASM + b"\x00" + bytes([0x80 | (size & 0x7f), size >> 7]) + section
    register_plugin(cstack, name, "0.3.0", "dispatcher", wasm=module)
    spec = upload(cstack, spec_text(dispatch=name))
    done = wait_done(cstack, compile_spec(cstack, spec["id"])["id"])
    assert done["status"] == "succeeded", done["errors"]
    manifest = assert_json(cstack.get(f"/artifacts/{done['artifact_id']}"), 200)["manifest"]
    assert manifest["capabilities_enforced"] is True
    plugin = manifest["plugins"][0]
    assert plugin["capabilities"] == {"body_access": True, "host_functions": ["log", "http_call"]}
    # with a plugin registered without an embedded manifest, nothing is enforced
    plain = wait_done(cstack, compile_spec(cstack, upload(cstack, spec_text())["id"])["id"])
    m2 = assert_json(cstack.get(f"/artifacts/{plain['artifact_id']}"), 200)["manifest"]
    assert m2["capabilities_enforced"] is False
