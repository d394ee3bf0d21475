"""The chart against a real Kubernetes API server (the session control plane, ``k8s``).

* every object rendered with every values file passes the API server's own validation:
  a server-side dry-run create with ``fieldValidation=Strict`` (unknown or duplicate fields are
  errors, as are bad values, names and references the server can check without creating);
* ``helm install --wait`` succeeds, with every pod on the kwok node (kwok marks pods Ready and
  completes Job pods: no container runtime runs here, so pods never run the image), and the
  chart's ServiceAccount is allowed exactly the deployer's verbs -- asked of the API server's
  own authorizer (SubjectAccessReview);
* ``helm upgrade`` runs the pre-upgrade migrations hook and keeps the generated secret key and
  database password.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.helm.conftest import (
    CHART,
    KWOK_PLACEMENT,
    RELEASE,
    VALUES_FILES,
    Helm,
    render,
    values_id,
)
from tests.helm.test_render import DEPLOYER_RULES

if TYPE_CHECKING:
    from tests.k8s.controlplane import ControlPlane

FULLNAME = f"{RELEASE}-aiflow"


@pytest.mark.parametrize("values", VALUES_FILES, ids=values_id)
def test_rendered_objects_pass_strict_server_side_validation(
    helm: Helm, k8s: ControlPlane, values: Path
) -> None:
    from kubernetes.client.exceptions import ApiException
    from kubernetes.dynamic import DynamicClient

    namespace = k8s.namespace("helm")
    objects = render(helm, [values], "--is-upgrade", namespace=namespace)  # hooks too
    objects += [o for o in render(helm, [values], namespace=namespace) if o["kind"] == "Job"]
    with k8s.api_client() as api:
        dynamic = DynamicClient(api)
        for obj in objects:
            where = f"{obj['kind']}/{obj['metadata']['name']} ({values.name})"
            resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
            try:
                dynamic.create(
                    resource,
                    body=obj,
                    namespace=namespace,
                    dry_run="All",
                    query_params=[("fieldValidation", "Strict")],
                )
            except ApiException as exc:
                pytest.fail(f"the API server refused {where}: {exc.status} {exc.body}")


def test_strict_validation_refuses_what_the_chart_must_not_render(
    helm: Helm, k8s: ControlPlane
) -> None:
    """The check above has teeth: a misspelt field and a bad value are refused, named."""
    from kubernetes.client.exceptions import ApiException
    from kubernetes.dynamic import DynamicClient

    namespace = k8s.namespace("helm")
    (server,) = [
        o
        for o in render(helm, namespace=namespace)
        if o["metadata"]["name"].endswith("-server") and o["kind"] == "Deployment"
    ]
    container = server["spec"]["template"]["spec"]["containers"][0]
    container["livenesProbe"] = container.pop("livenessProbe")
    with k8s.api_client() as api:
        dynamic = DynamicClient(api)
        deployments = dynamic.resources.get(api_version="apps/v1", kind="Deployment")
        with pytest.raises(ApiException) as refused:
            dynamic.create(
                deployments, body=server, namespace=namespace, dry_run="All",
                query_params=[("fieldValidation", "Strict")],
            )  # fmt: skip
    assert refused.value.status == 400
    assert "livenesProbe" in str(refused.value.body)


@pytest.fixture(scope="module")
def installed(helm: Helm, k8s: ControlPlane) -> Iterator[tuple[str, str]]:
    """The chart installed with --wait into a fresh namespace: ``(namespace, helm output)``."""
    namespace = k8s.namespace("release")
    done = helm.run(
        "install", RELEASE, str(CHART), "--namespace", namespace, "-f", str(KWOK_PLACEMENT),
        "--wait", "--wait-for-jobs", "--timeout", "150s", kubeconfig=k8s.kubeconfig,
    )  # fmt: skip
    yield namespace, done.stdout
    helm.run("uninstall", RELEASE, "--namespace", namespace, kubeconfig=k8s.kubeconfig)


def _secret(k8s: ControlPlane, namespace: str, name: str) -> dict[str, str]:
    from kubernetes import client

    with k8s.api_client() as api:
        secret: Any = client.CoreV1Api(api).read_namespaced_secret(name, namespace)
    return {key: base64.b64decode(value).decode() for key, value in secret.data.items()}


def test_helm_install_waits_for_a_ready_release(
    installed: tuple[str, str], k8s: ControlPlane
) -> None:
    from kubernetes import client

    namespace, output = installed
    assert "STATUS: deployed" in output
    assert "NOT FOR PRODUCTION" in output  # NOTES.txt on the bundled PostgreSQL
    with k8s.api_client() as api:
        apps: Any = client.AppsV1Api(api)
        for name in (f"{FULLNAME}-server", f"{FULLNAME}-scheduler"):
            deployment = apps.read_namespaced_deployment(name, namespace)
            assert deployment.status.ready_replicas == 1, name
        batch: Any = client.BatchV1Api(api)
        job = batch.read_namespaced_job(f"{FULLNAME}-migrate-1", namespace)
        assert job.status.succeeded == 1
    assert len(_secret(k8s, namespace, f"{FULLNAME}-secret-key")["secret-key"]) == 64


def test_service_account_may_do_exactly_what_the_deployer_needs(
    installed: tuple[str, str], k8s: ControlPlane
) -> None:
    """The API server's authorizer, asked for the chart's ServiceAccount: each verb of the
    deployer's set is allowed in the release's namespace; nearby ones are not."""
    from kubernetes import client

    namespace, _ = installed
    user = f"system:serviceaccount:{namespace}:{FULLNAME}"
    job_user = f"system:serviceaccount:{namespace}:{FULLNAME}-job"

    def allowed(who: str, group: str, resource: str, verb: str, ns: str = namespace) -> bool:
        kind, _, sub = resource.partition("/")
        review = {
            "spec": {
                "user": who,
                "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"],
                "resourceAttributes": {
                    "namespace": ns, "group": group, "resource": kind,
                    "subresource": sub, "verb": verb,
                },
            }
        }  # fmt: skip
        with k8s.api_client() as api:
            authorization: Any = client.AuthorizationV1Api(api)
            answer = authorization.create_subject_access_review(review)
        return bool(answer.status.allowed)

    every_verb = ["create", "get", "list", "watch", "patch", "update", "delete", "deletecollection"]
    for (group, resource), verbs in DEPLOYER_RULES.items():
        for verb in every_verb:
            expected = verb in verbs
            got = allowed(user, group, resource, verb)
            assert got == expected, f"{verb} {resource}: allowed={got}, documented={expected}"
    refused = [
        ("", "pods", "create"), ("", "pods/eviction", "create"), ("", "pods/exec", "create"),
        ("", "secrets", "list"), ("", "configmaps", "get"), ("apps", "deployments", "create"),
        ("rbac.authorization.k8s.io", "roles", "create"),
    ]  # fmt: skip
    for group, resource, verb in refused:
        assert not allowed(user, group, resource, verb), f"{verb} {resource} is allowed"
    assert not allowed(user, "batch", "jobs", "create", ns="default"), "other namespaces"
    assert not allowed(job_user, "batch", "jobs", "create"), "job pods may create Jobs"


def test_helm_upgrade_runs_the_migrations_hook_and_keeps_generated_secrets(
    installed: tuple[str, str], helm: Helm, k8s: ControlPlane
) -> None:
    from kubernetes import client

    namespace, _ = installed
    key_before = _secret(k8s, namespace, f"{FULLNAME}-secret-key")
    store_before = _secret(k8s, namespace, f"{FULLNAME}-metastore")
    done = helm.run(
        "upgrade", RELEASE, str(CHART), "--namespace", namespace, "-f", str(KWOK_PLACEMENT),
        "--set", "scheduler.interval=5", "--wait", "--timeout", "150s",
        kubeconfig=k8s.kubeconfig,
    )  # fmt: skip
    assert "STATUS: deployed" in done.stdout and "REVISION: 2" in done.stdout
    hooks = helm.run("get", "hooks", RELEASE, "--namespace", namespace, kubeconfig=k8s.kubeconfig)
    assert "helm.sh/hook: pre-upgrade" in hooks.stdout and "aiflow-migrate-2" in hooks.stdout
    assert _secret(k8s, namespace, f"{FULLNAME}-secret-key") == key_before
    store_after = _secret(k8s, namespace, f"{FULLNAME}-metastore")
    assert store_after == store_before, "the database password changed on upgrade"
    with k8s.api_client() as api:
        batch: Any = client.BatchV1Api(api)
        jobs = batch.list_namespaced_job(namespace).items
        # the hook succeeded and was deleted (hook-succeeded); the install's Job left the release
        assert f"{FULLNAME}-migrate-2" not in [job.metadata.name for job in jobs]
        apps: Any = client.AppsV1Api(api)
        deployment = apps.read_namespaced_deployment(f"{FULLNAME}-scheduler", namespace)
    args: Any = deployment.spec.template.spec.containers[0].args
    assert args == ["scheduler", "--interval", "5"]
