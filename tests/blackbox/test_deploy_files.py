"""The deploy files, checked for what `kubectl apply` and `docker compose` would refuse or get
wrong without running either (no cluster or Docker engine here): YAML with no duplicate keys,
every volume a container mounts defined once with the fields its kind allows, and secret
files created private (the services refuse a secret others can read)."""
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_YAML = sorted((ROOT / "deploy").rglob("*.yaml"))


class StrictLoader(yaml.SafeLoader):
    """Refuses duplicate keys (PyYAML keeps the last silently; Kubernetes refuses them)."""


def _mapping(loader, node, deep=False):
    loader.flatten_mapping(node)   # YAML merge keys (<<) as compose uses them
    seen = set()
    for k, _ in node.value:
        key = loader.construct_object(k, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", k.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def docs(path):
    return [d for d in yaml.load_all(path.read_text(), Loader=StrictLoader) if d]


@pytest.mark.parametrize("path", DEPLOY_YAML, ids=lambda p: str(p.relative_to(ROOT)))
def test_yaml_parses_without_duplicate_keys(path):
    assert docs(path), f"{path} holds no document"


VOLUME_FIELDS = {"secret": {"secretName", "items", "defaultMode", "optional"},
                 "projected": {"sources", "defaultMode"},
                 "configMap": {"name", "items", "defaultMode", "optional"},
                 "emptyDir": {"medium", "sizeLimit"}}


def pod_specs():
    for path in sorted((ROOT / "deploy" / "k8s").glob("*.yaml")):
        for d in docs(path):
            spec = d.get("spec", {}).get("template", {}).get("spec")
            if spec:
                yield f"{path.name}:{d['metadata']['name']}", spec


@pytest.mark.parametrize("name, spec", list(pod_specs()), ids=lambda x: x if isinstance(x, str) else "")
def test_k8s_volumes_are_defined_once_with_their_kinds_fields(name, spec):
    volumes = spec.get("volumes", [])
    names = [v["name"] for v in volumes]
    assert len(names) == len(set(names)), f"{name}: volume defined twice: {names}"
    for v in volumes:
        kinds = [k for k in v if k != "name"]
        assert len(kinds) == 1 and kinds[0] in VOLUME_FIELDS, f"{name}: volume {v}"
        extra = set(v[kinds[0]] or {}) - VOLUME_FIELDS[kinds[0]]
        assert not extra, f"{name}: volume {v['name']} ({kinds[0]}) has {extra}"
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        for m in c.get("volumeMounts", []):
            assert m["name"] in names, f"{name}: {c['name']} mounts undefined {m['name']}"


def test_compose_instructions_create_the_service_secret_private():
    text = (ROOT / "deploy" / "container" / "compose.yaml").read_text()
    lines = [l for l in text.splitlines() if "service-secret" in l and ">" in l]
    assert lines, "compose.yaml no longer says how to create the service secret"
    for l in lines:
        assert re.search(r"umask 0?77|chmod 0?600", l), f"created readable by others: {l.strip()}"
