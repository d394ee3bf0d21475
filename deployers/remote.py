"""What deployers that run jobs on other machines (Kubernetes, YARN) share.

A local job inherits the driver's environment; a job on a cluster node inherits nothing, so
these deployers pass on what it needs, split in two: public variables, which may travel in a
pod spec or a launch command, and credentials, which must travel in the target's secret store
(a Kubernetes Secret, a YARN application's credentials). And none of them hands a database
password to job code: such jobs reach the meta store through a server's job API.
"""

from __future__ import annotations

import os

from aiflow.deployers.base import JobLaunch
from aiflow.errors import DeploymentError
from aiflow.translators.job_store import without_credentials

_METASTORE_URI = "AIFLOW__METASTORE__URI"


def forwarded_settings(own_section: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The driver's ``AIFLOW__*`` settings a job needs, e.g. ``AIFLOW__FLINK__REST_URL`` (the
    session cluster its Flink jobs go to), minus credentials and the deployer's own section
    (``AIFLOW__<OWN_SECTION>__*``: the driver's kubeconfig or Hadoop paths mean nothing on a
    node)."""
    environ = dict(os.environ if environ is None else environ)
    own = f"AIFLOW__{own_section.upper()}__"
    return {
        key: value
        for key, value in without_credentials(environ).items()
        if key.startswith("AIFLOW__") and not key.startswith(own)
    }


def secret_values(launch: JobLaunch) -> dict[str, str]:
    """The variables of ``launch.env`` that must not be inline: exactly what a local child
    process would not inherit (``without_credentials``)."""
    public = without_credentials(launch.env)
    return {key: value for key, value in launch.env.items() if key not in public}


def refuse_store_password(launch: JobLaunch, deployer: str) -> None:
    """A meta store URL with a password would put database credentials on every node."""
    uri = launch.env.get(_METASTORE_URI)
    if not uri:
        return
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(uri)
    except ArgumentError:
        return  # not a database URL (e.g. the "no direct access" marker of server jobs)
    if url.password:
        raise DeploymentError(
            f"job '{launch.job_name}': the meta store URL "
            f"{url.render_as_string(hide_password=True)} carries a password, and the "
            f"{deployer} deployer does not give database credentials to jobs on the cluster; "
            "run the workflow under an aiflow server (aiflow run --server URL, or the Helm "
            "chart): its jobs reach the store through the server's job API with a short-lived "
            "job token"
        )
