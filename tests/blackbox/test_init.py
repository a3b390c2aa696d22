"""Init: POST /init generates barbacane.yaml, api.yaml and .gitignore from a template (contract,
NOTES.md, docs/api-decisions.md). Nothing is persisted."""
import json
import random
import re
import uuid

import pytest
import yaml

from harness import assert_json, assert_problem, describe
from schema import assert_schema

EXPECTED_FILES = {"barbacane.yaml", "api.yaml", ".gitignore"}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

HOSTILE_NAMES = [
    "a: b #c",
    "multi\nline: yes",
    "quote \" and ' and \\ backslash",
    "{[&*!|>%@`",
    "- item",
    "null",
    "123",
    "true",
    "~",
    "1.0",
    "--- start",
    "... end",
    "!!binary AAAA",
    "&anchor *alias",
    "%YAML 1.2",
    "tab\there",
    "ünïcødé ✓ 🚀 API",
    "bell \x07 and escape \x1b",
    "line\u2028separator",
    "#not a comment",
    "'single quoted'",
    '"double quoted"',
    "trailing colon:",
    "{{ template }} ${var} $(cmd)",
]
HOSTILE_IDS = ["colon-hash", "newline", "quotes-backslash", "flow-indicators", "dash-item",
               "null", "int", "bool", "tilde", "float", "doc-start", "doc-end", "tag", "anchor",
               "directive", "tab", "unicode", "control-chars", "line-separator", "hash",
               "single-quoted", "double-quoted", "trailing-colon", "templating"]


def init(stack, **body):
    resp = stack.post("/init", json=body)
    result = assert_json(resp, 200)
    assert_schema(result, "InitResponse")
    return result


def files_of(result):
    files = result["files"]
    paths = [f["path"] for f in files]
    assert len(paths) == len(set(paths)), f"duplicate file paths {paths}"
    return {f["path"]: f["content"] for f in files}


def api_doc(result):
    content = files_of(result)["api.yaml"]
    try:
        doc = yaml.safe_load(content)
    except yaml.YAMLError as exc:
        raise AssertionError(f"generated api.yaml does not parse: {exc}\n{content}")
    assert isinstance(doc, dict), f"api.yaml root is not a mapping: {content[:500]}"
    return doc


def operations(doc):
    ops = []
    for path, item in (doc.get("paths") or {}).items():
        assert isinstance(item, dict), f"path item {path} is not a mapping"
        for method, op in item.items():
            if method in HTTP_METHODS:
                ops.append((path, method, op))
    return ops


def resolve_ref(doc, ref):
    assert ref.startswith("#/"), f"non-local $ref {ref!r}"
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"unresolvable $ref {ref!r}"
        node = node[part]
    return node


def all_refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from all_refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from all_refs(v)


def assert_dispatches_to_mock(doc):
    ops = operations(doc)
    assert ops, "no operations"
    for path, method, op in ops:
        dispatch = op.get("x-barbacane-dispatch")
        assert isinstance(dispatch, dict) and dispatch.get("name") == "mock", \
            f"{method.upper()} {path}: x-barbacane-dispatch {dispatch!r} does not name mock"


def upload_spec(stack, content):
    data = content.encode("utf-8") if isinstance(content, str) else content
    return stack.post("/specs", files={"file": ("api.yaml", data, "application/yaml")},
                      timeout=30)


# ---------------------------------------------------------------- basic template

def test_init_default_is_basic(stack):
    result = init(stack, name="My API")
    files = files_of(result)
    assert set(files) == EXPECTED_FILES, f"files: {sorted(files)}"
    assert len(result["files"]) == 3
    assert isinstance(result["next_steps"], list) and result["next_steps"]
    assert all(isinstance(s, str) and s.strip() for s in result["next_steps"])

    doc = api_doc(result)
    assert isinstance(doc.get("openapi"), str) and doc["openapi"].startswith("3."), \
        f"openapi: {doc.get('openapi')!r}"
    assert doc["info"]["title"] == "My API"
    assert doc["info"]["version"] == "1.0.0"

    paths = doc.get("paths") or {}
    health = [p for p in paths if "health" in p]
    assert health, f"no health path in {sorted(paths)}"
    assert "get" in paths[health[0]]

    collection = [p for p in paths if re.fullmatch(r"(/[^/]+)*/users", p)]
    item = [p for p in paths if re.fullmatch(r"(/[^/]+)*/users/\{[A-Za-z_][A-Za-z0-9_]*\}", p)]
    assert collection and item, f"no users CRUD in {sorted(paths)}"
    assert {"get", "post"} <= set(paths[collection[0]]), f"{collection[0]}: {paths[collection[0]]}"
    item_methods = set(paths[item[0]])
    assert "get" in item_methods and "delete" in item_methods and \
        ({"put", "patch"} & item_methods), f"{item[0]}: {sorted(item_methods)}"

    assert_dispatches_to_mock(doc)
    schemas = (doc.get("components") or {}).get("schemas")
    assert isinstance(schemas, dict) and schemas, "components.schemas missing or empty"


def test_basic_spec_is_self_consistent(stack):
    doc = api_doc(init(stack, name="Consistent API"))
    for ref in all_refs(doc):
        resolve_ref(doc, ref)
    op_ids = [op.get("operationId") for _, _, op in operations(doc) if op.get("operationId")]
    assert len(op_ids) == len(set(op_ids)), f"duplicate operationIds {op_ids}"
    # no unknown x-barbacane-* keys (E1015)
    known = {"x-barbacane-dispatch", "x-barbacane-middlewares", "x-barbacane-mcp"}

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                assert not (isinstance(k, str) and k.startswith("x-barbacane-")) or k in known, \
                    f"unknown extension {k}"
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(doc)


def test_explicit_basic_equals_default(stack):
    default = files_of(init(stack, name="Same API"))
    explicit = files_of(init(stack, name="Same API", template="basic"))
    assert yaml.safe_load(default["api.yaml"]) == yaml.safe_load(explicit["api.yaml"])
    assert set(default) == set(explicit)


def test_other_files_are_sensible(stack):
    files = files_of(init(stack, name="Files API"))
    cfg = yaml.safe_load(files["barbacane.yaml"])
    assert cfg is None or isinstance(cfg, (dict, list)), \
        f"barbacane.yaml: {files['barbacane.yaml']}"
    assert files["barbacane.yaml"].strip(), "barbacane.yaml is empty"
    assert files[".gitignore"].strip(), ".gitignore is empty"


# ---------------------------------------------------------------- minimal template

def test_init_minimal_has_only_health(stack):
    result = init(stack, name="Tiny", template="minimal")
    files = files_of(result)
    assert set(files) == EXPECTED_FILES
    assert result["next_steps"]
    doc = api_doc(result)
    assert doc["info"]["title"] == "Tiny"
    paths = doc.get("paths") or {}
    assert len(paths) == 1 and "health" in next(iter(paths)), f"paths: {sorted(paths)}"
    assert_dispatches_to_mock(doc)


def test_version_and_description_are_echoed(stack):
    result = init(stack, name="Versioned", version="2.3.4-beta.1",
                  description="An API that does things.")
    info = api_doc(result)["info"]
    assert info["version"] == "2.3.4-beta.1"
    assert info["description"] == "An API that does things."


def test_version_and_description_minimal(stack):
    info = api_doc(init(stack, name="V", template="minimal", version="0.0.1",
                        description="d"))["info"]
    assert info["version"] == "0.0.1" and info["description"] == "d"


@pytest.mark.parametrize("version", ["1.0", "2024-01-01", "1.0: x #y", "null", "\"v\"\n'1'"],
                         ids=["float-like", "date-like", "colon-hash", "null", "quotes-newline"])
def test_hostile_version_round_trips(stack, version):
    info = api_doc(init(stack, name="Ver API", version=version))["info"]
    assert info["version"] == version and isinstance(info["version"], str)


# ---------------------------------------------------------------- hostile text

@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=HOSTILE_IDS)
def test_hostile_name_round_trips(stack, name):
    result = init(stack, name=name)
    doc = api_doc(result)
    title = doc["info"]["title"]
    assert isinstance(title, str), f"title parsed as {type(title).__name__}: {title!r}"
    assert title == name
    cfg = files_of(result)["barbacane.yaml"]
    try:
        yaml.safe_load(cfg)
    except yaml.YAMLError as exc:
        raise AssertionError(f"barbacane.yaml does not parse for name {name!r}: {exc}\n{cfg}")


def test_random_unicode_text_round_trips(stack):
    # seeded fuzz over every plane (no surrogates): name, description and version round-trip
    rng = random.Random(20261122)
    for _ in range(60):
        text = "".join(chr(rng.choice([rng.randint(0x01, 0x7f), rng.randint(0x80, 0xd7ff),
                                       rng.randint(0xe000, 0x10ffff)]))
                       for _ in range(rng.randint(1, 24)))
        if not text.strip():
            continue
        version = text  # at most 24 characters: under the service's 64-character cap
        info = api_doc(init(stack, name=text, description=text, version=version))["info"]
        assert (info["title"], info["description"], info["version"]) == (text, text, version), \
            f"{text!r} did not round-trip: {info!r}"


def test_long_multibyte_name_round_trips(stack):
    # 150 characters (300 UTF-8 bytes): within the 200-character name limit the service states
    name = "ü" * 150
    assert api_doc(init(stack, name=name))["info"]["title"] == name


@pytest.mark.parametrize("name", HOSTILE_NAMES[:7], ids=HOSTILE_IDS[:7])
def test_hostile_name_minimal_round_trips(stack, name):
    doc = api_doc(init(stack, name=name, template="minimal"))
    assert doc["info"]["title"] == name


def test_leading_and_trailing_spaces_kept(stack):
    name = "  padded name  "
    assert api_doc(init(stack, name=name))["info"]["title"] == name


@pytest.mark.parametrize("description", [
    "line one\nline two: yes\n  # not a comment\n\ttabbed",
    "a: b #c\n- item\n---\n...",
    "quote \" and ' and \\ backslash\n{[&*!|>%@`",
    "\n\nleading and trailing newlines\n\n",
    "null",
], ids=["multiline", "yaml-syntax", "quotes", "newlines-at-ends", "null"])
def test_hostile_description_round_trips(stack, description):
    for template in ("basic", "minimal"):
        info = api_doc(init(stack, name="Desc API", template=template,
                            description=description))["info"]
        assert info["description"] == description, f"template {template}"


@pytest.mark.parametrize("name", HOSTILE_NAMES[:7] + ["ünïcødé ✓ 🚀 API", "tab\there"],
                         ids=HOSTILE_IDS[:7] + ["unicode", "tab"])
def test_generated_spec_is_accepted_by_spec_upload(stack, name):
    files = files_of(init(stack, name=name, description="desc: with\nnewline #x"))
    resp = upload_spec(stack, files["api.yaml"])
    body = assert_json(resp, 201)
    assert_schema(body, "UploadResponse")
    assert body["name"] == name


@pytest.mark.parametrize("template", ["basic", "minimal"])
def test_generated_templates_upload(stack, template):
    name = f"Upload {template} {uuid.uuid4().hex[:8]}"
    files = files_of(init(stack, name=name, template=template))
    body = assert_json(upload_spec(stack, files["api.yaml"]), 201)
    assert body["name"] == name
    assert body["revision"] == 1


@pytest.mark.parametrize("template", ["basic", "minimal"])
def test_generated_spec_compiles(stack, template):
    # NOTES: "the generated api.yaml must compile with this control plane once the mock
    # plugin is registered".
    from test_compile import register_plugin, verified, wait_done
    register_plugin(stack, "mock", "0.1.0", "dispatcher")
    files = files_of(init(stack, name=f"Compiles {template} {uuid.uuid4().hex[:8]}",
                          template=template))
    spec = assert_json(upload_spec(stack, files["api.yaml"]), 201)
    job = assert_json(stack.post(f"/specs/{spec['id']}/compile"), 202)
    done = wait_done(stack, job["id"])
    assert done["status"] == "succeeded", done["errors"]
    assert done["errors"] == []
    verified(stack, done["artifact_id"])


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize("template", ["advanced", "BASIC", "Minimal", "", " basic", 5, None,
                                      ["basic"]],
                         ids=["unknown", "upper", "capitalised", "empty", "space", "int", "null",
                              "array"])
def test_bad_template_is_400(stack, template):
    resp = stack.post("/init", json={"name": "T", "template": template})
    assert_problem(resp, 400, "bad-request")


@pytest.mark.parametrize("payload", [{}, {"template": "basic"}, {"name": ""}, {"name": "   "},
                                     {"name": "\n\t"}, {"name": 5}, {"name": None},
                                     {"name": ["x"]}, {"name": {"a": 1}}, {"name": True}],
                         ids=["empty", "no-name", "empty-name", "blank-name", "whitespace-name",
                              "int-name", "null-name", "array-name", "object-name", "bool-name"])
def test_bad_name_is_400(stack, payload):
    resp = stack.post("/init", json=payload)
    body = assert_problem(resp, 400, "bad-request")
    assert body.get("errors"), f"expected a non-empty errors[]: {body}"


@pytest.mark.parametrize("payload", [{"name": "X", "description": 5},
                                     {"name": "X", "version": 1.0},
                                     {"name": "X", "description": ["a"]},
                                     {"name": "X", "version": {"v": 1}}],
                         ids=["int-description", "float-version", "array-description",
                              "object-version"])
def test_wrongly_typed_optional_fields_are_400(stack, payload):
    assert_problem(stack.post("/init", json=payload), 400, "bad-request")


@pytest.mark.parametrize("raw", [b'{"name": ', b"name=x", b"[]", b'"My API"', b"null"],
                         ids=["truncated", "form", "array", "string", "null"])
def test_body_not_a_json_object_is_400(stack, raw):
    resp = stack.post("/init", data=raw, headers={"Content-Type": "application/json"})
    assert_problem(resp, 400, "bad-request")


def test_missing_body_is_400(stack):
    resp = stack.post("/init", data=b"", headers={"Content-Type": "application/json"})
    assert_problem(resp, 400, "bad-request")


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded",
                                   "application/yaml"])
def test_wrong_content_type_is_415(stack, ctype):
    resp = stack.post("/init", data=json.dumps({"name": "X"}), headers={"Content-Type": ctype})
    assert_problem(resp, 415, "unsupported-media-type")


def test_unknown_fields_are_ignored(stack):
    doc = api_doc(init(stack, name="Extra", colour="blue", nested={"a": [1]}))
    assert doc["info"]["title"] == "Extra"


def test_init_requires_admin_token(stack):
    resp = stack.post("/init", json={"name": "X"}, auth=False)
    assert_problem(resp, 401, "unauthorized")


def test_nothing_is_persisted(stack):
    specs_before = assert_json(stack.get("/specs"), 200)
    projects_before = assert_json(stack.get("/projects"), 200)
    name = f"Persist {uuid.uuid4().hex[:8]}"
    init(stack, name=name)
    init(stack, name=name, template="minimal")
    specs_after = assert_json(stack.get("/specs"), 200)
    projects_after = assert_json(stack.get("/projects"), 200)
    assert len(specs_after) == len(specs_before), describe(stack.get("/specs"))
    assert len(projects_after) == len(projects_before)
    assert name not in [s["name"] for s in specs_after]
    assert name not in [p["name"] for p in projects_after]
