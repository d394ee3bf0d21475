"""values.schema.json refuses bad values when the chart is rendered, naming the key at fault;
the template refuses the combinations a schema cannot express; the schema, values.yaml and
aiflow's settings agree."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.helm.config_schema import SCHEMA_PATH, config_schema
from tests.helm.conftest import CHART, Helm

SCHEMA_ERROR = "values don't meet the specifications of the schema"


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--set", "server.replicas=notanumber"], ["/server/replicas", "integer"]),
        (["--set", "server.replcas=2"], ["/server", "replcas"]),
        (["--set", "sever.replicas=2"], ["sever"]),
        (["--set", "server.port=70000"], ["/server/port", "65,535"]),
        (["--set", "image.pullPolicy=Sometimes"], ["/image/pullPolicy"]),
        (["--set", "postgresql.enabled=maybe"], ["/postgresql/enabled", "boolean"]),
        (["--set", "server.ingress.enabled=true", "--set", "server.ingress.hots=x"], ["hots"]),
        (["--set", "server.resources.limits.memory=lots"], ["/server/resources/limits/memory"]),
        (["--set-json", 'server.tolerations=[{"key":"a","operater":"Exists"}]'], ["operater"]),
        # the config file's keys are aiflow's settings: a typo fails here, not in a crash loop
        (["--set", "config.metastor.busy_timeout_ms=5"], ["/config", "metastor"]),
        (["--set", "config.server.max_upload=5"], ["/config/server", "max_upload"]),
        (["--set", "config.flink.parallelism=0"], ["/config/flink/parallelism"]),
        (["--set", "config.kubernetes.request_timeout=soon"], ["request_timeout", "number"]),
        # credentials and chart-managed settings cannot go into the ConfigMap
        (["--set", "config.metastore.uri=postgresql://u:p@h/d"], ["/config/metastore", "uri"]),
        (["--set", "config.server.secret_key=x"], ["/config/server", "secret_key"]),
        (["--set", "config.kubernetes.namespace=other"], ["/config/kubernetes", "namespace"]),
    ],
)
def test_schema_rejects_bad_values_naming_the_key(
    helm: Helm, args: list[str], names: list[str]
) -> None:
    assert_schema_refuses(helm, args, names)


def assert_schema_refuses(helm: Helm, args: list[str], names: list[str]) -> None:
    """``helm template ARGS`` fails on the values schema, naming each of ``names``."""
    done = helm.template([], *args, check=False)
    assert done.returncode != 0, f"helm template {' '.join(args)} was accepted"
    assert SCHEMA_ERROR in done.stderr, done.stderr
    for name in names:
        assert name in done.stderr, f"the error does not name {name!r}:\n{done.stderr}"


def test_lint_rejects_a_bad_values_file(helm: Helm, tmp_path: Any) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("server:\n  replicas: two\n  resource: {}\n")
    done = helm.run("lint", "--strict", str(CHART), "-f", str(bad), check=False)
    assert done.returncode != 0
    assert "/server/replicas" in done.stdout + done.stderr
    assert "resource" in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--set", "externalDatabase.url=postgresql://u:p@db/aiflow"],
            "externalDatabase is set and postgresql.enabled=true",
        ),
        (
            ["--set", "postgresql.enabled=false"],
            "no meta store: set externalDatabase.url or externalDatabase.existingSecret",
        ),
        (
            [
                "--set", "postgresql.enabled=false",
                "--set", "externalDatabase.url=postgresql://u:p@db/aiflow",
                "--set", "externalDatabase.existingSecret=db",
            ],
            "externalDatabase.url and externalDatabase.existingSecret are both set",
        ),
        (
            ["--set", "scheduler.embedded=true", "--set", "server.replicas=2"],
            "scheduler.embedded=true with server.replicas=2 would run 2 schedulers",
        ),
        (
            ["--set", "serviceAccount.create=false"],
            "serviceAccount.name is required when serviceAccount.create=false",
        ),
    ],
)  # fmt: skip
def test_template_refuses_contradictions_naming_the_keys(
    helm: Helm, args: list[str], message: str
) -> None:
    done = helm.template([], *args, check=False)
    assert done.returncode != 0, f"helm template {' '.join(args)} was accepted"
    assert message in done.stderr, done.stderr


def _no_open_objects(schema: Any, path: str = "") -> list[str]:
    """Paths of object schemas that accept any key without saying which (typed maps, with
    ``additionalProperties`` a schema, are fine)."""
    found: list[str] = []
    if isinstance(schema, dict):
        if schema.get("type") == "object" and "additionalProperties" not in schema:
            found.append(path or "/")
        for key, value in schema.items():
            found += _no_open_objects(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            found += _no_open_objects(value, f"{path}/{i}")
    return found


# Kubernetes objects passed through as they are (the API server validates them): their fields
# are too many to list, and the chart reads none of them.
PASS_THROUGH = {"valueFrom", "nodeAffinity", "podAffinity", "podAntiAffinity", "volume", "claims"}


def test_schema_closes_every_object() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema["additionalProperties"] is False
    open_objects = [
        path
        for path in _no_open_objects(schema)
        if path.rsplit("/", 1)[-1] not in PASS_THROUGH
        and not path.endswith("/items")
        and path.rsplit("/", 1)[-1]
        not in {"seLinuxOptions", "appArmorProfile", "windowsOptions", "sysctls"}
    ]
    assert not open_objects, f"objects accepting unknown keys: {open_objects}"


def test_config_schema_matches_aiflow_settings() -> None:
    committed = json.loads(SCHEMA_PATH.read_text())["properties"]["config"]
    assert committed == config_schema(), (
        "helm/aiflow/values.schema.json's `config` no longer matches aiflow's settings: "
        "run `.venv/bin/python -m tests.helm.config_schema --write`"
    )


# Kubernetes shapes (schema $defs) whose optional fields the defaults leave unset.
_KUBERNETES_DEFS = {
    "podSecurityContext", "securityContext", "seccompProfile", "resources", "affinity"
}  # fmt: skip


def _compare(
    values: dict[str, Any],
    schema: dict[str, Any],
    defs: dict[str, Any],
    path: str,
    kubernetes: bool = False,
) -> list[str]:
    """Keys set in ``values`` the schema does not type, and the chart's own settings the
    schema types without a default in ``values``."""
    ref = schema.get("$ref", "").rsplit("/", 1)[-1]
    schema = defs.get(ref, schema)
    if schema.get("additionalProperties") is not False:
        return []  # a typed map or a Kubernetes object: its keys are data
    properties = schema["properties"]
    problems = [f"{path}{key}: not in the schema" for key in values if key not in properties]
    kubernetes = kubernetes or ref in _KUBERNETES_DEFS
    if not kubernetes:
        problems += [f"{path}{key}: no default" for key in properties if key not in values]
    for key, value in values.items():
        if isinstance(value, dict) and key in properties and path + key != "config":
            problems += _compare(value, properties[key], defs, f"{path}{key}.", kubernetes)
    return problems


def test_values_yaml_and_schema_list_the_same_settings() -> None:
    """Every setting has a documented default in values.yaml, and every default is typed."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads(SCHEMA_PATH.read_text())
    assert _compare(values, schema, schema["$defs"], "") == []
