"""The manifests of one attempt: a ``batch/v1`` Job and the Secret holding its credentials.

Why a Job per attempt, with ``backoffLimit: 0`` and ``restartPolicy: Never``: retries, retry
delays and timeouts belong to the driver, as on the local deployer, so a failed pod must end the
attempt instead of being restarted behind the driver's back; each retry is a new Job with the
attempt in its name. Stream jobs are Jobs too, with no ``activeDeadlineSeconds``: they run until
stopped, and a crash is a failed attempt the driver retries.

Credentials never appear in the pod spec (anyone who may read Jobs or pods could read them):
the variables ``without_credentials`` strips from a child's environment (the job token, the
meta store URL, server or client secrets) go into a Secret owned by the Job, referenced by
``secretKeyRef``. A meta store URL that carries a password is refused outright: job pods hold no
database credentials, they reach the store through a server's job API.

The pod starts from ``pod_template_file`` when one is set (the escape hatch for volumes,
sidecars, security contexts, as with Airflow's KubernetesPodOperator and Spark), then the
``[kubernetes]`` settings that were set explicitly, then the node's options (``deploy=``,
``overrides``: a node's own pod template file replaces the settings' one), then what aiflow
itself needs (command, environment, labels, restart policy), which nothing overrides.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

from aiflow.deployers.base import JobLaunch
from aiflow.deployers.remote import forwarded_settings, refuse_store_password, secret_values
from aiflow.errors import DeploymentError, InvalidInput

from . import naming, overrides
from .settings import KubernetesSettings

_METASTORE_URI = "AIFLOW__METASTORE__URI"


def job_manifest(launch: JobLaunch, settings: KubernetesSettings, name: str) -> dict[str, Any]:
    """The attempt's Job, created suspended: no pod may start before its Secret exists."""
    if not launch.command:
        raise DeploymentError(f"job '{launch.job_name}': empty command")
    refuse_store_password(launch, "kubernetes")
    extra_env: dict[str, str] = {}
    if launch.overrides:  # checked at submit; a stored spec is checked again all the same
        options = overrides.parse(launch.overrides, f"job '{launch.job_name}'")
        settings, extra_env = overrides.effective(settings, options)
    labels = {**settings.labels, **naming.labels_of(launch)}
    annotations = {**settings.annotations, naming.JOB_NAME: launch.job_name}
    spec: dict[str, Any] = {
        "suspend": True,
        "backoffLimit": 0,
        "parallelism": 1,
        "completions": 1,
        # A replacement pod (none here: backoffLimit 0) only once the old one has ended.
        "podReplacementPolicy": "Failed",
        "template": pod_template(launch, settings, name, labels, annotations, extra_env),
    }
    if settings.active_deadline is not None:
        spec["activeDeadlineSeconds"] = settings.active_deadline
    if settings.ttl_after_finished is not None:
        spec["ttlSecondsAfterFinished"] = settings.ttl_after_finished
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": settings.namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": spec,
    }


def check_overrides(options: dict[str, Any], where: str) -> None:
    """A node's ``deploy={"kubernetes": options}``: known options with good values, and a pod
    template file that can be read, or ``InvalidInput`` naming ``where`` and the option."""
    parsed = overrides.parse(options, where)
    if parsed.pod_template_file is not None:
        what = "deploy['kubernetes'].pod_template_file"
        try:
            load_pod_template(Path(parsed.pod_template_file), what)
        except DeploymentError as exc:
            raise InvalidInput(f"{where}: {exc.message}") from None


def secret_manifest(job: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """The Secret with the attempt's credentials, owned by its Job: deleting the Job (a stop,
    a TTL, ``kubectl delete``) deletes the Secret too, through the garbage collector."""
    meta = job["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "labels": dict(meta.get("labels") or {}),
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "name": meta["name"],
                    "uid": meta["uid"],
                }
            ],
        },
        "stringData": values,
    }


def pod_template(
    launch: JobLaunch,
    settings: KubernetesSettings,
    secret: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The pod: the template file, then the settings set explicitly (with the node's options
    laid over them, ``overrides.effective``), then aiflow's needs. ``extra_env`` (the node's
    variables) goes after the template's and before aiflow's."""
    base = load_pod_template(settings.pod_template_file)
    explicit = settings.model_fields_set
    meta = base.setdefault("metadata", {})
    meta.pop("name", None)
    meta.pop("namespace", None)
    meta["labels"] = {**(meta.get("labels") or {}), **labels}
    meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
    spec = base.setdefault("spec", {})
    containers = spec.setdefault("containers", [])
    index = next((i for i, c in enumerate(containers) if c.get("name") == naming.CONTAINER), 0)
    if not containers:
        containers.append({})
    container = containers[index]
    container["name"] = naming.CONTAINER
    if "image" in explicit or not container.get("image"):
        container["image"] = settings.image
    container["command"] = [_escape(arg) for arg in command(launch, settings)]
    container.pop("args", None)
    container["env"] = _env(container.get("env") or [], launch, secret, extra_env or {})
    if settings.image_pull_policy:
        container["imagePullPolicy"] = settings.image_pull_policy
    if settings.resources:
        container["resources"] = copy.deepcopy(settings.resources)
    if settings.working_dir:
        container["workingDir"] = settings.working_dir
    spec["restartPolicy"] = "Never"
    if settings.service_account:
        spec["serviceAccountName"] = settings.service_account
    elif "automountServiceAccountToken" not in spec and "serviceAccountName" not in spec:
        spec["automountServiceAccountToken"] = False  # a job needs no Kubernetes API access
    spec.setdefault("enableServiceLinks", False)  # no docker-link variables in the job's env
    if settings.node_selector:
        spec["nodeSelector"] = {**(spec.get("nodeSelector") or {}), **settings.node_selector}
    if settings.tolerations:
        spec["tolerations"] = [*(spec.get("tolerations") or []), *settings.tolerations]
    return base


def command(launch: JobLaunch, settings: KubernetesSettings) -> list[str]:
    """The job's command as the pod runs it: the driver's own interpreter (the default
    command's first word) means the image's, ``settings.python``."""
    argv = list(launch.command)
    if argv[0] == sys.executable:
        argv[0] = settings.python
    return argv


def load_pod_template(
    path: Path | None, what: str = "[kubernetes] pod_template_file"
) -> dict[str, Any]:
    """The pod template file (a Pod or a pod template: ``metadata`` + ``spec``), or an empty
    pod; a file that is missing or no pod is an error naming it (and ``what`` set it)."""
    if path is None:
        return {}
    import yaml

    try:
        loaded = yaml.safe_load(Path(path).expanduser().read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise DeploymentError(f"cannot read the pod template file {path} ({what}): {exc}") from exc
    if isinstance(loaded, dict) and loaded.get("kind") == "PodTemplate":
        loaded = loaded.get("template")
    if not (isinstance(loaded, dict) and isinstance(loaded.get("spec", {}), dict)):
        raise DeploymentError(
            f"the pod template file {path} ({what}) is not a Pod: "
            "expected a mapping with 'metadata' and 'spec' (e.g. 'kind: Pod')"
        )
    containers = loaded.get("spec", {}).get("containers", [])
    if not isinstance(containers, list) or not all(isinstance(c, dict) for c in containers):
        raise DeploymentError(f"the pod template file {path}: spec.containers must be a list")
    return {
        "metadata": copy.deepcopy(loaded.get("metadata") or {}),
        "spec": copy.deepcopy(loaded.get("spec") or {}),
    }


def _env(
    template: list[dict[str, Any]], launch: JobLaunch, secret: str, extra: dict[str, str]
) -> list[dict[str, Any]]:
    """The template's variables, then the node's (``extra``), then the driver's settings
    (``forwarded_settings``), then the job's: public ones inline, credentials from the Secret;
    later ones win."""
    secrets = secret_values(launch)
    ours: list[dict[str, Any]] = []
    for key, value in {**extra, **forwarded_settings("kubernetes"), **launch.env}.items():
        if key in secrets:
            ref = {"secretKeyRef": {"name": secret, "key": key}}
            ours.append({"name": key, "valueFrom": ref})
        else:
            ours.append({"name": key, "value": _escape(value)})
    names = {entry["name"] for entry in ours}
    return [e for e in template if e.get("name") not in names] + ours


def _escape(text: str) -> str:
    """Kubernetes expands ``$(VAR)`` in commands and env values and reads ``$$`` as ``$``:
    doubling every ``$`` passes the text through unchanged."""
    return text.replace("$", "$$")
