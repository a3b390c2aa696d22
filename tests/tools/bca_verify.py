#!/usr/bin/env python3
"""bca_verify.py — an independent checker of .bca artifacts, written from BCA-FORMAT.md alone
(gzip §2, tar §3, manifest §4, artifact_hash §5, routes §6, WAF §9, format 4 §10).

Usage:  python3 tests/tools/bca_verify.py FILE.bca [--format 6|4]
        exit 0 with a one-line summary, or exit 1 listing every problem.
Import: verify(data: bytes, fmt: int | None = None) -> list of problem strings ([] = valid).
Stdlib only. Every input is hostile: sizes and depth are bounded and nothing raises out of
verify().
"""
import hashlib
import io
import json
import re
import sys
import tarfile
import zlib

MAX_TAR = 1 << 30              # decompressed size we accept (the writer's own bound)
SERDE_MAX_DEPTH = 127          # serde_json's reader refuses a 128th nested container
GZIP_HEADER = bytes([0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, 0, 0xFF])
HEX64 = re.compile(r"[0-9a-f]{64}\Z")
PLUGIN_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}\Z")
TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\Z")

# ------------------------------------------------------------------ serde_json text (§4.1, §4.4)


def fmt_f64(x):
    """serde_json (ryu) spelling of a finite float: the §4.4 table over repr's digits."""
    if x == 0:
        return "-0.0" if str(x).startswith("-") else "0.0"
    sign = "-" if x < 0 else ""
    r = repr(abs(x))
    mant, _, exp = r.partition("e")
    ip, _, fp = mant.partition(".")
    allds = ip + fp
    k = (int(exp) if exp else 0) - len(fp)
    d = allds.lstrip("0")
    t = d.rstrip("0")
    k += len(d) - len(t)
    d = t
    n = len(d)
    kk = n + k
    if 0 <= k and kk <= 16:
        s = d + "0" * k + ".0"
    elif 0 < kk <= 16:
        s = d[:kk] + "." + d[kk:]
    elif -5 < kk <= 0:
        s = "0." + "0" * (-kk) + d
    elif n == 1:
        s = d + "e" + str(kk - 1)
    else:
        s = d[0] + "." + d[1:] + "e" + str(kk - 1)
    return sign + s


_NAMED = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}


def _str(s):
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif c < 0x20:
            out.append(_NAMED.get(c, "\\u%04x" % c))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def serde_text(v, pretty=True, depth=0):
    """serde_json::to_string_pretty (or to_string) of a parsed value, members in stored order."""
    if depth > SERDE_MAX_DEPTH:
        raise ValueError("nesting deeper than serde_json reads (%d)" % SERDE_MAX_DEPTH)
    nl = "\n" + "  " * (depth + 1) if pretty else ""
    end = "\n" + "  " * depth if pretty else ""
    if isinstance(v, dict):
        if not v:
            return "{}"
        sep = ": " if pretty else ":"
        items = [nl + _str(k) + sep + serde_text(x, pretty, depth + 1) for k, x in v.items()]
        return "{" + ",".join(items) + end + "}"
    if isinstance(v, list):
        if not v:
            return "[]"
        return "[" + ",".join(nl + serde_text(x, pretty, depth + 1) for x in v) + end + "]"
    if isinstance(v, str):
        return _str(v)
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return fmt_f64(v)
    raise ValueError("not a JSON value: %r" % type(v))


def _pairs(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key in an object")
    return dict(pairs)


def _no_constant(name):
    raise ValueError("%s is not JSON" % name)


def parse_json(raw, what, problems):
    """UTF-8 text → value with member order kept; None (and a problem) when it is not JSON."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        problems.append("%s: not UTF-8" % what)
        return None
    try:
        return json.loads(text, object_pairs_hook=_pairs, parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:
        problems.append("%s: not JSON (%s)" % (what, e))
        return None


def check_serde_text(raw, value, what, problems):
    try:
        again = serde_text(value).encode("utf-8")
    except (ValueError, RecursionError) as e:
        problems.append("%s: %s" % (what, e))
        return
    if again != raw:
        at = next((i for i in range(min(len(raw), len(again))) if raw[i] != again[i]),
                  min(len(raw), len(again)))
        problems.append("%s: text is not serde_json pretty form (first difference at byte %d)"
                        % (what, at))


def _bytewise_sorted(keys):
    enc = [k.encode("utf-8") for k in keys]
    return enc == sorted(enc)


def check_sorted_deep(v, what, problems, depth=0):
    """Free-form serde_json::Value: every object's keys in bytewise order."""
    if depth > SERDE_MAX_DEPTH:
        return
    if isinstance(v, dict):
        if not _bytewise_sorted(list(v)):
            problems.append("%s: object keys not sorted" % what)
            return
        for k, x in v.items():
            check_sorted_deep(x, what, problems, depth + 1)
    elif isinstance(v, list):
        for x in v:
            check_sorted_deep(x, what, problems, depth + 1)


# ------------------------------------------------------------------ gzip (§2)


def gunzip_one_member(data, problems):
    if data[:10] != GZIP_HEADER:
        problems.append("gzip: header is %s, want %s" % (data[:10].hex(" "), GZIP_HEADER.hex(" ")))
        if data[:2] != GZIP_HEADER[:2]:
            return None
    d = zlib.decompressobj(16 + 15)
    try:
        tar = d.decompress(data, MAX_TAR + 1)
    except zlib.error as e:
        problems.append("gzip: %s" % e)
        return None
    if len(tar) > MAX_TAR or d.unconsumed_tail:
        problems.append("gzip: decompressed size is over %d bytes" % MAX_TAR)
        return None
    if not d.eof:
        problems.append("gzip: the member is truncated")
        return None
    if d.unused_data:
        more = d.unused_data
        kind = "a second gzip member" if more[:2] == b"\x1f\x8b" else "trailing bytes"
        problems.append("gzip: %s after the first member (%d bytes; the data plane reads only "
                        "the first)" % (kind, len(more)))
    return tar


# ------------------------------------------------------------------ tar (§3)


def _octal(field, digits):
    """A GNU octal field: exactly `digits` octal digits then NUL; None when malformed."""
    if len(field) != digits + 1 or field[digits] != 0:
        return None
    s = field[:digits]
    if not all(0x30 <= c <= 0x37 for c in s):
        return None
    return int(s, 8)


def _check_header(h, where, problems, longlink=False):
    """§3.1 byte for byte. Returns (name_field, size, typeflag) or None."""
    p0 = len(problems)
    name = h[0:100]
    nul = name.find(b"\0")
    if nul >= 0 and any(name[nul:]):
        problems.append("%s: name field has bytes after its NUL" % where)
    if h[100:108] != b"0000644\0":
        problems.append("%s: mode is %r, want '0000644\\0'" % (where, h[100:108]))
    want_id = b"0000000\0" if longlink else bytes(8)
    if h[108:116] != want_id or h[116:124] != want_id:
        problems.append("%s: uid/gid are %r/%r, want %r" % (where, h[108:116], h[116:124],
                                                            want_id))
    size = _octal(h[124:136], 11)
    if size is None:
        problems.append("%s: size field %r is not 11 octal digits and NUL" % (where, h[124:136]))
    if h[136:148] != b"00000000000\0":
        problems.append("%s: mtime is %r, want 0" % (where, h[136:148]))
    stored = _octal(h[148:156], 7)
    actual = sum(h[:148]) + 8 * 0x20 + sum(h[156:])
    if stored is None:
        problems.append("%s: checksum field %r is not '%%07o\\0'" % (where, h[148:156]))
    elif stored != actual:
        problems.append("%s: header checksum %o, computed %o" % (where, stored, actual))
    flag = h[156:157]
    if flag != (b"L" if longlink else b"\0"):
        problems.append("%s: typeflag %r, want %r" % (where, flag, b"L" if longlink else b"\0"))
    if any(h[157:257]):
        problems.append("%s: linkname is not empty" % where)
    if h[257:263] != b"ustar " or h[263:265] != b" \0":
        problems.append("%s: magic/version %r, want GNU 'ustar  \\0'" % (where, h[257:265]))
    if any(h[265:512]):
        problems.append("%s: bytes 265-511 are not all NUL" % where)
    if len(problems) != p0 and size is None:
        return None
    return (name[:nul] if nul >= 0 else name), (size or 0), flag


def read_tar(tar, problems):
    """The entries as [(name, data)], every header checked, exact end of archive."""
    entries, off, n = [], 0, 0
    if len(tar) % 512:
        problems.append("tar: length %d is not a multiple of 512" % len(tar))
    while True:
        if off + 512 > len(tar):
            problems.append("tar: ends without the two zero blocks")
            return entries
        block = tar[off:off + 512]
        if not any(block):
            break
        where = "tar header at %d" % off
        long_name = None
        if block[156:157] == b"L":
            got = _check_header(block, where, problems, longlink=True)
            if got is None:
                return entries
            lname, lsize, _ = got
            if lname != b"././@LongLink":
                problems.append("%s: long-name record named %r" % (where, lname))
            data = tar[off + 512:off + 512 + lsize]
            if len(data) != lsize or not data.endswith(b"\0"):
                problems.append("%s: long-name data is truncated or lacks its NUL" % where)
                return entries
            long_name = data[:-1]
            off += 512 + (lsize + 511) // 512 * 512
            if off + 512 > len(tar):
                problems.append("%s: long-name record without its entry" % where)
                return entries
            block = tar[off:off + 512]
            where = "tar header at %d" % off
        got = _check_header(block, where, problems)
        if got is None:
            return entries
        name, size, _ = got
        if long_name is not None:
            if name != long_name[:100]:
                problems.append("%s: name field is not the first 100 bytes of the long name"
                                % where)
            name = long_name
        data = tar[off + 512:off + 512 + size]
        if len(data) != size:
            problems.append("%s: data truncated" % where)
            return entries
        pad = tar[off + 512 + size:off + 512 + (size + 511) // 512 * 512]
        if any(pad):
            problems.append("%s: padding after the data is not NUL" % where)
        try:
            sname = name.decode("utf-8")
        except UnicodeDecodeError:
            problems.append("%s: name is not UTF-8" % where)
            sname = name.decode("utf-8", "replace")
        entries.append((sname, data))
        off += 512 + (size + 511) // 512 * 512
        n += 1
        if n > 100000:
            problems.append("tar: more than 100000 entries")
            return entries
    if tar[off:] != bytes(1024):
        problems.append("tar: the archive must end with exactly two zero blocks (%d bytes "
                        "follow the last entry)" % (len(tar) - off))
    return entries


def tarfile_cross_check(tar, entries, problems):
    """A second reading with the stdlib's tarfile must see the same entries."""
    try:
        with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as tf:
            seen = []
            for mem in tf.getmembers():
                if not mem.isreg():
                    problems.append("tar: tarfile sees a non-file entry %r" % mem.name)
                    continue
                f = tf.extractfile(mem)
                seen.append((mem.name, f.read() if f else b""))
    except Exception as e:  # tarfile raises many kinds on hostile bytes
        problems.append("tar: tarfile cannot read the archive (%s)" % e)
        return
    if seen != entries:
        problems.append("tar: tarfile reads other entries: %s" % [n for n, _ in seen])


def check_names(entries, problems):
    seen = set()
    for name, _ in entries:
        parts = name.split("/")
        if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
            problems.append("tar: entry name %r is not a clean relative path" % name)
        if name in seen:
            problems.append("tar: entry %r appears twice" % name)
        seen.add(name)


# ------------------------------------------------------------------ manifest (§4, §9, §10)

FIELDS6 = ["barbacane_artifact_version", "compiled_at", "compiler_version", "source_specs",
           "routes_count", "checksums", "plugins", "artifact_hash", "provenance", "mcp", "waf",
           "signature", "signing_public_key", "capabilities_enforced"]
OPTIONAL = {"signature", "signing_public_key", "mcp", "waf", "capabilities_enforced"}
WAF_KEYS = ["enabled", "ruleset", "paranoia_level", "mode", "inbound_threshold",
            "outbound_threshold", "max_response_body", "audit", "unsupported_rules", "rules_path",
            "skipped_rules"]
WAF_OPTIONAL = {"ruleset", "rules_path", "skipped_rules"}
MODE = {"blocking": "Blocking", "detection-only": "DetectionOnly"}
AUDIT = {"off": "Off", "relevant-only": "RelevantOnly", "on": "On"}
UNSUPPORTED = {"fail": "Fail", "skip": "Skip"}


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_str_or_null(v):
    return v is None or isinstance(v, str)


def check_order(obj, order, optional, what, problems):
    keys = list(obj)
    unknown = [k for k in keys if k not in order]
    if unknown:
        problems.append("%s: unexpected keys %s" % (what, unknown))
    missing = [k for k in order if k not in obj and k not in optional]
    if missing:
        problems.append("%s: missing keys %s" % (what, missing))
    known = [k for k in keys if k in order]
    if known != sorted(known, key=order.index):
        problems.append("%s: keys out of order: %s" % (what, known))


def check_exact_keys(obj, order, what, problems):
    if not isinstance(obj, dict):
        problems.append("%s: not an object" % what)
        return False
    if list(obj) != order:
        problems.append("%s: keys are %s, want %s" % (what, list(obj), order))
        return False
    return True


def check_source_specs(m, problems):
    specs = m.get("source_specs")
    if not isinstance(specs, list):
        problems.append("manifest: source_specs is not an array")
        return []
    good = []
    for i, s in enumerate(specs):
        w = "manifest: source_specs[%d]" % i
        if not check_exact_keys(s, ["file", "sha256", "type", "version"], w, problems):
            continue
        if not isinstance(s.get("file"), str) or not isinstance(s.get("version"), str):
            problems.append("%s: file and version must be strings" % w)
            continue
        if not isinstance(s.get("sha256"), str) or not HEX64.match(s["sha256"]):
            problems.append("%s: sha256 is not 64 lowercase hex" % w)
        if s.get("type") not in ("openapi", "asyncapi"):
            problems.append("%s: type %r" % (w, s.get("type")))
        if "/" in s["file"] or s["file"] in ("", ".", ".."):
            problems.append("%s: file %r is not a basename" % (w, s["file"]))
        good.append(s)
    files = [s["file"] for s in good]
    if not _bytewise_sorted(files):
        problems.append("manifest: source_specs not sorted by file")
    if len(set(files)) != len(files):
        problems.append("manifest: a source_specs file appears twice")
    return good


def check_plugins(m, problems):
    plugins = m.get("plugins")
    if not isinstance(plugins, list):
        problems.append("manifest: plugins is not an array")
        return []
    good = []
    for i, p in enumerate(plugins):
        w = "manifest: plugins[%d]" % i
        keys = ["name", "version", "plugin_type", "wasm_path", "sha256", "capabilities"]
        if not check_exact_keys(p, keys, w, problems):
            continue
        name = p.get("name")
        if not isinstance(name, str) or not PLUGIN_NAME.match(name):
            problems.append("%s: name %r" % (w, name))
            continue
        if not isinstance(p.get("version"), str):
            problems.append("%s: version is not a string" % w)
        if p.get("plugin_type") not in ("dispatcher", "middleware", "plugin"):
            problems.append("%s: plugin_type %r" % (w, p.get("plugin_type")))
        if p.get("wasm_path") != "plugins/%s.wasm" % name:
            problems.append("%s: wasm_path %r, want plugins/%s.wasm" % (w, p.get("wasm_path"),
                                                                        name))
        if not isinstance(p.get("sha256"), str) or not HEX64.match(p["sha256"]):
            problems.append("%s: sha256 is not 64 lowercase hex" % w)
        caps = p.get("capabilities")
        if check_exact_keys(caps, ["body_access", "host_functions"], w + ".capabilities",
                            problems):
            hf = caps.get("host_functions")
            if not isinstance(caps.get("body_access"), bool) or not isinstance(hf, list) \
                    or not all(isinstance(h, str) for h in hf):
                problems.append("%s: capabilities types" % w)
                continue
        else:
            continue
        good.append(p)
    names = [p["name"] for p in good]
    if not _bytewise_sorted(names):
        problems.append("manifest: plugins not sorted by name")
    if len(set(names)) != len(names):
        problems.append("manifest: a plugin name appears twice")
    return good


def check_waf(w, problems):
    if not isinstance(w, dict):
        problems.append("manifest: waf is not an object")
        return None
    check_order(w, WAF_KEYS, WAF_OPTIONAL, "manifest: waf", problems)
    ok = True
    types = [("enabled", lambda v: isinstance(v, bool)),
             ("paranoia_level", lambda v: is_int(v) and 0 <= v <= 255),
             ("mode", lambda v: v in MODE), ("inbound_threshold", is_int),
             ("outbound_threshold", is_int),
             ("max_response_body", lambda v: is_int(v) and 0 <= v < 1 << 64),
             ("audit", lambda v: v in AUDIT), ("unsupported_rules", lambda v: v in UNSUPPORTED)]
    for k, good in types:
        if k in w and not good(w[k]):
            problems.append("manifest: waf.%s = %r" % (k, w[k]))
            ok = False
    if "ruleset" in w and not isinstance(w["ruleset"], str):
        problems.append("manifest: waf.ruleset is not a string")
    skipped = w.get("skipped_rules", [])
    if "skipped_rules" in w:
        if not isinstance(skipped, list) or not skipped \
                or not all(is_int(x) and 0 <= x < 1 << 32 for x in skipped) \
                or skipped != sorted(set(skipped)):
            problems.append("manifest: waf.skipped_rules must be non-empty, sorted, distinct u32")
            ok = False
    if w.get("enabled") is True and w.get("rules_path") != "waf/rules.json":
        problems.append("manifest: an enabled waf needs rules_path waf/rules.json")
    if w.get("enabled") is not True and "rules_path" in w:
        problems.append("manifest: rules_path on a disabled waf")
    return w if ok and "enabled" in w else None


DEFAULT_WAF = {"enabled": False, "paranoia_level": 0, "mode": "blocking",
               "inbound_threshold": 0, "outbound_threshold": 0, "max_response_body": 1048576,
               "audit": "relevant-only", "unsupported_rules": "fail"}


def check_manifest(m, fmt, problems):
    """Field order and types. Returns (specs, plugins, waf) of the well-formed parts."""
    if not isinstance(m, dict):
        problems.append("manifest: not an object")
        return [], [], None
    order = FIELDS6 if fmt == 6 else [k for k in FIELDS6 if k != "waf"]
    check_order(m, order, OPTIONAL, "manifest", problems)
    if fmt == 4 and "waf" in m:
        problems.append("manifest: format 4 has no waf key")
    if is_int(m.get("routes_count")) is False or m.get("routes_count", 0) < 0:
        problems.append("manifest: routes_count is not a non-negative integer")
    if not isinstance(m.get("compiled_at"), str) or not TIME.match(m["compiled_at"]):
        problems.append("manifest: compiled_at is not YYYY-MM-DDTHH:MM:SSZ")
    if not isinstance(m.get("compiler_version"), str):
        problems.append("manifest: compiler_version is not a string")
    ah = m.get("artifact_hash")
    if not isinstance(ah, str) or not ah.startswith("sha256:") or not HEX64.match(ah[7:]):
        problems.append("manifest: artifact_hash is not sha256:<64 hex>")
    prov = m.get("provenance")
    if check_exact_keys(prov, ["commit", "source"], "manifest: provenance", problems):
        if not is_str_or_null(prov["commit"]) or not is_str_or_null(prov["source"]):
            problems.append("manifest: provenance values must be string or null")
    mcp = m.get("mcp", {"enabled": False, "server_name": None, "server_version": None})
    if check_exact_keys(mcp, ["enabled", "server_name", "server_version"], "manifest: mcp",
                        problems):
        if not isinstance(mcp.get("enabled"), bool) or not is_str_or_null(mcp["server_name"]) \
                or not is_str_or_null(mcp["server_version"]):
            problems.append("manifest: mcp types")
    if not isinstance(m.get("capabilities_enforced", False), bool):
        problems.append("manifest: capabilities_enforced is not a boolean")
    if ("signature" in m) != ("signing_public_key" in m):
        problems.append("manifest: signature and signing_public_key come together")
    if "signature" in m and (not isinstance(m["signature"], str)
                             or not re.fullmatch(r"[0-9a-f]{128}", m["signature"])):
        problems.append("manifest: signature is not 128 lowercase hex")
    if "signing_public_key" in m and (not isinstance(m["signing_public_key"], str)
                                      or not HEX64.match(m["signing_public_key"])):
        problems.append("manifest: signing_public_key is not 64 lowercase hex")
    waf = check_waf(m.get("waf", DEFAULT_WAF), problems) if fmt == 6 else None
    return check_source_specs(m, problems), check_plugins(m, problems), waf


def hash_text(m, specs, plugins, waf, fmt):
    """The §5 input text (format 6 with the waf: line, format 4 without)."""
    lines = ["source_spec:%s=%s" % (s["file"], s["sha256"]) for s in specs]
    ck = m.get("checksums") if isinstance(m.get("checksums"), dict) else {}
    lines += ["%s=%s" % (k, ck[k]) for k in sorted(ck, key=lambda k: k.encode("utf-8"))]
    lines.append("capabilities_enforced=%s" % str(m.get("capabilities_enforced", False)).lower())
    for p in plugins:
        caps = p["capabilities"]
        hf = sorted(caps["host_functions"], key=lambda h: h.encode("utf-8"))
        lines.append("plugin:%s\ttype=%s\tversion=%s\tbody_access=%s\thost_functions=%s"
                     % (p["name"], p["plugin_type"], p["version"],
                        str(caps["body_access"]).lower(), ",".join(hf)))
    mcp = m.get("mcp") if isinstance(m.get("mcp"), dict) else {}
    lines.append("mcp:enabled=%s\tserver_name=%s\tserver_version=%s"
                 % (str(mcp.get("enabled", False)).lower(), mcp.get("server_name") or "",
                    mcp.get("server_version") or ""))
    if fmt == 6 and waf is not None:
        lines.append("waf:enabled=%s\tparanoia=%d\tmode=%s\tinbound=%d\toutbound=%d\t"
                     "max_response_body=%d\taudit=%s\tunsupported=%s\tskipped=%s"
                     % (str(waf["enabled"]).lower(), waf.get("paranoia_level", 1),
                        MODE[waf.get("mode", "blocking")], waf.get("inbound_threshold", 5),
                        waf.get("outbound_threshold", 4),
                        waf.get("max_response_body", 1048576),
                        AUDIT[waf.get("audit", "relevant-only")],
                        UNSUPPORTED[waf.get("unsupported_rules", "fail")],
                        ",".join(str(x) for x in waf.get("skipped_rules", []))))
    return "".join(line + "\n" for line in lines)


def artifact_hash(m, specs, plugins, waf, fmt):
    return "sha256:" + hashlib.sha256(hash_text(m, specs, plugins, waf, fmt)
                                      .encode("utf-8")).hexdigest()


# ------------------------------------------------------------------ routes.json (§6)

OP_FIELDS = ["index", "path", "method", "operation_id", "summary", "description", "parameters",
             "request_body", "dispatch", "middlewares", "deprecated", "sunset", "messages",
             "bindings", "responses", "mcp_enabled", "mcp_description",
             "allowed_request_headers"]
OP_SKIPPED_IF_EMPTY = {"messages", "bindings", "responses"}


def _check_content(content, what, problems):
    if not isinstance(content, dict):
        problems.append("%s: content is not an object" % what)
        return
    if not _bytewise_sorted(list(content)):
        problems.append("%s: media types not sorted" % what)
    for mt, media in content.items():
        if check_exact_keys(media, ["schema"], "%s[%s]" % (what, mt), problems):
            check_sorted_deep(media["schema"], "%s[%s].schema" % (what, mt), problems)


def _check_named(x, what, names, problems):
    if not check_exact_keys(x, ["name", "config"], what, problems):
        return
    if not isinstance(x.get("name"), str):
        problems.append("%s: name is not a string" % what)
    elif x["name"] not in names:
        problems.append("%s: plugin %r is not bundled (every request through it fails)"
                        % (what, x["name"]))
    check_sorted_deep(x.get("config"), what + ".config", problems)


def check_operation(op, i, fmt, names, problems):
    w = "routes.json: operations[%d]" % i
    if not isinstance(op, dict):
        problems.append("%s: not an object" % w)
        return None
    order = OP_FIELDS if fmt == 6 else OP_FIELDS[:-1]
    optional = set(OP_SKIPPED_IF_EMPTY)
    check_order(op, order, optional, w, problems)
    for k in OP_SKIPPED_IF_EMPTY:
        if k in op and not op[k]:
            problems.append("%s: empty %s must be omitted" % (w, k))
    if not is_int(op.get("index")) or op.get("index") != i:
        problems.append("%s: index %r is not its position" % (w, op.get("index")))
    if not isinstance(op.get("path"), str) or not isinstance(op.get("method"), str):
        problems.append("%s: path and method must be strings" % w)
        return None
    if op["method"] != op["method"].upper():
        problems.append("%s: method %r is not uppercase" % (w, op["method"]))
    for k in ("operation_id", "summary", "description", "sunset", "mcp_description"):
        if not is_str_or_null(op.get(k)):
            problems.append("%s: %s must be string or null" % (w, k))
    if not isinstance(op.get("deprecated"), bool):
        problems.append("%s: deprecated is not a boolean" % w)
    if op.get("mcp_enabled") is not None and not isinstance(op.get("mcp_enabled"), bool):
        problems.append("%s: mcp_enabled must be bool or null" % w)
    params = op.get("parameters")
    if not isinstance(params, list):
        problems.append("%s: parameters is not an array" % w)
    else:
        for k, p in enumerate(params):
            pw = "%s.parameters[%d]" % (w, k)
            if check_exact_keys(p, ["name", "location", "required", "schema"], pw, problems):
                check_sorted_deep(p["schema"], pw + ".schema", problems)
    rb = op.get("request_body")
    if rb is not None and check_exact_keys(rb, ["required", "content"], w + ".request_body",
                                           problems):
        _check_content(rb["content"], w + ".request_body", problems)
    _check_named(op.get("dispatch"), w + ".dispatch", names, problems)
    mws = op.get("middlewares")
    if not isinstance(mws, list):
        problems.append("%s: middlewares is not an array" % w)
    else:
        for k, mw in enumerate(mws):
            _check_named(mw, "%s.middlewares[%d]" % (w, k), names, problems)
    responses = op.get("responses", {})
    if not isinstance(responses, dict) or not _bytewise_sorted(list(responses)):
        problems.append("%s: responses is not an object sorted by status" % w)
    else:
        for status, rc in responses.items():
            if check_exact_keys(rc, ["content"], "%s.responses[%s]" % (w, status), problems):
                _check_content(rc["content"], "%s.responses[%s]" % (w, status), problems)
    for k, msg in enumerate(op.get("messages", []) if isinstance(op.get("messages"), list)
                            else []):
        mw = "%s.messages[%d]" % (w, k)
        if check_exact_keys(msg, ["name", "payload", "content_type", "bindings"], mw, problems):
            check_sorted_deep(msg["payload"], mw + ".payload", problems)
            check_sorted_deep(msg["bindings"], mw + ".bindings", problems)
    check_sorted_deep(op.get("bindings"), w + ".bindings", problems)
    if fmt == 6:
        h = op.get("allowed_request_headers")
        if not isinstance(h, list) or not all(isinstance(x, str) for x in h) \
                or h != sorted(set(h), key=lambda s: s.encode("utf-8")) \
                or any(x != x.lower() or x != x.strip() for x in h):
            problems.append("%s: allowed_request_headers must be sorted, distinct, lowercase"
                            % w)
    return (op["path"].encode("utf-8"), op["method"].encode("utf-8"))


def check_routes(raw, fmt, names, problems):
    r = parse_json(raw, "routes.json", problems)
    if r is None:
        return None
    check_serde_text(raw, r, "routes.json", problems)
    if not isinstance(r, dict) or list(r) != ["operations"] or not isinstance(
            r["operations"], list):
        problems.append('routes.json: the top level must be exactly {"operations": [...]}')
        return None
    keys = [check_operation(op, i, fmt, names, problems) for i, op in enumerate(r["operations"])]
    keys = [k for k in keys if k is not None]
    if keys != sorted(keys):
        problems.append("routes.json: operations are not sorted by (path, method)")
    if len(set(keys)) != len(keys):
        problems.append("routes.json: the same (path, method) appears twice")
    return r["operations"]


# ------------------------------------------------------------------ the whole artifact


def _sha(b):
    return hashlib.sha256(b).hexdigest()


def check_entries(entries, m, specs, plugins, waf, problems):
    """§3.3 order, and every digest the manifest states about an entry."""
    names = [n for n, _ in entries]
    data = {}
    for n, d in entries:
        data.setdefault(n, d)
    waf_names = sorted((n for n in names if n.startswith("waf/data/")),
                       key=lambda s: s.encode("utf-8"))
    waf_on = bool(waf and waf.get("enabled") is True)
    expected = ["manifest.json", "routes.json"]
    expected += (["waf/rules.json"] + waf_names) if waf_on else []
    expected += ["specs/" + s["file"] for s in specs]
    expected += [p["wasm_path"] for p in plugins]
    if names != expected:
        problems.append("tar: entries are %s, want %s" % (names, expected))
    ck = m.get("checksums") if isinstance(m.get("checksums"), dict) else {}
    if not _bytewise_sorted(list(ck)):
        problems.append("manifest: checksums keys not sorted")
    want_keys = {"routes.json"} | {p["wasm_path"] for p in plugins}
    if waf_on:
        want_keys |= {"waf/rules.json"} | set(waf_names)
    if set(ck) != want_keys:
        problems.append("manifest: checksums keys are %s, want %s" % (sorted(ck),
                                                                      sorted(want_keys)))
    for k, v in ck.items():
        if not isinstance(v, str) or not v.startswith("sha256:") or not HEX64.match(v[7:]):
            problems.append("manifest: checksums[%s] is not sha256:<64 hex>" % k)
        elif k in data and v != "sha256:" + _sha(data[k]):
            problems.append("manifest: checksums[%s] does not match the entry" % k)
    for s in specs:
        body = data.get("specs/" + s["file"])
        if body is None:
            continue
        if _sha(body) != s["sha256"]:
            problems.append("specs/%s: sha256 differs from source_specs" % s["file"])
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            problems.append("specs/%s: not UTF-8 (the data plane refuses the artifact)"
                            % s["file"])
    for p in plugins:
        body = data.get(p["wasm_path"])
        if body is None:
            problems.append("%s: missing" % p["wasm_path"])
        elif _sha(body) != p["sha256"]:
            problems.append("%s: sha256 differs from plugins[].sha256" % p["wasm_path"])
    return data


def verify(data, fmt=None):
    """Every problem found in the .bca bytes; [] when the artifact is valid."""
    problems = []
    try:
        _verify(data, fmt, problems)
    except Exception as e:  # hostile input must end in a report, never a traceback
        problems.append("verifier: unexpected %s: %s" % (type(e).__name__, e))
    return problems


def _verify(data, fmt, problems, summary=None):
    tar = gunzip_one_member(bytes(data), problems)
    if tar is None:
        return
    entries = read_tar(tar, problems)
    tarfile_cross_check(tar, entries, problems)
    check_names(entries, problems)
    if not entries or entries[0][0] != "manifest.json":
        problems.append("tar: the first entry must be manifest.json")
    raw_m = next((d for n, d in entries if n == "manifest.json"), None)
    if raw_m is None:
        problems.append("manifest.json: missing")
        return
    m = parse_json(raw_m, "manifest.json", problems)
    if m is None:
        return
    check_serde_text(raw_m, m, "manifest.json", problems)
    version = m.get("barbacane_artifact_version") if isinstance(m, dict) else None
    if version not in (4, 6) or not is_int(version):
        problems.append("manifest: barbacane_artifact_version %r is neither 6 nor 4" % version)
        return
    if fmt is not None and version != fmt:
        problems.append("manifest: barbacane_artifact_version is %d, want %d" % (version, fmt))
    specs, plugins, waf = check_manifest(m, version, problems)
    if version == 6 and waf is None:
        problems.append("manifest: cannot recompute artifact_hash without a well-formed waf")
    elif m.get("artifact_hash") != artifact_hash(m, specs, plugins, waf, version):
        problems.append("manifest: artifact_hash differs from the §5 recomputation")
    data_by_name = check_entries(entries, m, specs, plugins, waf, problems)
    raw_r = data_by_name.get("routes.json")
    if raw_r is None:
        problems.append("routes.json: missing")
        return
    ops = check_routes(raw_r, version, {p["name"] for p in plugins}, problems)
    if ops is not None and m.get("routes_count") != len(ops):
        problems.append("manifest: routes_count %r, routes.json has %d operations"
                        % (m.get("routes_count"), len(ops)))
    if summary is not None:
        summary.update(format=version, routes=len(ops or []), specs=len(specs),
                       plugins=len(plugins), artifact_hash=m.get("artifact_hash"))


def main(argv):
    args = argv[1:]
    fmt = None
    if "--format" in args:
        i = args.index("--format")
        if i + 1 >= len(args) or args[i + 1] not in ("4", "6"):
            print("usage: bca_verify.py FILE.bca [--format 6|4]", file=sys.stderr)
            return 2
        fmt = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 1:
        print("usage: bca_verify.py FILE.bca [--format 6|4]", file=sys.stderr)
        return 2
    try:
        with open(args[0], "rb") as f:
            data = f.read(MAX_TAR + 1)
    except OSError as e:
        print("%s: %s" % (args[0], e))
        return 1
    problems, summary = [], {}
    try:
        _verify(data, fmt, problems, summary)
    except Exception as e:
        problems.append("verifier: unexpected %s: %s" % (type(e).__name__, e))
    if problems:
        for p in problems:
            print("%s: %s" % (args[0], p))
        return 1
    print("%s: ok, format %d, %d routes, %d specs, %d plugins, %s, %d bytes"
          % (args[0], summary["format"], summary["routes"], summary["specs"], summary["plugins"],
             summary["artifact_hash"], len(data)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
