"""Per-node options of the Kubernetes deployer: ``deploy={"kubernetes": {...}}`` on a node.

A node asks for what its job's pod needs beyond the ``[kubernetes]`` settings: another image,
a GPU (``resources``, ``node_selector``, ``tolerations``), a service account, extra variables.
The options are checked when a run is submitted (``KubernetesDeployer.check_overrides``), with
``extra="forbid"`` and Kubernetes' own rules for names, so a typo or a bad value fails the run
naming the node and the option before anything starts, instead of being ignored or failing a
job at launch. At launch, ``effective`` lays them over the settings: maps merge (node selector,
labels, annotations, env: the node's keys win), tolerations append, the rest replace.

What stays aiflow's, whatever a node says: the command, aiflow's own variables (``AIFLOW_*``,
refused here) and labels under ``aiflow.dev/`` (refused here), the restart policy. ``env`` is
for plain values, recorded in the plan and the pod spec for anyone to read: secrets belong in
the pod template file's ``valueFrom``, as they would with any pod.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from aiflow.errors import InvalidInput

from . import naming
from .settings import KubernetesSettings

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NAME_PART = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUANTITY = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[munkKMGTPE]i?)?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_OURS = (f"{naming.PREFIX}/", naming.MANAGED_BY)


def _matching(pattern: re.Pattern[str], max_length: int, what: str) -> AfterValidator:
    """A check that says what was expected, instead of pydantic's regex."""

    def check(text: str) -> str:
        if len(text) > max_length or not pattern.match(text):
            raise ValueError(f"not {what}")
        return text

    return AfterValidator(check)


def _qualified_name(key: str) -> str:
    """A label or annotation key: ``[prefix/]name``, prefix a DNS subdomain, name <= 63."""
    prefix, _, name = key.rpartition("/")
    ok = len(name) <= 63 and _NAME_PART.match(name) is not None
    if prefix:
        ok = ok and len(prefix) <= 253 and _DNS_SUBDOMAIN.match(prefix) is not None
    if not ok:
        raise ValueError(
            "not a Kubernetes key ([prefix/]name: name up to 63 letters, digits, "
            "'-', '_' or '.', starting and ending alphanumeric; prefix a DNS subdomain)"
        )
    return key


def _not_ours(key: str) -> str:
    if key.startswith(_OURS[0]) or key == _OURS[1]:
        raise ValueError("a key of aiflow's own (it finds jobs by it): choose another")
    return key


def _not_aiflow_env(name: str) -> str:
    if name.startswith("AIFLOW_"):
        raise ValueError("AIFLOW_* variables are aiflow's own, set for each job")
    return name


def _number_as_text(value: object) -> object:
    # ``{"cpu": 2}`` is as good a quantity as ``{"cpu": "2"}``; bools are not numbers here.
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


Key = Annotated[str, AfterValidator(_qualified_name)]
OwnKey = Annotated[str, AfterValidator(_qualified_name), AfterValidator(_not_ours)]
LabelValue = Annotated[
    str,
    _matching(
        _LABEL_VALUE,
        63,
        "a label value (up to 63 letters, digits, '-', '_' or '.', alphanumeric at both ends)",
    ),
]
Quantity = Annotated[
    str,
    BeforeValidator(_number_as_text),
    _matching(_QUANTITY, 64, "a Kubernetes quantity such as 500m, 2 or 1.5Gi"),
]
EnvName = Annotated[
    str,
    _matching(_ENV_NAME, 4096, "a variable name (letters, digits, '_', '-', '.'; no digit first)"),
    AfterValidator(_not_aiflow_env),
]
Text = Annotated[str, StringConstraints(min_length=1)]
ServiceAccount = Annotated[
    str, _matching(_DNS_SUBDOMAIN, 253, "a service account name (a lowercase DNS subdomain)")
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Resources(_Strict):
    """A container's ``resources``: quantities by resource name (``cpu``, ``nvidia.com/gpu``)."""

    requests: dict[str, Quantity] = Field(default_factory=dict)
    limits: dict[str, Quantity] = Field(default_factory=dict)


class Toleration(_Strict):
    """A pod toleration, in the API's own (camelCase) fields."""

    key: str | None = None
    operator: Literal["Exists", "Equal"] | None = None
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    tolerationSeconds: int | None = None  # the API's own name


class KubernetesOverrides(_Strict):
    """What one node may set for its job's pod; the same names as ``[kubernetes]``."""

    image: Text | None = None
    python: Text | None = None  # the interpreter inside that image
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    service_account: ServiceAccount | None = None
    resources: Resources | None = None
    node_selector: dict[Key, LabelValue] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list)
    labels: dict[OwnKey, LabelValue] = Field(default_factory=dict)
    annotations: dict[OwnKey, str] = Field(default_factory=dict)
    pod_template_file: Text | None = None  # absolute; read where the run is submitted and driven
    working_dir: Text | None = None
    active_deadline: int | None = Field(default=None, gt=0)  # s, activeDeadlineSeconds
    env: dict[EnvName, str] = Field(default_factory=dict)  # plain values, never secrets


_NESTED: dict[str, type[BaseModel]] = {"resources": Resources, "tolerations": Toleration}


def parse(overrides: dict[str, Any], where: str) -> KubernetesOverrides:
    """The options, or ``InvalidInput`` naming ``where`` (the node) and each bad option."""
    try:
        parsed = KubernetesOverrides.model_validate(overrides)
    except ValidationError as exc:
        problems = "; ".join(_problem(error) for error in exc.errors(include_url=False))
        raise InvalidInput(f"{where}: deploy['kubernetes']: {problems}") from None
    path = parsed.pod_template_file
    if path is not None and not Path(path).expanduser().is_absolute():
        raise InvalidInput(
            f"{where}: deploy['kubernetes'].pod_template_file: '{path}' is relative; give an "
            "absolute path (it is read where the run is submitted and where its driver runs)"
        )
    return parsed


def _problem(error: Any) -> str:
    loc = [str(part) for part in error["loc"] if part != "[key]"]  # a bad key names itself
    field = ".".join(loc)
    if error["type"] == "extra_forbidden":
        model = _NESTED.get(loc[0], KubernetesOverrides) if len(loc) > 1 else KubernetesOverrides
        return f"unknown option '{field}' (options: {', '.join(model.model_fields)})"
    message = str(error["msg"]).removeprefix("Value error, ")
    got = error.get("input")
    if isinstance(got, str | int | float | bool) and "[key]" not in error["loc"]:
        message += f" (got {got!r})"  # a bad key is named by the field already
    return f"{field}: {message}" if field else message


def effective(
    settings: KubernetesSettings, overrides: KubernetesOverrides
) -> tuple[KubernetesSettings, dict[str, str]]:
    """The settings one attempt's Job is built from, and the node's extra variables."""
    update: dict[str, Any] = {}
    for name in ("image", "python", "image_pull_policy", "service_account", "working_dir"):
        if getattr(overrides, name) is not None:
            update[name] = getattr(overrides, name)
    if "active_deadline" in overrides.model_fields_set:  # null: no deadline for this job
        update["active_deadline"] = overrides.active_deadline
    if overrides.pod_template_file is not None:
        update["pod_template_file"] = Path(overrides.pod_template_file)
    if overrides.resources is not None:
        update["resources"] = {
            part: dict(values)
            for part, values in overrides.resources.model_dump().items()
            if values
        }
    for name in ("node_selector", "labels", "annotations"):
        extra = getattr(overrides, name)
        if extra:
            update[name] = {**getattr(settings, name), **extra}
    if overrides.tolerations:
        added = [t.model_dump(exclude_none=True) for t in overrides.tolerations]
        update["tolerations"] = [*settings.tolerations, *added]
    return settings.model_copy(update=update), dict(overrides.env)
