"""Per-node options of the Kubernetes deployer (``deploy={"kubernetes": {...}}``), without a
cluster: what a submit refuses, naming the node and the option, and the Job a launch with
options becomes (maps merge, tolerations append, the rest replace, aiflow's own parts win).
A default deployer takes no options at all."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from aiflow.deployers import get_deployer
from aiflow.deployers.base import JobLaunch
from aiflow.deployers.kubernetes import naming, objects
from aiflow.deployers.kubernetes.settings import KubernetesSettings
from aiflow.errors import InvalidInput

SETTINGS = KubernetesSettings(
    image="registry.example/aiflow:1",
    service_account="aiflow-jobs",
    resources={"requests": {"cpu": "500m"}},
    node_selector={"pool": "cpu", "zone": "a"},
    tolerations=[{"key": "dedicated", "operator": "Exists"}],
    labels={"team": "ml"},
    annotations={"owner": "ml@example.com"},
    active_deadline=3600,
)


def launch(overrides: dict[str, Any] | None = None) -> JobLaunch:
    argv = [sys.executable, "-P", "-m", "aiflow.runtime", "--job-id", "42"]
    env = {"AIFLOW_JOB_ID": "42", "PYTHONUNBUFFERED": "1"}
    # Positional, as deployers written before ``overrides`` existed build it.
    base = JobLaunch(42, 7, "train", 1, argv, env, Path("/logs/a.log"), Path("/w"))
    assert base.overrides == {}
    return JobLaunch(**(base.__dict__ | {"overrides": overrides or {}}))


def manifest(overrides: dict[str, Any], settings: KubernetesSettings = SETTINGS) -> dict[str, Any]:
    return objects.job_manifest(launch(overrides), settings, "af-7-train-42-a1")


def parts(job: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    pod = job["spec"]["template"]
    (main,) = [c for c in pod["spec"]["containers"] if c["name"] == naming.CONTAINER]
    return pod, main


def test_options_lay_over_the_settings() -> None:
    job = manifest(
        {
            "image": "registry.example/aiflow-gpu:1",
            "python": "/opt/gpu/bin/python",
            "image_pull_policy": "Always",
            "service_account": "trainer",
            "resources": {"limits": {"nvidia.com/gpu": 1, "memory": "8Gi"}},
            "node_selector": {"pool": "gpu"},
            "tolerations": [
                {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
            ],
            "labels": {"model": "resnet"},
            "annotations": {"cost-center": "42"},
            "working_dir": "/data",
            "active_deadline": 600,
            "env": {"OMP_NUM_THREADS": "8", "PYTHONUNBUFFERED": "0", "PRICE": "$5"},
        }
    )
    pod, main = parts(job)
    assert main["image"] == "registry.example/aiflow-gpu:1"
    assert main["command"][0] == "/opt/gpu/bin/python"
    assert (main["imagePullPolicy"], main["workingDir"]) == ("Always", "/data")
    assert main["resources"] == {"limits": {"nvidia.com/gpu": "1", "memory": "8Gi"}}, "replaced"
    assert pod["spec"]["serviceAccountName"] == "trainer"
    assert pod["spec"]["nodeSelector"] == {"pool": "gpu", "zone": "a"}, "merged, the node's win"
    assert pod["spec"]["tolerations"] == [
        {"key": "dedicated", "operator": "Exists"},
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
    ], "appended"
    assert job["spec"]["activeDeadlineSeconds"] == 600
    for meta in (job["metadata"], pod["metadata"]):
        assert meta["labels"]["team"] == "ml" and meta["labels"]["model"] == "resnet"
        assert meta["labels"][naming.JOB] == "42"
        assert meta["annotations"]["owner"] == "ml@example.com"
        assert meta["annotations"]["cost-center"] == "42"
    env = {e["name"]: e["value"] for e in main["env"]}
    assert env["OMP_NUM_THREADS"] == "8" and env["PRICE"] == "$$5", "passed through unexpanded"
    assert env["PYTHONUNBUFFERED"] == "1", "aiflow's own variables win over the node's"
    assert env["AIFLOW_JOB_ID"] == "42"
    assert main["env"][0]["name"] == "OMP_NUM_THREADS", "before aiflow's"


def test_no_options_build_the_same_job_as_before() -> None:
    assert manifest({}) == objects.job_manifest(
        JobLaunch(**(launch().__dict__)), SETTINGS, "af-7-train-42-a1"
    )
    pod, main = parts(manifest({}))
    assert main["image"] == "registry.example/aiflow:1"
    assert main["resources"] == {"requests": {"cpu": "500m"}}
    assert pod["spec"]["nodeSelector"] == {"pool": "cpu", "zone": "a"}


def test_a_null_deadline_lifts_the_settings_one_for_this_job() -> None:
    assert "activeDeadlineSeconds" not in manifest({"active_deadline": None})["spec"]
    assert manifest({"image": "x:1"})["spec"]["activeDeadlineSeconds"] == 3600


def test_a_nodes_pod_template_file_replaces_the_settings_one(tmp_path: Path) -> None:
    common, gpu = tmp_path / "common.yaml", tmp_path / "gpu.yaml"
    common.write_text("spec: {containers: [{name: job, image: common:1}]}\n")
    gpu.write_text(
        textwrap.dedent("""
        kind: Pod
        spec:
          volumes: [{name: shm, emptyDir: {medium: Memory}}]
          containers:
            - name: job
              volumeMounts: [{name: shm, mountPath: /dev/shm}]
              env: [{name: FROM_TEMPLATE, value: "1"}]
    """)
    )
    settings = KubernetesSettings(pod_template_file=common)
    pod, main = parts(manifest({"pod_template_file": str(gpu), "env": {"X": "1"}}, settings))
    assert pod["spec"]["volumes"] == [{"name": "shm", "emptyDir": {"medium": "Memory"}}]
    assert main["image"] == "aiflow:latest", "the gpu template names none: the default image"
    assert [e["name"] for e in main["env"]][:2] == ["FROM_TEMPLATE", "X"]
    get_deployer("kubernetes").check_overrides({"pod_template_file": str(gpu)}, "node 'train'")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"imagee": "x:1"}, r"unknown option 'imagee' \(options: image, python, "),
        ({"resources": {"limit": {"cpu": 1}}}, r"unknown option 'resources.limit' \(options: "),
        ({"resources": {"limits": {"cpu": "2 GB"}}}, r"resources.limits.cpu: not a Kubernetes q"),
        ({"tolerations": [{"effect": "Never"}]}, r"tolerations.0.effect: Input should be 'NoS"),
        ({"env": {"AIFLOW_HOME": "/x"}}, r"env.AIFLOW_HOME: AIFLOW_\* variables are aiflow's"),
        ({"labels": {naming.JOB: "1"}}, r"labels.aiflow.dev/job: a key of aiflow's own"),
        ({"node_selector": {"pool": "a b"}}, r"node_selector.pool: not a label value"),
        ({"service_account": "Jobs_SA"}, r"service_account: not a service account name"),
        ({"image_pull_policy": "always"}, r"image_pull_policy: Input should be 'Always'"),
        ({"active_deadline": 0}, r"active_deadline: Input should be greater than 0 \(got 0\)"),
        ({"pod_template_file": "pod.yaml"}, r"pod_template_file: 'pod.yaml' is relative"),
        ({"pod_template_file": "/nowhere/pod.yaml"}, r"cannot read the pod template file /now"),
    ],
)
def test_a_bad_option_is_refused_naming_node_and_option(
    options: dict[str, Any], expected: str
) -> None:
    deployer = get_deployer("kubernetes")  # no cluster needed to check options
    with pytest.raises(InvalidInput, match=rf"^node 'train'.*{expected}"):
        deployer.check_overrides(options, "node 'train'")


def test_a_launch_with_bad_options_is_refused_too() -> None:
    """Options are checked at submit; a stored spec (edited, or from an older aiflow) is
    checked again at launch, and the driver records why the attempt could not start."""
    with pytest.raises(InvalidInput, match=r"job 'train': deploy\['kubernetes'\]: unknown opt"):
        manifest({"imagee": "x"})


def test_a_deployer_without_options_refuses_any() -> None:
    local = get_deployer("local")
    local.check_overrides({}, "node 'train'")
    with pytest.raises(
        InvalidInput,
        match=r"the local deployer takes no per-node overrides \(node 'train': "
        r"deploy\['local'\] sets cpu, image\)",
    ):
        local.check_overrides({"image": "x", "cpu": 1}, "node 'train'")
