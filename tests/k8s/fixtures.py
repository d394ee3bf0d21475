"""The ``k8s`` session fixture: one real control plane for every Kubernetes test of a session.

Starting it costs ~8 s (and the first build of its binaries 12-18 min, cached by
``scripts/build_k8s.sh``), so it starts once, on first use, and only for sessions that run a
Kubernetes test. Tests isolate themselves with ``k8s.namespace()``. Missing Go or etcd: skipped
on a developer's machine, a failure under ``CI=true`` (``tests.services.unavailable``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.k8s.controlplane import ControlPlane, build_binaries, start_control_plane
from tests.services import unavailable


@pytest.fixture(scope="session")
def k8s(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    if shutil.which("openssl") is None:
        unavailable("the Kubernetes tests need openssl")
    try:
        bin_dir = build_binaries()
    except RuntimeError as exc:
        unavailable(f"the Kubernetes test control plane could not be built: {exc}")
    plane = start_control_plane(tmp_path_factory.mktemp("k8s"), bin_dir)
    try:
        yield plane
    finally:
        plane.stop()
