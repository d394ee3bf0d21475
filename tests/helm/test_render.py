"""What the chart renders, for every values file: lint, security, secrets, RBAC, probes,
migrations, one active scheduler and the deployer's settings. No API server needed
(test_apiserver.py validates the same objects against a real one)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.helm.conftest import (
    CHART,
    RELEASE,
    VALUES_DIR,
    VALUES_FILES,
    Helm,
    container_env,
    find,
    pod_specs,
    render,
    values_id,
)

FULLNAME = f"{RELEASE}-aiflow"
each_values = pytest.mark.parametrize("values", VALUES_FILES, ids=values_id)

# The deployer's needs, as documented in templates/rbac.yaml: (apiGroup, resource) -> verbs.
DEPLOYER_RULES = {
    ("batch", "jobs"): {"create", "get", "list", "watch", "patch", "delete"},
    ("", "pods"): {"get", "list", "watch", "delete"},
    ("", "pods/log"): {"get"},
    ("", "secrets"): {"create"},
    ("", "events"): {"list", "watch"},
}


def test_values_files_cover_the_documented_configurations() -> None:
    names = {path.stem for path in VALUES_FILES}
    assert {"default", "external-db", "ingress", "embedded-scheduler", "resources"} <= names


@each_values
def test_helm_lint_strict_passes(helm: Helm, values: Path) -> None:
    done = helm.run("lint", "--strict", str(CHART), "-f", str(values), check=False)
    assert done.returncode == 0, f"helm lint --strict -f {values.name}:\n{done.stdout}"
    assert "[WARNING]" not in done.stdout and "[ERROR]" not in done.stdout, done.stdout


@each_values
def test_every_object_carries_the_common_labels(helm: Helm, values: Path) -> None:
    for obj in render(helm, [values]):
        where = f"{obj['kind']}/{obj['metadata']['name']} ({values.name})"
        labels = obj["metadata"].get("labels", {})
        for key in ("name", "instance", "version", "managed-by", "component"):
            assert f"app.kubernetes.io/{key}" in labels, f"{where}: no app.kubernetes.io/{key}"
        assert labels["app.kubernetes.io/instance"] == RELEASE, where
        if "selector" in obj.get("spec", {}) and "template" in obj["spec"]:
            selector = obj["spec"]["selector"]["matchLabels"]
            pod_labels = obj["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= pod_labels.items(), f"{where}: selector misses its pods"


@each_values
def test_every_pod_runs_as_non_root_with_a_read_only_root(helm: Helm, values: Path) -> None:
    specs = list(pod_specs(render(helm, [values])))
    assert specs, f"no workloads rendered with {values.name}"
    for where, spec in specs:
        pod = spec.get("securityContext", {})
        assert pod.get("runAsNonRoot") is True, f"{where}: pod runAsNonRoot is not true"
        assert pod.get("runAsUser", 0) != 0, f"{where}: pod runs as uid 0"
        assert pod.get("seccompProfile") == {"type": "RuntimeDefault"}, where
        for container in spec.get("initContainers", []) + spec["containers"]:
            name = f"{where} container {container['name']}"
            context = container.get("securityContext", {})
            assert context.get("runAsNonRoot", True) is True, name
            assert context.get("allowPrivilegeEscalation") is False, name
            assert context.get("readOnlyRootFilesystem") is True, name
            assert context.get("capabilities", {}).get("drop") == ["ALL"], name
            assert not context.get("privileged"), name
            writable = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in writable, f"{name}: no writable /tmp under a read-only root"


@each_values
def test_secrets_are_never_inline(helm: Helm, values: Path) -> None:
    """Credentials reach containers only through secretKeyRef: no secret value appears in any
    object but its Secret, and the credential variables all come from Secrets."""
    objects = render(helm, [values])
    secret_values = {
        base64.b64decode(value).decode()
        for obj in objects
        if obj["kind"] == "Secret"
        for value in obj.get("data", {}).values()
    }
    secret_values |= set(re.findall(r"\w+://\S+@\S+", values.read_text()))  # URLs in values
    for obj in objects:
        if obj["kind"] == "Secret":
            continue
        text = json.dumps(obj)
        for value in secret_values:
            assert value not in text, f"{obj['kind']}/{obj['metadata']['name']} holds a secret"
    credential = re.compile(r"PASSWORD|SECRET|TOKEN|METASTORE__URI")
    for where, spec in pod_specs(objects):
        for container in spec["containers"]:
            for name, item in container_env(container).items():
                if credential.search(name):
                    assert "secretKeyRef" in item.get("valueFrom", {}), f"{where}: env {name}"


def test_rbac_role_allows_exactly_what_the_deployer_needs(helm: Helm) -> None:
    objects = render(helm)
    role = find(objects, "Role", f"{FULLNAME}-deployer")
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, f"unexpected rule keys {rule}"
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    assert granted == DEPLOYER_RULES
    assert ("", "pods/eviction") not in granted
    assert not any("*" in verbs for verbs in granted.values())

    binding = find(objects, "RoleBinding", f"{FULLNAME}-deployer")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": FULLNAME, "namespace": "aiflow"}
    ]
    assert not [o for o in objects if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    # job pods' account gets no binding and no token
    job_sa = find(objects, "ServiceAccount", f"{FULLNAME}-job")
    assert job_sa["automountServiceAccountToken"] is False


def test_every_rbac_rule_is_documented() -> None:
    """Each rule in templates/rbac.yaml is preceded by a comment saying why."""
    lines = (CHART / "templates" / "rbac.yaml").read_text().splitlines()
    rules = [i for i, line in enumerate(lines) if line.strip().startswith("- apiGroups:")]
    assert len(rules) == len(DEPLOYER_RULES)
    for i in rules:
        assert lines[i - 1].strip().startswith("#"), f"rbac.yaml line {i + 1}: rule without why"
    assert "pods/eviction" in "\n".join(lines), "the refused eviction right is not explained"


def test_server_probes_health_and_ready(helm: Helm) -> None:
    server = find(render(helm), "Deployment", f"{FULLNAME}-server")
    (container,) = server["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["command"] == ["aiflow"] and container["args"] == ["server"]


def test_migrations_run_aiflow_db_upgrade_on_install_and_as_pre_upgrade_hook(helm: Helm) -> None:
    def migrations(*extra: str) -> dict[str, Any]:
        jobs = [o for o in render(helm, [], *extra) if o["kind"] == "Job"]
        assert len(jobs) == 1, [j["metadata"]["name"] for j in jobs]
        return jobs[0]

    install = migrations()
    (container,) = install["spec"]["template"]["spec"]["containers"]
    assert [*container["command"], *container["args"]] == ["aiflow", "db", "upgrade"]
    # at install a plain Job of the release: pre-install hooks run before the database exists
    assert "helm.sh/hook" not in install["metadata"].get("annotations", {})

    upgrade = migrations("--is-upgrade")
    annotations = upgrade["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-upgrade"
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    (container,) = upgrade["spec"]["template"]["spec"]["containers"]
    assert [*container["command"], *container["args"]] == ["aiflow", "db", "upgrade"]
    pod = upgrade["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False


def test_one_active_scheduler(helm: Helm) -> None:
    objects = render(helm)
    scheduler = find(objects, "Deployment", f"{FULLNAME}-scheduler")
    assert scheduler["spec"]["replicas"] == 1
    assert scheduler["spec"]["strategy"] == {"type": "Recreate"}
    server = find(objects, "Deployment", f"{FULLNAME}-server")
    env = container_env(server["spec"]["template"]["spec"]["containers"][0])
    assert env["AIFLOW__SERVER__SCHEDULER"]["value"] == "false"

    embedded = render(helm, [VALUES_DIR / "embedded-scheduler.yaml"])
    assert not [o for o in embedded if o["metadata"]["name"].endswith("-scheduler")]
    server = find(embedded, "Deployment", f"{FULLNAME}-server")
    assert server["spec"]["strategy"] == {"type": "Recreate"}
    env = container_env(server["spec"]["template"]["spec"]["containers"][0])
    assert env["AIFLOW__SERVER__SCHEDULER"]["value"] == "true"


@each_values
def test_deployer_settings_come_from_the_release(helm: Helm, values: Path) -> None:
    objects = render(helm, [values], namespace="ml-team")
    server = find(objects, "Deployment", f"{FULLNAME}-server")
    (container,) = server["spec"]["template"]["spec"]["containers"]
    env = container_env(container)
    assert env["AIFLOW__KUBERNETES__NAMESPACE"]["value"] == "ml-team"
    assert env["AIFLOW__KUBERNETES__IMAGE"]["value"] == container["image"]
    job_account = env["AIFLOW__KUBERNETES__SERVICE_ACCOUNT"]["value"]
    find(objects, "ServiceAccount", job_account)
    assert server["spec"]["template"]["spec"]["serviceAccountName"] == FULLNAME
    port = find(objects, "Service", f"{FULLNAME}-server")["spec"]["ports"][0]["port"]
    expected = f"http://{FULLNAME}-server.ml-team.svc:{port}"
    assert env["AIFLOW_JOB_API"]["value"] == expected


def test_ingress_routes_to_the_server_service(helm: Helm) -> None:
    assert not [o for o in render(helm) if o["kind"] == "Ingress"]
    objects = render(helm, [VALUES_DIR / "ingress.yaml"])
    ingress = find(objects, "Ingress", f"{FULLNAME}-server")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["aiflow.example.com"], "secretName": "aiflow-tls"}]
    (path,) = ingress["spec"]["rules"][0]["http"]["paths"]
    service = path["backend"]["service"]
    assert find(objects, "Service", service["name"])["spec"]["ports"][0]["name"] == "http"


def test_resources_and_placement_come_from_values(helm: Helm) -> None:
    objects = render(helm, [VALUES_DIR / "resources.yaml"])
    server = find(objects, "Deployment", f"{FULLNAME}-server")["spec"]["template"]["spec"]
    assert server["containers"][0]["resources"] == {
        "requests": {"cpu": "1", "memory": "2Gi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }
    assert server["nodeSelector"] == {"pool": "control"}
    assert server["imagePullSecrets"] == [{"name": "registry-credentials"}]
    assert server["containers"][0]["image"] == "registry.example.com/ml/aiflow:0.1.0-flink"
    mounts = {m["mountPath"] for m in server["containers"][0]["volumeMounts"]}
    assert "/mnt/artifacts" in mounts
    scheduler = find(objects, "Deployment", f"{FULLNAME}-scheduler")["spec"]["template"]["spec"]
    assert scheduler["containers"][0]["resources"]["limits"] == {"memory": "2Gi"}
    postgres = find(objects, "StatefulSet", f"{FULLNAME}-postgresql")["spec"]
    claim = postgres["volumeClaimTemplates"][0]["spec"]
    assert claim["storageClassName"] == "fast"
    assert claim["resources"]["requests"]["storage"] == "20Gi"


def test_bundled_postgresql_is_marked_for_trials(helm: Helm) -> None:
    postgres = find(render(helm), "StatefulSet", f"{FULLNAME}-postgresql")
    assert "not for production" in postgres["metadata"]["annotations"]["aiflow.dev/note"]
    assert "NOT FOR PRODUCTION" in (CHART / "values.yaml").read_text()
    assert "NOT FOR PRODUCTION" in (CHART / "templates" / "NOTES.txt").read_text()


def test_config_file_renders_to_settings_aiflow_loads(helm: Helm, aiflow_home: Path) -> None:
    """The ConfigMap's aiflow.toml, as the pods read it: aiflow's own loader accepts it."""
    from aiflow.config import get_settings, reset_settings

    objects = render(helm, [VALUES_DIR / "external-db.yaml"])
    config = find(objects, "ConfigMap", f"{FULLNAME}-config")
    aiflow_home.mkdir(parents=True, exist_ok=True)
    (aiflow_home / "aiflow.toml").write_text(config["data"]["aiflow.toml"])
    reset_settings()
    settings = get_settings()
    assert settings.default_deployer == "kubernetes"
    assert settings.metastore.busy_timeout_ms == 10000
    kubernetes: Any = settings.kubernetes  # type: ignore[attr-defined]
    assert kubernetes.request_timeout == 20
    assert kubernetes.node_selector == {"pool": "ml"}
    assert kubernetes.resources == {"requests": {"cpu": "500m", "memory": "1Gi"}}


def test_environment_the_chart_sets_is_read_by_aiflow(
    helm: Helm, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plain env values of the server and scheduler containers, loaded by aiflow's own
    settings: a misspelt AIFLOW__* name would be silently ignored, so it is checked here."""
    from aiflow.config import get_settings, reset_settings

    objects = render(helm, namespace="ml-team")
    for name in ("server", "scheduler"):
        deployment = find(objects, "Deployment", f"{FULLNAME}-{name}")
        env = container_env(deployment["spec"]["template"]["spec"]["containers"][0])
        for key, item in env.items():
            if "value" in item:
                monkeypatch.setenv(key, item["value"])
        reset_settings()
        settings = get_settings()
        kubernetes: Any = settings.kubernetes  # type: ignore[attr-defined]
        assert kubernetes.namespace == "ml-team"
        assert kubernetes.image == "aiflow:0.1.0"
        assert kubernetes.service_account == f"{FULLNAME}-job"
        assert str(settings.home) == "/home/aiflow"
    assert (settings.server.host, settings.server.port) == ("0.0.0.0", 8080)
    assert settings.server.scheduler is False
