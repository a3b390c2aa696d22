"""test_bca_verify.py — checks tests/tools/bca_verify.py against the BCA-FORMAT.md §12 worked
example (rebuilt here in Python and pinned by the digests §12 states), against corrupted copies
of it, and against the C writer's own output when build/tests/test_bca exists.
Run: /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/tools
"""
import hashlib
import json
import os
import random
import struct
import subprocess
import sys
import zlib

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pytest  # noqa: E402

import bca_verify  # noqa: E402
from bca_verify import serde_text, verify  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))

# ------------------------------------------------------------------ §12 inputs and digests

API_YAML = b"""openapi: "3.1.0"
info:
  title: Hello API
  version: "1.0.0"
paths:
  /hello:
    get:
      operationId: getHello
      summary: Say hello
      parameters:
        - name: X-Trace-Id
          in: header
          schema:
            type: string
      responses:
        "200":
          description: A greeting
          content:
            application/json:
              schema:
                $ref: "#/components/schemas/Greeting"
      x-barbacane-dispatch:
        name: mock
        config:
          status: 200
          body: '{"message":"hello"}'
components:
  schemas:
    Greeting:
      type: object
      properties:
        message:
          type: string
"""
MOCK_WASM = bytes([0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00])

GOLDEN = {
    6: dict(routes_len=1295,
            routes="f6618f913b635e4768d56b2835224b584ad1ab518d1125c98ce528ad0720eea3",
            hash_len=546,
            artifact="sha256:591e3bc06c894b7d4e94d7a358cd88ade3f0cc38ee9418335cd7c4cf5245db56",
            manifest_len=1392,
            manifest="7b7c23169db6355532252710304d22fd52b6dcd60c01b9194dedf641f88198f3",
            tar="a5c041e24e3391ada0db3ce4e8539145c701d067adfc37f833ce744d39a04b68"),
    4: dict(routes_len=1230,
            routes="2bbab586e3b66776ef1440ab6d9e3401a910e45c6bb00c343cf53d2adb7d8271",
            hash_len=411,
            artifact="sha256:20b597ed9d414722b56d858cf4d483a2fb2bc78c651233554db5424d4aa00e2a",
            manifest_len=1152,
            manifest="0c81abb7f3eaaebad463eae724d3f9b35980e4eae2140195af75b1f41f5900f6",
            tar="b722d79efe48cccc3b5b3a5651cf1ab514288509cdafd9fd3d5076ebbdc9ac82"),
}


def sha(b):
    return hashlib.sha256(b).hexdigest()


def routes_value(fmt):
    op = {
        "index": 0, "path": "/hello", "method": "GET", "operation_id": "getHello",
        "summary": "Say hello", "description": None,
        "parameters": [{"name": "X-Trace-Id", "location": "header", "required": False,
                        "schema": {"type": "string"}}],
        "request_body": None,
        "dispatch": {"name": "mock", "config": {"body": '{"message":"hello"}', "status": 200}},
        "middlewares": [], "deprecated": False, "sunset": None,
        "responses": {"200": {"content": {"application/json": {"schema": {
            "$defs": {"Greeting": {"properties": {"message": {"type": "string"}},
                                   "type": "object"}},
            "$ref": "#/$defs/Greeting"}}}}},
        "mcp_enabled": None, "mcp_description": None,
    }
    if fmt == 6:
        op["allowed_request_headers"] = ["x-trace-id"]
    return {"operations": [op]}


DEFAULT_WAF = {"enabled": False, "paranoia_level": 0, "mode": "blocking",
               "inbound_threshold": 0, "outbound_threshold": 0, "max_response_body": 1048576,
               "audit": "relevant-only", "unsupported_rules": "fail"}


def manifest_value(fmt, routes_raw, specs, plugins, artifact_hash):
    m = {"barbacane_artifact_version": fmt, "compiled_at": "2026-01-01T00:00:00Z",
         "compiler_version": "0.1.0",
         "source_specs": [{"file": f, "sha256": sha(b), "type": "openapi", "version": "3.1.0"}
                          for f, b in specs],
         "routes_count": 1, "checksums": {}, "plugins": [], "artifact_hash": artifact_hash,
         "provenance": {"commit": None, "source": None},
         "mcp": {"enabled": False, "server_name": None, "server_version": None}}
    ck = {"routes.json": "sha256:" + sha(routes_raw)}
    for name, wasm in plugins:
        ck["plugins/%s.wasm" % name] = "sha256:" + sha(wasm)
        m["plugins"].append({"name": name, "version": "0.1.0", "plugin_type": "dispatcher",
                             "wasm_path": "plugins/%s.wasm" % name, "sha256": sha(wasm),
                             "capabilities": {"body_access": False, "host_functions": []}})
    m["checksums"] = {k: ck[k] for k in sorted(ck)}
    if fmt == 6:
        m["waf"] = dict(DEFAULT_WAF)
    m["capabilities_enforced"] = False
    return m


# ------------------------------------------------------------------ a scratch builder (§2, §3)


def tar_header(name, size, typeflag=b"\0", uidgid=bytes(8)):
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b"0000644\0"
    h[108:116] = uidgid
    h[116:124] = uidgid
    h[124:136] = b"%011o\0" % size
    h[136:148] = b"00000000000\0"
    h[156:157] = typeflag
    h[257:265] = b"ustar  \0"
    h[148:156] = b" " * 8
    h[148:156] = b"%07o\0" % sum(h)
    return bytes(h)


def fix_checksum(h):
    h = bytearray(h)
    h[148:156] = b" " * 8
    h[148:156] = b"%07o\0" % sum(h)
    return bytes(h)


def pad(b):
    return b + bytes(-len(b) % 512)


def make_tar(entries):
    out = b""
    for name, data in entries:
        nb = name.encode("utf-8")
        if len(nb) > 100:  # the §3.2 GNU long-name record
            out += tar_header(b"././@LongLink", len(nb) + 1, b"L", b"0000000\0")
            out += pad(nb + b"\0")
            nb = nb[:100]
        out += tar_header(nb, len(data)) + pad(data)
    return out + bytes(1024)


def gzip_member(tar):
    c = zlib.compressobj(6, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY)
    body = c.compress(tar) + c.flush()
    return (bytes([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]) + body
            + struct.pack("<II", zlib.crc32(tar), len(tar) & 0xFFFFFFFF))


def build(fmt=6, routes=None, routes_raw=None, edit_manifest=None, edit_entries=None,
          spec_name="api.yaml", plugins=None, hash_from=None):
    """The §12 artifact, or a variant of it: every digest recomputed unless an edit breaks it."""
    routes_raw = routes_raw if routes_raw is not None else \
        serde_text(routes if routes is not None else routes_value(fmt)).encode()
    specs = [(spec_name, API_YAML)]
    plugins = plugins if plugins is not None else [("mock", MOCK_WASM)]
    m = manifest_value(fmt, routes_raw, specs, plugins, "")
    pl = m["plugins"]
    m["artifact_hash"] = hash_from or bca_verify.artifact_hash(
        m, m["source_specs"], pl, m.get("waf"), fmt)
    if edit_manifest:
        edit_manifest(m)
    manifest_raw = serde_text(m).encode()
    entries = [("manifest.json", manifest_raw), ("routes.json", routes_raw)]
    entries += [("specs/" + f, b) for f, b in specs]
    entries += [("plugins/%s.wasm" % n, w) for n, w in plugins]
    if edit_entries:
        entries = edit_entries(entries)
    tar = make_tar(entries)
    return tar, gzip_member(tar), manifest_raw, routes_raw


# ------------------------------------------------------------------ the golden example


@pytest.mark.parametrize("fmt", [6, 4])
def test_golden_rebuilt_and_verified(fmt):
    g = GOLDEN[fmt]
    routes_raw = serde_text(routes_value(fmt)).encode()
    assert sha(API_YAML) == "1187a5c597437720fb4fd8047e47272ad7e117cf4aadf4764b21ff58ed2ac0ae"
    assert len(API_YAML) == 677
    assert (len(routes_raw), sha(routes_raw)) == (g["routes_len"], g["routes"])
    m = manifest_value(fmt, routes_raw, [("api.yaml", API_YAML)], [("mock", MOCK_WASM)], "")
    text = bca_verify.hash_text(m, m["source_specs"], m["plugins"], m.get("waf"), fmt)
    assert len(text.encode()) == g["hash_len"]
    assert bca_verify.artifact_hash(m, m["source_specs"], m["plugins"], m.get("waf"),
                                    fmt) == g["artifact"]
    tar, bca, manifest_raw, _ = build(fmt, hash_from=g["artifact"])
    assert (len(manifest_raw), sha(manifest_raw)) == (g["manifest_len"], g["manifest"])
    assert (len(tar), sha(tar)) == (7680, g["tar"])
    assert verify(bca) == []
    assert verify(bca, fmt) == []
    other = 4 if fmt == 6 else 6
    assert any("barbacane_artifact_version is %d, want %d" % (fmt, other) in p
               for p in verify(bca, other))


def test_fmt_f64_table():
    cases = [(0.0, "0.0"), (-0.0, "-0.0"), (1.0, "1.0"), (0.1, "0.1"), (1e16, "1e16"),
             (1e-7, "1e-7"), (1.5e-7, "1.5e-7"), (123.456, "123.456"),
             (1e15, "1000000000000000.0"), (1e-5, "0.00001"), (1e-6, "1e-6"),
             (5e-324, "5e-324"), (2.5e300, "2.5e300"), (100.0, "100.0"),
             (1.7976931348623157e308, "1.7976931348623157e308"), (-1.5, "-1.5")]
    for x, want in cases:
        assert bca_verify.fmt_f64(x) == want, x


def test_serde_text_escaping():
    s = "".join(chr(i) for i in range(32)) + '"\\/\x7f\u00e9\U0001F600'
    want = ('"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r'
            '\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018'
            '\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\\"\\\\/\x7f\u00e9\U0001F600"')
    assert serde_text(s) == want
    assert serde_text({"a": {}, "b": [], "c": [1, {"d": None}]}) == \
        '{\n  "a": {},\n  "b": [],\n  "c": [\n    1,\n    {\n      "d": null\n    }\n  ]\n}'


# ------------------------------------------------------------------ corrupted copies


def regzip(tar):
    return gzip_member(tar)


def entry_offset(tar, name):
    off = 0
    while any(tar[off:off + 512]):
        n = tar[off:off + 100].rstrip(b"\0").decode()
        size = int(tar[off + 124:off + 135], 8)
        if n == name:
            return off, size
        off += 512 + (size + 511) // 512 * 512
    raise KeyError(name)


def has(problems, needle):
    return any(needle in p for p in problems)


def test_flipped_byte_in_routes():
    tar, _, _, _ = build()
    off, _ = entry_offset(tar, "routes.json")
    t = bytearray(tar)
    t[off + 512 + 40] ^= 0x01
    probs = verify(regzip(bytes(t)))
    assert has(probs, "checksums[routes.json] does not match")


def test_flipped_byte_in_plugin_and_spec():
    tar, _, _, _ = build()
    t = bytearray(tar)
    off, _ = entry_offset(tar, "plugins/mock.wasm")
    t[off + 512 + 7] ^= 0x01
    off, _ = entry_offset(tar, "specs/api.yaml")
    t[off + 512 + 3] ^= 0x01
    probs = verify(regzip(bytes(t)))
    assert has(probs, "plugins/mock.wasm: sha256 differs")
    assert has(probs, "specs/api.yaml: sha256 differs")


def test_reordered_entries():
    def swap(entries):
        e = list(entries)
        e[1], e[2] = e[2], e[1]
        return e
    _, bca, _, _ = build(edit_entries=swap)
    assert has(verify(bca), "tar: entries are")


def test_extra_and_duplicate_entries():
    _, bca, _, _ = build(edit_entries=lambda e: e + [("specs/extra.yaml", b"x: 1\n")])
    assert has(verify(bca), "tar: entries are")
    _, bca, _, _ = build(edit_entries=lambda e: e + [e[2]])
    assert has(verify(bca), "appears twice")
    _, bca, _, _ = build(edit_entries=lambda e: [("./manifest.json", e[0][1])] + e[1:])
    probs = verify(bca)
    assert has(probs, "first entry must be manifest.json")
    assert has(probs, "not a clean relative path")


def test_second_gzip_member_and_trailing_bytes():
    tar, bca, _, _ = build()
    assert has(verify(bca + gzip_member(b"more")), "a second gzip member")
    assert has(verify(bca + b"\0\0\0\0"), "trailing bytes")
    assert has(verify(bca[:-10]), "truncated")
    assert has(verify(bca[:-4] + b"\0\0\0\0"), "gzip:")          # ISIZE wrong
    os3 = bytearray(bca)
    os3[9] = 3                                                    # zlib's own OS byte
    assert has(verify(bytes(os3)), "gzip: header")
    assert verify(b"") != [] and verify(b"not a gzip file") != []


def test_tar_header_bytes():
    tar, _, _, _ = build()
    cases = [
        (148, b"0007072\0", "header checksum"),
        (156, b"0", "typeflag"),
        (100, b"0000664\0", "mode"),
        (108, b"0000000\0", "uid/gid"),
        (136, b"00000000001\0", "mtime"),
        (257, b"ustar\x0000", "magic/version"),
        (124, b"00000002560 ", "size field"),
        (300, b"root", "265-511"),
    ]
    for at, value, needle in cases:
        t = bytearray(tar)
        t[at:at + len(value)] = value
        if at != 148:
            t[0:512] = fix_checksum(bytes(t[0:512]))
        probs = verify(regzip(bytes(t)))
        assert has(probs, needle), (needle, probs)


def test_tar_end_of_archive():
    tar, _, _, _ = build()
    assert has(verify(regzip(tar + bytes(10240 - len(tar) % 10240))), "two zero blocks")
    assert has(verify(regzip(tar[:-512])), "two zero blocks")
    t = bytearray(tar)
    off, size = entry_offset(tar, "specs/api.yaml")
    t[off + 512 + size] = 0x41                                    # dirty padding
    assert has(verify(regzip(bytes(t))), "padding")


def test_long_name_record_is_accepted():
    name = "s" * 120 + ".yaml"
    _, bca, _, _ = build(spec_name=name)
    assert verify(bca) == []


def test_manifest_rules():
    def reorder(m):
        v = m.pop("compiled_at")
        m["compiled_at"] = v
    _, bca, _, _ = build(edit_manifest=reorder)
    assert has(verify(bca), "manifest: keys out of order")

    def bad_hash(m):
        m["artifact_hash"] = "sha256:" + "0" * 64
    _, bca, _, _ = build(edit_manifest=bad_hash)
    assert has(verify(bca), "artifact_hash differs")

    def no_waf(m):
        del m["waf"]
    _, bca, _, _ = build(4, edit_manifest=lambda m: m.update(waf=dict(DEFAULT_WAF)))
    assert has(verify(bca), "format 4 has no waf key")
    _, bca, _, _ = build(edit_manifest=no_waf)               # format 6: default policy, ok
    assert verify(bca) == []

    def signed_half(m):
        m["signature"] = "ab" * 64
    _, bca, _, _ = build(edit_manifest=signed_half)
    assert has(verify(bca), "come together")

    def wrong_count(m):
        m["routes_count"] = 2
    _, bca, _, _ = build(edit_manifest=wrong_count)
    assert has(verify(bca), "routes_count 2")

    def unsorted_ck(m):
        m["checksums"] = dict(reversed(list(m["checksums"].items())))
    _, bca, _, _ = build(edit_manifest=unsorted_ck)
    assert has(verify(bca), "checksums keys not sorted")


def test_manifest_text_must_be_serde_pretty():
    tar, _, manifest_raw, _ = build()
    compact = serde_text(bca_verify.parse_json(manifest_raw, "m", []), pretty=False).encode()

    def swap(entries):
        return [("manifest.json", compact)] + entries[1:]
    _, bca, _, _ = build(edit_entries=swap)
    assert has(verify(bca), "manifest.json: text is not serde_json pretty form")
    _, bca, _, _ = build(edit_entries=lambda e: [("manifest.json", manifest_raw + b"\n")] + e[1:])
    assert has(verify(bca), "manifest.json: text is not serde_json pretty form")


def test_routes_rules():
    r = routes_value(6)
    r["operations"][0]["dispatch"]["name"] = "mock@0.1.0"
    _, bca, _, _ = build(routes=r)
    assert has(verify(bca), "is not bundled")

    r = routes_value(6)
    r["operations"][0]["index"] = 1
    _, bca, _, _ = build(routes=r)
    assert has(verify(bca), "is not its position")

    r = routes_value(6)
    r["operations"][0]["dispatch"]["config"] = {"status": 200, "body": "x"}
    _, bca, _, _ = build(routes=r)
    assert has(verify(bca), "object keys not sorted")

    r = routes_value(6)
    del r["operations"][0]["allowed_request_headers"]
    _, bca, _, _ = build(routes=r)
    assert has(verify(bca), "missing keys ['allowed_request_headers']")
    _, bca, _, _ = build(4, routes=routes_value(6))
    assert has(verify(bca), "unexpected keys ['allowed_request_headers']")

    compact = serde_text(routes_value(6), pretty=False).encode()
    _, bca, _, _ = build(routes_raw=compact)
    assert has(verify(bca), "routes.json: text is not serde_json pretty form")

    deep = routes_value(6)
    cfg = []
    for _ in range(130):
        cfg = [cfg]
    deep["operations"][0]["dispatch"]["config"] = cfg
    # serde_text refuses to write it; json.dumps gives the same layout for this value
    raw = json.dumps(deep, indent=2, ensure_ascii=False).encode()
    _, bca, _, _ = build(routes_raw=raw)
    assert has(verify(bca), "deeper than serde_json reads")


def test_hostile_bytes_never_raise():
    tar, bca, _, _ = build()
    rnd = random.Random(7)
    for _ in range(300):
        t = bytearray(tar)
        for _ in range(rnd.randint(1, 4)):
            t[rnd.randrange(len(t))] = rnd.randrange(256)
        probs = verify(regzip(bytes(t)))
        assert not has(probs, "verifier: unexpected"), probs
    for _ in range(200):
        b = bytearray(bca)
        b[rnd.randrange(len(b))] ^= 1 << rnd.randrange(8)
        probs = verify(bytes(b))
        assert not has(probs, "verifier: unexpected"), probs


# ------------------------------------------------------------------ command line


def test_command_line(tmp_path):
    _, bca, _, _ = build(hash_from=GOLDEN[6]["artifact"])
    good = tmp_path / "good.bca"
    good.write_bytes(bca)
    tool = os.path.join(HERE, "bca_verify.py")
    r = subprocess.run([sys.executable, tool, str(good), "--format", "6"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout
    assert len(r.stdout.strip().splitlines()) == 1
    assert "ok, format 6, 1 routes, 1 specs, 1 plugins" in r.stdout
    bad = tmp_path / "bad.bca"
    bad.write_bytes(bca + gzip_member(b"x"))
    r = subprocess.run([sys.executable, tool, str(bad), "--format", "4"], capture_output=True,
                       text=True)
    assert r.returncode == 1
    assert "second gzip member" in r.stdout and "want 4" in r.stdout
    r = subprocess.run([sys.executable, tool], capture_output=True, text=True)
    assert r.returncode == 2


# ------------------------------------------------------------------ the C writer's output


def test_c_writer_output(tmp_path):
    """The C writer's real output (tests/unit/test_bca writes it), checked by this verifier.
    Under the suite runner (BARBACANE_TOOLS_DIR set: the build being tested) a missing binary
    is a failure; run by hand without a build, a skip."""
    tools = os.environ.get("BARBACANE_TOOLS_DIR")
    exe = os.environ.get("BCA_TEST_BIN") or os.path.join(
        tools or os.path.join(ROOT, "build", "tests"), "test_bca")
    if not os.access(exe, os.X_OK):
        if tools:
            pytest.fail("%s not built (make test builds it)" % exe)
        pytest.skip("%s not built" % exe)
    env = dict(os.environ, BCA_WRITE_DIR=str(tmp_path))
    r = subprocess.run([exe], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    written = sorted(p.name for p in tmp_path.iterdir())
    assert {"golden4.bca", "golden6.bca", "sorting.bca", "waf_u64.bca"} <= set(written)
    for fmt in (6, 4):
        data = (tmp_path / ("golden%d.bca" % fmt)).read_bytes()
        assert verify(data, fmt) == []
        tar = zlib.decompress(data, 16 + 15)
        assert sha(tar) == GOLDEN[fmt]["tar"]
        expect_tar, _, _, _ = build(fmt, hash_from=GOLDEN[fmt]["artifact"])
        assert tar == expect_tar
    for name in written:
        assert verify((tmp_path / name).read_bytes()) == [], name
