"""Every manifest in cluster/ against the schemas it will meet: KubeRay's CRDs, Kubernetes' CronJob
essentials, Ray's cluster-launcher schema; and every embedded job config through the real CLI.

The KubeRay CRDs are read from ``shared/schemas`` beside the clone (never copied into the project). Objects
are checked strictly: a key the CRD does not declare is an error, as ``kubectl apply --validate=strict``
would report it, so a misspelt field cannot pass silently.
"""

from __future__ import annotations

import copy
import json
import shlex
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CLUSTER = REPO / "cluster"
BIN = Path(sys.executable).parent
KUBE_MANIFESTS = ["raycluster.yaml", "kuberay-rayjob.yaml", "kuberay-raycronjob.yaml", "nightly-cronjob.yaml"]
CRD_FILES = {"RayCluster": "ray.io_rayclusters.yaml", "RayJob": "ray.io_rayjobs.yaml",
             "RayCronJob": "ray.io_raycronjobs.yaml"}


def _schemas_dir() -> Path | None:
    # CI has shared/ beside the clone; a worktree under /work/wt/<name> has it two levels up.
    for base in (REPO.parent, REPO.parent.parent):
        candidate = base / "shared" / "schemas" / "kuberay"
        if candidate.is_dir():
            return candidate
    return None


SCHEMAS = _schemas_dir()
needs_crds = pytest.mark.skipif(SCHEMAS is None, reason="KubeRay CRDs not found in ../shared/schemas/kuberay")


def _documents(name: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all((CLUSTER / name).read_text(encoding="utf-8")) if doc]


def _strict(node):
    """A copy of an OpenAPI schema in which objects with declared properties accept no others."""
    if isinstance(node, dict):
        node = {key: _strict(value) for key, value in node.items()}
        if (
            "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        if node.get("x-kubernetes-int-or-string"):
            node.pop("type", None)
            node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        return node
    if isinstance(node, list):
        return [_strict(item) for item in node]
    return node


def _crd_schema(kind: str) -> dict:
    crd = yaml.safe_load((SCHEMAS / CRD_FILES[kind]).read_text(encoding="utf-8"))
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    assert version["served"], f"{kind} v1 is not served by this KubeRay"
    return _strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))


def _errors(schema: dict, document: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(document)]


def _all_objects():
    for name in KUBE_MANIFESTS:
        for document in _documents(name):
            yield name, document


@needs_crds
@pytest.mark.parametrize("name", KUBE_MANIFESTS)
def test_kuberay_objects_match_their_crds(name):
    checked = 0
    for document in _documents(name):
        if document["kind"] in CRD_FILES:
            assert document["apiVersion"] == "ray.io/v1"
            assert _errors(_crd_schema(document["kind"]), document) == []
            checked += 1
    assert checked or name == "nightly-cronjob.yaml"


def test_every_kind_is_shipped():
    kinds = {document["kind"] for _name, document in _all_objects()}
    assert {"RayCluster", "RayJob", "RayCronJob", "CronJob", "ConfigMap"} <= kinds


def test_cronjob_fallback_has_what_kubernetes_requires():
    (cronjob,) = [d for d in _documents("nightly-cronjob.yaml") if d["kind"] == "CronJob"]
    assert cronjob["apiVersion"] == "batch/v1"
    spec = cronjob["spec"]
    assert spec["schedule"] and spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    for container in pod["containers"]:
        assert container["name"] and container["image"]


def test_cronjob_submits_to_the_shipped_raycluster():
    (cluster,) = [d for d in _documents("raycluster.yaml") if d["kind"] == "RayCluster"]
    (cronjob,) = [d for d in _documents("nightly-cronjob.yaml") if d["kind"] == "CronJob"]
    (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    command = container["command"]
    assert command[:2] == ["sftforge", "submit"]
    assert f"--address=http://{cluster['metadata']['name']}-head-svc:8265" in command
    assert "--wait" not in command  # `ray job submit` has no such option; submit waits by default


def _entrypoints():
    """(manifest, argv) of every sftforge command a manifest runs."""
    for name, document in _all_objects():
        spec = document.get("spec", {})
        if document["kind"] == "RayJob":
            yield name, shlex.split(spec["entrypoint"])
        elif document["kind"] == "RayCronJob":
            yield name, shlex.split(spec["jobTemplate"]["entrypoint"])
        elif document["kind"] == "CronJob":
            for container in spec["jobTemplate"]["spec"]["template"]["spec"]["containers"]:
                yield name, list(container["command"])


@pytest.mark.parametrize(("name", "argv"), list(_entrypoints()), ids=lambda value: str(value)[:40])
def test_entrypoints_are_valid_sftforge_commands(name, argv):
    from sftforge.jobs.cli import build_parser

    assert argv[0] == "sftforge"
    args = build_parser().parse_args(argv[1:])  # exits (SystemExit) on an unknown option
    assert args.config.startswith("/config/")
    mounts = [m["mountPath"] for _n, d in _all_objects() if _n == name for m in _mounts(d)]
    assert "/config" in mounts, f"{name}: the config is not mounted where the entrypoint reads it"


def _mounts(document: dict):
    text = json.dumps(document)
    for chunk in json.loads(text).get("spec", {}), :
        yield from _find_key(chunk, "volumeMounts")


def _find_key(node, key):
    if isinstance(node, dict):
        for name, value in node.items():
            if name == key:
                yield from value
            else:
                yield from _find_key(value, key)
    elif isinstance(node, list):
        for item in node:
            yield from _find_key(item, key)


def test_credentials_come_from_secrets():
    for name, document in _all_objects():
        if document["kind"] == "ConfigMap":
            text = json.dumps(document).lower()
            assert "secret_access_key" not in text and "api_key:" not in text, name
        for env in _find_key(document, "env"):
            if any(word in env["name"] for word in ("KEY", "SECRET", "TOKEN")):
                assert "secretKeyRef" in env.get("valueFrom", {}), f"{name}: {env['name']} is not from a Secret"


def _embedded_configs():
    for name, document in _all_objects():
        if document["kind"] == "ConfigMap":
            for key, text in document["data"].items():
                if key.endswith((".yaml", ".yml")):
                    yield name, key, yaml.safe_load(text)


def _localise(config: dict, tmp: Path) -> dict:
    """The config with its object-store inputs and output pointed at small local stand-ins."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    local = copy.deepcopy(config)
    for index, spec in enumerate(local["inputs"]):
        folder = tmp / f"input-{index}"
        folder.mkdir()
        if spec["kind"] == "document":
            pq.write_table(pa.table({"text": ["A river runs to the sea."]}), folder / "part-0.parquet")
        else:
            (folder / "part-0.jsonl").write_text(json.dumps({"instruction": "Why?", "output": "Because."}) + "\n")
        assert spec["path"].startswith("s3://"), "shipped inputs live in object storage"
        spec["path"] = str(folder)
    assert local["output"]["dir"].startswith("s3://"), "shipped releases live in object storage"
    local["output"]["dir"] = str(tmp / "releases")
    return local


@pytest.mark.parametrize(("name", "key", "config"), list(_embedded_configs()), ids=lambda v: str(v)[:30])
def test_embedded_configs_pass_sftforge_validate(name, key, config, tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(_localise(config, tmp_path)), encoding="utf-8")
    proc = subprocess.run([str(BIN / "sftforge"), "validate", str(path)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, f"{name}:{key}: {proc.stderr}"
    assert "valid" in proc.stdout


@pytest.mark.parametrize(("name", "key", "config"), list(_embedded_configs()), ids=lambda v: str(v)[:30])
def test_embedded_configs_validate_as_shipped(name, key, config, tmp_path):
    pytest.importorskip("s3fs", reason="s3:// output needs the object-store support of sftforge[s3]")
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    proc = subprocess.run([str(BIN / "sftforge"), "validate", str(path)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, f"{name}:{key}: {proc.stderr}"


def test_cluster_launcher_config_matches_rays_schema():
    import ray

    schema_path = Path(ray.__file__).parent / "autoscaler" / "ray-schema.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    config = yaml.safe_load((CLUSTER / "ray-cluster.yaml").read_text(encoding="utf-8"))
    assert _errors(schema, config) == []
    assert config["head_node_type"] in config["available_node_types"]
