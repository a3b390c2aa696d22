"""Strict, small validator of JSON bodies against components/schemas of the REST contract.

Checks: type (OpenAPI 3.0 `nullable` and 3.1 type lists), required, properties (recursively),
items, enum, format uuid / date-time / uri. Extra, undeclared members are allowed.
"""
import re
from functools import lru_cache

import yaml

from harness import CONTRACT_PATH

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
UUID_V4_LOWER_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
DATE_TIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
UTC_Z_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
URI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")


@lru_cache(maxsize=None)
def contract():
    with open(CONTRACT_PATH, encoding="utf-8") as f:
        return yaml.safe_load(f)


def component(name):
    schemas = contract()["components"]["schemas"]
    if name not in schemas:
        raise KeyError(f"no components/schemas/{name} in {CONTRACT_PATH}")
    return schemas[name]


def _resolve(schema):
    ref = schema.get("$ref")
    if ref is None:
        return schema
    prefix = "#/components/schemas/"
    if not ref.startswith(prefix):
        raise ValueError(f"unsupported $ref {ref}")
    return component(ref[len(prefix):])


def _type_ok(value, t):
    if t == "null":
        return value is None
    if t == "string":
        return isinstance(value, str)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "array":
        return isinstance(value, list)
    if t == "object":
        return isinstance(value, dict)
    raise ValueError(f"unsupported schema type {t!r}")


def is_date_time(s):
    m = DATE_TIME_RE.match(s)
    if not m:
        return False
    year, month, day, hour, minute, sec = (int(g) for g in m.groups()[:6])
    return 1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59 and sec <= 60


def _format_ok(value, fmt):
    if not isinstance(value, str):
        return True  # formats only constrain strings
    if fmt == "uuid":
        return bool(UUID_RE.match(value))
    if fmt == "date-time":
        return is_date_time(value)
    if fmt == "uri":
        return bool(URI_RE.match(value))
    return True  # binary, int64, ...: nothing to check on JSON values here


def errors(value, schema, path="$"):
    """All violations of schema by value, as human-readable strings."""
    schema = _resolve(schema)
    found = []
    types = schema.get("type")
    if types is not None:
        types = list(types) if isinstance(types, list) else [types]
        if schema.get("nullable"):
            types.append("null")
        if not any(_type_ok(value, t) for t in types):
            return [f"{path}: expected {'/'.join(types)}, got {type(value).__name__} {value!r:.80}"]
    if value is None:
        return found
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: {value!r} not in enum {schema['enum']}")
    if "format" in schema and not _format_ok(value, schema["format"]):
        found.append(f"{path}: {value!r} is not a valid {schema['format']}")
    if isinstance(value, dict):
        for req in schema.get("required", []):
            if req not in value:
                found.append(f"{path}: missing required member {req!r}")
        for name, sub in (schema.get("properties") or {}).items():
            if name in value:
                found.extend(errors(value[name], sub, f"{path}.{name}"))
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found.extend(errors(item, schema["items"], f"{path}[{i}]"))
    return found


def assert_schema(value, name):
    """Raise AssertionError listing every violation of components/schemas/<name>."""
    errs = errors(value, component(name))
    assert not errs, f"body does not match {name}:\n  " + "\n  ".join(errs) + f"\nbody: {value!r:.1000}"


def assert_schema_list(value, name):
    assert isinstance(value, list), f"expected a JSON array of {name}, got {value!r:.300}"
    for i, item in enumerate(value):
        errs = errors(item, component(name), f"$[{i}]")
        assert not errs, f"item {i} does not match {name}:\n  " + "\n  ".join(errs)
