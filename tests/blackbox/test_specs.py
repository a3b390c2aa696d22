"""Specs: POST/GET /specs, GET/DELETE /specs/{id}, /history, /content, and the extension
POST/GET /projects/{projectId}/specs — against the contract, NOTES.md and docs/api-decisions.md."""
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
import requests

import harness
import specgen
from harness import assert_json, assert_problem, assert_request_id, describe
from schema import UTC_Z_RE, UUID_V4_LOWER_RE, assert_schema, assert_schema_list
from specgen import MiB, make_project, post_spec, sha256, unique, upload

LINE_COL_RE = re.compile(r"^[1-9][0-9]*:[1-9][0-9]*$")


def ts(value):
    assert isinstance(value, str) and UTC_Z_RE.match(value), \
        f"timestamp {value!r} is not RFC 3339 UTC ending in Z"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def get_spec(stack, spec_id):
    body = assert_json(stack.get(f"/specs/{spec_id}"), 200)
    assert_schema(body, "Spec")
    return body


def history(stack, spec_id):
    items = assert_json(stack.get(f"/specs/{spec_id}/history"), 200)
    assert_schema_list(items, "SpecRevision")
    return items


def list_specs(stack, query=""):
    items = assert_json(stack.get("/specs" + query), 200)
    assert_schema_list(items, "Spec")
    return items


def issues(body):
    errs = body.get("errors")
    assert isinstance(errs, list) and errs, f"expected a non-empty errors[]: {body}"
    return errs


def assert_spec_rejected(resp, code=None, line=None, need_location=True):
    """400 problem+json whose errors[] carries `code` (if given) with a line:column location."""
    body = assert_problem(resp, 400, "bad-request")
    errs = issues(body)
    if code is not None:
        matching = [e for e in errs if e["code"] == code]
        assert matching, f"no {code} in errors[]: {errs}"
    else:
        matching = errs
    if need_location:
        located = [e for e in matching if LINE_COL_RE.match(e.get("location") or "")]
        assert located, f"no line:column location on {code or 'any'} issue: {errs}"
        if line is not None:
            lines = [int(e["location"].split(":")[0]) for e in located]
            assert line in lines, f"expected the issue on line {line}, got locations {errs}"
    return body


@pytest.fixture
def project(stack):
    return make_project(stack)


# ---------------------------------------------------------------- upload

def test_upload_yaml_returns_201_upload_response(stack, project):
    title = unique("orders")
    data = specgen.openapi(title)
    resp = post_spec(stack, data, filename="orders.yaml", project_id=project["id"])
    body = assert_json(resp, 201)
    assert_schema(body, "UploadResponse")
    assert UUID_V4_LOWER_RE.match(body["id"]), f"id {body['id']!r} is not a lowercase UUID v4"
    assert body["name"] == title
    assert body["revision"] == 1
    assert body["sha256"] == sha256(data)
    loc = resp.headers.get("Location")
    assert loc and body["id"] in loc, f"201 must carry a Location naming the spec: {loc!r}"


def test_upload_without_project_joins_default_project(stack):
    title = unique("dflt")
    up = upload(stack, specgen.openapi(title))
    spec = get_spec(stack, up["id"])
    projects = assert_json(stack.get("/projects"), 200)
    default = [p for p in projects if p["name"] == "default"]
    assert len(default) == 1, "the project named 'default' must exist after an upload without project_id"
    if "project_id" in spec:
        assert spec["project_id"] == default[0]["id"]


def test_same_title_is_new_revision(stack, project):
    title = unique("rev")
    first = upload(stack, specgen.openapi(title, description="one"), project_id=project["id"])
    second = upload(stack, specgen.openapi(title, description="two"), project_id=project["id"])
    assert second["id"] == first["id"]
    assert second["name"] == title
    assert (first["revision"], second["revision"]) == (1, 2)
    assert second["sha256"] != first["sha256"]


def test_same_title_other_project_is_separate_spec(stack, project):
    other = make_project(stack)
    title = unique("sep")
    a = upload(stack, specgen.openapi(title), project_id=project["id"])
    b = upload(stack, specgen.openapi(title), project_id=other["id"])
    c = upload(stack, specgen.openapi(title), path=f"/projects/{make_project(stack)['id']}/specs")
    assert len({a["id"], b["id"], c["id"]}) == 3
    assert a["revision"] == b["revision"] == c["revision"] == 1


def test_upload_via_project_path(stack, project):
    title = unique("viapath")
    up = upload(stack, specgen.openapi(title), path=f"/projects/{project['id']}/specs")
    assert up["revision"] == 1
    again = upload(stack, specgen.openapi(title, description="2"), project_id=project["id"])
    assert again["id"] == up["id"] and again["revision"] == 2
    listed = assert_json(stack.get(f"/projects/{project['id']}/specs"), 200)
    assert_schema_list(listed, "Spec")
    assert [s["id"] for s in listed] == [up["id"]]


def test_project_specs_list_only_that_project(stack, project):
    other = make_project(stack)
    mine = [upload(stack, specgen.openapi(unique("mine")), project_id=project["id"])["id"]
            for _ in range(3)]
    upload(stack, specgen.openapi(unique("theirs")), project_id=other["id"])
    listed = assert_json(stack.get(f"/projects/{project['id']}/specs"), 200)
    assert_schema_list(listed, "Spec")
    assert sorted(s["id"] for s in listed) == sorted(mine)


def test_project_specs_list_unknown_project_is_404(stack):
    assert_problem(stack.get(f"/projects/{uuid.uuid4()}/specs"), 404, "not-found")


def test_project_specs_malformed_project_id_is_400(stack):
    assert_problem(stack.get("/projects/nope/specs"), 400, "bad-request")
    resp = post_spec(stack, specgen.openapi(unique()), path="/projects/nope/specs")
    assert_problem(resp, 400, "bad-request")


def test_upload_json_document(stack, project):
    title = unique("json")
    data = specgen.openapi_json(title, version="3.0.3")
    up = upload(stack, data, filename="api.json", project_id=project["id"], ctype="application/json")
    assert up["name"] == title
    spec = get_spec(stack, up["id"])
    assert spec["spec_type"] == "openapi"
    assert spec["spec_version"] == "3.0.3"
    content = stack.get(f"/specs/{up['id']}/content")
    assert content.status_code == 200, describe(content)
    assert content.content == data
    assert content.headers.get("Content-Type", "").split(";")[0].strip() == "application/yaml"
    hist = history(stack, up["id"])
    assert hist[0]["filename"] == "api.json"


def test_upload_asyncapi_3(stack, project):
    title = unique("events")
    up = upload(stack, specgen.asyncapi(title), filename="events.yaml", project_id=project["id"])
    spec = get_spec(stack, up["id"])
    assert spec["name"] == title
    assert spec["spec_type"] == "asyncapi"
    assert spec["spec_version"] == "3.0.0"


@pytest.mark.parametrize("version", ["3.0.3", "3.1.0"])
def test_upload_openapi_versions(stack, project, version):
    up = upload(stack, specgen.openapi(unique("v"), version=version), project_id=project["id"])
    spec = get_spec(stack, up["id"])
    assert spec["spec_type"] == "openapi"
    assert spec["spec_version"] == version


def test_empty_title_falls_back_to_filename(stack, project):
    up = upload(stack, specgen.openapi(""), filename="orders-api.yaml", project_id=project["id"])
    assert up["name"] == "orders-api"
    assert get_spec(stack, up["id"])["name"] == "orders-api"


def test_non_empty_title_wins_over_filename(stack, project):
    title = unique("titled")
    up = upload(stack, specgen.openapi(title), filename="other-name.yaml", project_id=project["id"])
    assert up["name"] == title


# ---------------------------------------------------------------- upload: invalid documents

def test_yaml_syntax_error_is_e1002_with_line(stack, project):
    data = b'openapi: 3.1.0\ninfo:\n  title: t\n  version: 1: 2\npaths: {}\n'
    assert_spec_rejected(post_spec(stack, data, project_id=project["id"]), "E1002", line=4)


def test_root_is_a_list_is_e1002(stack, project):
    data = b"- openapi: 3.1.0\n- info: {title: t, version: '1'}\n"
    assert_spec_rejected(post_spec(stack, data, project_id=project["id"]), "E1002")


def test_root_is_a_scalar_is_e1002(stack, project):
    assert_spec_rejected(post_spec(stack, b"just a string\n", project_id=project["id"]), "E1002")


def test_empty_file_is_400(stack, project):
    body = assert_problem(post_spec(stack, b"", project_id=project["id"]), 400, "bad-request")
    issues(body)


def test_swagger_2_is_e1001(stack, project):
    data = b'swagger: "2.0"\ninfo:\n  title: old\n  version: "1"\npaths: {}\n'
    assert_spec_rejected(post_spec(stack, data, project_id=project["id"]), "E1001")


def test_no_openapi_or_asyncapi_key_is_e1001(stack, project):
    data = b'info:\n  title: nothing\n  version: "1"\npaths: {}\n'
    assert_spec_rejected(post_spec(stack, data, project_id=project["id"]), "E1001")


def test_openapi_2_version_is_rejected(stack, project):
    data = b'openapi: 2.0.0\ninfo:\n  title: t\n  version: "1"\npaths: {}\n'
    body = assert_problem(post_spec(stack, data, project_id=project["id"]), 400, "bad-request")
    codes = {e["code"] for e in issues(body)}
    assert codes & {"E1001", "E1004"}, f"expected E1001/E1004: {body}"


def test_missing_info_title_is_e1004(stack, project):
    data = b'openapi: 3.1.0\ninfo:\n  version: "1"\npaths: {}\n'
    assert_spec_rejected(post_spec(stack, data, project_id=project["id"]), "E1004")


@pytest.mark.parametrize("title", [b"", b"~", b"null", b"42", b"[a]", b"{x: 1}"],
                         ids=["empty-null", "tilde", "null", "int", "seq", "map"])
def test_title_not_a_string_is_e1004(stack, project, title):
    data = b"openapi: 3.1.0\ninfo:\n  title: " + title + b"\n  version: '1'\npaths: {}\n"
    assert_spec_rejected(post_spec(stack, data, project_id=project["id"]), "E1004")


def test_missing_info_is_e1004(stack, project):
    data = b'openapi: 3.1.0\npaths: {}\n'
    body = assert_problem(post_spec(stack, data, project_id=project["id"]), 400, "bad-request")
    assert "E1004" in {e["code"] for e in issues(body)}, body


def test_non_utf8_is_400(stack, project):
    data = b'openapi: 3.1.0\ninfo:\n  title: caf\xe9\n  version: "1"\npaths: {}\n'
    body = assert_problem(post_spec(stack, data, project_id=project["id"]), 400, "bad-request")
    codes = {e["code"] for e in issues(body)}
    assert "E1002" in codes, f"expected E1002 for non-UTF-8 input: {body}"


def test_duplicate_keys_are_400(stack, project):
    data = b'openapi: 3.1.0\ninfo:\n  title: a\n  title: b\n  version: "1"\npaths: {}\n'
    body = assert_problem(post_spec(stack, data, project_id=project["id"]), 400, "bad-request")
    issues(body)


def test_duplicate_keys_in_json_are_400(stack, project):
    data = b'{"openapi": "3.1.0", "info": {"title": "a", "version": "1"}, "paths": {}, "paths": {}}'
    resp = post_spec(stack, data, filename="a.json", ctype="application/json",
                     project_id=project["id"])
    issues(assert_problem(resp, 400, "bad-request"))


def test_rejected_upload_creates_nothing(stack, project):
    data = b'openapi: 3.1.0\ninfo:\n  version: "1"\npaths: {}\n'
    assert_problem(post_spec(stack, data, project_id=project["id"]), 400, "bad-request")
    assert assert_json(stack.get(f"/projects/{project['id']}/specs"), 200) == []


# ---------------------------------------------------------------- upload: invalid requests

def test_missing_file_part_is_400(stack, project):
    resp = stack.post("/specs", files={"document": ("a.yaml", specgen.openapi(unique()),
                                                    "application/yaml")},
                      data={"project_id": project["id"]})
    body = assert_problem(resp, 400, "bad-request")
    locs = [e.get("location") for e in issues(body)]
    assert "/file" in locs, f"errors[] should point at /file: {body}"


def test_only_project_id_field_is_400(stack, project):
    resp = stack.post("/specs", files={"project_id": (None, project["id"])})
    assert_problem(resp, 400, "bad-request")


@pytest.mark.parametrize("bad", ["not-a-uuid", "", "12345678-1234-1234-1234-12345678901z"],
                         ids=["word", "empty", "bad-hex"])
def test_project_id_not_uuid_is_400(stack, bad):
    resp = post_spec(stack, specgen.openapi(unique()), project_id=bad)
    body = assert_problem(resp, 400, "bad-request")
    locs = [e.get("location") for e in issues(body)]
    assert "/project_id" in locs, f"errors[] should point at /project_id: {body}"


def test_project_id_naming_no_project_is_400(stack):
    title = unique("orphan")
    resp = post_spec(stack, specgen.openapi(title), project_id=str(uuid.uuid4()))
    assert_problem(resp, 400, "bad-request")
    assert not [s for s in list_specs(stack) if s["name"] == title]


def test_upload_to_unknown_project_path_is_404(stack):
    resp = post_spec(stack, specgen.openapi(unique()), path=f"/projects/{uuid.uuid4()}/specs")
    assert_problem(resp, 404, "not-found")


def test_non_multipart_body_is_415(stack):
    resp = stack.post("/specs", data=specgen.openapi(unique()),
                      headers={"Content-Type": "application/yaml"})
    assert_problem(resp, 415, "unsupported-media-type")


def test_json_body_is_415(stack):
    resp = stack.post("/specs", json={"file": "openapi: 3.1.0"})
    assert_problem(resp, 415, "unsupported-media-type")


def test_malformed_multipart_is_400(stack):
    resp = stack.post("/specs", data=b"--nope\r\nthis is not multipart\r\n",
                      headers={"Content-Type": "multipart/form-data; boundary=XyZ"})
    assert_problem(resp, 400, "bad-request")


# ---------------------------------------------------------------- hostile input

def assert_healthy(stack):
    resp = stack.get("/health", auth=False, timeout=5)
    assert resp.status_code == 200, describe(resp)


def test_billion_laughs_is_rejected_fast(stack, project):
    data = specgen.billion_laughs(levels=9, fanout=10)
    t0 = time.monotonic()
    resp = post_spec(stack, data, project_id=project["id"], timeout=10)
    elapsed = time.monotonic() - t0
    body = assert_problem(resp, 400, "bad-request")
    issues(body)
    assert elapsed < 2.0 * harness.TIME_FACTOR, f"billion laughs took {elapsed:.2f}s"
    assert_healthy(stack)
    # and the service still does real work
    upload(stack, specgen.openapi(unique("after-lol")), project_id=project["id"])


@pytest.mark.parametrize("gen", [specgen.deep_flow_sequence, specgen.deep_flow_mapping],
                         ids=["sequence", "mapping"])
def test_deep_nesting_is_rejected_fast(stack, project, gen):
    data = gen(10000)
    t0 = time.monotonic()
    resp = post_spec(stack, data, project_id=project["id"], timeout=10)
    elapsed = time.monotonic() - t0
    body = assert_problem(resp, 400, "bad-request")
    issues(body)
    assert elapsed < 2.0 * harness.TIME_FACTOR, f"10,000-deep nesting took {elapsed:.2f}s"
    assert_healthy(stack)
    upload(stack, specgen.openapi(unique("after-deep")), project_id=project["id"])


def test_unknown_alias_is_e1002(stack, project):
    data = b'openapi: 3.1.0\ninfo:\n  title: *nowhere\n  version: "1"\npaths: {}\n'
    assert_spec_rejected(post_spec(stack, data, project_id=project["id"]), "E1002", line=3)


def test_recursive_alias_is_rejected(stack, project):
    data = b'openapi: 3.1.0\ninfo: {title: "rec", version: "1"}\npaths: {}\nx: &a [*a]\n'
    assert_spec_rejected(post_spec(stack, data, project_id=project["id"]), "E1002", line=4)
    assert_healthy(stack)


def test_billion_laughs_through_mappings_is_rejected(stack, project):
    lines = ['openapi: 3.1.0', 'info: {title: "lolmap", version: "1"}', 'paths: {}', 'x-lol:',
             '  l0: &l0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 10}']
    for i in range(1, 10):
        lines.append(f"  l{i}: &l{i} {{" + ", ".join(f"k{j}: *l{i - 1}" for j in range(10)) + "}")
    t0 = time.monotonic()
    resp = post_spec(stack, ("\n".join(lines) + "\n").encode(), project_id=project["id"])
    assert time.monotonic() - t0 < 2.0 * harness.TIME_FACTOR
    issues(assert_problem(resp, 400, "bad-request"))
    assert_healthy(stack)


def test_node_limit_is_enforced_quickly(stack, project):
    # 6,000,001 scalars in one flow sequence (12 MB): over the node limit, refused in bounded time
    data = (b'openapi: 3.1.0\ninfo: {title: "nodes", version: "1"}\npaths: {}\nx: ['
            + b"0," * 6_000_000 + b"0]\n")
    t0 = time.monotonic()
    resp = post_spec(stack, data, project_id=project["id"], timeout=30)
    elapsed = time.monotonic() - t0
    issues(assert_problem(resp, 400, "bad-request"))
    assert elapsed < 8.0 * harness.TIME_FACTOR, f"took {elapsed:.2f}s"
    assert_healthy(stack)


def test_many_distinct_keys_are_accepted_quickly(stack, project):
    # 500,000 keys in one mapping: duplicate-key detection must not be quadratic
    data = (b'openapi: 3.1.0\ninfo: {title: "%s", version: "1"}\npaths: {}\nx-keys:\n'
            % unique("keys").encode()
            + b"".join(b"  k%d: 0\n" % i for i in range(500_000)))
    t0 = time.monotonic()
    resp = post_spec(stack, data, project_id=project["id"], timeout=30)
    elapsed = time.monotonic() - t0
    assert_json(resp, 201)
    assert elapsed < 8.0 * harness.TIME_FACTOR, f"took {elapsed:.2f}s"


def test_duplicate_key_far_apart_is_found(stack, project):
    data = (b'openapi: 3.1.0\ninfo: {title: "dupfar", version: "1"}\npaths: {}\nx-keys:\n'
            + b"".join(b"  k%d: 0\n" % i for i in range(50_000)) + b"  k7: 1\n")
    assert_spec_rejected(post_spec(stack, data, project_id=project["id"]), "E1002", line=50_005)


def test_multiple_documents_are_e1002(stack, project):
    data = specgen.openapi(unique("doc1")) + b"---\n" + specgen.openapi(unique("doc2"))
    assert_spec_rejected(post_spec(stack, data, project_id=project["id"]), "E1002")


def test_nul_in_title_is_400(stack, project):
    data = b'openapi: 3.1.0\ninfo: {title: "a\\0b", version: "1"}\npaths: {}\n'
    assert_spec_rejected(post_spec(stack, data, project_id=project["id"]), "E1002", line=2)


def test_raw_nul_byte_is_400(stack, project):
    data = specgen.openapi(unique("nul")) + b"x-nul: a\x00b\n"
    assert_spec_rejected(post_spec(stack, data, project_id=project["id"]), "E1002")


def test_utf16_is_400(stack, project):
    data = ("\ufeff" + specgen.openapi(unique("u16")).decode()).encode("utf-16-le")
    assert_spec_rejected(post_spec(stack, data, project_id=project["id"]), "E1002")


def test_utf8_bom_is_accepted_and_kept(stack, project):
    title = unique("bom")
    data = b"\xef\xbb\xbf" + specgen.openapi(title)
    up = upload(stack, data, project_id=project["id"])
    assert up["name"] == title
    got = stack.get(f"/specs/{up['id']}/content")
    assert got.status_code == 200 and got.content == data, "stored bytes must include the BOM"


def test_overlong_title_rejection_has_line_column(stack, project):
    # A limit on the title length is the implementation's choice; if it refuses, the issue is
    # located like every other spec issue (line:column, api-decisions.md).
    data = specgen.openapi("T" * 100_000)
    resp = post_spec(stack, data, project_id=project["id"])
    if resp.status_code == 201:
        return
    assert_spec_rejected(resp, None, line=3)


# ---------------------------------------------------------------- size limits

def test_30_mib_spec_is_accepted(stack, project):
    title = unique("big")
    data = specgen.big_openapi(title, 30 * MiB)
    assert 29 * MiB < len(data) <= 30 * MiB
    up = upload(stack, data, filename="big.yaml", project_id=project["id"], timeout=60)
    assert up["name"] == title
    content = stack.get(f"/specs/{up['id']}/content", timeout=60)
    assert content.status_code == 200, describe(content)
    assert len(content.content) == len(data) and sha256(content.content) == sha256(data)


def test_spec_over_32_mib_is_413(stack, project):
    data = specgen.big_openapi(unique("huge"), 33 * MiB)
    assert len(data) > 32 * MiB
    try:
        resp = post_spec(stack, data, filename="huge.yaml", project_id=project["id"], timeout=60)
    except requests.ConnectionError:
        # The gateway may answer 413 from the Content-Length and close before reading the body;
        # then check the status on the raw socket.
        resp = None
    if resp is not None:
        assert_problem(resp, 413, "payload-too-large")
    else:
        status = raw_status_for_large_multipart(stack, len(data))
        assert status == 413, f"raw request got status {status}"
    assert_healthy(stack)


def _chunked_multipart(title, filler_chunks, boundary="bbChunkBoundary42"):
    def gen():
        yield (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
               f'filename="chunked.yaml"\r\nContent-Type: application/yaml\r\n\r\n').encode()
        yield (f'openapi: 3.1.0\ninfo: {{title: "{title}", version: "1"}}\npaths: {{}}\n'
               'x-pad: "').encode()
        for _ in range(filler_chunks):
            yield b"y" * 65536
        yield b'"\n'
        yield f"\r\n--{boundary}--\r\n".encode()
    return gen(), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def test_chunked_spec_upload_over_32_mib_is_413(stack):
    # no Content-Length: the limit holds while the multipart body streams in
    body, hdrs = _chunked_multipart(unique("chunk-big"), 33 * 16)
    resp = stack.post("/specs", data=body, headers=hdrs, timeout=60)
    assert_problem(resp, 413, "payload-too-large")
    assert_healthy(stack)


def test_chunked_spec_upload_under_limit_is_accepted(stack):
    title = unique("chunk-ok")
    body, hdrs = _chunked_multipart(title, 16)
    resp = stack.post("/specs", data=body, headers=hdrs, timeout=60)
    up = assert_json(resp, 201)
    assert up["name"] == title


def raw_status_for_large_multipart(stack, size):
    import socket
    boundary = "bbtestboundary"
    head = (f"POST /specs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {stack.token}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {size + 200}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", stack.http_port), timeout=10) as s:
        s.sendall(head)
        data = s.recv(4096)
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------- concurrency

def test_concurrent_uploads_get_gap_free_revisions(stack, project):
    title = unique("race")
    docs = [specgen.openapi(title, description=f"variant {i}") for i in range(20)]
    hdrs = {"Authorization": f"Bearer {stack.token}"}

    def send(data):
        return requests.post(stack.url("/specs"), headers=hdrs, timeout=30,
                             files={"file": ("race.yaml", data, "application/yaml")},
                             data={"project_id": project["id"]})

    with ThreadPoolExecutor(max_workers=20) as pool:
        resps = list(pool.map(send, docs))
    bodies = [assert_json(r, 201) for r in resps]
    assert len({b["id"] for b in bodies}) == 1, "same name in same project must be one spec"
    assert sorted(b["revision"] for b in bodies) == list(range(1, 21))
    by_rev = {b["revision"]: b["sha256"] for b in bodies}
    for b, data in zip(bodies, docs):
        assert b["sha256"] == sha256(data)
    hist = history(stack, bodies[0]["id"])
    assert [h["revision"] for h in hist] == list(range(20, 0, -1))
    assert {h["revision"]: h["sha256"] for h in hist} == by_rev
    spec = get_spec(stack, bodies[0]["id"])
    assert spec["current_sha256"] == by_rev[20]


def test_concurrent_first_uploads_create_one_default_project(make_stack):
    fresh = make_stack()
    hdrs = {"Authorization": f"Bearer {fresh.token}"}

    def send(i):
        return requests.post(fresh.url("/specs"), headers=hdrs, timeout=30,
                             files={"file": ("a.yaml", specgen.openapi(f"first-{i}"),
                                             "application/yaml")})

    with ThreadPoolExecutor(max_workers=12) as pool:
        resps = list(pool.map(send, range(12)))
    for r in resps:
        assert_json(r, 201)
    projects = assert_json(fresh.get("/projects"), 200)
    assert [p["name"] for p in projects] == ["default"], projects
    specs = assert_json(fresh.get(f"/projects/{projects[0]['id']}/specs"), 200)
    assert len(specs) == 12


def _race_uploads_against_project_delete(stack):
    project = make_project(stack)
    hdrs = {"Authorization": f"Bearer {stack.token}"}
    first_done = threading.Event()

    def uploader(worker):
        out = []
        for i in range(12):
            r = requests.post(stack.url(f"/projects/{project['id']}/specs"), headers=hdrs,
                              timeout=30, files={"file": ("r.yaml", specgen.openapi(
                                  f"race-{worker}-{i % 3}", description=str(i)), "application/yaml")})
            out.append(r)
            if r.status_code == 201:
                first_done.set()
        return out

    def deleter():
        first_done.wait(10)
        return requests.delete(stack.url(f"/projects/{project['id']}"), headers=hdrs, timeout=30)

    with ThreadPoolExecutor(max_workers=5) as pool:
        ups = [pool.submit(uploader, w) for w in range(4)]
        dele = pool.submit(deleter)
        resps = [r for f in ups for r in f.result()]
        d = dele.result()
    assert d.status_code == 204, describe(d)
    return project, resps


def test_upload_racing_project_delete_is_201_or_404_and_leaves_no_orphans(stack):
    # An upload that loses the race against DELETE /projects/{id} finds no project: 404.
    for _ in range(3):
        project, resps = _race_uploads_against_project_delete(stack)
        odd = [describe(r) for r in resps if r.status_code not in (201, 404)]
        assert not odd, f"uploads racing the project delete got: {odd[:3]}"
        for r in resps:
            if r.status_code == 404:
                assert_problem(r, 404, "not-found")
        assert_problem(stack.get(f"/projects/{project['id']}/specs"), 404, "not-found")
        projects = {p["id"] for p in assert_json(stack.get("/projects"), 200)}
        orphans = [s for s in list_specs(stack) if s.get("project_id") == project["id"]]
        assert not orphans, f"specs of a deleted project survive: {orphans}"
        for r in resps:
            if r.status_code == 201:
                assert_problem(stack.get(f"/specs/{r.json()['id']}"), 404, "not-found")
        assert project["id"] not in projects


# ---------------------------------------------------------------- list

def test_list_contains_uploaded_specs(stack, project):
    a = upload(stack, specgen.openapi(unique("la")), project_id=project["id"])
    b = upload(stack, specgen.asyncapi(unique("lb")), project_id=project["id"])
    items = list_specs(stack)
    ids = [s["id"] for s in items]
    assert len(ids) == len(set(ids)), "duplicates in GET /specs"
    assert a["id"] in ids and b["id"] in ids
    item = next(s for s in items if s["id"] == a["id"])
    assert item["name"] == a["name"]
    assert item["current_sha256"] == a["sha256"]


def test_list_type_filter(stack, project):
    o = upload(stack, specgen.openapi(unique("typo")), project_id=project["id"])
    a = upload(stack, specgen.asyncapi(unique("typa")), project_id=project["id"])
    openapis = list_specs(stack, "?type=openapi")
    asyncapis = list_specs(stack, "?type=asyncapi")
    assert openapis and all(s["spec_type"] == "openapi" for s in openapis)
    assert asyncapis and all(s["spec_type"] == "asyncapi" for s in asyncapis)
    assert o["id"] in {s["id"] for s in openapis} and o["id"] not in {s["id"] for s in asyncapis}
    assert a["id"] in {s["id"] for s in asyncapis} and a["id"] not in {s["id"] for s in openapis}
    everything = {s["id"] for s in list_specs(stack)}
    assert everything == {s["id"] for s in openapis} | {s["id"] for s in asyncapis}


def test_list_name_filter_is_case_insensitive_partial(stack, project):
    tag = uuid.uuid4().hex[:8]
    a = upload(stack, specgen.openapi(f"Billing-{tag}-Service"), project_id=project["id"])
    b = upload(stack, specgen.openapi(f"billing-{tag}-admin"), project_id=project["id"])
    c = upload(stack, specgen.openapi(f"other-{tag}"), project_id=project["id"])
    got = {s["id"] for s in list_specs(stack, f"?name=BILLING-{tag.upper()}")}
    assert got == {a["id"], b["id"]}
    got = {s["id"] for s in list_specs(stack, f"?name={tag}-serv")}
    assert got == {a["id"]}
    got = {s["id"] for s in list_specs(stack, f"?name={tag}")}
    assert got == {a["id"], b["id"], c["id"]}
    assert list_specs(stack, f"?name=no-such-{tag}") == []


def test_list_name_filter_escapes_underscore(stack, project):
    tag = uuid.uuid4().hex[:8]
    ab = upload(stack, specgen.openapi(f"u{tag}a_b"), project_id=project["id"])
    upload(stack, specgen.openapi(f"u{tag}axb"), project_id=project["id"])
    got = list_specs(stack, f"?name=u{tag}a_b")
    assert [s["id"] for s in got] == [ab["id"]], f"_ must match only itself: {[s['name'] for s in got]}"
    # and "_" alone matches only names with an underscore
    assert all("_" in s["name"] for s in list_specs(stack, "?name=_"))


def test_list_name_filter_escapes_percent(stack, project):
    tag = uuid.uuid4().hex[:8]
    pct = upload(stack, specgen.openapi(f"p{tag}50%off"), project_id=project["id"])
    upload(stack, specgen.openapi(f"p{tag}50off"), project_id=project["id"])
    got = list_specs(stack, "?name=%25")
    assert got and all("%" in s["name"] for s in got), [s["name"] for s in got]
    assert pct["id"] in {s["id"] for s in got}
    got = list_specs(stack, f"?name=p{tag}50%25")
    assert [s["id"] for s in got] == [pct["id"]]


def test_list_name_filter_escapes_backslash(stack, project):
    tag = uuid.uuid4().hex[:8]
    bs = upload(stack, specgen.openapi(f"b{tag}\\x"), project_id=project["id"])
    upload(stack, specgen.openapi(f"b{tag}x"), project_id=project["id"])
    got = list_specs(stack, f"?name=b{tag}%5Cx")
    assert [s["id"] for s in got] == [bs["id"]]


def test_list_name_filter_with_nul_matches_nothing(stack, project):
    upload(stack, specgen.openapi(unique("nulq")), project_id=project["id"])
    resp = stack.get("/specs?name=%00")
    if resp.status_code == 400:
        assert_problem(resp, 400, "bad-request")
        return
    got = assert_json(resp, 200)
    assert got == [], f"no spec name contains NUL, yet {len(got)} specs matched ?name=%00"


@pytest.mark.parametrize("bad", ["swagger", "OPENAPI", ""], ids=["unknown", "uppercase", "empty"])
def test_list_unknown_type_is_400(stack, bad):
    assert_problem(stack.get(f"/specs?type={bad}"), 400, "bad-request")


def test_list_combined_filters(stack, project):
    tag = uuid.uuid4().hex[:8]
    o = upload(stack, specgen.openapi(f"combo-{tag}-o"), project_id=project["id"])
    a = upload(stack, specgen.asyncapi(f"combo-{tag}-a"), project_id=project["id"])
    assert [s["id"] for s in list_specs(stack, f"?name=combo-{tag}&type=openapi")] == [o["id"]]
    assert [s["id"] for s in list_specs(stack, f"?name=combo-{tag}&type=asyncapi")] == [a["id"]]


def test_list_is_oldest_first(stack, project):
    tag = uuid.uuid4().hex[:8]
    ids = [upload(stack, specgen.openapi(f"ord-{tag}-{i}"), project_id=project["id"])["id"]
           for i in range(4)]
    assert [s["id"] for s in list_specs(stack, f"?name=ord-{tag}")] == ids
    # a new revision of the oldest spec does not move it
    upload(stack, specgen.openapi(f"ord-{tag}-0", description="r2"), project_id=project["id"])
    assert [s["id"] for s in list_specs(stack, f"?name=ord-{tag}")] == ids


# ---------------------------------------------------------------- get

def test_get_spec(stack, project):
    title = unique("get")
    first = upload(stack, specgen.openapi(title, description="1"), project_id=project["id"])
    second = upload(stack, specgen.openapi(title, description="2"), project_id=project["id"])
    spec = get_spec(stack, first["id"])
    assert spec["id"] == first["id"]
    assert spec["name"] == title
    assert spec["current_sha256"] == second["sha256"]
    assert spec["spec_type"] == "openapi" and spec["spec_version"] == "3.1.0"
    assert ts(spec["updated_at"]) >= ts(spec["created_at"])
    if "current_revision" in spec:
        assert spec["current_revision"] == 2
    if "project_id" in spec:
        assert spec["project_id"] == project["id"]


def test_revision_updates_type_version_and_updated_at(stack, project):
    title = unique("evolve")
    first = upload(stack, specgen.openapi(title, version="3.0.3"), project_id=project["id"])
    s1 = get_spec(stack, first["id"])
    assert (s1["spec_type"], s1["spec_version"]) == ("openapi", "3.0.3")
    upload(stack, specgen.openapi(title, version="3.1.0"), project_id=project["id"])
    s2 = get_spec(stack, first["id"])
    assert (s2["spec_type"], s2["spec_version"]) == ("openapi", "3.1.0")
    third = upload(stack, specgen.asyncapi(title), project_id=project["id"])
    assert third["id"] == first["id"] and third["revision"] == 3
    s3 = get_spec(stack, first["id"])
    assert (s3["spec_type"], s3["spec_version"]) == ("asyncapi", "3.0.0")
    assert s3["current_sha256"] == third["sha256"]
    assert s1["created_at"] == s2["created_at"] == s3["created_at"]
    assert ts(s1["updated_at"]) <= ts(s2["updated_at"]) <= ts(s3["updated_at"])
    assert ts(s3["updated_at"]) > ts(s3["created_at"])
    hist = history(stack, first["id"])
    assert ts(hist[0]["created_at"]) <= ts(s3["updated_at"])
    # the type filter follows the current revision
    assert first["id"] in {s["id"] for s in list_specs(stack, "?type=asyncapi")}
    assert first["id"] not in {s["id"] for s in list_specs(stack, "?type=openapi")}


def test_get_unknown_spec_is_404(stack):
    assert_problem(stack.get(f"/specs/{uuid.uuid4()}"), 404, "not-found")


@pytest.mark.parametrize("bad", ["not-a-uuid", "1234", "00000000-0000-0000-0000-00000000000g"])
def test_get_malformed_spec_id_is_400(stack, bad):
    assert_problem(stack.get(f"/specs/{bad}"), 400, "bad-request")


# ---------------------------------------------------------------- history

def test_history_newest_first(stack, project):
    title = unique("hist")
    docs = [specgen.openapi(title, description=f"r{i}") for i in range(3)]
    ups = [upload(stack, d, filename=f"h{i}.yaml", project_id=project["id"])
           for i, d in enumerate(docs)]
    hist = history(stack, ups[0]["id"])
    assert [h["revision"] for h in hist] == [3, 2, 1]
    assert [h["sha256"] for h in hist] == [sha256(d) for d in reversed(docs)]
    assert [h["filename"] for h in hist] == ["h2.yaml", "h1.yaml", "h0.yaml"]
    times = [ts(h["created_at"]) for h in hist]
    assert times == sorted(times, reverse=True)


@pytest.mark.parametrize("given,stored", [
    ("../../etc/pass wd.yaml", "passwd.yaml"),
    ("???", "upload"),
    ("..", "upload"),
    ("C:\\Users\\me\\api spec.yaml", "apispec.yaml"),
    ("ok-name_1.2.yml", "ok-name_1.2.yml"),
], ids=["traversal", "question-marks", "dots", "windows-path", "clean"])
def test_history_filename_is_sanitised(stack, project, given, stored):
    up = upload(stack, specgen.openapi(unique("fn")), filename=given, project_id=project["id"])
    hist = history(stack, up["id"])
    got = hist[0]["filename"]
    if given.startswith("C:"):
        # basename by "\\" or only by "/": either way the separators and the space are gone
        assert got in ("apispec.yaml", "CUsersmeapispec.yaml"), got
    else:
        assert got == stored


def test_history_unknown_is_404(stack):
    assert_problem(stack.get(f"/specs/{uuid.uuid4()}/history"), 404, "not-found")


def test_history_malformed_id_is_400(stack):
    assert_problem(stack.get("/specs/xyz/history"), 400, "bad-request")


# ---------------------------------------------------------------- content

CD_RE = re.compile(r'^attachment;\s*filename="([^"]+)"$')


def test_content_latest_and_by_revision(stack, project):
    title = unique("content")
    r1 = specgen.openapi(title, description="first")
    r2 = specgen.openapi(title, description="second")
    up1 = upload(stack, r1, filename="first.yaml", project_id=project["id"])
    upload(stack, r2, filename="second.yaml", project_id=project["id"])
    sid = up1["id"]

    latest = stack.get(f"/specs/{sid}/content")
    assert latest.status_code == 200, describe(latest)
    assert_request_id(latest)
    assert latest.headers.get("Content-Type", "").split(";")[0].strip() == "application/yaml"
    assert latest.content == r2
    m = CD_RE.match(latest.headers.get("Content-Disposition", ""))
    assert m, f"Content-Disposition: {latest.headers.get('Content-Disposition')!r}"
    assert m.group(1) == "second.yaml"

    one = stack.get(f"/specs/{sid}/content?revision=1")
    assert one.status_code == 200, describe(one)
    assert one.content == r1
    m = CD_RE.match(one.headers.get("Content-Disposition", ""))
    assert m and m.group(1) == "first.yaml", one.headers.get("Content-Disposition")

    two = stack.get(f"/specs/{sid}/content?revision=2")
    assert two.status_code == 200 and two.content == r2


def test_content_is_exact_bytes(stack, project):
    # CRLF, a BOM-less UTF-8 title, comments and trailing spaces survive byte for byte
    title = unique("bytes") + " ✓ ü"
    data = specgen.openapi(title).replace(b"\n", b"\r\n") + b"# trailing comment   \r\n"
    up = upload(stack, data, project_id=project["id"])
    assert up["name"] == title
    got = stack.get(f"/specs/{up['id']}/content")
    assert got.status_code == 200 and got.content == data


def test_content_missing_revision_is_404(stack, project):
    up = upload(stack, specgen.openapi(unique("c404")), project_id=project["id"])
    assert_problem(stack.get(f"/specs/{up['id']}/content?revision=99"), 404, "not-found")


@pytest.mark.parametrize("rev", ["abc", "0", "-1", "1.5", "", "99999999999999999999"],
                         ids=["word", "zero", "negative", "fraction", "empty", "huge"])
def test_content_bad_revision_is_400(stack, project, rev):
    up = upload(stack, specgen.openapi(unique("c400")), project_id=project["id"])
    assert_problem(stack.get(f"/specs/{up['id']}/content?revision={rev}"), 400, "bad-request")


def test_content_unknown_spec_is_404(stack):
    assert_problem(stack.get(f"/specs/{uuid.uuid4()}/content"), 404, "not-found")
    assert_problem(stack.get(f"/specs/{uuid.uuid4()}/content?revision=1"), 404, "not-found")


def test_content_malformed_id_is_400(stack):
    assert_problem(stack.get("/specs/nope/content"), 400, "bad-request")


# ---------------------------------------------------------------- delete

def test_delete_spec(stack, project):
    title = unique("del")
    up = upload(stack, specgen.openapi(title), project_id=project["id"])
    upload(stack, specgen.openapi(title, description="2"), project_id=project["id"])
    resp = stack.delete(f"/specs/{up['id']}")
    assert resp.status_code == 204, describe(resp)
    assert resp.content == b""
    assert_request_id(resp)
    assert_problem(stack.get(f"/specs/{up['id']}"), 404, "not-found")
    assert_problem(stack.get(f"/specs/{up['id']}/history"), 404, "not-found")
    assert_problem(stack.get(f"/specs/{up['id']}/content"), 404, "not-found")
    assert_problem(stack.delete(f"/specs/{up['id']}"), 404, "not-found")
    assert up["id"] not in {s["id"] for s in list_specs(stack)}
    # the name is free again: a new upload starts a new spec at revision 1
    again = upload(stack, specgen.openapi(title), project_id=project["id"])
    assert again["id"] != up["id"] and again["revision"] == 1


def test_delete_unknown_spec_is_404(stack):
    assert_problem(stack.delete(f"/specs/{uuid.uuid4()}"), 404, "not-found")


def test_delete_malformed_spec_id_is_400(stack):
    assert_problem(stack.delete("/specs/not-a-uuid"), 400, "bad-request")


def test_deleting_project_deletes_its_specs(stack):
    project = make_project(stack)
    ups = [upload(stack, specgen.openapi(unique("pdel")), project_id=project["id"])
           for _ in range(2)]
    resp = stack.delete(f"/projects/{project['id']}")
    assert resp.status_code == 204, describe(resp)
    for up in ups:
        assert_problem(stack.get(f"/specs/{up['id']}"), 404, "not-found")
        assert_problem(stack.get(f"/specs/{up['id']}/content"), 404, "not-found")
    listed = {s["id"] for s in list_specs(stack)}
    assert not listed & {u["id"] for u in ups}
    assert_problem(stack.get(f"/projects/{project['id']}/specs"), 404, "not-found")
