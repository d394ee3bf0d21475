"""The Apache Flink Kubernetes Operator's CRDs in the test API server.

Why: the chart can create a ``FlinkDeployment`` (``flink.sessionCluster.enabled``), a resource
the API server only knows once the operator's CustomResourceDefinitions are installed. With
them installed, a server-side dry-run validates the chart's object against the operator's own
OpenAPI schema (field names, types, the ``flinkVersion`` enum), as on a cluster running the
operator -- no operator process is needed for that, and none runs here.

Where the CRDs come from: the operator's API jar (``flink-kubernetes-operator-api``, pinned by
version and SHA-256 in ``translators/flink/versions.py``, group ``flink-operator-api``) carries
them as fabric8-generated YAML under ``META-INF/fabric8/``; ``*-v1.yml`` is the
``apiextensions.k8s.io/v1`` form (``*-v1beta1.yml`` is for API servers older than 1.16).
"""

from __future__ import annotations

import zipfile
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

FLINK_CRD_FILES = (
    "META-INF/fabric8/flinkdeployments.flink.apache.org-v1.yml",
    "META-INF/fabric8/flinksessionjobs.flink.apache.org-v1.yml",
)
ESTABLISH_TIMEOUT = 60  # s; a CRD is established within a second on an idle API server


def flink_crds() -> list[dict[str, Any]]:
    """The operator's CRDs (FlinkDeployment, FlinkSessionJob), read from its pinned API jar
    (fetched into the jar cache by Maven on first use)."""
    from aiflow.translators.flink.jars import ensure_jars

    (jar,) = ensure_jars("flink-operator-api")
    crds: list[dict[str, Any]] = []
    with zipfile.ZipFile(jar) as archive:
        names = set(archive.namelist())
        for member in FLINK_CRD_FILES:
            if member not in names:
                raise RuntimeError(f"{jar} has no {member}: is the pinned jar the operator's API?")
            crd = yaml.safe_load(archive.read(member))
            if crd.get("kind") != "CustomResourceDefinition":
                raise RuntimeError(f"{jar}!{member} is a {crd.get('kind')}, not a CRD")
            crds.append(crd)
    return crds


def install_flink_crds(api_client: ApiClient) -> list[str]:
    """Create the operator's CRDs (an existing one is kept: idempotent, and safe when several
    tests of a session share the control plane) and wait until each is Established, i.e.
    served. Returns their names."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    extensions: Any = client.ApiextensionsV1Api(api_client)
    names: list[str] = []
    for crd in flink_crds():
        name = crd["metadata"]["name"]
        try:
            extensions.create_custom_resource_definition(crd, _preload_content=False)
        except ApiException as exc:
            if exc.status != 409:  # 409: already exists
                raise RuntimeError(
                    f"the API server refused CRD {name}: {exc.status} {exc.body}"
                ) from exc
        _wait_established(extensions, name)
        names.append(name)
    return names


def _established(crd: Any) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def _wait_established(extensions: Any, name: str) -> None:
    """Watch the CRD (not a polling loop) until its Established condition is True."""
    import json

    from kubernetes import watch

    response = extensions.read_custom_resource_definition(name, _preload_content=False)
    crd = json.loads(response.data)
    if _established(crd):
        return
    stream = watch.Watch()
    try:
        for event in stream.stream(
            extensions.list_custom_resource_definition,
            field_selector=f"metadata.name={name}",
            resource_version=crd["metadata"]["resourceVersion"],
            timeout_seconds=ESTABLISH_TIMEOUT,
            deserialize=False,  # events as plain JSON: no 500 KB model built per event
        ):
            if _established(event["object"]):
                return
    finally:
        stream.stop()
    raise RuntimeError(f"CRD {name} was not Established within {ESTABLISH_TIMEOUT} s")
