"""The chart's optional Flink session cluster (``flink.sessionCluster``): a ``FlinkDeployment``
for the Apache Flink Kubernetes Operator, and aiflow pointed at its REST Service.

The operator's CRDs (from its pinned API jar, tests/k8s/crds.py) are installed in the session's
test API server, so a server-side dry-run with ``fieldValidation=Strict`` checks the rendered
``FlinkDeployment`` against the operator's own schema, as a cluster running the operator would.
No operator runs here: what it does with the object (a JobManager, TaskManagers) is not tested.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from tests.helm.conftest import (
    CHART,
    RELEASE,
    Helm,
    container_env,
    find,
    pod_specs,
    render,
)
from tests.helm.test_schema import assert_schema_refuses

if TYPE_CHECKING:
    from tests.k8s.controlplane import ControlPlane

FULLNAME = f"{RELEASE}-aiflow"
SESSION = f"{FULLNAME}-flink"
ENABLED = ("--set", "flink.sessionCluster.enabled=true")
REST_URL_ENV = "AIFLOW__FLINK__REST_URL"


@pytest.fixture(scope="module")
def flink_crds(k8s: ControlPlane) -> list[str]:
    from tests.k8s.crds import install_flink_crds

    with k8s.api_client() as api:
        return install_flink_crds(api)


def _dry_run(k8s: ControlPlane, cache: Path, obj: dict[str, Any], namespace: str) -> None:
    """Create ``obj`` with ``dryRun=All`` and strict field validation; ApiException if refused."""
    from kubernetes.dynamic import DynamicClient

    with k8s.api_client() as api:
        # a discovery cache of our own: a shared one may predate the CRDs
        dynamic = DynamicClient(api, cache_file=str(cache))
        resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        dynamic.create(
            resource,
            body=obj,
            namespace=namespace,
            dry_run="All",
            query_params=[("fieldValidation", "Strict")],
        )


def _session(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return find(objects, "FlinkDeployment", SESSION)


def _env_of(objects: list[dict[str, Any]], component: str) -> dict[str, dict[str, Any]]:
    deployment = find(objects, "Deployment", f"{FULLNAME}-{component}")
    return container_env(deployment["spec"]["template"]["spec"]["containers"][0])


# -- the CRDs and the API server's validation ---------------------------------------------------


def test_crds_install_idempotently_and_accept_the_default_flink_version(
    flink_crds: list[str], k8s: ControlPlane
) -> None:
    from kubernetes import client

    from tests.k8s.crds import install_flink_crds

    assert flink_crds == [
        "flinkdeployments.flink.apache.org",
        "flinksessionjobs.flink.apache.org",
    ]
    with k8s.api_client() as api:
        assert install_flink_crds(api) == flink_crds  # already there: fine
        extensions: Any = client.ApiextensionsV1Api(api)
        crd = extensions.read_custom_resource_definition(flink_crds[0])
    (version,) = [v for v in crd.spec.versions if v.served]
    spec = version.schema.open_apiv3_schema.properties["spec"].properties
    default = yaml.safe_load((CHART / "values.yaml").read_text())["flink"]["sessionCluster"]
    assert default["flinkVersion"] in spec["flinkVersion"].enum


@pytest.mark.parametrize(
    "extra",
    [
        ENABLED,
        (
            *ENABLED,
            "--set", "flink.sessionCluster.taskManager.replicas=0",
            "--set", "flink.sessionCluster.jobManager.replicas=2",
            "--set-json", 'flink.sessionCluster.flinkConfiguration={"rest.port": 8082, '
            '"high-availability.type": "kubernetes", "high-availability.storageDir": "s3://b/ha"}',
            "--set-json", 'imagePullSecrets=[{"name": "registry"}]',
            "--set-json", "flink.sessionCluster.taskManager.resource.cpu=0.5",
            "--set", "scheduler.embedded=true",
        ),
    ],
    ids=["defaults", "custom"],
)  # fmt: skip
def test_rendered_chart_with_a_session_cluster_passes_strict_server_side_validation(
    flink_crds: list[str], helm: Helm, k8s: ControlPlane, tmp_path: Path, extra: tuple[str, ...]
) -> None:
    from kubernetes.client.exceptions import ApiException

    namespace = k8s.namespace("flink")
    objects = render(helm, [], *extra, namespace=namespace)
    assert _session(objects)["spec"].get("job") is None, "a session cluster has no job"
    for obj in objects:
        try:
            _dry_run(k8s, tmp_path / "discovery.json", obj, namespace)
        except ApiException as exc:
            where = f"{obj['kind']}/{obj['metadata']['name']}"
            pytest.fail(f"the API server refused {where}: {exc.status} {exc.body}")


@pytest.mark.parametrize(
    ("path", "key", "value", "named"),
    [
        (("spec", "taskManager"), "replcas", 1, "replcas"),  # a misspelt field
        (("spec", "jobManager", "resource"), "cpu", "lots", "spec.jobManager.resource.cpu"),
        # Flink 2.3 is not in operator 1.10's enum: why the chart defaults to v1_20
        (("spec",), "flinkVersion", "v2_3", "spec.flinkVersion"),
    ],
)
def test_the_operators_schema_refuses_a_wrong_field(
    flink_crds: list[str],
    helm: Helm,
    k8s: ControlPlane,
    tmp_path: Path,
    path: tuple[str, ...],
    key: str,
    value: object,
    named: str,
) -> None:
    """The check above has teeth: the CRD's schema is enforced, naming the field."""
    from kubernetes.client.exceptions import ApiException

    namespace = k8s.namespace("flink")
    session = _session(render(helm, [], *ENABLED, namespace=namespace))
    target = session
    for part in path:
        target = target[part]
    target[key] = value
    with pytest.raises(ApiException) as refused:
        _dry_run(k8s, tmp_path / "discovery.json", session, namespace)
    assert refused.value.status in (400, 422)
    assert named in str(refused.value.body)


def test_helm_install_knows_the_kind_and_its_notes_name_the_operator_prerequisite(
    flink_crds: list[str], helm: Helm, k8s: ControlPlane
) -> None:
    namespace = k8s.namespace("flink")
    done = helm.run(
        "install", RELEASE, str(CHART), "--namespace", namespace, *ENABLED,
        "--dry-run=server", kubeconfig=k8s.kubeconfig,
    )  # fmt: skip
    assert "kind: FlinkDeployment" in done.stdout
    notes = done.stdout.split("NOTES:", 1)[1]
    assert "Apache Flink Kubernetes Operator, which this chart does NOT install" in notes
    assert f"http://{SESSION}-rest.{namespace}.svc:8081" in notes


# -- what the chart renders (no API server) -----------------------------------------------------


def test_rest_url_env_is_set_on_server_and_scheduler_when_enabled(helm: Helm) -> None:
    objects = render(helm, [], *ENABLED, namespace="ml")
    url = f"http://{SESSION}-rest.ml.svc:8081"
    for component in ("server", "scheduler"):
        assert _env_of(objects, component)[REST_URL_ENV] == {"name": REST_URL_ENV, "value": url}
    session = _session(objects)
    assert session["apiVersion"] == "flink.apache.org/v1beta1"
    assert session["spec"]["mode"] == "native"
    assert session["spec"]["flinkConfiguration"] == {"taskmanager.numberOfTaskSlots": "2"}


def test_rest_url_follows_rest_port_and_the_embedded_scheduler(helm: Helm) -> None:
    objects = render(
        helm, [], *ENABLED, "--set", "scheduler.embedded=true",
        "--set", r"flink.sessionCluster.flinkConfiguration.rest\.port=9091", namespace="ml",
    )  # fmt: skip
    assert [o for o in objects if o["metadata"]["name"] == f"{FULLNAME}-scheduler"] == []
    env = _env_of(objects, "server")
    assert env[REST_URL_ENV]["value"] == f"http://{SESSION}-rest.ml.svc:9091"
    assert _session(objects)["spec"]["flinkConfiguration"]["rest.port"] == "9091"


def test_no_session_cluster_and_no_rest_url_when_disabled(helm: Helm) -> None:
    objects = render(helm, [], namespace="ml")
    assert [o for o in objects if o["kind"] == "FlinkDeployment"] == []
    for where, spec in pod_specs(objects):
        for container in spec.get("initContainers", []) + spec["containers"]:
            assert REST_URL_ENV not in container_env(container), f"{where} {container['name']}"


def test_session_cluster_name_fits_flinks_cluster_id_limit(helm: Helm) -> None:
    """Flink's native Kubernetes mode refuses a cluster id over 45 characters."""
    long_name = "a" * 48
    objects = render(helm, [], *ENABLED, "--set", f"fullnameOverride={long_name}")
    (session,) = [o for o in objects if o["kind"] == "FlinkDeployment"]
    name = session["metadata"]["name"]
    assert len(name) <= 45 and name == f"{'a' * 39}-flink"
    server = find(objects, "Deployment", f"{long_name}-server")
    url = container_env(server["spec"]["template"]["spec"]["containers"][0])[REST_URL_ENV]
    assert url["value"].startswith(f"http://{name}-rest.")


def test_session_cluster_carries_labels_and_lints(helm: Helm) -> None:
    session = _session(render(helm, [], *ENABLED))
    labels = session["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "flink"
    assert labels["app.kubernetes.io/instance"] == RELEASE
    pod = session["spec"]["podTemplate"]["spec"]["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0
    done = helm.run("lint", "--strict", str(CHART), *ENABLED, check=False)
    assert done.returncode == 0 and "[WARNING]" not in done.stdout, done.stdout


def test_session_image_runs_the_pinned_flink_version() -> None:
    """aiflow's PyFlink client submits to the cluster: both must run the same Flink."""
    from aiflow.translators.flink.versions import FLINK_VERSION

    default = yaml.safe_load((CHART / "values.yaml").read_text())["flink"]["sessionCluster"]
    assert default["image"]["tag"] == FLINK_VERSION


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--set", "flink.sessionCluster.replicas=2"], ["/flink/sessionCluster", "replicas"]),
        (["--set", "flink.sessionCluster.enable=true"], ["/flink/sessionCluster", "enable"]),
        (
            ["--set", "flink.sessionCluster.taskManager.resource.gpu=1"],
            ["/flink/sessionCluster/taskManager/resource", "gpu"],
        ),
        (["--set", "flink.sessionCluster.taskSlots=many"], ["/flink/sessionCluster/taskSlots"]),
        (
            ["--set", "flink.sessionCluster.flinkVersion=2.3"],
            ["/flink/sessionCluster/flinkVersion"],
        ),
        (["--set", "flink.sessionCluster.enabled=yes"], ["/flink/sessionCluster/enabled"]),
        (["--set", "flink.restUrl=http://x"], ["/flink", "restUrl"]),
    ],
)
def test_schema_rejects_unknown_keys_and_wrong_types_under_flink(
    helm: Helm, args: list[str], names: list[str]
) -> None:
    assert_schema_refuses(helm, args, names)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--set", "config.flink.rest_url=http://flink:8081"],
            "flink.sessionCluster.enabled=true and config.flink.rest_url are both set",
        ),
        (
            ["--set", "flink.sessionCluster.jobManager.replicas=2"],
            "flink.sessionCluster.jobManager.replicas=2 needs Kubernetes HA",
        ),
        (
            ["--set", "flink.sessionCluster.image.tag="],
            "flink.sessionCluster.image.tag is required",
        ),
        (["--set", "fullnameOverride=9lives"], "must start with a letter"),
    ],
)
def test_template_refuses_contradictions_naming_the_keys(
    helm: Helm, args: list[str], message: str
) -> None:
    done = helm.template([], *ENABLED, *args, check=False)
    assert done.returncode != 0, f"helm template {' '.join(args)} was accepted"
    assert message in done.stderr, done.stderr
