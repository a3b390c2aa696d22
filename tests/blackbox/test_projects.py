"""Projects: GET/POST /projects, GET/PUT/DELETE /projects/{projectId} against the contract."""
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
import requests

from harness import assert_json, assert_problem, assert_request_id, describe
from schema import UTC_Z_RE, UUID_V4_LOWER_RE, assert_schema, assert_schema_list


def unique(prefix="proj"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def ts(value):
    assert isinstance(value, str) and UTC_Z_RE.match(value), \
        f"timestamp {value!r} is not RFC 3339 UTC ending in Z"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def create(stack, name=None, **fields):
    body = {"name": name or unique(), **fields}
    resp = stack.post("/projects", json=body)
    project = assert_json(resp, 201)
    assert_schema(project, "Project")
    return project


@pytest.fixture
def project(stack):
    return create(stack, description="fixture project")


# ---------------------------------------------------------------- create

def test_create_returns_201_with_project(stack):
    name = unique()
    resp = stack.post("/projects", json={"name": name})
    body = assert_json(resp, 201)
    assert_schema(body, "Project")
    assert UUID_V4_LOWER_RE.match(body["id"]), f"id {body['id']!r} is not a lowercase UUID v4"
    assert body["name"] == name
    assert "description" in body, "nullable description must be present (null), not omitted"
    assert body["description"] is None
    created, updated = ts(body["created_at"]), ts(body["updated_at"])
    assert updated >= created
    assert abs((datetime.now(created.tzinfo) - created).total_seconds()) < 300, \
        f"created_at {body['created_at']} is far from now"


def test_create_with_description(stack):
    name = unique()
    body = create(stack, name=name, description="hello, wörld ✓")
    assert body["name"] == name
    assert body["description"] == "hello, wörld ✓"


def test_create_ignores_unknown_fields(stack):
    body = create(stack, color="blue", nested={"a": [1, 2]})
    assert body["description"] is None


def test_create_accepts_json_with_charset(stack):
    name = unique()
    resp = stack.post("/projects", data=json.dumps({"name": name}).encode(),
                      headers={"Content-Type": "application/json; charset=utf-8"})
    assert assert_json(resp, 201)["name"] == name


def test_created_ids_are_distinct(stack):
    ids = {create(stack)["id"] for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.parametrize("payload", [
    {},
    {"description": "no name"},
    {"name": ""},
    {"name": "   "},
    {"name": "\t\n"},
    {"name": 42},
    {"name": None},
    {"name": ["a"]},
    {"name": {"x": 1}},
    {"name": True},
], ids=["empty", "no-name", "empty-name", "blank-name", "whitespace-name", "int-name",
        "null-name", "array-name", "object-name", "bool-name"])
def test_create_invalid_name_is_400(stack, payload):
    resp = stack.post("/projects", json=payload)
    assert_problem(resp, 400, "bad-request")


@pytest.mark.parametrize("raw", [b"[]", b'"name"', b"42", b"null"],
                         ids=["array", "string", "number", "null"])
def test_create_body_not_an_object_is_400(stack, raw):
    resp = stack.post("/projects", data=raw, headers={"Content-Type": "application/json"})
    assert_problem(resp, 400, "bad-request")


def test_create_name_with_nul_is_400_not_500(stack):
    resp = stack.post("/projects", json={"name": "nul\u0000byte"})
    assert_problem(resp, 400, "bad-request")


def test_create_name_with_special_characters_round_trips(stack):
    name = f'quote" back\\slash ü ✓ <tag> {uuid.uuid4().hex[:6]}'
    body = create(stack, name=name)
    assert body["name"] == name
    assert assert_json(stack.get(f"/projects/{body['id']}"), 200)["name"] == name


def test_concurrent_creates_with_same_name_yield_one_project(stack):
    # Both registry instances race on the same name: exactly one 201, the others 409.
    name = unique("race")
    with ThreadPoolExecutor(max_workers=8) as pool:
        resps = list(pool.map(
            lambda _: requests.post(stack.url("/projects"), json={"name": name}, timeout=10,
                                    headers={"Authorization": f"Bearer {stack.token}"}),
            range(8)))
    codes = sorted(r.status_code for r in resps)
    assert codes == [201] + [409] * 7, f"statuses {codes}"
    for r in resps:
        if r.status_code == 409:
            assert_problem(r, 409, "conflict")
    listed = [p for p in assert_json(stack.get("/projects"), 200) if p["name"] == name]
    assert len(listed) == 1


def test_create_description_wrong_type_is_400(stack):
    resp = stack.post("/projects", json={"name": unique(), "description": 12})
    assert_problem(resp, 400, "bad-request")


def test_create_validation_failure_fills_errors_array(stack):
    # NOTES.md: "Validation failures fill errors[] with {code, message, location}".
    resp = stack.post("/projects", json={"description": "no name"})
    body = assert_problem(resp, 400, "bad-request")
    assert isinstance(body.get("errors"), list) and body["errors"], \
        f"expected a non-empty errors[]: {body}"


def test_create_duplicate_name_is_409(stack):
    name = unique()
    create(stack, name=name)
    resp = stack.post("/projects", json={"name": name, "description": "again"})
    assert_problem(resp, 409, "conflict")


def test_create_missing_body_is_400(stack):
    resp = stack.post("/projects", data=b"", headers={"Content-Type": "application/json"})
    assert_problem(resp, 400, "bad-request")


# ---------------------------------------------------------------- read

def test_list_contains_created_project(stack):
    created = create(stack, description="listed")
    resp = stack.get("/projects")
    items = assert_json(resp, 200)
    assert_schema_list(items, "Project")
    matches = [p for p in items if p["id"] == created["id"]]
    assert len(matches) == 1, f"created project {created['id']} listed {len(matches)} times"
    assert matches[0] == created


def test_list_has_no_duplicates(stack):
    create(stack)
    items = assert_json(stack.get("/projects"), 200)
    ids = [p["id"] for p in items]
    assert len(ids) == len(set(ids))


def test_get_returns_project(stack, project):
    resp = stack.get(f"/projects/{project['id']}")
    body = assert_json(resp, 200)
    assert_schema(body, "Project")
    assert body == project


def test_get_unknown_is_404(stack):
    resp = stack.get(f"/projects/{uuid.uuid4()}")
    assert_problem(resp, 404, "not-found")


@pytest.mark.parametrize("bad", ["not-a-uuid", "12345", "00000000-0000-0000-0000-00000000000g",
                                 "0000000-0000-0000-0000-000000000000"])
def test_get_malformed_id_is_400(stack, bad):
    resp = stack.get(f"/projects/{bad}")
    assert_problem(resp, 400, "bad-request")


# ---------------------------------------------------------------- update

def test_put_partial_changes_only_description(stack, project):
    resp = stack.put(f"/projects/{project['id']}", json={"description": "new text"})
    body = assert_json(resp, 200)
    assert_schema(body, "Project")
    assert body["id"] == project["id"]
    assert body["name"] == project["name"]
    assert body["description"] == "new text"
    assert body["created_at"] == project["created_at"]
    assert ts(body["updated_at"]) >= ts(project["updated_at"])
    again = assert_json(stack.get(f"/projects/{project['id']}"), 200)
    assert again == body


def test_put_name_keeps_description(stack, project):
    new_name = unique("renamed")
    body = assert_json(stack.put(f"/projects/{project['id']}", json={"name": new_name}), 200)
    assert body["name"] == new_name
    assert body["description"] == project["description"]
    assert assert_json(stack.get(f"/projects/{project['id']}"), 200)["name"] == new_name


def test_put_description_null_clears_it(stack, project):
    assert project["description"] is not None
    body = assert_json(stack.put(f"/projects/{project['id']}", json={"description": None}), 200)
    assert "description" in body and body["description"] is None
    assert body["name"] == project["name"]
    got = assert_json(stack.get(f"/projects/{project['id']}"), 200)
    assert "description" in got and got["description"] is None


def test_put_empty_object_changes_nothing(stack, project):
    body = assert_json(stack.put(f"/projects/{project['id']}", json={}), 200)
    assert body["name"] == project["name"]
    assert body["description"] == project["description"]
    assert body["created_at"] == project["created_at"]


def test_put_updates_updated_at_and_keeps_created_at(stack, project):
    first = assert_json(stack.put(f"/projects/{project['id']}", json={"description": "a"}), 200)
    second = assert_json(stack.put(f"/projects/{project['id']}", json={"description": "b"}), 200)
    assert first["created_at"] == project["created_at"] == second["created_at"]
    assert ts(project["updated_at"]) <= ts(first["updated_at"]) <= ts(second["updated_at"])


def test_put_unknown_is_404(stack):
    resp = stack.put(f"/projects/{uuid.uuid4()}", json={"description": "x"})
    assert_problem(resp, 404, "not-found")


def test_put_malformed_id_is_400(stack):
    resp = stack.put("/projects/not-a-uuid", json={"description": "x"})
    assert_problem(resp, 400, "bad-request")


def test_put_name_taken_by_other_project_is_409(stack, project):
    other = create(stack)
    resp = stack.put(f"/projects/{project['id']}", json={"name": other["name"]})
    assert_problem(resp, 409, "conflict")
    unchanged = assert_json(stack.get(f"/projects/{project['id']}"), 200)
    assert unchanged["name"] == project["name"]


def test_put_own_name_is_not_a_conflict(stack, project):
    body = assert_json(stack.put(f"/projects/{project['id']}", json={"name": project["name"]}), 200)
    assert body["name"] == project["name"]


@pytest.mark.parametrize("payload", [{"name": ""}, {"name": "  "}, {"name": 7}, {"description": 3}],
                         ids=["empty-name", "blank-name", "int-name", "int-description"])
def test_put_invalid_fields_is_400(stack, project, payload):
    resp = stack.put(f"/projects/{project['id']}", json=payload)
    assert_problem(resp, 400, "bad-request")
    unchanged = assert_json(stack.get(f"/projects/{project['id']}"), 200)
    assert unchanged == project


def test_put_malformed_json_is_400(stack, project):
    resp = stack.put(f"/projects/{project['id']}", data=b'{"name": ',
                     headers={"Content-Type": "application/json"})
    assert_problem(resp, 400, "bad-request")


# ---------------------------------------------------------------- delete

def test_delete_then_get_and_delete_again_are_404(stack):
    project = create(stack)
    resp = stack.delete(f"/projects/{project['id']}")
    assert resp.status_code == 204, describe(resp)
    assert resp.content == b"", f"204 must have no body: {resp.content[:200]!r}"
    assert_request_id(resp)
    assert_problem(stack.get(f"/projects/{project['id']}"), 404, "not-found")
    assert_problem(stack.delete(f"/projects/{project['id']}"), 404, "not-found")
    ids = [p["id"] for p in assert_json(stack.get("/projects"), 200)]
    assert project["id"] not in ids


def test_delete_frees_the_name(stack):
    project = create(stack)
    assert stack.delete(f"/projects/{project['id']}").status_code == 204
    again = create(stack, name=project["name"])
    assert again["id"] != project["id"]


def test_delete_malformed_id_is_400(stack):
    assert_problem(stack.delete("/projects/not-a-uuid"), 400, "bad-request")


def test_put_after_delete_is_404(stack):
    project = create(stack)
    assert stack.delete(f"/projects/{project['id']}").status_code == 204
    assert_problem(stack.put(f"/projects/{project['id']}", json={"description": "x"}),
                   404, "not-found")
