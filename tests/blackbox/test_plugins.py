"""Plugins: POST/GET /plugins, GET /plugins/{name}, GET/DELETE /plugins/{name}/{version},
GET /plugins/{name}/{version}/download against the contract, NOTES.md and docs/api-decisions.md."""
import hashlib
import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from harness import assert_json, assert_problem, assert_request_id, describe
from schema import UTC_Z_RE, assert_schema, assert_schema_list

MiB = 1 << 20
WASM_MAGIC = b"\0asm\x01\x00\x00\x00"


def unique(prefix="p"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def leb128(n):
    out = bytearray()
    while True:
        b = n & 0x7f
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def custom_section(name, content_len):
    """The header of a WebAssembly custom section whose content (after the name) is
    content_len bytes long."""
    body = leb128(len(name)) + name
    return b"\x00" + leb128(len(body) + content_len) + body


def wasm(payload=b""):
    """A minimal module the registry must accept as WebAssembly: magic, version 1 and one
    custom section carrying payload (so every upload differs)."""
    payload = payload or uuid.uuid4().bytes
    return WASM_MAGIC + custom_section(b"t", len(payload)) + payload


def ts(value):
    assert isinstance(value, str) and UTC_Z_RE.match(value), \
        f"timestamp {value!r} is not RFC 3339 UTC ending in Z"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def post_plugin(stack, name=None, version="1.0.0", ptype="middleware", file=None,
                omit=(), filename="plugin.wasm", **extra):
    """POST /plugins as multipart; `omit` drops required fields, `extra` adds text fields."""
    fields = {"name": unique() if name is None else name, "version": version, "type": ptype}
    fields.update(extra)
    data = {k: v for k, v in fields.items() if k not in omit and v is not None}
    files = {}
    if "file" not in omit:
        files["file"] = (filename, wasm() if file is None else file, "application/wasm")
    else:
        # keep the request multipart even without a file part
        files["_pad"] = (None, "x")
    return stack.post("/plugins", data=data, files=files, timeout=60)


def register(stack, name=None, version="1.0.0", ptype="middleware", file=None, **extra):
    name = unique() if name is None else name
    content = wasm() if file is None else file
    resp = post_plugin(stack, name=name, version=version, ptype=ptype, file=content, **extra)
    body = assert_json(resp, 201)
    assert_schema(body, "Plugin")
    return body


def locations(problem):
    return [e.get("location") for e in problem.get("errors") or []]


def assert_field_error(resp, field):
    body = assert_problem(resp, 400, "bad-request")
    assert isinstance(body.get("errors"), list) and body["errors"], \
        f"expected a non-empty errors[]: {body}"
    assert f"/{field}" in locations(body), \
        f"errors[].location should name the field /{field}: {body['errors']}"
    return body


# ---------------------------------------------------------------- register

def test_register_returns_201_with_plugin(stack):
    name, content = unique(), wasm(b"\x00\x01\x02 some module bytes")
    resp = post_plugin(stack, name=name, version="1.2.3", ptype="dispatcher", file=content)
    body = assert_json(resp, 201)
    assert_schema(body, "Plugin")
    assert body["name"] == name
    assert body["version"] == "1.2.3"
    assert body["plugin_type"] == "dispatcher"
    assert "description" in body and body["description"] is None, \
        "nullable description must be present (null) when absent"
    assert body["capabilities"] == []
    assert body["config_schema"] == {}
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    registered = ts(body["registered_at"])
    assert abs((datetime.now(timezone.utc) - registered).total_seconds()) < 300


def test_register_has_location_of_the_plugin(stack):
    name = unique()
    resp = post_plugin(stack, name=name, version="2.0.0")
    body = assert_json(resp, 201)
    loc = resp.headers.get("Location")
    assert loc, f"201 without Location: {describe(resp)}"
    assert loc.rstrip("/").endswith(f"/plugins/{name}/2.0.0"), f"Location {loc!r}"
    target = urlsplit(urljoin(stack.base_url + "/", loc))
    got = assert_json(stack.get(target.path), 200)
    assert got == body


def test_register_with_all_optional_fields(stack):
    caps = ["body_access", "http_client", "kv_store"]
    cfg = {"type": "object", "properties": {"header": {"type": "string"}},
           "required": ["header"]}
    body = register(stack, ptype="middleware", description="adds a header, ✓ ü",
                    capabilities=json.dumps(caps), config_schema=json.dumps(cfg))
    assert body["plugin_type"] == "middleware"
    assert body["description"] == "adds a header, ✓ ü"
    assert body["capabilities"] == caps
    assert body["config_schema"] == cfg


def test_register_empty_capabilities_and_schema(stack):
    body = register(stack, capabilities="[]", config_schema="{}")
    assert body["capabilities"] == []
    assert body["config_schema"] == {}


@pytest.mark.parametrize("version", ["1.0.0-alpha.1+build.5", "0.0.0", "10.20.30",
                                     "1.0.0-rc.1", "1.0.0+20130313144700", "1.0.0-0.3.7",
                                     "1.0.0-x-y-z.--", "1.0.0+001", "1.0.0-0A.is.legal",
                                     "1.1.2-prerelease+meta", "2.0.0+build.1848",
                                     "1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay"])
def test_register_valid_semver_accepted(stack, version):
    body = register(stack, version=version)
    assert body["version"] == version


def test_get_version_with_build_metadata(stack):
    name = unique()
    register(stack, name=name, version="1.0.0-alpha.1+build.5")
    for path_version in ("1.0.0-alpha.1%2Bbuild.5", "1.0.0-alpha.1+build.5"):
        got = assert_json(stack.get(f"/plugins/{name}/{path_version}"), 200)
        assert got["version"] == "1.0.0-alpha.1+build.5"


@pytest.mark.parametrize("name", ["a", "0", "a-b-c", "x" * 64, "9lives", "a-"])
def test_register_valid_names_accepted(stack, name):
    # names are global; make each one unique by version
    version = f"0.0.{uuid.uuid4().int % 10**9}"
    body = register(stack, name=name, version=version)
    assert body["name"] == name


@pytest.mark.parametrize("field", ["name", "version", "type", "file"])
def test_register_missing_required_field_is_400(stack, field):
    resp = post_plugin(stack, omit=(field,))
    assert_field_error(resp, field)


@pytest.mark.parametrize("name", ["Auth", "AUTH-JWT", "-leading", "a" * 65, "has_underscore",
                                  "has space", "dot.name", "ü-plugin", ""],
                         ids=["uppercase", "all-upper", "leading-dash", "65-chars", "underscore",
                              "space", "dot", "non-ascii", "empty"])
def test_register_bad_name_is_400(stack, name):
    resp = post_plugin(stack, name=name)
    assert_field_error(resp, "name")


@pytest.mark.parametrize("version", ["1.0", "01.0.0", "1.0.0-", "v1.0.0", "1.0.0.0", "1",
                                     "1.01.0", "1.0.0-01", "1.0.0+", "1.0.0-a..b", "a.b.c",
                                     " 1.0.0", "", "1.0.0-alpha_beta", "1.0.0+beta+gamma",
                                     "-1.0.0", "1.0.0 ", "1.2.3-0123", "+invalid",
                                     "1.0.0-alpha..1", "1.2.3.DEV", "1.2-SNAPSHOT"])
def test_register_bad_version_is_400(stack, version):
    resp = post_plugin(stack, version=version)
    assert_field_error(resp, "version")


@pytest.mark.parametrize("ptype", ["other", "Middleware", "dispatchers", ""])
def test_register_bad_type_is_400(stack, ptype):
    resp = post_plugin(stack, ptype=ptype)
    assert_field_error(resp, "type")


@pytest.mark.parametrize("content", [b"this is plain text, not a module",
                                     b"\0asm\x02\x00\x00\x00rest-of-module",
                                     b"\0as",
                                     b"\0asm",
                                     b"\x7fELF\x02\x01\x01\x00\x00\x00"],
                         ids=["text", "wasm-version-2", "3-bytes", "magic-only", "elf"])
def test_register_file_not_wasm_is_400(stack, content):
    resp = post_plugin(stack, file=content)
    assert_field_error(resp, "file")


@pytest.mark.parametrize("caps", ["[oops", '{"a": 1}', '"body_access"', '["a", 1]', "42",
                                  '[["a"]]', "null"],
                         ids=["not-json", "object", "string", "number-item", "number",
                              "nested-array", "null"])
def test_register_bad_capabilities_is_400(stack, caps):
    resp = post_plugin(stack, capabilities=caps)
    assert_field_error(resp, "capabilities")


@pytest.mark.parametrize("cfg", ["{", "[]", '"schema"', "12", "null", '{"a": }'],
                         ids=["not-json", "array", "string", "number", "null", "broken-object"])
def test_register_bad_config_schema_is_400(stack, cfg):
    resp = post_plugin(stack, config_schema=cfg)
    assert_field_error(resp, "config_schema")


def test_register_description_over_4096_is_400(stack):
    # decisions: descriptions <= 4096
    assert register(stack, description="d" * 4096)["description"] == "d" * 4096
    resp = post_plugin(stack, description="d" * 4097)
    assert_field_error(resp, "description")


def test_register_description_limit_counts_characters(stack):
    # decisions: descriptions <= 4096 (characters, as for projects and init)
    text = "é" * 4095 + "✓"
    assert register(stack, description=text)["description"] == text
    assert_field_error(post_plugin(stack, description="é" * 4097), "description")


@pytest.mark.parametrize("field,value", [
    ("description", b"bad \xff\xfe utf-8"), ("description", b"nul \x00 byte"),
    ("name", b"ab\xffc"), ("version", b"1.0.0-\xff"), ("capabilities", b'["\xff"]'),
    ("config_schema", b'{"a": "\xff"}'),
], ids=["desc-bad-utf8", "desc-nul", "name-bad-utf8", "version-bad-utf8", "caps-bad-utf8",
        "schema-bad-utf8"])
def test_register_bad_bytes_in_text_fields_is_400(stack, field, value):
    resp = post_plugin(stack, **{field: value})
    assert_field_error(resp, field)


def test_register_same_field_twice_is_400(stack):
    resp = stack.post("/plugins", data=[("name", unique()), ("name", unique()),
                                        ("version", "1.0.0"), ("type", "middleware")],
                      files={"file": ("p.wasm", wasm(), "application/wasm")})
    assert_problem(resp, 400, "bad-request")


@pytest.mark.parametrize("ctype,raw", [
    ("multipart/form-data",
     b"--x\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\na\r\n--x--\r\n"),
    ("multipart/form-data; boundary=xx",
     b"--xx\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nabc"),
], ids=["no-boundary", "truncated"])
def test_register_malformed_multipart_is_400(stack, ctype, raw):
    resp = stack.post("/plugins", data=raw, headers={"Content-Type": ctype})
    assert_problem(resp, 400, "bad-request")


def test_concurrent_duplicate_registrations_yield_one(stack):
    name = unique("race")
    content = wasm()

    def one(_):
        return requests.post(stack.url("/plugins"),
                             headers={"Authorization": f"Bearer {stack.token}"},
                             data={"name": name, "version": "1.0.0", "type": "middleware"},
                             files={"file": ("p.wasm", content, "application/wasm")}, timeout=30)
    with ThreadPoolExecutor(max_workers=6) as pool:
        resps = list(pool.map(one, range(6)))
    codes = sorted(r.status_code for r in resps)
    assert codes == [201] + [409] * 5, f"statuses {codes}"
    for r in resps:
        if r.status_code == 409:
            assert_problem(r, 409, "conflict")
    assert len(assert_json(stack.get(f"/plugins/{name}"), 200)) == 1


def test_register_invalid_creates_nothing(stack):
    name = unique()
    resp = post_plugin(stack, name=name, version="1.0")
    assert_problem(resp, 400, "bad-request")
    assert_problem(stack.get(f"/plugins/{name}"), 404, "not-found")


def test_register_json_body_is_415(stack):
    resp = stack.post("/plugins", json={"name": unique(), "version": "1.0.0",
                                        "type": "middleware", "file": "AGFzbQEAAAA="})
    assert_problem(resp, 415, "unsupported-media-type")


def test_register_urlencoded_body_is_415(stack):
    resp = stack.post("/plugins", data={"name": unique(), "version": "1.0.0",
                                        "type": "middleware"})
    assert resp.request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert_problem(resp, 415, "unsupported-media-type")


def test_register_duplicate_name_version_is_409(stack):
    name = unique()
    first = register(stack, name=name, version="1.0.0")
    resp = post_plugin(stack, name=name, version="1.0.0", ptype="dispatcher", file=wasm(b"other"))
    assert_problem(resp, 409, "conflict")
    # the first registration is untouched
    got = assert_json(stack.get(f"/plugins/{name}/1.0.0"), 200)
    assert got == first


def test_register_same_name_other_version_is_201(stack):
    name = unique()
    register(stack, name=name, version="1.0.0")
    register(stack, name=name, version="1.0.1")


# ---------------------------------------------------------------- versions and ordering

def test_versions_sorted_by_semver(stack):
    name = unique()
    for v in ["0.9.0", "0.10.0", "0.2.0", "1.0.0-rc.1", "1.0.0", "1.0.0-alpha"]:
        register(stack, name=name, version=v)
    resp = stack.get(f"/plugins/{name}")
    items = assert_json(resp, 200)
    assert_schema_list(items, "Plugin")
    assert [p["version"] for p in items] == \
        ["0.2.0", "0.9.0", "0.10.0", "1.0.0-alpha", "1.0.0-rc.1", "1.0.0"]
    assert all(p["name"] == name for p in items)


def test_versions_prerelease_precedence(stack):
    # semver.org §11: 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta < 1.0.0-beta
    #                 < 1.0.0-beta.2 < 1.0.0-beta.11 < 1.0.0-rc.1 < 1.0.0
    name = unique()
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
               "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "2.0.0", "10.0.0"]
    for v in reversed(ordered):
        register(stack, name=name, version=v)
    items = assert_json(stack.get(f"/plugins/{name}"), 200)
    assert [p["version"] for p in items] == ordered


def test_list_versions_unknown_plugin_is_404(stack):
    assert_problem(stack.get(f"/plugins/{unique('missing')}"), 404, "not-found")


def test_get_version(stack):
    created = register(stack, version="3.1.4", description="pi")
    resp = stack.get(f"/plugins/{created['name']}/3.1.4")
    body = assert_json(resp, 200)
    assert_schema(body, "Plugin")
    assert body == created


def test_get_unknown_version_is_404(stack):
    created = register(stack, version="1.0.0")
    assert_problem(stack.get(f"/plugins/{created['name']}/1.0.1"), 404, "not-found")


def test_get_unknown_name_is_404(stack):
    assert_problem(stack.get(f"/plugins/{unique('missing')}/1.0.0"), 404, "not-found")


# ---------------------------------------------------------------- list and filters

def test_list_items_are_plugins(stack):
    created = register(stack, ptype="dispatcher", capabilities='["x"]')
    items = assert_json(stack.get("/plugins"), 200)
    assert_schema_list(items, "Plugin")
    matches = [p for p in items if p["name"] == created["name"]]
    assert matches == [created]


def test_list_filters_on_fresh_registry(make_stack):
    s = make_stack(registries=1)
    assert assert_json(s.get("/plugins"), 200) == []
    made = {}
    for name, ptype in [("auth-jwt", "middleware"), ("auth-basic", "middleware"),
                        ("rate-limit", "middleware"), ("http-upstream", "dispatcher"),
                        ("mock", "dispatcher")]:
        made[name] = register(s, name=name, ptype=ptype)
    register(s, name="auth-jwt", version="0.9.0")

    everything = assert_json(s.get("/plugins"), 200)
    assert_schema_list(everything, "Plugin")
    assert len(everything) == 6
    # decisions: every version of every plugin, by name then semantic version
    assert [(p["name"], p["version"]) for p in everything] == [
        ("auth-basic", "1.0.0"), ("auth-jwt", "0.9.0"), ("auth-jwt", "1.0.0"),
        ("http-upstream", "1.0.0"), ("mock", "1.0.0"), ("rate-limit", "1.0.0")]

    mw = assert_json(s.get("/plugins", params={"type": "middleware"}), 200)
    assert_schema_list(mw, "Plugin")
    assert sorted(p["name"] for p in mw) == ["auth-basic", "auth-jwt", "auth-jwt", "rate-limit"]
    assert all(p["plugin_type"] == "middleware" for p in mw)
    dp = assert_json(s.get("/plugins", params={"type": "dispatcher"}), 200)
    assert sorted(p["name"] for p in dp) == ["http-upstream", "mock"]

    auth = assert_json(s.get("/plugins", params={"name": "auth"}), 200)
    assert sorted({p["name"] for p in auth}) == ["auth-basic", "auth-jwt"]
    assert len(auth) == 3
    # a prefix match, not a substring match
    assert assert_json(s.get("/plugins", params={"name": "limit"}), 200) == []
    assert [p["name"] for p in assert_json(s.get("/plugins", params={"name": "rate"}), 200)] \
        == ["rate-limit"]
    assert [p["name"] for p in
            assert_json(s.get("/plugins", params={"name": "mock"}), 200)] == ["mock"]
    # combined filters
    both = assert_json(s.get("/plugins", params={"name": "auth", "type": "dispatcher"}), 200)
    assert both == []


def test_list_name_filter_treats_wildcards_literally(stack):
    prefix = unique("wc")
    register(stack, name=f"{prefix}-a")
    for pattern in ["%", "_", f"{prefix}%", f"{prefix[:-1]}_"]:
        got = assert_json(stack.get("/plugins", params={"name": pattern}), 200)
        assert got == [], f"name={pattern!r} should match nothing literally: {got}"


# ---------------------------------------------------------------- download

def test_download_returns_exact_bytes(stack):
    content = wasm(bytes(range(256)) * 40)
    created = register(stack, version="1.0.0-beta.2", file=content)
    name = created["name"]
    resp = stack.get(f"/plugins/{name}/1.0.0-beta.2/download")
    assert resp.status_code == 200, describe(resp)
    assert_request_id(resp)
    assert resp.headers.get("Content-Type", "").split(";")[0].strip() == "application/wasm"
    cd = resp.headers.get("Content-Disposition", "")
    assert re.match(r'^attachment;\s*filename="' + re.escape(f"{name}-1.0.0-beta.2.wasm") + '"',
                    cd), f"Content-Disposition {cd!r}"
    assert resp.content == content
    assert hashlib.sha256(resp.content).hexdigest() == created["sha256"]


def test_multipart_tricky_content_round_trips(stack):
    # bytes that look like multipart syntax, CR/LF runs, NULs and high bytes inside the file
    tricky = (b"\r\n--\r\n--boundary\r\n\r\n--" + b"\r\n" * 50 + b"\x00" * 100
              + b'Content-Disposition: form-data; name="name"\r\n\r\nevil\r\n'
              + bytes(range(256)) + b"--\r\n" + b"\xff" * 300 + b"\r")
    content = wasm(tricky)
    created = register(stack, file=content)
    dl = stack.get(f"/plugins/{created['name']}/1.0.0/download")
    assert dl.status_code == 200, describe(dl)
    assert dl.content == content
    assert created["sha256"] == hashlib.sha256(content).hexdigest()


def test_smallest_module_is_accepted(stack):
    created = register(stack, file=WASM_MAGIC)
    assert created["sha256"] == hashlib.sha256(WASM_MAGIC).hexdigest()
    dl = stack.get(f"/plugins/{created['name']}/1.0.0/download")
    assert dl.content == WASM_MAGIC


def test_file_part_before_text_fields(stack):
    name = unique()
    content = wasm(b"file-first")
    boundary = "b" + uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"x.wasm\"\r\nContent-Type: application/wasm\r\n\r\n").encode() + content
    for k, v in (("type", "dispatcher"), ("version", "4.5.6"), ("name", name),
                 ("description", "after the file")):
        body += (f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n"
                 f"{v}").encode()
    body += f"\r\n--{boundary}--\r\n".encode()
    resp = stack.post("/plugins", data=body,
                      headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    created = assert_json(resp, 201)
    assert (created["name"], created["version"], created["plugin_type"], created["description"]) \
        == (name, "4.5.6", "dispatcher", "after the file")
    assert created["sha256"] == hashlib.sha256(content).hexdigest()


def test_download_unknown_is_404(stack):
    created = register(stack)
    assert_problem(stack.get(f"/plugins/{created['name']}/9.9.9/download"), 404, "not-found")
    assert_problem(stack.get(f"/plugins/{unique('missing')}/1.0.0/download"), 404, "not-found")


# ---------------------------------------------------------------- delete

def test_delete_then_get_and_delete_again_are_404(stack):
    created = register(stack, version="1.0.0")
    name = created["name"]
    register(stack, name=name, version="2.0.0")
    resp = stack.delete(f"/plugins/{name}/1.0.0")
    assert resp.status_code == 204, describe(resp)
    assert resp.content == b"", f"204 must have no body: {resp.content[:200]!r}"
    assert_request_id(resp)
    assert_problem(stack.get(f"/plugins/{name}/1.0.0"), 404, "not-found")
    assert_problem(stack.get(f"/plugins/{name}/1.0.0/download"), 404, "not-found")
    assert_problem(stack.delete(f"/plugins/{name}/1.0.0"), 404, "not-found")
    remaining = assert_json(stack.get(f"/plugins/{name}"), 200)
    assert [p["version"] for p in remaining] == ["2.0.0"]
    listed = [(p["name"], p["version"]) for p in assert_json(stack.get("/plugins"), 200)]
    assert (name, "1.0.0") not in listed and (name, "2.0.0") in listed


def test_delete_last_version_makes_plugin_unknown(stack):
    created = register(stack, version="1.0.0")
    assert stack.delete(f"/plugins/{created['name']}/1.0.0").status_code == 204
    assert_problem(stack.get(f"/plugins/{created['name']}"), 404, "not-found")
    names = [p["name"] for p in assert_json(stack.get("/plugins"), 200)]
    assert created["name"] not in names


def test_delete_unknown_is_404(stack):
    assert_problem(stack.delete(f"/plugins/{unique('missing')}/1.0.0"), 404, "not-found")


def test_delete_then_register_again(stack):
    created = register(stack, version="1.0.0")
    assert stack.delete(f"/plugins/{created['name']}/1.0.0").status_code == 204
    again = register(stack, name=created["name"], version="1.0.0", file=wasm(b"new build"))
    assert again["sha256"] != created["sha256"]


def test_delete_referenced_by_artifact_is_409(stack, pg):
    # compiler-svc records every artifact's plugins in the artifact_plugins link table
    # (test_compile covers it end to end). Write the rows as it does: the registry must refuse.
    created = register(stack, version="2.0.0")
    artifact = str(uuid.uuid4())
    pg.psql("INSERT INTO artifacts (id, project_id, manifest, sha256, size_bytes, artifact_hash,"
            " artifact_format, compiler_version, compiled_at, content) VALUES"
            f" ('{artifact}', gen_random_uuid(), '{{}}', 'x', 0, 'sha256:x', 6, 't', now(), '')",
            dbname=stack.dbname)
    pg.psql("INSERT INTO artifact_plugins (artifact_id, plugin_name, plugin_version) "
            f"VALUES ('{artifact}', '{created['name']}', '2.0.0')", dbname=stack.dbname)
    path = f"/plugins/{created['name']}/2.0.0"
    assert_problem(stack.delete(path), 409, "conflict")
    assert_json(stack.get(path), 200)  # still there
    pg.psql(f"DELETE FROM artifact_plugins WHERE artifact_id = '{artifact}'", dbname=stack.dbname)
    assert stack.delete(path).status_code == 204


# ---------------------------------------------------------------- size limits

class MultipartStream:
    """A multipart/form-data body streamed from small pieces: fields, then a `file` part of
    WASM magic + `zeros` zero bytes. Has a length, so it is sent with Content-Length, and never
    holds the large file in memory."""

    def __init__(self, fields, zeros, chunked=False):
        self.boundary = "bbtest" + uuid.uuid4().hex
        head = b""
        for k, v in fields.items():
            head += (f"--{self.boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n"
                     f"{v}\r\n").encode()
        head += (f"--{self.boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                 f"filename=\"big.wasm\"\r\nContent-Type: application/wasm\r\n\r\n").encode()
        module_head = WASM_MAGIC + custom_section(b"big", zeros)
        head += module_head
        tail = f"\r\n--{self.boundary}--\r\n".encode()
        self.pieces = [head, zeros, tail]
        self.total = len(head) + zeros + len(tail)
        self.i = self.off = 0
        self.zero_block = bytes(MiB)
        sha = hashlib.sha256(module_head)
        left = zeros
        while left:
            n = min(left, MiB)
            sha.update(self.zero_block[:n])
            left -= n
        self.file_sha256 = sha.hexdigest()
        self.file_size = len(module_head) + zeros

    @property
    def content_type(self):
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self):
        return self.total

    def read(self, n=-1):
        if n is None or n < 0:
            n = self.total
        out = []
        while n > 0 and self.i < len(self.pieces):
            piece = self.pieces[self.i]
            plen = piece if isinstance(piece, int) else len(piece)
            take = min(n, plen - self.off, MiB)
            out.append(self.zero_block[:take] if isinstance(piece, int)
                       else piece[self.off:self.off + take])
            self.off += take
            n -= take
            if self.off == plen:
                self.i += 1
                self.off = 0
        return b"".join(out)

    def chunks(self):
        while True:
            block = self.read(MiB)
            if not block:
                return
            yield block


def test_plugin_of_60_mib_is_accepted(stack):
    name = unique("big")
    body = MultipartStream({"name": name, "version": "1.0.0", "type": "dispatcher"},
                           60 * MiB - len(WASM_MAGIC))
    resp = stack.post("/plugins", data=body, headers={"Content-Type": body.content_type},
                      timeout=120)
    created = assert_json(resp, 201)
    assert_schema(created, "Plugin")
    assert created["sha256"] == body.file_sha256
    dl = stack.get(f"/plugins/{name}/1.0.0/download", timeout=120, stream=True)
    assert dl.status_code == 200, describe(dl)
    sha, size = hashlib.sha256(), 0
    for block in dl.iter_content(MiB):
        sha.update(block)
        size += len(block)
    assert size == body.file_size
    assert sha.hexdigest() == body.file_sha256


def test_plugin_body_of_exactly_64_mib_is_accepted(stack):
    # "larger -> 413": a request body of exactly the limit is not larger
    name = unique("edge")
    fields = {"name": name, "version": "1.0.0", "type": "dispatcher"}
    # boundaries all have the same length; the section header's size field is 4 bytes for
    # any size near 64 MiB
    overhead = MultipartStream(fields, 60 * MiB).total - 60 * MiB
    body = MultipartStream(fields, 64 * MiB - overhead)
    assert body.total == 64 * MiB, body.total
    resp = stack.post("/plugins", data=body, headers={"Content-Type": body.content_type},
                      timeout=120)
    created = assert_json(resp, 201)
    assert created["sha256"] == body.file_sha256


def test_plugin_over_64_mib_is_413(stack):
    name = unique("huge")
    body = MultipartStream({"name": name, "version": "1.0.0", "type": "dispatcher"},
                           64 * MiB + 1)
    resp = stack.post("/plugins", data=body, headers={"Content-Type": body.content_type},
                      timeout=120)
    assert_problem(resp, 413, "payload-too-large")
    assert_problem(stack.get(f"/plugins/{name}/1.0.0"), 404, "not-found")


def test_plugin_over_64_mib_chunked_is_413(stack):
    # No Content-Length: the limit must hold while the body streams in.
    name = unique("huge")
    body = MultipartStream({"name": name, "version": "1.0.0", "type": "dispatcher"},
                           64 * MiB + 1)
    resp = stack.post("/plugins", data=body.chunks(),
                      headers={"Content-Type": body.content_type}, timeout=120)
    assert "Content-Length" not in resp.request.headers
    assert_problem(resp, 413, "payload-too-large")
    assert_problem(stack.get(f"/plugins/{name}/1.0.0"), 404, "not-found")


# ---------------------------------------------------------------- the embedded manifest

def manifest_module(toml_text, extra=b""):
    """A module whose barbacane_manifest custom section holds toml_text (as the SDK embeds
    plugin.toml), after another custom section."""
    body = toml_text.encode()
    return wasm(extra or b"code") + custom_section(b"barbacane_manifest", len(body)) + body


def test_embedded_manifest_capabilities_are_stored(stack):
    name = unique("manifested")
    toml_text = (f'[plugin]\nname = "{name}"\nversion = "1.2.0"\ntype = "middleware"\n'
                 'wasm = "x.wasm"\n\n[capabilities]\nhost_functions = ["log", "context_get"]\n'
                 'body_access = true\n')
    created = register(stack, name=name, version="1.2.0", file=manifest_module(toml_text))
    assert created["embedded_manifest"] == {"body_access": True,
                                            "host_functions": ["log", "context_get"]}
    plain = register(stack, version="1.0.0")
    assert plain["embedded_manifest"] is None


def test_embedded_manifest_must_agree_with_the_form(stack):
    name = unique("liar")
    toml_text = f'[plugin]\nname = "{name}"\nversion = "9.9.9"\ntype = "middleware"\n'
    resp = post_plugin(stack, name=name, version="1.0.0", file=manifest_module(toml_text))
    body = assert_field_error(resp, "file")
    assert "version" in body["detail"]


@pytest.mark.parametrize("module", [
    WASM_MAGIC + b"\x00\x10short",                      # a section running past the end
    WASM_MAGIC + b"\x00\xff\xff\xff\xff\xff\x01x",      # a size LEB128 over 32 bits
    WASM_MAGIC + custom_section(b"barbacane_manifest", 9) + b"[plugin\n=",  # not TOML
], ids=["truncated", "leb-overflow", "bad-toml"])
def test_malformed_modules_are_400(stack, module):
    assert_field_error(post_plugin(stack, file=module), "file")
