"""The one place that records which Flink, Kafka connector and Kafka broker aiflow runs with.

Why one place: the ``apache-flink`` Python package, the Kafka SQL connector jar (built per Flink
minor release) and the broker the tests start must move together. Bumping one means checking the
others, so they sit side by side here and everything else (``jars.py``, the engine, the
test fixtures, pyproject's ``flink`` extra, which a test compares with ``FLINK_VERSION``) reads
them from this module.

How the pair was chosen: the newest Flink release that has a matching Kafka connector release.
Maven Central's ``flink-sql-connector-kafka`` goes up to ``5.0.0-2.2`` (checked with a Maven
version range ``[5.0.0-2.2,)`` and the artifact's ``maven-metadata.xml``, 2026-11: there is no
``-2.3`` build). That jar loaded and worked on Flink 2.3.0 (docs/design/flink-engine.md, section
6), and Flink keeps its connector API stable within a major version, so 2.3.0 pairs with
``5.0.0-2.2``. When a ``-2.3`` (or newer) connector appears, move to it.

How checksums work: every jar is pinned by version *and* SHA-256, computed once from what Maven
Central served. Top-level artifacts carry their digest in ``Artifact``; the broker's transitive
closure is pinned as a manifest of every other file Maven resolves (``KAFKA_BROKER_CLOSURE``), so
resolution drift (a different jar set) is caught as well as a changed file. See
``aiflow.translators.flink.jars`` for how they are checked, and regenerate the manifest with
``python -m aiflow.translators.flink.jars --print-manifest kafka-broker`` after changing a
version here.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata

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

KAFKA_BROKER_CLOSURE: tuple[tuple[str, str], ...] = (
    (
        "com.dynatrace.hash4j.hash4j-0.22.0.jar",
        "23028a3fd006e530bf495f551083208187cafd8f80624d048eba56442f16a50e",
    ),
    (
        "com.fasterxml.jackson.core.jackson-annotations-2.19.0.jar",
        "ead60e9cac0e42b57092b9e2d087ff43536e9477d4486ba393037a8cc156cda7",
    ),
    (
        "com.fasterxml.jackson.core.jackson-core-2.19.0.jar",
        "da8e859bac94874528116a25f20c68560e4287acbf27628711b8a4f96b028430",
    ),
    (
        "com.fasterxml.jackson.core.jackson-databind-2.19.0.jar",
        "ceda311f476c3b18e1d2b240c94e2dcb9c8d44e70f8afa9facab88bac4ddc03a",
    ),
    (
        "com.fasterxml.jackson.dataformat.jackson-dataformat-csv-2.19.0.jar",
        "bec1150426b0616bb488149b952b45a0dcb16d9416b017c38f6455ad9389bc68",
    ),
    (
        "com.fasterxml.jackson.dataformat.jackson-dataformat-yaml-2.19.0.jar",
        "46e54dcbd39d4d12cda18ec9276e7b888e08fc765ea0c77e71662306f0d4abc4",
    ),
    (
        "com.fasterxml.jackson.datatype.jackson-datatype-jdk8-2.19.0.jar",
        "04f1a3f9da8155995dd00098d6847cdb9b7af67f4a3028c94031eff017c8e3e5",
    ),
    (
        "com.github.ben-manes.caffeine.caffeine-3.2.0.jar",
        "ec411dfdf0c03f25218648ce89861630b71680e5858a9a7278ebac8e55cab3d7",
    ),
    (
        "com.github.luben.zstd-jni-1.5.6-10.jar",
        "b6c3237e24b8252a5a9c3a0e1ae30ef8f323412e74bd358548b7a9e527d676df",
    ),
    (
        "com.google.re2j.re2j-1.8.jar",
        "7b52c72156dd7f98b3237a5b35c1d34fba381b21048c89208913ad80a45dfbd7",
    ),
    (
        "com.typesafe.scala-logging.scala-logging_2.13-3.9.5.jar",
        "87a3017d3f43e6ace7566fe4c3d615134c6914ff871c8d64bb32ca1d996d0545",
    ),
    (
        "com.yammer.metrics.metrics-core-2.2.0.jar",
        "6b7a14a6f34c10f8683f7b5e2f39df0f07b58c7dff0e468ebbc713905c46979c",
    ),
    (
        "commons-beanutils.commons-beanutils-1.9.4.jar",
        "7d938c81789028045c08c065e94be75fc280527620d5bd62b519d5838532368a",
    ),
    (
        "commons-collections.commons-collections-3.2.2.jar",
        "eeeae917917144a68a741d4c0dff66aa5c5c5fd85593ff217bced3fc8ca783b8",
    ),
    (
        "commons-digester.commons-digester-2.1.jar",
        "e0b2b980a84fc6533c5ce291f1917b32c507f62bcad64198fff44368c2196a3d",
    ),
    (
        "commons-logging.commons-logging-1.3.2.jar",
        "6b858424f518015f32bfcd1183a373f4a827d72d026b6031da0c91cf0e8f3489",
    ),
    (
        "commons-validator.commons-validator-1.9.0.jar",
        "c3c14748e2d78db58df88808740711bd643b32c45ffa7b8a739f00fb467cd7d7",
    ),
    (
        "net.sf.jopt-simple.jopt-simple-5.0.4.jar",
        "df26cc58f235f477db07f753ba5a3ab243ebe5789d9f89ecf68dd62ea9a66c28",
    ),
    (
        "net.sourceforge.argparse4j.argparse4j-0.7.0.jar",
        "65ceb669d88f63306c680f8088bbf765bbca72d288a61a03703000076c3d3f56",
    ),
    (
        "org.apache.kafka.kafka-clients-4.1.1.jar",
        "00247122a572c3d3ae4eb60a50192a5811bc0181f51923d13018600f892e821d",
    ),
    (
        "org.apache.kafka.kafka-coordinator-common-4.1.1.jar",
        "2072fc1ce7e0505149bba22a463a5909a899c6235c4fa696f15c21194a7baf60",
    ),
    (
        "org.apache.kafka.kafka-group-coordinator-4.1.1.jar",
        "3eb5a673b69d5992cfa86c5436f39adbf4ce284046a4c999ec6af0a8e31c5589",
    ),
    (
        "org.apache.kafka.kafka-group-coordinator-api-4.1.1.jar",
        "3d1801d2329dcf7d273796a034d61e6c7e0f851f384d0afbdd3a2e6cbd17a968",
    ),
    (
        "org.apache.kafka.kafka-metadata-4.1.1.jar",
        "a689665751415b6456de1ecb013042cb7ba99ac68fd8c3e8bf28e098feb43218",
    ),
    (
        "org.apache.kafka.kafka-raft-4.1.1.jar",
        "4810c93d93d1935dd54de61c5ba130f501c7fe11bc49ccd3ee05ec857818a72a",
    ),
    (
        "org.apache.kafka.kafka-server-4.1.1.jar",
        "9f6aff422855491aad54326eca8d604163d6d3a6507cc48ffe3ce6de73caf79a",
    ),
    (
        "org.apache.kafka.kafka-server-common-4.1.1.jar",
        "207edecd8322cf6c13d76d84addea7fd0ec441dc8d698cf69df43210ccdc0a94",
    ),
    (
        "org.apache.kafka.kafka-share-coordinator-4.1.1.jar",
        "e6bec53428c77bf6579321836d482542a93575f7c08e860a26c9f2c7f6059dac",
    ),
    (
        "org.apache.kafka.kafka-storage-4.1.1.jar",
        "1f85b82853eaec0143efbef7e3a4d4be8929ff83a386326431e0c2d0a557e58c",
    ),
    (
        "org.apache.kafka.kafka-storage-api-4.1.1.jar",
        "8c0a712472185d706c6bf5ae24bf5d84a8e396fd4745c708e6146a415f7fa7f7",
    ),
    (
        "org.apache.kafka.kafka-tools-api-4.1.1.jar",
        "542b08fe20cf872a2d866acdff61ea338b469219dc2ebfae727a1d9ea5737e1a",
    ),
    (
        "org.apache.kafka.kafka-transaction-coordinator-4.1.1.jar",
        "a261b5730ac9e3205df7af5d45180d851e9d5f729ce1275c67511a6f51f73755",
    ),
    (
        "org.apache.logging.log4j.log4j-api-2.24.3.jar",
        "5b4a0a0cd0e751ded431c162442bdbdd53328d1f8bb2bae5fc1bbeee0f66d80f",
    ),
    (
        "org.apache.logging.log4j.log4j-core-2.24.3.jar",
        "7eb4084596ae25bd3c61698e48e8d0ab65a9260758884ed5cbb9c6e55c44a56a",
    ),
    (
        "org.bitbucket.b_c.jose4j-0.9.6.jar",
        "7314af50cde9c99e8eaf43eee617a23edcc6bb43036221064355094999d837ef",
    ),
    (
        "org.hdrhistogram.HdrHistogram-2.2.2.jar",
        "22d1d4316c4ec13a68b559e98c8256d69071593731da96136640f864fa14fad8",
    ),
    (
        "org.jspecify.jspecify-1.0.0.jar",
        "1fad6e6be7557781e4d33729d49ae1cdc8fdda6fe477bb0cc68ce351eafdfbab",
    ),
    (
        "org.lz4.lz4-java-1.8.0.jar",
        "d74a3334fb35195009b338a951f918203d6bbca3d1d359033dc33edd1cadc9ef",
    ),
    (
        "org.pcollections.pcollections-4.0.2.jar",
        "2bbeef5797a241300c4f7513cd546239629ed7deda4fc0c31df90bb95f5f13ef",
    ),
    (
        "org.scala-lang.scala-library-2.13.16.jar",
        "1ebb2b6f9e4eb4022497c19b1e1e825019c08514f962aaac197145f88ed730f1",
    ),
    (
        "org.scala-lang.scala-reflect-2.13.16.jar",
        "fb49ccd9cac7464486ab993cda20a3c1569d8ef26f052e897577ad2a4970fb1d",
    ),
    (
        "org.slf4j.slf4j-api-1.7.36.jar",
        "d3ef575e3e4979678dc01bf1dcce51021493b4d11fb7f1be8ad982877c16a1c0",
    ),
    (
        "org.xerial.snappy.snappy-java-1.1.10.7.jar",
        "4c766cb3f855415ee734b2392949a0b6f12a60879334a74518deaf6270d32e36",
    ),
    (
        "org.yaml.snakeyaml-2.4.jar",
        "ef779af5d29a9dde8cc70ce0341f5c6f7735e23edff9685ceaa9d35359b7bb7f",
    ),
)
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
    )
}
"""``connectors``: what Flink jobs put on ``pipeline.jars``. ``kafka-broker``: the broker's
runtime classpath, transitive dependencies included. ``flink-operator-api``: the Flink
Kubernetes Operator's CRDs for the Kubernetes tests (the jar alone, not its dependencies)."""


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
