"""API keys: GET/POST /projects/{pid}/api-keys, DELETE /projects/{pid}/api-keys/{kid} and the
rotation extension POST /projects/{pid}/api-keys/{kid}/rotate (NOTES.md, docs/api-decisions.md)."""
import hashlib
import json
import os
import re
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from harness import assert_json, assert_problem, assert_request_id, describe
from schema import UTC_Z_RE, UUID_V4_LOWER_RE, assert_schema, assert_schema_list

KEY_RE = re.compile(r"^bbk_[A-Za-z0-9_-]{43}$")
DEFAULT_SCOPES = ["data-plane:connect"]
MAX_GRACE = 604800


def unique(prefix="key"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def ts(value):
    assert isinstance(value, str) and UTC_Z_RE.match(value), \
        f"timestamp {value!r} is not RFC 3339 UTC ending in Z"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def now():
    return datetime.now(timezone.utc)


def close_to(value, expected, tolerance=60):
    got = ts(value)
    assert abs((got - expected).total_seconds()) <= tolerance, \
        f"{value} is not within {tolerance}s of {expected.isoformat()}"
    return got


def create_project(stack):
    resp = stack.post("/projects", json={"name": unique("keys-proj")})
    return assert_json(resp, 201)


@pytest.fixture
def project(stack):
    return create_project(stack)


def keys_path(pid):
    return f"/projects/{pid}/api-keys"


def create_key(stack, pid, name=None, **fields):
    body = {"name": name or unique(), **fields}
    resp = stack.post(keys_path(pid), json=body)
    created = assert_json(resp, 201)
    assert_schema(created, "ApiKeyCreated")
    return created


def list_keys(stack, pid):
    resp = stack.get(keys_path(pid))
    items = assert_json(resp, 200)
    assert_schema_list(items, "ApiKey")
    return items


def listed(stack, pid, kid):
    matches = [k for k in list_keys(stack, pid) if k["id"] == kid]
    assert len(matches) == 1, f"key {kid} listed {len(matches)} times"
    return matches[0]


def rotate(stack, pid, kid, **kw):
    return stack.post(f"{keys_path(pid)}/{kid}/rotate", **kw)


# ---------------------------------------------------------------- create

def test_create_returns_201_with_key(stack, project):
    name = unique()
    before = now()
    resp = stack.post(keys_path(project["id"]), json={"name": name})
    body = assert_json(resp, 201)
    assert_schema(body, "ApiKeyCreated")
    assert UUID_V4_LOWER_RE.match(body["id"]), f"id {body['id']!r} is not a lowercase UUID v4"
    assert body["name"] == name
    assert KEY_RE.match(body["key"]), f"key {body['key']!r} does not match {KEY_RE.pattern}"
    assert body["key_prefix"] == body["key"][:12]
    assert body["scopes"] == DEFAULT_SCOPES
    assert "expires_at" in body and body["expires_at"] is None, \
        "nullable expires_at must be present (null)"
    close_to(body["created_at"], before)


def test_create_has_location(stack, project):
    resp = stack.post(keys_path(project["id"]), json={"name": unique()})
    body = assert_json(resp, 201)
    loc = resp.headers.get("Location")
    assert loc, f"201 without Location: {describe(resp)}"
    path = urlsplit(urljoin(stack.base_url + "/", loc)).path
    assert path.rstrip("/").endswith(f"/api-keys/{body['id']}"), f"Location {loc!r}"


def test_created_keys_are_distinct(stack, project):
    keys = [create_key(stack, project["id"]) for _ in range(5)]
    assert len({k["key"] for k in keys}) == 5
    assert len({k["id"] for k in keys}) == 5
    assert len({k["key_prefix"] for k in keys}) == 5


def test_create_with_both_scopes(stack, project):
    scopes = ["data-plane:connect", "artifacts:read"]
    body = create_key(stack, project["id"], scopes=scopes)
    assert sorted(body["scopes"]) == sorted(scopes)
    assert sorted(listed(stack, project["id"], body["id"])["scopes"]) == sorted(scopes)


def test_create_with_artifacts_read_only(stack, project):
    body = create_key(stack, project["id"], scopes=["artifacts:read"])
    assert body["scopes"] == ["artifacts:read"]


@pytest.mark.parametrize("scopes", [["admin"], ["data-plane:connect", "everything"],
                                    ["DATA-PLANE:CONNECT"], [""], [1], [None],
                                    "data-plane:connect", {"data-plane:connect": True}, 7, []],
                         ids=["unknown", "one-unknown", "wrong-case", "empty-string", "int-item",
                              "null-item", "string", "object", "int", "empty-array"])
def test_create_bad_scopes_is_400(stack, project, scopes):
    resp = stack.post(keys_path(project["id"]), json={"name": unique(), "scopes": scopes})
    assert_problem(resp, 400, "bad-request")


def test_create_expires_in_future_is_echoed(stack, project):
    expires = (now() + timedelta(days=30)).replace(microsecond=0)
    value = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    body = create_key(stack, project["id"], expires_at=value)
    assert ts(body["expires_at"]) == expires
    assert ts(listed(stack, project["id"], body["id"])["expires_at"]) == expires


def test_create_expires_with_offset_is_normalised_to_utc(stack, project):
    body = create_key(stack, project["id"], expires_at="2099-06-01T12:00:00+02:00")
    assert ts(body["expires_at"]) == datetime(2099, 6, 1, 10, 0, 0, tzinfo=timezone.utc)


def test_create_expires_lowercase_t_and_z_accepted(stack, project):
    # RFC 3339 §5.6: "T" and "Z" may alternatively be lower case
    body = create_key(stack, project["id"], expires_at="2099-01-02t03:04:05z")
    assert ts(body["expires_at"]) == datetime(2099, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


@pytest.mark.parametrize("value", ["2099-01-01T00:00:00+99:00", "2099-01-01T00:00:00+05:99",
                                   "2099-01-01T00:00:00+24:00", "2099-01-01T00:00:00-25:30"],
                         ids=["hours-99", "minutes-99", "hours-24", "minus-25"])
def test_create_expires_offset_out_of_range_is_400(stack, project, value):
    # RFC 3339 time-numoffset: hours 00-23, minutes 00-59; a bad offset is the client's error
    resp = stack.post(keys_path(project["id"]), json={"name": unique(), "expires_at": value})
    assert_problem(resp, 400, "bad-request")


@pytest.mark.parametrize("value,utc", [
    ("2099-01-01T00:00:00+23:59", datetime(2098, 12, 31, 0, 1, tzinfo=timezone.utc)),
    ("2099-01-01T00:00:00-23:59", datetime(2099, 1, 1, 23, 59, tzinfo=timezone.utc)),
    ("2099-01-01T00:00:00+14:00", datetime(2098, 12, 31, 10, 0, tzinfo=timezone.utc)),
], ids=["plus-23-59", "minus-23-59", "plus-14"])
def test_create_expires_extreme_valid_offsets_accepted(stack, project, value, utc):
    # RFC 3339 allows any offset from -23:59 to +23:59
    body = create_key(stack, project["id"], expires_at=value)
    assert ts(body["expires_at"]) == utc


def test_create_expires_in_past_is_400(stack, project):
    past = (now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    resp = stack.post(keys_path(project["id"]), json={"name": unique(), "expires_at": past})
    assert_problem(resp, 400, "bad-request")


@pytest.mark.parametrize("value", ["tomorrow", "2099-13-01T00:00:00Z", "2099-01-01",
                                   "2099-01-01 00:00:00", "2099-02-30T00:00:00Z", "", 4102444800,
                                   True, {"at": "2099-01-01T00:00:00Z"}],
                         ids=["word", "month-13", "date-only", "space-no-zone", "feb-30", "empty",
                              "epoch-int", "bool", "object"])
def test_create_expires_malformed_is_400(stack, project, value):
    resp = stack.post(keys_path(project["id"]), json={"name": unique(), "expires_at": value})
    assert_problem(resp, 400, "bad-request")


@pytest.mark.parametrize("payload", [{}, {"name": ""}, {"name": "   "}, {"name": 5},
                                     {"name": None}, {"name": ["k"]}, {"scopes": DEFAULT_SCOPES}],
                         ids=["empty", "empty-name", "blank-name", "int-name", "null-name",
                              "array-name", "no-name"])
def test_create_bad_name_is_400(stack, project, payload):
    resp = stack.post(keys_path(project["id"]), json=payload)
    body = assert_problem(resp, 400, "bad-request")
    assert body.get("errors"), f"expected a non-empty errors[]: {body}"


def test_name_length_limit_is_200_characters(stack, project):
    # decisions: key names <= 200 characters (characters, not UTF-8 bytes)
    assert create_key(stack, project["id"], name="k" * 200)["name"] == "k" * 200
    assert_problem(stack.post(keys_path(project["id"]), json={"name": "k" * 201}),
                   400, "bad-request")
    assert_problem(stack.post(keys_path(project["id"]), json={"name": "é" * 201}),
                   400, "bad-request")


def test_name_of_200_multibyte_characters_accepted(stack, project):
    name = "é" * 199 + "✓"
    assert len(name) == 200
    assert create_key(stack, project["id"], name=name)["name"] == name


def test_create_invalid_creates_nothing(stack, project):
    resp = stack.post(keys_path(project["id"]), json={"name": unique(), "scopes": ["nope"]})
    assert_problem(resp, 400, "bad-request")
    assert list_keys(stack, project["id"]) == []


def test_create_duplicate_name_in_project_is_409(stack, project):
    name = unique()
    create_key(stack, project["id"], name=name)
    resp = stack.post(keys_path(project["id"]), json={"name": name})
    assert_problem(resp, 409, "conflict")
    assert len([k for k in list_keys(stack, project["id"]) if k["name"] == name]) == 1


def test_concurrent_creates_with_same_name_yield_one_key(stack, project):
    name = unique("race")

    def one(_):
        return requests.post(stack.url(keys_path(project["id"])), json={"name": name},
                             headers={"Authorization": f"Bearer {stack.token}"}, timeout=10)
    with ThreadPoolExecutor(max_workers=8) as pool:
        resps = list(pool.map(one, range(8)))
    codes = sorted(r.status_code for r in resps)
    assert codes == [201] + [409] * 7, f"statuses {codes}"
    for r in resps:
        if r.status_code == 409:
            assert_problem(r, 409, "conflict")
    assert len([k for k in list_keys(stack, project["id"]) if k["name"] == name]) == 1


def test_same_name_in_other_project_is_201(stack, project):
    other = create_project(stack)
    name = unique()
    a = create_key(stack, project["id"], name=name)
    b = create_key(stack, other["id"], name=name)
    assert a["id"] != b["id"] and a["key"] != b["key"]


def test_name_reusable_after_revoke(stack, project):
    # decisions: names are unique among a project's live keys
    first = create_key(stack, project["id"])
    assert stack.delete(f"{keys_path(project['id'])}/{first['id']}").status_code == 204
    again = create_key(stack, project["id"], name=first["name"])
    assert again["id"] != first["id"]


def test_create_for_missing_project_is_404(stack):
    resp = stack.post(keys_path(uuid.uuid4()), json={"name": unique()})
    assert_problem(resp, 404, "not-found")


def test_keys_go_with_a_deleted_project(stack):
    proj = create_project(stack)
    key = create_key(stack, proj["id"])
    assert stack.delete(f"/projects/{proj['id']}").status_code == 204
    assert_problem(stack.get(keys_path(proj["id"])), 404, "not-found")
    assert_problem(stack.post(keys_path(proj["id"]), json={"name": unique()}), 404, "not-found")
    assert_problem(stack.delete(f"{keys_path(proj['id'])}/{key['id']}"), 404, "not-found")
    assert_problem(rotate(stack, proj["id"], key["id"]), 404, "not-found")


def test_create_racing_project_delete_is_201_or_404(stack):
    # A key creation that loses a race with DELETE /projects/{id} is 404, never 409 or 500.
    auth = {"Authorization": f"Bearer {stack.token}"}
    seen = set()
    for _ in range(15):
        proj = create_project(stack)

        def create(i, pid=proj["id"]):
            return requests.post(stack.url(keys_path(pid)), json={"name": f"r{i}"},
                                 headers=auth, timeout=10)

        def delete(pid=proj["id"]):
            return requests.delete(stack.url(f"/projects/{pid}"), headers=auth, timeout=10)
        with ThreadPoolExecutor(max_workers=9) as pool:
            futures = [pool.submit(create, i) for i in range(8)]
            deleted = pool.submit(delete)
            resps = [f.result() for f in futures]
        assert deleted.result().status_code == 204, describe(deleted.result())
        for r in resps:
            seen.add(r.status_code)
            if r.status_code == 404:
                assert_problem(r, 404, "not-found")
            else:
                assert r.status_code == 201, describe(r)
        assert_problem(stack.get(keys_path(proj["id"])), 404, "not-found")
    assert seen <= {201, 404}


def test_rotate_racing_project_delete_is_201_or_404(stack):
    # A rotation that loses a race with DELETE /projects/{id} is 404 (the key is gone), never
    # 409 ("already rotated") or 500.
    auth = {"Authorization": f"Bearer {stack.token}"}
    for _ in range(15):
        proj = create_project(stack)
        keys = [create_key(stack, proj["id"]) for _ in range(4)]

        def rot(kid, pid=proj["id"]):
            return requests.post(stack.url(f"{keys_path(pid)}/{kid}/rotate"), headers=auth,
                                 json={"grace_period_secs": 10}, timeout=10)

        def delete(pid=proj["id"]):
            return requests.delete(stack.url(f"/projects/{pid}"), headers=auth, timeout=10)
        with ThreadPoolExecutor(max_workers=5) as pool:
            futures = [pool.submit(rot, k["id"]) for k in keys]
            deleted = pool.submit(delete)
            resps = [f.result() for f in futures]
        assert deleted.result().status_code == 204, describe(deleted.result())
        for r in resps:
            if r.status_code == 404:
                assert_problem(r, 404, "not-found")
            else:
                assert r.status_code == 201, describe(r)


def test_list_for_missing_project_is_404(stack):
    assert_problem(stack.get(keys_path(uuid.uuid4())), 404, "not-found")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_malformed_project_id_is_400(stack, method):
    kw = {"json": {"name": unique()}} if method == "POST" else {}
    resp = stack.request(method, keys_path("not-a-uuid"), **kw)
    assert_problem(resp, 400, "bad-request")


def test_create_wrong_content_type_is_415(stack, project):
    resp = stack.post(keys_path(project["id"]), data=json.dumps({"name": unique()}),
                      headers={"Content-Type": "text/plain"})
    assert_problem(resp, 415, "unsupported-media-type")


def test_create_malformed_json_is_400(stack, project):
    resp = stack.post(keys_path(project["id"]), data=b'{"name": ',
                      headers={"Content-Type": "application/json"})
    assert_problem(resp, 400, "bad-request")


# ---------------------------------------------------------------- list

def test_list_never_shows_the_secret(stack, project):
    created = create_key(stack, project["id"], scopes=["data-plane:connect", "artifacts:read"])
    resp = stack.get(keys_path(project["id"]))
    items = assert_json(resp, 200)
    assert_schema_list(items, "ApiKey")
    raw = resp.text
    secret = created["key"]
    assert secret not in raw, "the full key appears in the list response"
    assert secret[12:] not in raw, "the secret part of the key appears in the list response"
    assert hashlib.sha256(secret.encode()).hexdigest() not in raw.lower(), \
        "the key's SHA-256 (hex) appears in the list response"
    assert hashlib.sha256(secret.encode()).hexdigest().upper() not in raw
    item = [k for k in items if k["id"] == created["id"]]
    assert len(item) == 1
    item = item[0]
    assert "key" not in item
    assert item["key_prefix"] == created["key_prefix"] == secret[:12]
    assert item["name"] == created["name"]
    assert item["project_id"] == project["id"]
    assert item["created_at"] == created["created_at"]
    assert sorted(item["scopes"]) == sorted(created["scopes"])
    for nullable in ("expires_at", "last_used_at", "revoked_at"):
        assert nullable in item and item[nullable] is None, \
            f"{nullable} must be present and null: {item}"


def dump_database(stack):
    """The product database as pg_dump text (bytea values appear hex-encoded); plugin binaries
    (large, and never holding keys) are left out."""
    r = subprocess.run([os.path.join(stack.pg.bindir, "pg_dump"), "--data-only", "--no-owner",
                        "--exclude-table-data=plugins",
                        "-h", "127.0.0.1", "-p", str(stack.pg.port), "-U", stack.pg.user,
                        stack.dbname], capture_output=True, timeout=60)
    assert r.returncode == 0, f"pg_dump failed: {r.stderr[-500:]!r}"
    return r.stdout.decode("utf-8", "replace")


def assert_secret_absent(text, secret, where):
    plain, hexed = secret in text, secret.encode().hex() in text.lower()
    assert not plain, f"the plaintext key appears in {where}"
    assert not hexed, f"the key (hex-encoded, e.g. in a bytea column) appears in {where}"


@pytest.mark.parametrize("idempotent", [False, True], ids=["plain", "idempotency-key"])
def test_plaintext_key_is_never_stored(stack, project, idempotent):
    # NOTES: "Only the SHA-256 is stored" -- also when the request carries an Idempotency-Key
    headers = {"Idempotency-Key": "idem-" + uuid.uuid4().hex} if idempotent else {}
    resp = stack.post(keys_path(project["id"]), json={"name": unique()}, headers=headers)
    created = assert_json(resp, 201)
    rot = assert_json(rotate(stack, project["id"], created["id"], json={"grace_period_secs": 60},
                             headers={"Idempotency-Key": "idem-" + uuid.uuid4().hex}
                             if idempotent else {}), 201)
    dump = dump_database(stack)
    for secret in (created["key"], rot["key"]):
        assert_secret_absent(dump, secret, "the database")


def test_idempotent_create_replays_the_same_key(stack, project):
    headers = {"Idempotency-Key": "idem-" + uuid.uuid4().hex}
    body = {"name": unique()}
    first = stack.post(keys_path(project["id"]), json=body, headers=headers)
    created = assert_json(first, 201)
    again = stack.post(keys_path(project["id"]), json=body, headers=headers)
    replay = assert_json(again, 201)
    assert again.headers.get("X-Idempotency-Replayed") == "true"
    assert replay == created
    assert [k["id"] for k in list_keys(stack, project["id"])] == [created["id"]]


def test_idempotent_rotate_replays_the_same_key(stack, project):
    old = create_key(stack, project["id"])
    headers = {"Idempotency-Key": "idem-" + uuid.uuid4().hex}
    first = assert_json(rotate(stack, project["id"], old["id"], json={"grace_period_secs": 30},
                               headers=headers), 201)
    again = rotate(stack, project["id"], old["id"], json={"grace_period_secs": 30},
                   headers=headers)
    assert assert_json(again, 201) == first
    assert again.headers.get("X-Idempotency-Replayed") == "true"
    assert len(list_keys(stack, project["id"])) == 2


def test_plaintext_key_is_never_logged(stack, project):
    created = create_key(stack, project["id"])
    rot = assert_json(rotate(stack, project["id"], created["id"]), 201)
    time.sleep(0.2)  # let the services flush their log lines
    for proc in stack.procs:
        text = proc.log_text()
        for secret in (created["key"], rot["key"]):
            assert secret not in text, f"the plaintext key appears in the log of {proc.name}"


def test_list_only_own_project(stack, project):
    other = create_project(stack)
    mine = create_key(stack, project["id"])
    theirs = create_key(stack, other["id"])
    ids = [k["id"] for k in list_keys(stack, project["id"])]
    assert mine["id"] in ids and theirs["id"] not in ids


def test_list_empty_project(stack, project):
    assert list_keys(stack, project["id"]) == []


# ---------------------------------------------------------------- revoke

def test_revoke_sets_revoked_at_and_is_idempotent(stack, project):
    created = create_key(stack, project["id"])
    path = f"{keys_path(project['id'])}/{created['id']}"
    before = now()
    resp = stack.delete(path)
    assert resp.status_code == 204, describe(resp)
    assert resp.content == b"", f"204 must have no body: {resp.content[:200]!r}"
    assert_request_id(resp)
    first = listed(stack, project["id"], created["id"])
    assert first["revoked_at"] is not None
    close_to(first["revoked_at"], before)
    resp = stack.delete(path)
    assert resp.status_code == 204, describe(resp)
    second = listed(stack, project["id"], created["id"])
    assert second["revoked_at"] == first["revoked_at"], "repeat revoke changed revoked_at"


def test_revoke_unknown_key_is_404(stack, project):
    resp = stack.delete(f"{keys_path(project['id'])}/{uuid.uuid4()}")
    assert_problem(resp, 404, "not-found")


def test_revoke_key_of_other_project_is_404(stack, project):
    other = create_project(stack)
    theirs = create_key(stack, other["id"])
    resp = stack.delete(f"{keys_path(project['id'])}/{theirs['id']}")
    assert_problem(resp, 404, "not-found")
    assert listed(stack, other["id"], theirs["id"])["revoked_at"] is None


def test_revoke_in_missing_project_is_404(stack):
    assert_problem(stack.delete(f"{keys_path(uuid.uuid4())}/{uuid.uuid4()}"), 404, "not-found")


def test_revoke_malformed_key_id_is_400(stack, project):
    assert_problem(stack.delete(f"{keys_path(project['id'])}/not-a-uuid"), 400, "bad-request")


# ---------------------------------------------------------------- rotation (extension)

def test_rotate_with_grace_period(stack, project):
    old = create_key(stack, project["id"], scopes=["data-plane:connect", "artifacts:read"])
    before = now()
    resp = rotate(stack, project["id"], old["id"], json={"grace_period_secs": 3600})
    new = assert_json(resp, 201)
    assert_schema(new, "ApiKeyCreated")
    assert resp.headers.get("Location"), f"201 without Location: {describe(resp)}"
    assert UUID_V4_LOWER_RE.match(new["id"]) and new["id"] != old["id"]
    assert KEY_RE.match(new["key"]) and new["key"] != old["key"]
    assert new["key_prefix"] == new["key"][:12]
    assert new["name"] == old["name"]
    assert sorted(new["scopes"]) == sorted(old["scopes"]), "rotation must keep the scopes"
    assert new["replaces"] == old["id"]
    grace = close_to(new["grace_expires_at"], before + timedelta(seconds=3600))

    items = list_keys(stack, project["id"])
    by_id = {k["id"]: k for k in items}
    assert old["id"] in by_id and new["id"] in by_id, "the list must show both keys"
    assert by_id[old["id"]]["expires_at"] is not None
    assert ts(by_id[old["id"]]["expires_at"]) == grace, \
        "the old key's expires_at must equal grace_expires_at"
    assert by_id[new["id"]]["revoked_at"] is None
    assert by_id[new["id"]]["expires_at"] is None
    assert old["key"] not in json.dumps(items) and new["key"] not in json.dumps(items)


def test_rotate_without_body_has_no_grace(stack, project):
    old = create_key(stack, project["id"])
    before = now()
    resp = rotate(stack, project["id"], old["id"])
    new = assert_json(resp, 201)
    assert_schema(new, "ApiKeyCreated")
    assert new["replaces"] == old["id"]
    close_to(new["grace_expires_at"], before, tolerance=30)
    close_to(listed(stack, project["id"], old["id"])["expires_at"], before, tolerance=30)


def test_rotate_with_empty_object_has_no_grace(stack, project):
    old = create_key(stack, project["id"])
    before = now()
    new = assert_json(rotate(stack, project["id"], old["id"], json={}), 201)
    close_to(new["grace_expires_at"], before, tolerance=30)


def test_rotate_with_maximum_grace(stack, project):
    old = create_key(stack, project["id"])
    before = now()
    new = assert_json(rotate(stack, project["id"], old["id"],
                             json={"grace_period_secs": MAX_GRACE}), 201)
    close_to(new["grace_expires_at"], before + timedelta(seconds=MAX_GRACE))


def test_rotated_new_key_is_live(stack, project):
    # the new key is a fresh key: it neither inherits the old one's revocation nor its grace
    old = create_key(stack, project["id"])
    new = assert_json(rotate(stack, project["id"], old["id"], json={"grace_period_secs": 60}), 201)
    item = listed(stack, project["id"], new["id"])
    assert item["revoked_at"] is None and item["expires_at"] is None


def test_rotate_never_extends_an_earlier_expiry(stack, project):
    expires = (now() + timedelta(minutes=10)).replace(microsecond=0)
    old = create_key(stack, project["id"], expires_at=expires.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert_json(rotate(stack, project["id"], old["id"], json={"grace_period_secs": 86400}), 201)
    item = listed(stack, project["id"], old["id"])
    assert ts(item["expires_at"]) <= expires, \
        f"rotation extended the old key's life: {item['expires_at']} > {expires.isoformat()}"


@pytest.mark.parametrize("raw", [b"[]", b"null", b"42", b'{"grace_period_secs": '],
                         ids=["array", "null", "number", "truncated"])
def test_rotate_body_not_an_object_is_400(stack, project, raw):
    old = create_key(stack, project["id"])
    resp = rotate(stack, project["id"], old["id"], data=raw,
                  headers={"Content-Type": "application/json"})
    assert_problem(resp, 400, "bad-request")
    assert listed(stack, project["id"], old["id"])["expires_at"] is None


def test_rotating_an_expired_key_never_hands_out_a_dead_key(stack, project):
    # Either the rotation is refused (409) or the new key is usable: a 201 must not return
    # a key that is already expired.
    expires = now() + timedelta(seconds=3)
    old = create_key(stack, project["id"], expires_at=expires.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    time.sleep(max(0.0, (expires - now()).total_seconds()) + 1.0)
    resp = rotate(stack, project["id"], old["id"], json={"grace_period_secs": 60})
    if resp.status_code == 409:
        assert_problem(resp, 409, "conflict")
        return
    new = assert_json(resp, 201)
    assert new["expires_at"] is None or ts(new["expires_at"]) > now(), \
        f"rotation returned a key that expired at {new['expires_at']}"


def test_rotate_twice_is_409(stack, project):
    old = create_key(stack, project["id"])
    assert_json(rotate(stack, project["id"], old["id"], json={"grace_period_secs": 3600}), 201)
    resp = rotate(stack, project["id"], old["id"], json={"grace_period_secs": 3600})
    assert_problem(resp, 409, "conflict")
    assert len([k for k in list_keys(stack, project["id"]) if k["name"] == old["name"]]) == 2


def test_concurrent_rotations_yield_one_new_key(stack, project):
    old = create_key(stack, project["id"])
    url = stack.url(f"{keys_path(project['id'])}/{old['id']}/rotate")

    def one(_):
        return requests.post(url, json={"grace_period_secs": 300},
                             headers={"Authorization": f"Bearer {stack.token}"}, timeout=10)
    with ThreadPoolExecutor(max_workers=6) as pool:
        resps = list(pool.map(one, range(6)))
    codes = sorted(r.status_code for r in resps)
    assert codes == [201] + [409] * 5, f"statuses {codes}"
    winner = [r.json() for r in resps if r.status_code == 201][0]
    same_name = [k for k in list_keys(stack, project["id"]) if k["name"] == old["name"]]
    assert sorted(k["id"] for k in same_name) == sorted([old["id"], winner["id"]])


def test_rotate_the_new_key_again(stack, project):
    first = create_key(stack, project["id"])
    second = assert_json(rotate(stack, project["id"], first["id"]), 201)
    third = assert_json(rotate(stack, project["id"], second["id"]), 201)
    assert third["replaces"] == second["id"]
    assert len({first["key"], second["key"], third["key"]}) == 3


def test_rotate_revoked_key_is_409(stack, project):
    old = create_key(stack, project["id"])
    assert stack.delete(f"{keys_path(project['id'])}/{old['id']}").status_code == 204
    resp = rotate(stack, project["id"], old["id"], json={"grace_period_secs": 60})
    assert_problem(resp, 409, "conflict")


def test_rotated_name_stays_taken(stack, project):
    # the new key holds the name: creating another key with it is still a conflict
    old = create_key(stack, project["id"])
    assert_json(rotate(stack, project["id"], old["id"]), 201)
    resp = stack.post(keys_path(project["id"]), json={"name": old["name"]})
    assert_problem(resp, 409, "conflict")


@pytest.mark.parametrize("grace", [-1, MAX_GRACE + 1, 10**12, "60", 1.5, True, [60]],
                         ids=["negative", "over-max", "huge", "string", "fraction", "bool",
                              "array"])
def test_rotate_bad_grace_is_400(stack, project, grace):
    old = create_key(stack, project["id"])
    resp = rotate(stack, project["id"], old["id"], json={"grace_period_secs": grace})
    assert_problem(resp, 400, "bad-request")
    item = listed(stack, project["id"], old["id"])
    assert item["expires_at"] is None, "a rejected rotation must not touch the old key"
    assert len(list_keys(stack, project["id"])) == 1


def test_rotate_unknown_key_is_404(stack, project):
    assert_problem(rotate(stack, project["id"], uuid.uuid4()), 404, "not-found")


def test_rotate_key_of_other_project_is_404(stack, project):
    other = create_project(stack)
    theirs = create_key(stack, other["id"])
    assert_problem(rotate(stack, project["id"], theirs["id"]), 404, "not-found")


def test_rotate_in_missing_project_is_404(stack):
    assert_problem(rotate(stack, uuid.uuid4(), uuid.uuid4()), 404, "not-found")


def test_rotate_malformed_ids_are_400(stack, project):
    assert_problem(rotate(stack, project["id"], "not-a-uuid"), 400, "bad-request")
    assert_problem(rotate(stack, "not-a-uuid", uuid.uuid4()), 400, "bad-request")


def test_rotate_wrong_content_type_is_415(stack, project):
    old = create_key(stack, project["id"])
    resp = rotate(stack, project["id"], old["id"], data=json.dumps({"grace_period_secs": 5}),
                  headers={"Content-Type": "text/plain"})
    assert_problem(resp, 415, "unsupported-media-type")


def test_old_key_keeps_working_during_grace(make_stack):
    """A data plane on a rotated key: during the grace period the old key still registers (and
    its session stays up); once the grace ends its session is closed and it no longer
    registers, while the new key works throughout."""
    from harness import TIME_FACTOR
    from test_hub import DataPlane
    s = make_stack(registries=1, hubs=1)
    hub = s.hubs[0]
    pid = create_project(s)["id"]
    old = create_key(s, pid)
    grace = max(3, int(3 * TIME_FACTOR))
    rot = assert_json(rotate(s, pid, old["id"], json={"grace_period_secs": grace}), 201)
    grace_end = ts(rot["grace_expires_at"])
    on_old, on_new, late = DataPlane(s.ws_url(hub)), DataPlane(s.ws_url()), None
    try:
        assert on_old.register(pid, old["key"], name="old-key")["type"] == "registered"
        assert on_new.register(pid, rot["key"], name="new-key")["type"] == "registered"
        assert now() < grace_end, "the machine was too slow to register inside the grace period"
        assert on_old.heartbeat("sha256:x")["type"] == "heartbeat_ack"
        msg = on_old.recv_type("disconnect", timeout=grace + 5 * TIME_FACTOR)
        assert now() >= grace_end - timedelta(seconds=1), "closed before the grace ended"
        assert "expired" in msg["reason"]
        assert on_old.wait_closed(3)[0] == 1008
        late = DataPlane(s.ws_url(hub))
        refused = late.register(pid, old["key"], name="old-key")
        assert refused["type"] == "registration_failed" and "expired" in refused["reason"]
        assert on_new.heartbeat("sha256:x")["type"] == "heartbeat_ack"
    finally:
        for dp in (on_old, on_new, late):
            if dp:
                dp.close()
