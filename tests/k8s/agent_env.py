"""The node agent's container environment: what a kubelet computes before it starts a container.

The order follows the kubelet (``kubelet_pods.go: makeEnvironmentVariables``): the "image"
variables first (here the agent's ``PATH``, with its own interpreter's directory in front, and
``HOME``: the agent's environment stands in for the image), then ``HOSTNAME``, then
``envFrom`` sources in order, then ``env`` entries in order, each value expanded with
``$(VAR)`` against what is defined so far. A missing Secret, ConfigMap or key that is not
``optional`` raises :class:`EnvError`, which the pod worker turns into the kubelet's waiting
reason ``CreateContainerConfigError`` and retries, as the kubelet does.
"""

from __future__ import annotations

import base64
import binascii
import math
import os
import re
import sys
from decimal import Decimal, InvalidOperation
from typing import Any

POD_IP = "127.0.0.1"
NODE_CPU = "64"
NODE_MEMORY = "256Gi"

_EXPANSION = re.compile(r"\$\$|\$\(([A-Za-z_][-._A-Za-z0-9]*)\)")
_SUFFIXES: dict[str, int | Decimal] = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": 1,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
}  # fmt: skip
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)((?:[eE][+-]?[0-9]+)|[KMGTPE]i|[numkMGTPE]?)$")


class EnvError(Exception):
    """A container's environment cannot be built yet (the kubelet's CreateContainerConfigError)."""


def parse_quantity(value: str | int | float) -> Decimal:
    """A Kubernetes resource quantity ("500m", "1Gi", "2e3") as a number of base units."""
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if match is None:
        raise ValueError(f"invalid resource quantity {text!r}")
    number, suffix = match.groups()
    try:
        if suffix[:1] in ("e", "E"):
            return Decimal(number + suffix)
        return Decimal(number) * Decimal(_SUFFIXES[suffix])
    except InvalidOperation as exc:
        raise ValueError(f"invalid resource quantity {text!r}") from exc


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: defined names are replaced, undefined ones are kept
    verbatim, and ``$$`` escapes a ``$``."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "$"
        return env.get(name, match.group(0))

    return _EXPANSION.sub(replace, text)


def base_environment(pod: dict[str, Any]) -> dict[str, str]:
    """What the "image" provides: the agent's PATH (its interpreter's directory first, so that
    ``python`` in a pod's command is the test suite's interpreter with aiflow installed) and
    HOME, plus the ``HOSTNAME`` every container sees."""
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    home = os.environ.get("HOME", "/root")
    return {"PATH": path, "HOME": home, "HOSTNAME": pod["metadata"]["name"]}


class _Sources:
    """Secrets and ConfigMaps of the pod's namespace, read once per resolution."""

    def __init__(self, core: Any, namespace: str) -> None:
        self.core = core
        self.namespace = namespace
        self.cache: dict[tuple[str, str], dict[str, str] | None] = {}

    def data(self, kind: str, name: str, optional: bool) -> dict[str, str] | None:
        """The object's data as text, None when it is missing and ``optional``."""
        key = (kind, name)
        if key not in self.cache:
            self.cache[key] = self._read(kind, name)
        found = self.cache[key]
        if found is None and not optional:
            raise EnvError(f'{kind.lower()} "{name}" not found')
        return found

    def _read(self, kind: str, name: str) -> dict[str, str] | None:
        from kubernetes.client.exceptions import ApiException

        try:
            if kind == "Secret":
                secret = self.core.read_namespaced_secret(name, self.namespace, _request_timeout=10)
                return {k: _decode(v) for k, v in (secret.data or {}).items()}
            config_map = self.core.read_namespaced_config_map(
                name, self.namespace, _request_timeout=10
            )
            binary = {k: _decode(v) for k, v in (config_map.binary_data or {}).items()}
            return {**binary, **(config_map.data or {})}
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise EnvError(
                f"reading {kind} {self.namespace}/{name}: {exc.status} {exc.reason}"
            ) from exc

    def value(self, kind: str, ref: dict[str, Any]) -> str | None:
        optional = bool(ref.get("optional"))
        data = self.data(kind, ref["name"], optional)
        if data is None:
            return None
        if ref["key"] not in data:
            if optional:
                return None
            raise EnvError(
                f"couldn't find key {ref['key']} in {kind} {self.namespace}/{ref['name']}"
            )
        return data[ref["key"]]


def _decode(value: str) -> str:
    try:
        return base64.b64decode(value).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return value


def field_value(pod: dict[str, Any], path: str) -> str:
    """The downward API's ``fieldRef.fieldPath`` values a kubelet supports."""
    meta, spec = pod["metadata"], pod["spec"]
    match = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.podIP": POD_IP,
        "status.podIPs": POD_IP,
        "status.hostIP": POD_IP,
        "status.hostIPs": POD_IP,
    }
    if path not in simple:
        raise EnvError(f"unsupported fieldRef.fieldPath {path!r}")
    return str(simple[path])


def resource_value(container: dict[str, Any], ref: dict[str, Any]) -> str:
    """``resourceFieldRef``: the container's limit (else request for requests.*, else the
    node's allocatable), divided by ``divisor`` and rounded up, as the kubelet does."""
    resource = ref["resource"]
    kind, _, name = resource.partition(".")
    resources = container.get("resources") or {}
    value = (resources.get(kind) or {}).get(name)
    if value is None and kind == "requests":
        value = (resources.get("limits") or {}).get(name)
    if value is None:
        value = {"cpu": NODE_CPU, "memory": NODE_MEMORY}.get(name, "0")
    divisor = parse_quantity(ref.get("divisor") or "1")
    return str(math.ceil(parse_quantity(value) / divisor))


def container_environment(
    core: Any, pod: dict[str, Any], container: dict[str, Any]
) -> dict[str, str]:
    """The full environment of one container of ``pod``; raises EnvError."""
    env = base_environment(pod)
    sources = _Sources(core, pod["metadata"]["namespace"])
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for kind, field in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
            if field in source:
                ref = source[field]
                data = sources.data(kind, ref["name"], bool(ref.get("optional")))
                env.update({prefix + k: v for k, v in (data or {}).items()})
    for entry in container.get("env") or []:
        name = entry["name"]
        if "valueFrom" not in entry:
            env[name] = expand(entry.get("value", ""), env)
            continue
        source = entry["valueFrom"]
        value: str | None
        if "secretKeyRef" in source:
            value = sources.value("Secret", source["secretKeyRef"])
        elif "configMapKeyRef" in source:
            value = sources.value("ConfigMap", source["configMapKeyRef"])
        elif "fieldRef" in source:
            value = field_value(pod, source["fieldRef"]["fieldPath"])
        elif "resourceFieldRef" in source:
            value = resource_value(container, source["resourceFieldRef"])
        else:
            raise EnvError(f"env {name}: unsupported valueFrom {sorted(source)}")
        if value is not None:
            env[name] = value
    return env


def container_argv(container: dict[str, Any], env: dict[str, str]) -> list[str]:
    """``command`` + ``args`` expanded against the environment. The agent has no image to take
    an entrypoint from, so a container without ``command`` cannot run: EnvError says so."""
    command = container.get("command") or []
    if not command:
        raise EnvError(
            f"container {container['name']!r} has no command: the node agent runs a container's "
            "command as a local process and has no image entrypoint to fall back on"
        )
    return [expand(part, env) for part in [*command, *(container.get("args") or [])]]
