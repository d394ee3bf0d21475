"""The one place that records which versions of outside software aiflow runs with: Flink, the
Kafka connector and broker, and Hadoop (YARN and HDFS), and the jars that go with them.

Why one place: the ``apache-flink`` Python package, the Kafka SQL connector jar (built per Flink
minor release) and the broker the tests start must move together. Bumping one means checking the
others, so they sit side by side here and everything else (``jars.py``, the engine, the
test fixtures, pyproject's ``flink`` extra, which a test compares with ``FLINK_VERSION``) reads
them from this module. Hadoop's jars (the YARN deployer's client API, the test cluster) are
pinned the same way so that ``jars.py`` fetches and checks every jar aiflow uses; they live in
this engine's folder only because the jar cache does.

How the pair was chosen: the newest Flink release that has a matching Kafka connector release.
Maven Central's ``flink-sql-connector-kafka`` goes up to ``5.0.0-2.2`` (checked with a Maven
version range ``[5.0.0-2.2,)`` and the artifact's ``maven-metadata.xml``, 2026-11: there is no
``-2.3`` build). That jar loaded and worked on Flink 2.3.0 (docs/design/flink-engine.md, section
6), and Flink keeps its connector API stable within a major version, so 2.3.0 pairs with
``5.0.0-2.2``. When a ``-2.3`` (or newer) connector appears, move to it.

How checksums work: every jar is pinned by version *and* SHA-256, computed once from what Maven
Central served. Top-level artifacts carry their digest in ``Artifact``; a transitive group's
closure (the broker's ``KAFKA_BROKER_CLOSURE``, the Hadoop test cluster's
``HADOOP_CLUSTER_CLOSURE``) is pinned as a manifest of every other file Maven resolves, so
resolution drift (a different jar set) is caught as well as a changed file. See
``aiflow.translators.flink.jars`` for how they are checked, and regenerate a manifest with
``python -m aiflow.translators.flink.jars --print-manifest <group>`` after changing a version
here.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata, resources

from aiflow.errors import FlinkVersionError

FLINK_VERSION = "2.3.0"
"""Must equal the installed ``apache-flink`` package (pyproject's ``flink`` extra pins it)."""


@dataclass(frozen=True)
class Artifact:
    """One Maven artifact (a plain jar, no classifier), pinned by version and SHA-256."""

    group: str
    artifact: str
    version: str
    sha256: str

    @property
    def coords(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}"

    @property
    def filename(self) -> str:
        """The name Maven's ``copy-dependencies -Dmdep.prependGroupId=true`` gives the file; the
        group prefix keeps two artifacts with the same id and version from colliding."""
        return f"{self.group}.{self.artifact}-{self.version}.jar"


def closure(group: str) -> tuple[tuple[str, str], ...]:
    """A transitive group's pinned closure, ``closures/<group>.sha256`` beside this module (the
    ``sha256sum`` format: ``<digest>  <file name>`` per line; regenerate with ``python -m
    aiflow.translators.flink.jars --print-manifest <group>``). Data, not code: hundreds of pins
    would drown the versions that matter here."""
    text = resources.files(__package__).joinpath("closures", f"{group}.sha256").read_text()
    pins = []
    for line in text.splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            pins.append((name.strip(), digest))
    return tuple(pins)


@dataclass(frozen=True)
class JarGroup:
    """A set of jars used together: a throwaway pom depends on ``top``; with ``transitive`` the
    whole runtime closure is copied and must match ``top`` plus ``closure`` exactly."""

    name: str
    top: tuple[Artifact, ...]
    transitive: bool = False
    closure: tuple[tuple[str, str], ...] = ()  # (file name, sha256) of every non-top jar

    def files(self) -> dict[str, str]:
        """File name -> expected SHA-256 of every jar the group's cache directory must hold."""
        pinned = {artifact.filename: artifact.sha256 for artifact in self.top}
        pinned.update(self.closure)
        return pinned


KAFKA_CONNECTOR = Artifact(
    "org.apache.flink",
    "flink-sql-connector-kafka",
    "5.0.0-2.2",
    "5605c691d11a501382c383fecba37a7a552467da5ab7ba904ef5d6f3d62c5616",
)
"""The shaded Kafka SQL connector (kafka-clients inside); jobs put it on ``pipeline.jars``."""

KAFKA_BROKER = Artifact(
    "org.apache.kafka",
    "kafka_2.13",
    "4.1.1",
    "e89428126cc7630a802123ba27aac4442816840b66d60670226feaff65f24fd1",
)
"""The broker the tests run (KRaft mode); newer 4.x releases exist, 4.1.1 is the measured one."""

KAFKA_BROKER_SLF4J_BINDING = Artifact(
    "org.apache.logging.log4j",
    "log4j-slf4j-impl",
    "2.24.3",
    "40dec251164d1576e000968cd02e56a1125f46b91fb694a06dfa168f1335da48",
)
"""Routes the broker's SLF4J 1.7 logging to the log4j-core 2.24.3 that kafka-server already
pulls in. The published POMs carry no binding, so without it the broker logs nothing at all
(the probe's "NOP logger" pitfall) and a failed start leaves no trace. It is the SLF4J 1.x
binding (not ``log4j-slf4j2-impl``) because Kafka 4.1 resolves ``slf4j-api`` 1.7.36."""

KAFKA_BROKER_CLOSURE = closure("kafka-broker")
"""Every other jar on the broker's runtime classpath, as Maven resolves it from the two
artifacts above (``python -m aiflow.translators.flink.jars --print-manifest kafka-broker``)."""

FLINK_OPERATOR_API = Artifact(
    "org.apache.flink",
    "flink-kubernetes-operator-api",
    "1.10.0",
    "b1f44814e17514fa8395c61b329a3ee9087123a5bda5b21fe1a495d5182c30b6",
)
"""The Apache Flink Kubernetes Operator's API jar, for its CRDs only: it ships them as
``META-INF/fabric8/flinkdeployments.flink.apache.org-v1.yml`` (and ``flinksessionjobs``), which
the Kubernetes tests install in their API server so that the chart's ``FlinkDeployment`` is
validated by the operator's own schema. Nothing runs it. 1.10.0 is the newest release Maven
Central served here (1.11.0-1.13.0 were not found, 2026-12); its CRD's ``flinkVersion`` enum
ends at ``v1_20``, so the chart's session cluster says ``v1_20`` for a Flink 2.3 image until a
newer operator's CRD is pinned here (helm/aiflow/values.yaml, ``flink.sessionCluster``)."""

HADOOP_VERSION = "3.4.1"
"""The Hadoop release (YARN and HDFS) the YARN deployer is compiled and tested against; moving it
means regenerating ``HADOOP_CLUSTER_CLOSURE`` and checking the jackson override below."""

HADOOP_MINICLUSTER = Artifact(
    "org.apache.hadoop",
    "hadoop-minicluster",
    HADOOP_VERSION,
    "49a1eedee3f6f26f3abaf02e3643ceb210ade9f98791e86ba5c76f39e4a4591e",
)
"""Hadoop's own test cluster classes (``MiniDFSCluster``, ``MiniYARNCluster``, the NodeManager),
which ``tests/yarn/MiniHadoop.java`` runs as a real HDFS and YARN on loopback."""

HADOOP_JACKSON_CORE = Artifact(
    "com.fasterxml.jackson.core",
    "jackson-core",
    "2.12.7",
    "3987a6a335046e226e56b81d69668fb5a91b155ea7fd96b0851adbb7d4ac1ca6",
)
"""Overrides the jackson-core 2.10.2 that Maven's nearest-wins picks from the minicluster's tree:
the closure's jackson-databind 2.12.7.1 needs a 2.12 core, and the ResourceManager fails to start
with 2.10."""

HADOOP_MOCKITO = Artifact(
    "org.mockito",
    "mockito-core",
    "2.28.2",
    "b0af36fed3a6c2147c0cd9028a1d814fd4f4e8196c539f2befddb61ca6ec9e27",
)
"""``MiniDFSCluster`` loads Mockito at run time; the minicluster POM has it in test scope only."""

HADOOP_JUNIT = Artifact(
    "junit",
    "junit",
    "4.13.2",
    "8e495b634469d64fb8acfa3495a065cbacc8a0fff55ce1e31007be4c16dc57d3",
)
"""``MiniDFSCluster`` loads JUnit 4 at run time too (test scope in the POM, like Mockito)."""

HADOOP_CLIENT_API = Artifact(
    "org.apache.hadoop",
    "hadoop-client-api",
    HADOOP_VERSION,
    "a964d4daa054c9615bbafb4553efbb140fa7fb9ac6f358a24393f183a5703438",
)
"""Hadoop's shaded client API, what the YARN ApplicationMaster is compiled against (the cluster
provides the classes at run time, so the jar alone, not its dependencies)."""

HADOOP_CLUSTER_CLOSURE = closure("hadoop-cluster")
"""Every other jar on the test cluster's runtime classpath, as Maven resolves it from the four
artifacts above (``python -m aiflow.translators.flink.jars --print-manifest hadoop-cluster``)."""

JAR_GROUPS: dict[str, JarGroup] = {
    group.name: group
    for group in (
        JarGroup("connectors", (KAFKA_CONNECTOR,)),
        JarGroup(
            "kafka-broker",
            (KAFKA_BROKER, KAFKA_BROKER_SLF4J_BINDING),
            transitive=True,
            closure=KAFKA_BROKER_CLOSURE,
        ),
        JarGroup("flink-operator-api", (FLINK_OPERATOR_API,)),
        JarGroup(
            "hadoop-cluster",
            (HADOOP_MINICLUSTER, HADOOP_JACKSON_CORE, HADOOP_MOCKITO, HADOOP_JUNIT),
            transitive=True,
            closure=HADOOP_CLUSTER_CLOSURE,
        ),
        JarGroup("hadoop-client", (HADOOP_CLIENT_API,)),
    )
}
"""``connectors``: what Flink jobs put on ``pipeline.jars``. ``kafka-broker``: the broker's
runtime classpath, transitive dependencies included. ``flink-operator-api``: the Flink
Kubernetes Operator's CRDs for the Kubernetes tests (the jar alone, not its dependencies).
``hadoop-cluster``: the runtime classpath of the YARN tests' Hadoop cluster (HDFS, a
ResourceManager, NodeManagers; ``tests/yarn/cluster.py``), also the classpath its YARN
containers run Hadoop client code with. ``hadoop-client``: the shaded Hadoop client API the YARN
deployer's ApplicationMaster is compiled against (the jar alone)."""


def installed_flink_version() -> str | None:
    """The installed ``apache-flink`` distribution's version, or None; reads package metadata
    only, so it is cheap and does not start a JVM."""
    try:
        return metadata.version("apache-flink")
    except metadata.PackageNotFoundError:
        return None


def check_flink_version() -> str:
    """Return ``FLINK_VERSION`` if it is the installed one, else raise ``FlinkVersionError``.

    A different ``apache-flink`` would run connector jars built for another Flink minor, which
    fails late and obscurely (class-loading errors at job submission), so fail early instead.
    """
    installed = installed_flink_version()
    if installed is None:
        raise FlinkVersionError(
            f"the Flink engine needs apache-flink=={FLINK_VERSION}, which is not installed: "
            "pip install 'aiflow[flink]'"
        )
    if installed != FLINK_VERSION:
        raise FlinkVersionError(
            f"apache-flink {installed} is installed, but aiflow's Flink jars are pinned for "
            f"{FLINK_VERSION} (translators/flink/versions.py): "
            f"pip install 'apache-flink=={FLINK_VERSION}'"
        )
    return installed
