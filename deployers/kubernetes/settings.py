"""``[kubernetes]`` settings (``AIFLOW__KUBERNETES__*``): where and how job pods run.

Plain data, imported by ``aiflow.config`` through the ``aiflow.settings`` entry point group
without loading the Kubernetes client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class KubernetesSettings(BaseModel):
    """The pod template every job attempt starts from; per-job overrides come on top."""

    model_config = ConfigDict(extra="forbid")

    namespace: str = "default"
    kubeconfig: Path | None = None  # else in-cluster config, else ~/.kube/config ($KUBECONFIG)
    context: str | None = None
    image: str = "aiflow:latest"
    python: str = "python"  # the interpreter inside the image
    image_pull_policy: str | None = None
    service_account: str | None = None
    resources: dict[str, dict[str, str]] = Field(default_factory=dict)
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    pod_template_file: Path | None = None
    request_timeout: float = Field(default=10.0, gt=0)  # s per API call (connect: at most 5)
    # The job container's working directory; None keeps the image's (WORKDIR). The driver's
    # own directory means nothing inside an image, so it is not passed on.
    working_dir: str | None = None
    # activeDeadlineSeconds of each Job: the attempt fails with DeadlineExceeded after it.
    # None: no deadline (stream jobs run until stopped); the driver's per-job timeouts apply.
    active_deadline: int | None = Field(default=None, gt=0)
    # ttlSecondsAfterFinished: None keeps finished Jobs (and so their pods' logs) until the
    # user deletes them; a number lets Kubernetes delete them that long after they end.
    ttl_after_finished: int | None = Field(default=None, ge=0)
