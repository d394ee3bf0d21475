"""The Helm chart's tests: ``helm`` (built by ``scripts/build_k8s.sh`` with the control plane,
so no system Helm is used) renders and lints ``helm/aiflow``; the API-server tests use the
session control plane (``k8s``, tests/k8s/fixtures.py).

* ``helm`` (session): a ``Helm`` runner with private Helm homes (no user repositories or
  plugins leak in) and no kubeconfig unless a test passes one;
* ``VALUES_FILES``: ``tests/helm/values/*.yaml``, the configurations every render test and the
  server-side validation run over (default, external database, ingress, embedded scheduler,
  custom resources);
* ``render(helm, values, ...)``: the chart's objects as dicts.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.services import unavailable

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "aiflow"
VALUES_DIR = Path(__file__).resolve().parent / "values"
VALUES_FILES = sorted(VALUES_DIR.glob("*.yaml"))
# Places every pod of the chart on the kwok node: kwok marks them Ready and completes Job pods,
# so `helm install --wait` and upgrade hooks finish without a container runtime.
KWOK_PLACEMENT = Path(__file__).resolve().parent / "kwok-placement.yaml"
RELEASE = "rel"
HELM_TIMEOUT = 180  # s for one helm command; install --wait included


@dataclass(frozen=True)
class Helm:
    """Runs the pinned ``helm`` with homes of its own."""

    binary: Path
    home: Path

    def run(
        self, *args: str, kubeconfig: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("HELM_") and key != "KUBECONFIG"
        }
        env.update(
            HELM_CACHE_HOME=str(self.home / "cache"),
            HELM_CONFIG_HOME=str(self.home / "config"),
            HELM_DATA_HOME=str(self.home / "data"),
            KUBECONFIG=str(kubeconfig) if kubeconfig else str(self.home / "no-kubeconfig"),
        )
        done = subprocess.run(
            [str(self.binary), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=HELM_TIMEOUT,
            check=False,
        )
        if check and done.returncode != 0:
            pytest.fail(f"helm {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
        return done

    def template(
        self,
        values: Iterable[Path] = (),
        *extra: str,
        namespace: str = "aiflow",
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        files = [arg for path in values for arg in ("-f", str(path))]
        return self.run(
            "template", RELEASE, str(CHART), "--namespace", namespace, *files, *extra, check=check
        )


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    from tests.k8s.controlplane import build_binaries

    try:
        bin_dir = build_binaries()
    except RuntimeError as exc:
        unavailable(f"helm could not be built: {exc}")
    return Helm(bin_dir / "helm", tmp_path_factory.mktemp("helm-home"))


def render(
    helm: Helm, values: Iterable[Path] = (), *extra: str, namespace: str = "aiflow"
) -> list[dict[str, Any]]:
    """The objects ``helm template`` renders (hooks included), in order."""
    out = helm.template(values, *extra, namespace=namespace).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def values_id(path: Path) -> str:
    return path.stem


def pod_specs(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(kind/name, pod spec)`` of every workload that runs pods."""
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet", "Job", "DaemonSet"):
            yield f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"]["spec"]


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    names = [f"{o['kind']}/{o['metadata']['name']}" for o in objects]
    raise AssertionError(f"{kind}/{name} is not rendered; rendered: {names}")


def container_env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container.get("env", [])}
