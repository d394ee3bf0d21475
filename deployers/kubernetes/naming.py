"""Names, labels and log URIs of the Kubernetes objects one job attempt becomes.

A Job's name is also a label value on its pods (``batch.kubernetes.io/job-name``), so it must
be a DNS label of at most 63 characters; an aiflow job name is free text (``train model``,
``évaluer``). The name keeps a readable slug of the job name but its uniqueness comes from the
numbers: execution id, job id (unique per meta store) and attempt, so two jobs whose names
slug alike never collide, and each retry is a new Job (Kubernetes does not reuse a failed pod).

The labels are what everything else finds attempts by: the watch (``aiflow.dev/job``), crash
reconciliation (``aiflow.dev/execution``), people with ``kubectl get jobs -l``. Label values are
restricted too, so the exact job name travels in an annotation.
"""

from __future__ import annotations

import re
from typing import Final

from aiflow.deployers.base import JobLaunch

PREFIX: Final = "aiflow.dev"
EXECUTION: Final = f"{PREFIX}/execution"
JOB: Final = f"{PREFIX}/job"
ATTEMPT: Final = f"{PREFIX}/attempt"
JOB_NAME: Final = f"{PREFIX}/job-name"  # a label (sanitized) and an annotation (exact)
MANAGED_BY: Final = "app.kubernetes.io/managed-by"
MANAGER: Final = "aiflow"
CONTAINER: Final = "job"  # the container that runs the job's command (others are sidecars)
LOG_SCHEME: Final = "kubernetes://"

_MAX_NAME = 63
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_VALUE_BAD = re.compile(r"[^A-Za-z0-9_.-]+")


def job_name(execution_id: int, job_name: str, job_id: int, attempt: int) -> str:
    """``af-<execution>-<job-slug>-<job_id>-a<attempt>``: a DNS label, unique per attempt."""
    head, tail = f"af-{execution_id}-", f"-{job_id}-a{attempt}"
    budget = _MAX_NAME - len(head) - len(tail)
    slug = slugify(job_name)[: max(budget, 0)].rstrip("-")
    return f"{head}{slug}{tail}" if slug else f"af-{execution_id}{tail}"


def slugify(text: str) -> str:
    """Lowercase letters, digits and single dashes; ``job`` when nothing of ``text`` is left."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "job"


def label_value(text: str) -> str:
    """``text`` as a valid label value: at most 63 of ``[A-Za-z0-9_.-]``, alphanumeric ends."""
    value = _LABEL_VALUE_BAD.sub("-", text)[:_MAX_NAME]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value)


def labels_of(launch: JobLaunch) -> dict[str, str]:
    """The labels aiflow puts on an attempt's Job, its pod and its Secret."""
    return {
        MANAGED_BY: MANAGER,
        EXECUTION: str(launch.execution_id),
        JOB: str(launch.job_id),
        ATTEMPT: str(launch.attempt),
        JOB_NAME: label_value(launch.job_name),
    }


def attempt_selector(uid: str) -> str:
    """Label selector of the pods the Job ``uid`` created (the Job controller's own label)."""
    return f"{JOB},batch.kubernetes.io/controller-uid={uid}"


def is_dns_label(text: str) -> bool:
    return bool(_DNS_LABEL.match(text))


def log_uri(namespace: str, name: str) -> str:
    """What the driver stores as ``job.log_uri``: the attempt's Job, whose pod has the log."""
    return f"{LOG_SCHEME}{namespace}/{name}"


def parse_log_uri(uri: str) -> tuple[str, str] | None:
    """``(namespace, job)`` of a ``kubernetes://`` log URI, or None if it is not a valid one."""
    if not uri.startswith(LOG_SCHEME):
        return None
    namespace, _, name = uri.removeprefix(LOG_SCHEME).partition("/")
    if not (is_dns_label(namespace) and is_dns_label(name)):
        return None
    return namespace, name
