"""Extensions: Idempotency-Key on mutations and ?limit=&cursor= keyset pagination with a
Link rel="next" header (NOTES.md, docs/api-decisions.md)."""
import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

import harness
import specgen
from harness import assert_json, assert_problem, assert_request_id, describe
from schema import assert_schema, assert_schema_list

REPLAYED = "X-Idempotency-Replayed"


def unique(prefix="idem"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def key():
    return "k-" + uuid.uuid4().hex


def projects_named(stack, name):
    return [p for p in assert_json(stack.get("/projects"), 200) if p["name"] == name]


def not_replayed(resp):
    assert resp.headers.get(REPLAYED, "").lower() != "true", \
        f"a first response must not be marked replayed: {describe(resp)}"


def replayed(resp):
    assert resp.headers.get(REPLAYED) == "true", \
        f"expected {REPLAYED}: true, headers {dict(resp.headers)}: {describe(resp)}"


# ================================================================ Idempotency-Key

def test_same_key_same_body_replays_201(stack):
    k, name = key(), unique()
    first = stack.post("/projects", json={"name": name}, headers={"Idempotency-Key": k})
    body1 = assert_json(first, 201)
    not_replayed(first)
    second = stack.post("/projects", json={"name": name}, headers={"Idempotency-Key": k})
    body2 = assert_json(second, 201)
    replayed(second)
    assert body2 == body1
    assert_schema(body2, "Project")
    if first.headers.get("Location"):
        assert second.headers.get("Location") == first.headers.get("Location")
    assert second.headers.get("X-Request-Id") != first.headers.get("X-Request-Id"), \
        "a replay is a new request: it gets its own X-Request-Id"
    assert len(projects_named(stack, name)) == 1


def test_replay_is_stable_across_many_repeats(stack):
    k, name = key(), unique()
    first = assert_json(stack.post("/projects", json={"name": name},
                                   headers={"Idempotency-Key": k}), 201)
    for _ in range(4):
        again = stack.post("/projects", json={"name": name}, headers={"Idempotency-Key": k})
        assert assert_json(again, 201) == first
        replayed(again)


def test_replay_survives_later_changes(stack):
    # The stored response is replayed, not recomputed: after an update the replay is the original.
    k, name = key(), unique()
    first = assert_json(stack.post("/projects", json={"name": name},
                                   headers={"Idempotency-Key": k}), 201)
    assert_json(stack.put(f"/projects/{first['id']}", json={"description": "changed"}), 200)
    again = stack.post("/projects", json={"name": name}, headers={"Idempotency-Key": k})
    assert assert_json(again, 201) == first
    replayed(again)


def test_same_key_different_body_is_409(stack):
    k = key()
    assert_json(stack.post("/projects", json={"name": unique()}, headers={"Idempotency-Key": k}), 201)
    other = unique()
    resp = stack.post("/projects", json={"name": other}, headers={"Idempotency-Key": k})
    assert_problem(resp, 409, "conflict")
    assert projects_named(stack, other) == []


def test_same_key_other_path_is_409(stack):
    k = key()
    created = assert_json(stack.post("/projects", json={"name": unique()},
                                     headers={"Idempotency-Key": k}), 201)
    resp = stack.put(f"/projects/{created['id']}", json={"description": "x"},
                     headers={"Idempotency-Key": k})
    assert_problem(resp, 409, "conflict")
    assert assert_json(stack.get(f"/projects/{created['id']}"), 200)["description"] is None


def test_different_keys_are_independent(stack):
    name = unique()
    a = stack.post("/projects", json={"name": name}, headers={"Idempotency-Key": key()})
    assert_json(a, 201)
    # same body, new key: processed afresh, so the duplicate name is a 409 (not a replay)
    b = stack.post("/projects", json={"name": name}, headers={"Idempotency-Key": key()})
    assert_problem(b, 409, "conflict")
    not_replayed(b)
    # different body, new key: a new project
    c = stack.post("/projects", json={"name": unique()}, headers={"Idempotency-Key": key()})
    assert assert_json(c, 201)["id"] != a.json()["id"]
    not_replayed(c)


def test_without_key_no_replay(stack):
    name = unique()
    assert_json(stack.post("/projects", json={"name": name}), 201)
    resp = stack.post("/projects", json={"name": name})
    assert_problem(resp, 409, "conflict")
    not_replayed(resp)


def test_client_error_is_replayed_too(stack):
    # api-decisions: the first response with a status below 500 is stored.
    k = key()
    first = stack.post("/projects", json={"description": "no name"}, headers={"Idempotency-Key": k})
    b1 = assert_problem(first, 400, "bad-request")
    second = stack.post("/projects", json={"description": "no name"}, headers={"Idempotency-Key": k})
    assert second.status_code == 400, describe(second)
    replayed(second)
    b2 = second.json()
    assert {k_: v for k_, v in b2.items() if k_ not in ("request_id", "instance")} == \
        {k_: v for k_, v in b1.items() if k_ not in ("request_id", "instance")}


def test_delete_replay_is_204(stack):
    created = assert_json(stack.post("/projects", json={"name": unique()}), 201)
    k = key()
    first = stack.delete(f"/projects/{created['id']}", headers={"Idempotency-Key": k})
    assert first.status_code == 204, describe(first)
    not_replayed(first)
    second = stack.delete(f"/projects/{created['id']}", headers={"Idempotency-Key": k})
    assert second.status_code == 204, describe(second)
    assert second.content == b""
    replayed(second)
    assert_request_id(second)
    # without the key the resource is gone
    assert_problem(stack.delete(f"/projects/{created['id']}"), 404, "not-found")


def test_put_replay(stack):
    created = assert_json(stack.post("/projects", json={"name": unique()}), 201)
    k = key()
    first = assert_json(stack.put(f"/projects/{created['id']}", json={"description": "v1"},
                                  headers={"Idempotency-Key": k}), 200)
    assert_json(stack.put(f"/projects/{created['id']}", json={"description": "v2"}), 200)
    again = stack.put(f"/projects/{created['id']}", json={"description": "v1"},
                      headers={"Idempotency-Key": k})
    assert assert_json(again, 200) == first
    replayed(again)
    # the replay did not re-apply the update
    assert assert_json(stack.get(f"/projects/{created['id']}"), 200)["description"] == "v2"


def test_same_body_different_formatting_is_same_request_or_conflict(stack):
    # Byte-different but equal JSON: either treated as the same request (replay) or as a
    # different one (409) — never executed twice.
    k, name = key(), unique()
    assert_json(stack.post("/projects", data=json.dumps({"name": name}),
                           headers={"Idempotency-Key": k, "Content-Type": "application/json"}),
                201)
    resp = stack.post("/projects", data=json.dumps({"name": name}, indent=4),
                      headers={"Idempotency-Key": k, "Content-Type": "application/json"})
    assert resp.status_code in (201, 409), describe(resp)
    if resp.status_code == 201:
        replayed(resp)
    assert len(projects_named(stack, name)) == 1


@pytest.mark.parametrize("bad", ["", "x" * 256, "caf\u00e9", "has space\u0007"],
                         ids=["empty", "too-long", "non-ascii", "control"])
def test_invalid_key_is_400(stack, bad):
    name = unique()
    try:
        resp = stack.post("/projects", json={"name": name},
                          headers={"Idempotency-Key": bad.encode("utf-8")})
    except (requests.exceptions.InvalidHeader, ValueError):
        pytest.skip("the client refuses to send this header value")
    assert_problem(resp, 400, "bad-request")
    assert projects_named(stack, name) == []


def test_key_of_255_chars_is_accepted(stack):
    k = ("K" + uuid.uuid4().hex) * 8
    k = k[:255]
    name = unique()
    assert_json(stack.post("/projects", json={"name": name}, headers={"Idempotency-Key": k}), 201)
    again = stack.post("/projects", json={"name": name}, headers={"Idempotency-Key": k})
    assert_json(again, 201)
    replayed(again)


def test_same_key_other_query_is_409(stack):
    k, name = key(), unique()
    assert_json(stack.post("/projects?x=1", json={"name": name}, headers={"Idempotency-Key": k}),
                201)
    assert_problem(stack.post("/projects?x=2", json={"name": name},
                              headers={"Idempotency-Key": k}), 409, "conflict")
    again = stack.post("/projects?x=1", json={"name": name}, headers={"Idempotency-Key": k})
    assert_json(again, 201)
    replayed(again)


def test_spec_upload_replay(stack):
    # multipart: the same file under the same key is the same request even though the client
    # picks a new boundary; the replay does not add a revision
    project = specgen.make_project(stack)
    k, title = key(), unique("idem-spec")
    data = specgen.openapi(title)
    first = specgen.post_spec(stack, data, project_id=project["id"], headers={"Idempotency-Key": k})
    b1 = assert_json(first, 201)
    not_replayed(first)
    second = specgen.post_spec(stack, data, project_id=project["id"], headers={"Idempotency-Key": k})
    assert assert_json(second, 201) == b1
    replayed(second)
    hist = assert_json(stack.get(f"/specs/{b1['id']}/history"), 200)
    assert [h["revision"] for h in hist] == [1]
    # other bytes, or another file name, under the same key: 409, nothing stored
    other = specgen.openapi(title, description="changed")
    assert_problem(specgen.post_spec(stack, other, project_id=project["id"],
                                     headers={"Idempotency-Key": k}), 409, "conflict")
    assert_problem(specgen.post_spec(stack, data, filename="renamed.yaml", project_id=project["id"],
                                     headers={"Idempotency-Key": k}), 409, "conflict")
    hist = assert_json(stack.get(f"/specs/{b1['id']}/history"), 200)
    assert [h["revision"] for h in hist] == [1]


def test_spec_delete_replay(stack):
    up = specgen.upload(stack, specgen.openapi(unique("idem-del")))
    k = key()
    first = stack.delete(f"/specs/{up['id']}", headers={"Idempotency-Key": k})
    assert first.status_code == 204, describe(first)
    second = stack.delete(f"/specs/{up['id']}", headers={"Idempotency-Key": k})
    assert second.status_code == 204, describe(second)
    replayed(second)


def test_concurrent_same_key_creates_one_project(stack):
    k, name = key(), unique("idem-race")
    hdrs = {"Authorization": f"Bearer {stack.token}", "Idempotency-Key": k}

    def send(_):
        return requests.post(stack.url("/projects"), json={"name": name}, headers=hdrs, timeout=10)

    with ThreadPoolExecutor(max_workers=8) as pool:
        resps = list(pool.map(send, range(8)))
    codes = [r.status_code for r in resps]
    assert codes == [201] * 8, f"statuses {codes}: {[describe(r) for r in resps if r.status_code != 201]}"
    ids = {r.json()["id"] for r in resps}
    assert len(ids) == 1, f"different ids: {ids}"
    n_replayed = sum(1 for r in resps if r.headers.get(REPLAYED) == "true")
    assert n_replayed == 7, f"{n_replayed} of 8 marked replayed (expected 7)"
    assert len(projects_named(stack, name)) == 1


def test_concurrent_same_key_different_bodies(stack):
    # one request wins; the others are 409 (different request) — never two projects
    k, tag = key(), uuid.uuid4().hex[:8]
    hdrs = {"Authorization": f"Bearer {stack.token}", "Idempotency-Key": k}

    def send(i):
        return requests.post(stack.url("/projects"), json={"name": f"idem-diff-{tag}-{i}"},
                             headers=hdrs, timeout=10)

    with ThreadPoolExecutor(max_workers=8) as pool:
        resps = list(pool.map(send, range(8)))
    codes = sorted(r.status_code for r in resps)
    assert codes == [201] + [409] * 7, f"statuses {codes}"
    made = [p for p in assert_json(stack.get("/projects"), 200)
            if p["name"].startswith(f"idem-diff-{tag}-")]
    assert len(made) == 1


def test_same_key_other_method_is_409(stack):
    created = assert_json(stack.post("/projects", json={"name": unique()}), 201)
    k = key()
    assert_json(stack.put(f"/projects/{created['id']}", json={"description": "d"},
                          headers={"Idempotency-Key": k}), 200)
    assert_problem(stack.delete(f"/projects/{created['id']}", headers={"Idempotency-Key": k}),
                   409, "conflict")
    assert_json(stack.get(f"/projects/{created['id']}"), 200)


def test_concurrent_spec_uploads_same_key_make_one_revision(stack):
    project = specgen.make_project(stack)
    k, title = key(), unique("idem-spec-race")
    data = specgen.openapi(title)
    hdrs = {"Authorization": f"Bearer {stack.token}", "Idempotency-Key": k}

    def send(_):
        return requests.post(stack.url("/specs"), headers=hdrs, timeout=30,
                             files={"file": ("race.yaml", data, "application/yaml")},
                             data={"project_id": project["id"]})

    with ThreadPoolExecutor(max_workers=8) as pool:
        resps = list(pool.map(send, range(8)))
    bodies = [assert_json(r, 201) for r in resps]
    assert all(b == bodies[0] for b in bodies), bodies
    assert sum(1 for r in resps if r.headers.get(REPLAYED) == "true") == 7
    hist = assert_json(stack.get(f"/specs/{bodies[0]['id']}/history"), 200)
    assert [h["revision"] for h in hist] == [1]


# ================================================================ pagination

LINK_NEXT_RE = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')


def next_link(resp):
    link = resp.headers.get("Link")
    if not link:
        return None
    m = LINK_NEXT_RE.search(link)
    assert m, f"Link header without rel=next: {link!r}"
    return m.group(1)


def rel(stack, link):
    """The path?query of a Link target (relative, or absolute on this gateway)."""
    sp = urlsplit(urljoin(stack.base_url + "/", link))
    assert sp.port == stack.http_port, f"next link points elsewhere: {link!r}"
    return sp.path + ("?" + sp.query if sp.query else "")


def walk(stack, first_path, limit, max_pages=1000):
    """Follow Link rel=next from first_path; returns (items, pages)."""
    items, pages, path = [], [], first_path
    while path is not None:
        assert len(pages) < max_pages, "pagination does not terminate"
        target = rel(stack, path)
        if pages:
            q = parse_qs(urlsplit(target).query)
            assert q.get("limit") == [str(limit)], f"next link must keep limit={limit}: {path}"
            assert q.get("cursor"), f"next link must carry a cursor: {path}"
        resp = stack.get(target)
        page = assert_json(resp, 200)
        assert isinstance(page, list), f"a page is the contract's array: {describe(resp)}"
        assert len(page) <= limit, f"page of {len(page)} > limit {limit}"
        pages.append(page)
        items.extend(page)
        path = next_link(resp)
        if path is not None:
            assert len(page) == limit, f"a non-final page must be full ({len(page)} < {limit})"
    return items, pages


def create_projects(stack, n, prefix):
    hdrs = {"Authorization": f"Bearer {stack.token}"}

    def one(i):
        r = requests.post(stack.url("/projects"), json={"name": f"{prefix}-{i:04d}"},
                          headers=hdrs, timeout=10)
        assert r.status_code == 201, describe(r)
        return r.json()["id"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(one, range(n)))


@pytest.fixture(scope="module")
def stack250(binaries, pg, request):
    """A fresh stack holding exactly 250 projects, shared by the read-only pagination tests."""
    s = harness.Stack(pg, registries=2, name="page250").start()
    try:
        ids = create_projects(s, 250, "page")
    except BaseException:
        s.close()
        raise
    failed_before = request.session.testsfailed
    yield s, ids
    s.close()
    if request.session.testsfailed == failed_before:
        s.remove_files()


def test_projects_pagination_walk(stack250):
    stack, created = stack250
    full = assert_json(stack.get("/projects"), 200)
    assert_schema_list(full, "Project")
    full_ids = [p["id"] for p in full]
    assert sorted(full_ids) == sorted(created), "GET /projects without limit must return all 250"
    resp_full = stack.get("/projects")
    assert next_link(resp_full) is None, "without limit there is no next link"

    items, pages = walk(stack, "/projects?limit=37", 37)
    ids = [p["id"] for p in items]
    assert len(ids) == 250 and len(set(ids)) == 250, f"{len(ids)} items, {len(set(ids))} distinct"
    assert ids == full_ids, "paged order must be the unpaged order"
    assert [len(p) for p in pages] == [37] * 6 + [28]
    assert_schema_list(items, "Project")
    assert items == full


def test_projects_pagination_exact_multiple_has_no_trailing_link(stack250):
    stack, created = stack250
    items, pages = walk(stack, "/projects?limit=125", 125)
    assert [len(p) for p in pages] == [125, 125], "no empty trailing page: Link only when more remain"
    assert sorted(p["id"] for p in items) == sorted(created)
    items, pages = walk(stack, "/projects?limit=1000", 1000)
    assert len(pages) == 1 and len(items) == 250


def test_projects_pagination_limit_1(stack250):
    stack, _ = stack250
    resp = stack.get("/projects?limit=1")
    page = assert_json(resp, 200)
    assert len(page) == 1
    nxt = next_link(resp)
    assert nxt, "more remain: a next link is required"
    second = assert_json(stack.get(rel(stack, nxt)), 200)
    full = [p["id"] for p in assert_json(stack.get("/projects"), 200)]
    assert [page[0]["id"], second[0]["id"]] == full[:2]


def test_pagination_survives_deletes_between_pages(make_stack):
    # keyset cursor: deleting already-returned items does not shift or repeat later items
    stack = make_stack()
    create_projects(stack, 120, "del")
    resp = stack.get("/projects?limit=50")
    first = assert_json(resp, 200)
    nxt = next_link(resp)
    assert nxt
    for p in first[:10]:
        assert stack.delete(f"/projects/{p['id']}").status_code == 204
    rest, _ = walk(stack, nxt, 50)
    ids = [p["id"] for p in first] + [p["id"] for p in rest]
    assert len(ids) == len(set(ids)) == 120


def test_pagination_survives_deleting_the_cursor_item(make_stack):
    stack = make_stack()
    create_projects(stack, 30, "curdel")
    full = [p["id"] for p in assert_json(stack.get("/projects"), 200)]
    resp = stack.get("/projects?limit=10")
    first = assert_json(resp, 200)
    nxt = next_link(resp)
    assert nxt
    # the cursor names the last item returned; it disappears before the next page is read
    assert stack.delete(f"/projects/{first[-1]['id']}").status_code == 204
    rest, _ = walk(stack, nxt, 10)
    assert [p["id"] for p in rest] == full[10:]


def test_pagination_sees_items_created_during_the_walk(make_stack):
    stack = make_stack()
    before = create_projects(stack, 25, "grow")
    resp = stack.get("/projects?limit=10")
    first = assert_json(resp, 200)
    nxt = next_link(resp)
    later = [assert_json(stack.post("/projects", json={"name": unique("grow-late")}), 201)["id"]
             for _ in range(5)]
    rest, _ = walk(stack, nxt, 10)
    ids = [p["id"] for p in first] + [p["id"] for p in rest]
    assert len(ids) == len(set(ids)) == 30, "no duplicates, nothing skipped"
    assert set(ids) == set(before) | set(later)
    assert ids[-5:] == later, "oldest first: the new projects come last"


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=abc", "limit=-1", "limit=",
                                   "limit=1.5", "limit=10&cursor=garbage", "cursor=garbage"],
                         ids=["zero", "1001", "abc", "negative", "empty", "fraction",
                              "garbage-cursor", "cursor-without-limit"])
def test_projects_bad_pagination_params_are_400(stack, query):
    assert_problem(stack.get("/projects?" + query), 400, "bad-request")


def test_tampered_cursor_is_400(stack):
    for i in range(3):
        assert_json(stack.post("/projects", json={"name": unique("tamper")}), 201)
    resp = stack.get("/projects?limit=1")
    nxt = next_link(resp)
    assert nxt
    cursor = parse_qs(urlsplit(nxt).query)["cursor"][0]
    bad = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    r = stack.get(f"/projects?limit=1&cursor={requests.utils.quote(bad, safe='')}")
    assert r.status_code in (200, 400), describe(r)
    if r.status_code == 400:
        assert_problem(r, 400, "bad-request")


@pytest.mark.parametrize("raw", [b"abc", b"x" * 3000, b"\x00\xff", b",", b"1,not-a-uuid",
                                 b"99999999999999999999999999,00000000-0000-4000-8000-000000000000",
                                 b"' OR 1=1 --"],
                         ids=["short", "long", "binary", "comma", "bad-uuid", "huge-number", "sql"])
@pytest.mark.parametrize("path", ["/projects", "/specs"])
def test_crafted_cursor_is_400(stack, path, raw):
    import base64
    cursor = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    assert_problem(stack.get(f"{path}?limit=5&cursor={cursor}"), 400, "bad-request")


def test_limit_1000_is_accepted(stack):
    resp = stack.get("/projects?limit=1000")
    assert isinstance(assert_json(resp, 200), list)


# ---------------------------------------------------------------- specs pagination

def test_specs_pagination(stack):
    project = specgen.make_project(stack)
    tag = uuid.uuid4().hex[:8]
    ups = [specgen.upload(stack, specgen.openapi(f"pg-{tag}-{i}"), project_id=project["id"])
           for i in range(5)]
    ids = [u["id"] for u in ups]

    resp_full = stack.get("/specs")
    full = [s["id"] for s in assert_json(resp_full, 200)]
    assert next_link(resp_full) is None, "without limit the whole list, no next link"
    items, pages = walk(stack, "/specs?limit=2", 2)
    assert [s["id"] for s in items] == full
    assert_schema_list(items, "Spec")
    assert all(i in full for i in ids)

    items, pages = walk(stack, f"/projects/{project['id']}/specs?limit=2", 2)
    assert [s["id"] for s in items] == ids
    assert [len(p) for p in pages] == [2, 2, 1]


def test_specs_pagination_keeps_filters(stack):
    project = specgen.make_project(stack)
    tag = uuid.uuid4().hex[:8]
    want = [specgen.upload(stack, specgen.openapi(f"flt-{tag}-{i}"), project_id=project["id"])["id"]
            for i in range(5)]
    specgen.upload(stack, specgen.asyncapi(f"flt-{tag}-async"), project_id=project["id"])
    specgen.upload(stack, specgen.openapi(f"other-{tag}"), project_id=project["id"])
    items, _ = walk(stack, f"/specs?name=flt-{tag}&type=openapi&limit=2", 2)
    assert [s["id"] for s in items] == want, "following next must keep the name/type filters"


def test_specs_pagination_link_encodes_filter(stack):
    # the name filter goes back into the Link URL: it must be percent-encoded so that
    # "&", "+", "%", spaces and non-ASCII survive the round trip
    project = specgen.make_project(stack)
    tag = uuid.uuid4().hex[:6]
    base = f"q{tag} & b+c %d \u00fc/"
    want = [specgen.upload(stack, specgen.openapi(f"{base}{i}"), project_id=project["id"])["id"]
            for i in range(5)]
    specgen.upload(stack, specgen.openapi(f"q{tag} & bxc"), project_id=project["id"])
    first = "/specs?" + requests.compat.urlencode({"name": base, "limit": 2})
    items, pages = walk(stack, first, 2)
    assert [s["id"] for s in items] == want
    assert [len(p) for p in pages] == [2, 2, 1]


def test_a_long_filter_is_kept_on_every_page(stack):
    """A 1 KiB name prefix (3 KiB percent-encoded) survives into every Link."""
    project = specgen.make_project(stack)
    base = "L" + uuid.uuid4().hex[:6] + "\u00fc" * 500
    want = [specgen.upload(stack, specgen.openapi(f"{base}{i}"), project_id=project["id"])["id"]
            for i in range(3)]
    specgen.upload(stack, specgen.openapi("L-other"), project_id=project["id"])
    items, pages = walk(stack, "/specs?" + requests.compat.urlencode({"name": base, "limit": 1}), 1)
    assert [s["id"] for s in items] == want and len(pages) == 3


def test_a_filter_too_long_for_a_link_is_400_with_limit(stack):
    query = requests.compat.urlencode({"name": "\u00fc" * 800, "limit": 2})
    assert_problem(stack.get("/specs?" + query), 400, "bad-request")
    assert stack.get("/specs?" + requests.compat.urlencode({"name": "\u00fc" * 800})).status_code == 200


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=abc", "limit=2&cursor=garbage"],
                         ids=["zero", "1001", "abc", "garbage-cursor"])
def test_specs_bad_pagination_params_are_400(stack, query):
    assert_problem(stack.get("/specs?" + query), 400, "bad-request")
    project = specgen.make_project(stack)
    assert_problem(stack.get(f"/projects/{project['id']}/specs?" + query), 400, "bad-request")
