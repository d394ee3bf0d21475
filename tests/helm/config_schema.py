"""The ``config`` part of ``helm/aiflow/values.schema.json``, derived from aiflow's settings.

Why derived: the chart renders ``config`` into ``aiflow.toml``, and aiflow refuses an unknown
key or a bad value there only when the pod starts (a crash loop). The schema refuses them at
``helm install`` instead, naming the key -- as long as it lists exactly the keys and types of
the settings models. ``tests/helm/test_schema.py`` compares the committed schema with
``config_schema()``; after a settings change, rewrite it with::

    .venv/bin/python -m tests.helm.config_schema --write

Keys the chart sets itself (environment variables from Secrets and other values, which win
over the file) are left out, so that nobody sets them twice in two places.
"""

from __future__ import annotations

import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "helm" / "aiflow" / "values.schema.json"

# section -> keys the chart manages (why: see values.yaml's `config` comment)
MANAGED: dict[str, set[str]] = {
    "metastore": {"uri"},
    "server": {"secret_key", "host", "port", "scheduler", "scheduler_interval", "dev"},
    "kubernetes": {"namespace", "image", "service_account", "kubeconfig", "context"},
}
# sections that make no sense in a server pod: the CLI's own server URL and token
SKIPPED_SECTIONS = {"client"}

_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _type_schema(annotation: Any) -> dict[str, Any]:
    """JSON schema of a field's type: scalars, ``X | None`` (TOML has no null: X), paths,
    maps and lists of the shapes the settings use."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            return _type_schema(options[0])
        return {"anyOf": [_type_schema(a) for a in options]}
    if annotation in _SCALARS:
        return {"type": _SCALARS[annotation]}
    if annotation is Path or annotation is typing.Any:
        return {"type": "string"} if annotation is Path else {}
    if origin is dict:
        _, value = typing.get_args(annotation)
        return {"type": "object", "additionalProperties": _type_schema(value)}
    if origin is list:
        (item,) = typing.get_args(annotation)
        return {"type": "array", "items": _type_schema(item)}
    raise TypeError(f"no JSON schema mapping for settings type {annotation!r}")


def _field_schema(field: Any) -> dict[str, Any]:
    schema = _type_schema(field.annotation)
    for rule in field.metadata:
        if isinstance(rule, Ge):
            schema["minimum"] = rule.ge
        elif isinstance(rule, Gt):
            schema["exclusiveMinimum"] = rule.gt
        elif isinstance(rule, Le):
            schema["maximum"] = rule.le
        elif isinstance(rule, Lt):
            schema["exclusiveMaximum"] = rule.lt
    if field.description:
        schema["description"] = field.description
    return schema


def _section_schema(model: type[BaseModel], managed: set[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            name: _field_schema(field)
            for name, field in model.model_fields.items()
            if name not in managed
        },
    }


def config_schema() -> dict[str, Any]:
    """The schema of the ``config`` value: every section and key of aiflow's settings (plugin
    sections included) but those the chart manages."""
    from aiflow.config import settings_class

    properties: dict[str, Any] = {}
    for name, field in settings_class().model_fields.items():
        if name in SKIPPED_SECTIONS:
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            properties[name] = _section_schema(annotation, MANAGED.get(name, set()))
        else:
            properties[name] = _field_schema(field)
    return {
        "type": "object",
        "description": "aiflow.toml: sections and keys of aiflow's settings, less those the "
        "chart manages (see values.yaml)",
        "additionalProperties": False,
        "properties": properties,
    }


def write() -> None:
    """Replace ``properties.config`` in the committed schema by ``config_schema()``."""
    schema = json.loads(SCHEMA_PATH.read_text())
    schema["properties"]["config"] = config_schema()
    SCHEMA_PATH.write_text(json.dumps(schema, indent=2) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.helm.config_schema --write")
    write()
