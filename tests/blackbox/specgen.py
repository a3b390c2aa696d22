"""Spec documents for the black-box tests (built in memory, fast) and small upload helpers.

Scalars are emitted with json.dumps: a JSON string is a valid YAML double-quoted scalar, so any
title (quotes, %, _, unicode) round-trips.
"""
import hashlib
import json
import uuid

from harness import assert_json
from schema import assert_schema

MiB = 1024 * 1024


def unique(prefix="spec"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def openapi(title, version="3.1.0", description=None, paths=None):
    """A small valid OpenAPI document as YAML bytes."""
    lines = [f"openapi: {version}", "info:", f"  title: {json.dumps(title)}", '  version: "1.0.0"']
    if description is not None:
        lines.append(f"  description: {json.dumps(description)}")
    lines.append("paths:")
    for p in (paths or ["/health"]):
        lines += [f"  {json.dumps(p)}:", "    get:", "      responses:",
                  "        '200':", "          description: ok"]
    return ("\n".join(lines) + "\n").encode()


def openapi_json(title, version="3.0.3"):
    doc = {"openapi": version, "info": {"title": title, "version": "1.0.0"},
           "paths": {"/items": {"get": {"responses": {"200": {"description": "ok"}}}}}}
    return json.dumps(doc, indent=2).encode()


def asyncapi(title, version="3.0.0"):
    return (f"asyncapi: {version}\n"
            f"info:\n  title: {json.dumps(title)}\n  version: 1.0.0\n"
            "channels:\n  userSignedUp:\n    address: user/signedup\n"
            "    messages:\n      UserSignedUp:\n        payload:\n          type: object\n"
            "operations:\n  onUserSignedUp:\n    action: receive\n"
            "    channel:\n      $ref: '#/channels/userSignedUp'\n").encode()


def big_openapi(title, target_bytes):
    """A valid OpenAPI document of about target_bytes (never more), made of many paths."""
    head = (f"openapi: 3.1.0\ninfo:\n  title: {json.dumps(title)}\n  version: \"1.0.0\"\n"
            "paths:\n").encode()
    pad = "x" * 4000
    # each entry: unique path, one operation with a ~4 KB description
    entry = ("  /p{:07d}:\n    get:\n      description: " + pad +
             "\n      responses:\n        '200':\n          description: ok\n")
    size = len(entry.format(0).encode())
    n = max(1, (target_bytes - len(head)) // size)
    body = "".join(entry.format(i) for i in range(n)).encode()
    return head + body


def billion_laughs(levels=9, fanout=10):
    """Nested aliases: `fanout ** levels` leaf strings once expanded, a few hundred bytes raw."""
    out = ["openapi: 3.1.0", "info:", '  title: "lol"', '  version: "1"', "paths: {}",
           "x-lol:"]
    out.append("  l0: &l0 [" + ", ".join(['"lol"'] * fanout) + "]")
    for i in range(1, levels + 1):
        out.append(f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * fanout) + "]")
    return ("\n".join(out) + "\n").encode()


def deep_flow_sequence(depth):
    prefix = b'openapi: 3.1.0\ninfo: {title: "deep", version: "1"}\npaths: {}\nx-deep: '
    return prefix + b"[" * depth + b"]" * depth + b"\n"


def deep_flow_mapping(depth):
    prefix = b'openapi: 3.1.0\ninfo: {title: "deep", version: "1"}\npaths: {}\nx-deep: '
    return prefix + b"{a: " * depth + b"1" + b"}" * depth + b"\n"


# ---------------------------------------------------------------- upload helpers

def post_spec(stack, data, filename="api.yaml", project_id=None, path="/specs",
              ctype="application/yaml", **kw):
    """POST a spec as multipart field `file` (plus `project_id` when given); returns the response."""
    form = {"project_id": project_id} if project_id is not None else None
    kw.setdefault("timeout", 30)
    return stack.post(path, files={"file": (filename, data, ctype)}, data=form, **kw)


def upload(stack, data, filename="api.yaml", project_id=None, path="/specs", **kw):
    """Upload and assert 201 + UploadResponse; returns the body."""
    resp = post_spec(stack, data, filename=filename, project_id=project_id, path=path, **kw)
    body = assert_json(resp, 201)
    assert_schema(body, "UploadResponse")
    assert body["sha256"] == sha256(data), "sha256 is not the hex SHA-256 of the uploaded bytes"
    return body


def make_project(stack, name=None):
    resp = stack.post("/projects", json={"name": name or unique("specproj")})
    return assert_json(resp, 201)
