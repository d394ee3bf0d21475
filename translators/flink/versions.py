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

HADOOP_CLUSTER_CLOSURE: tuple[tuple[str, str], ...] = (
    (
        "aopalliance.aopalliance-1.0.jar",
        "0addec670fedcd3f113c5c8091d783280d23f75e3acb841b61a9cdb079376a08",
    ),
    (
        "ch.qos.reload4j.reload4j-1.2.22.jar",
        "222f90d3e69541218ef6e70547749d693bd4c1846817e5bd7949b3e28950f99f",
    ),
    (
        "com.fasterxml.jackson.core.jackson-annotations-2.12.7.jar",
        "3cacef714a89f3d68b69fa11263afa55a6aa2fdef1fff93ded22caa16b54687c",
    ),
    (
        "com.fasterxml.jackson.core.jackson-databind-2.12.7.1.jar",
        "3f504cac405ce066d5665ff69541484d5322f35ac7a7ec6104cf86a01008e02d",
    ),
    (
        "com.fasterxml.jackson.jaxrs.jackson-jaxrs-base-2.12.7.jar",
        "b91cdb52f41485aaf0d3518852bbdfcdb9e7033b12cc412eb7f35bd06c9f33d4",
    ),
    (
        "com.fasterxml.jackson.jaxrs.jackson-jaxrs-json-provider-2.12.7.jar",
        "ed6a6a17f423f53af100ff3b5be56e096727e9bc86517667f59496583cba85d5",
    ),
    (
        "com.fasterxml.jackson.module.jackson-module-jaxb-annotations-2.12.7.jar",
        "84686ef549abf053ee3632925b024be3f330bc6f34f7e166f0537799e7f90dbd",
    ),
    (
        "com.fasterxml.woodstox.woodstox-core-5.4.0.jar",
        "dbb958cb89f1d45238b061e146249494ff887f5f42b671a3956e98956e0d5c53",
    ),
    (
        "com.github.pjfanning.jersey-json-1.22.0.jar",
        "2a7161550b5632b5c8f86bb13b15a03ae07ff27c92d9d089d9bf264173706702",
    ),
    (
        "com.github.stephenc.jcip.jcip-annotations-1.0-1.jar",
        "4fccff8382aafc589962c4edb262f6aa595e34f1e11e61057d1c6a96e8fc7323",
    ),
    (
        "com.google.code.findbugs.jsr305-3.0.2.jar",
        "766ad2a0783f2687962c8ad74ceecc38a28b9f72a2d085ee438b7813e928d0c7",
    ),
    (
        "com.google.code.gson.gson-2.9.0.jar",
        "c96d60551331a196dac54b745aa642cd078ef89b6f267146b705f2c2cbef052d",
    ),
    (
        "com.google.guava.failureaccess-1.0.jar",
        "d084bef9cd07a8537a1753e4850a69b7e8bab1d1e22e9f3a1e4826309a7a2336",
    ),
    (
        "com.google.guava.guava-27.0-jre.jar",
        "63b09db6861011e7fb2481be7790c7fd4b03f0bb884b3de2ecba8823ad19bf3f",
    ),
    (
        "com.google.guava.listenablefuture-9999.0-empty-to-avoid-conflict-with-guava.jar",
        "b372a037d4230aa57fbeffdef30fd6123f9c0c2db85d0aced00c91b974f33f99",
    ),
    (
        "com.google.inject.extensions.guice-servlet-4.2.3.jar",
        "57f16a367c5cd200c427591cce5de86146369fcdd90ea72e8296793927a4324d",
    ),
    (
        "com.google.inject.guice-4.2.3.jar",
        "a21e50ffbb67e7adc5b46cf7b9e1a480f1e0f04fd4201ddb1c65da91290601af",
    ),
    (
        "com.google.j2objc.j2objc-annotations-1.1.jar",
        "2994a7eb78f2710bd3d3bfb639b2c94e219cedac0d4d084d516e78c16dddecf6",
    ),
    (
        "com.google.re2j.re2j-1.1.jar",
        "24ada84d1b5de584e3e84b06f0c7dd562cee6eafe8dea8083bd8eb123823bbe7",
    ),
    (
        "com.jcraft.jsch-0.1.55.jar",
        "d492b15a6d2ea3f1cc39c422c953c40c12289073dbe8360d98c0f6f9ec74fc44",
    ),
    (
        "com.microsoft.sqlserver.mssql-jdbc-6.2.1.jre7.jar",
        "9cfa259450ae3471d2e6e2c3d8aefcce236e3daef8b3734d21dc93c3a5bbe806",
    ),
    (
        "com.nimbusds.nimbus-jose-jwt-9.37.2.jar",
        "73bca52833f7ad9571f9c054964007e54f0abcc60e0703a003d1cfa2080336bb",
    ),
    (
        "com.sun.codemodel.codemodel-2.6.jar",
        "2735816d68f85adca141179951889653ce355ae7e7ab4eb92a322ea0ef671767",
    ),
    (
        "com.sun.istack.istack-commons-runtime-3.0.7.jar",
        "6443e10ba2e259fb821d9b6becf10db5316285fc30c53cec9d7b19a3877e7fdf",
    ),
    (
        "com.sun.jersey.contribs.jersey-guice-1.19.4.jar",
        "8653320f79f20a369bfb9e6ff84be9315843bc4a048b37e1df13c777c7cfcb33",
    ),
    (
        "com.sun.jersey.jersey-client-1.19.4.jar",
        "639c825c5db580f8115bf49ffc893093526d2ed1079fbc929b6a5fbd0b2eda40",
    ),
    (
        "com.sun.jersey.jersey-core-1.19.4.jar",
        "64b03198e0264849d0fc341857ebcc9c882b1909a2dc35a0972fe7d901b826e5",
    ),
    (
        "com.sun.jersey.jersey-server-1.19.4.jar",
        "afc0f6cd21d4742d312cb511a8fa2a253213285f5425dda005708fd5928504e6",
    ),
    (
        "com.sun.jersey.jersey-servlet-1.19.4.jar",
        "08c80d4e83ad8d20dcfbc633235bfa68f8519ceddb8ad2d6d112e95f43288e90",
    ),
    (
        "com.sun.xml.bind.jaxb-impl-2.2.3-1.jar",
        "fa3e1499b192c310312bf02881274b68394aaea4c9563e6c554cc406ae644ff8",
    ),
    (
        "com.sun.xml.fastinfoset.FastInfoset-1.2.15.jar",
        "785861db11ca1bd0d1956682b974ad73eb19cd3e01a4b3fa82d62eca97210aec",
    ),
    (
        "com.zaxxer.HikariCP-4.0.3.jar",
        "7c024aeff1c1063576d74453513f9de6447d8e624d17f8e27f30a2e97688c6c9",
    ),
    (
        "commons-beanutils.commons-beanutils-1.9.4.jar",
        "7d938c81789028045c08c065e94be75fc280527620d5bd62b519d5838532368a",
    ),
    (
        "commons-cli.commons-cli-1.5.0.jar",
        "bc8bb01fc0fad250385706e20f927ddcff6173f6339b387dc879237752567ac6",
    ),
    (
        "commons-codec.commons-codec-1.15.jar",
        "b3e9f6d63a790109bf0d056611fbed1cf69055826defeb9894a71369d246ed63",
    ),
    (
        "commons-collections.commons-collections-3.2.2.jar",
        "eeeae917917144a68a741d4c0dff66aa5c5c5fd85593ff217bced3fc8ca783b8",
    ),
    (
        "commons-daemon.commons-daemon-1.0.13.jar",
        "fd63b583fd3e8baeae22efacbd5a4f91c1fd97f56248e62e2615efa7b81daeaa",
    ),
    (
        "commons-io.commons-io-2.16.1.jar",
        "f41f7baacd716896447ace9758621f62c1c6b0a91d89acee488da26fc477c84f",
    ),
    (
        "commons-lang.commons-lang-2.6.jar",
        "50f11b09f877c294d56f24463f47d28f929cf5044f648661c0f0cfbae9a2f49c",
    ),
    (
        "commons-logging.commons-logging-1.2.jar",
        "daddea1ea0be0f56978ab3006b8ac92834afeefbd9b7e4e6316fca57df0fa636",
    ),
    (
        "commons-net.commons-net-3.9.0.jar",
        "e3c1566f821b84489308cd933f57e8c00dd8714dc96b898bef844386510d3461",
    ),
    (
        "de.ruedigermoeller.fst-2.50.jar",
        "b6ae5b90d5825070d2f82ac61417090fce8ed7e56348a3e86a2026774e8ba56a",
    ),
    (
        "dnsjava.dnsjava-3.6.1.jar",
        "f9def222ef5c0406216663ca45ca0950781541e22558b217aa779f36fbd24ab5",
    ),
    (
        "io.dropwizard.metrics.metrics-core-3.2.4.jar",
        "a083e3f3bdf4173d7065cdd4521964394a840d586bf8653676203d18354a6d2c",
    ),
    (
        "io.netty.netty-all-4.1.100.Final.jar",
        "8f77bf1d9c962526caad18a3ae2ec64e6d553c758c35fc5519017a547f465f5e",
    ),
    (
        "io.netty.netty-buffer-4.1.100.Final.jar",
        "462874b44ee782fbefec64078cda6eb8e7bf9f0e0af71a928ef4c1f2d564f7ee",
    ),
    (
        "io.netty.netty-codec-4.1.100.Final.jar",
        "180a01ed67af399602e24ff1c32864e7f57f57c4a0fa5e9ab3fe9b0e5e9cf051",
    ),
    (
        "io.netty.netty-codec-dns-4.1.100.Final.jar",
        "f7f55bee95d2467e8bda6dda980a2830b351b0dd6f0f87fe5114645035ee55ca",
    ),
    (
        "io.netty.netty-codec-haproxy-4.1.100.Final.jar",
        "5688edfb554e3fbb76d3ebabc23557e60ab4941b903e4fee1803c35546718df1",
    ),
    (
        "io.netty.netty-codec-http-4.1.100.Final.jar",
        "326811d249cb0e5555e78e026e877834e792261c38f0666d80464426695d9590",
    ),
    (
        "io.netty.netty-codec-http2-4.1.100.Final.jar",
        "23b4a74350f4cf8d41b93fb93d52b5050667d8d53fffc385672c86eab83b8749",
    ),
    (
        "io.netty.netty-codec-memcache-4.1.100.Final.jar",
        "f271eb376f7865ea098c506bcdb5d7cb40b70c6a9ed06ba08f77c95164a60f4a",
    ),
    (
        "io.netty.netty-codec-mqtt-4.1.100.Final.jar",
        "fede2e4b42b41f01488c425fbb1a75151e1dc9320e0511f6f523273299cfcaa0",
    ),
    (
        "io.netty.netty-codec-redis-4.1.100.Final.jar",
        "bd152212e9c20bccf0ca6f9ccbfc5cc86643a5f16875a998583c4d32d0c5c4ab",
    ),
    (
        "io.netty.netty-codec-smtp-4.1.100.Final.jar",
        "066528ec2d0bb3152872757eaf1fd07e2812ff354d3c53af8102108707e8e20d",
    ),
    (
        "io.netty.netty-codec-socks-4.1.100.Final.jar",
        "608a453b90f8384ba4efcdc6db7f899a1f10b9ea1890954696e6cfac45ff1ba9",
    ),
    (
        "io.netty.netty-codec-stomp-4.1.100.Final.jar",
        "14895b1a22db5760acf71c7cda7bc264d9e1363d29b6e1768c39e3badced61f7",
    ),
    (
        "io.netty.netty-codec-xml-4.1.100.Final.jar",
        "853c77c5ba6a9faa16383677d3114524db32fa4d72839b1ee00f55ecb22fe26c",
    ),
    (
        "io.netty.netty-common-4.1.100.Final.jar",
        "d2908301f1ac6f2910900742473c15d701765d3d4467acdb1eebb9df3aa82885",
    ),
    (
        "io.netty.netty-handler-4.1.100.Final.jar",
        "0e10e584c2e7fdf7f4804e14760ed987003f1b62ab982f62eaf13a9892793d3a",
    ),
    (
        "io.netty.netty-handler-proxy-4.1.100.Final.jar",
        "686dbc2e61407f216d6cb267dd7954896f851dd34b58be3e757c5a89f20a5e67",
    ),
    (
        "io.netty.netty-handler-ssl-ocsp-4.1.100.Final.jar",
        "d8e064f1b589a71fa019a3d63bbe91f6994984246355b5fa88b0a994768e82ad",
    ),
    (
        "io.netty.netty-resolver-4.1.100.Final.jar",
        "c42c481c776e9d367a45cc3a67a06f65897d280334eb30b2362b8c55b7523f4f",
    ),
    (
        "io.netty.netty-resolver-dns-4.1.100.Final.jar",
        "4bafbd3e571ed2d9fb3f9550f8348ba37c183eda4a253fba5354166e409624c4",
    ),
    (
        "io.netty.netty-resolver-dns-classes-macos-4.1.100.Final.jar",
        "6fca51826ca592b886e6144146318cc07a9098389e0714ec0df6fcd879600120",
    ),
    (
        "io.netty.netty-resolver-dns-native-macos-4.1.100.Final-osx-aarch_64.jar",
        "feb64c91aba931636e9b831a1f7ca553349136dda90bac19768708edf1a61be9",
    ),
    (
        "io.netty.netty-resolver-dns-native-macos-4.1.100.Final-osx-x86_64.jar",
        "b47f1b6c2acc32ae53cde11600c68ff6255a9cce16a9423c487f13283d68d923",
    ),
    (
        "io.netty.netty-transport-4.1.100.Final.jar",
        "b1deeceedab3734cdb959c55f4be5ab4a667a8aed59121ff93763f49470f5470",
    ),
    (
        "io.netty.netty-transport-classes-epoll-4.1.100.Final.jar",
        "9abc4b17b1212b33666eae4e8013d0bb78a9a2bcd0a9a621b9bd06a7e5fc0050",
    ),
    (
        "io.netty.netty-transport-classes-kqueue-4.1.100.Final.jar",
        "70b40962b01ab594bed5cd311cd8768b224155c948118af60412ab23bc55ed50",
    ),
    (
        "io.netty.netty-transport-native-epoll-4.1.100.Final-linux-aarch_64.jar",
        "81993265c3fb9098c0163943e71c14fbaa6ed17e345e7bf8205c90acfdf6cef5",
    ),
    (
        "io.netty.netty-transport-native-epoll-4.1.100.Final-linux-x86_64.jar",
        "a108fb47babb7678b5b2abb1fc8b34510bd2f705faa450447860647f2de4ebaa",
    ),
    (
        "io.netty.netty-transport-native-epoll-4.1.100.Final.jar",
        "34868795228df31914b75b10e97bf4d980e78e263569852e3185ca8c2a0de3e9",
    ),
    (
        "io.netty.netty-transport-native-kqueue-4.1.100.Final-osx-aarch_64.jar",
        "0fdc323ad2efd85343713fbce6e0c2aec27e6852659984d03a5414018e01815f",
    ),
    (
        "io.netty.netty-transport-native-kqueue-4.1.100.Final-osx-x86_64.jar",
        "9ca2ba0121e35ea25228cf27ec553279966ca0a7f9c61e33ad1d9ea50477360d",
    ),
    (
        "io.netty.netty-transport-native-unix-common-4.1.100.Final.jar",
        "5d888230a04c4a3e647c64e933cefb64fd49056f969bfb734c8a3fcedf0bea8a",
    ),
    (
        "io.netty.netty-transport-rxtx-4.1.100.Final.jar",
        "8499f4816f6615c97b664b88bc28ab0f68b031676cfcf95218e2c3ec64c5d5bc",
    ),
    (
        "io.netty.netty-transport-sctp-4.1.100.Final.jar",
        "15d3ff37b84f7877442aa0981b81f5106f61f8bed2a09c18d5242010a8f4336f",
    ),
    (
        "io.netty.netty-transport-udt-4.1.100.Final.jar",
        "824c5d26da6c001357ef0e8a985076a9093a613cf1f7f7cb719bffe88dde7e58",
    ),
    (
        "jakarta.activation.jakarta.activation-api-1.2.1.jar",
        "8b0a0f52fa8b05c5431921a063ed866efaa41dadf2e3a7ee3e1961f2b0d9645b",
    ),
    (
        "jakarta.xml.bind.jakarta.xml.bind-api-2.3.2.jar",
        "69156304079bdeed9fc0ae3b39389f19b3cc4ba4443bc80508995394ead742ea",
    ),
    (
        "javax.activation.javax.activation-api-1.2.0.jar",
        "43fdef0b5b6ceb31b0424b208b930c74ab58fac2ceeb7b3f6fd3aeb8b5ca4393",
    ),
    (
        "javax.annotation.javax.annotation-api-1.3.2.jar",
        "e04ba5195bcd555dc95650f7cc614d151e4bcd52d29a10b8aa2197f3ab89ab9b",
    ),
    (
        "javax.cache.cache-api-1.1.1.jar",
        "9f34e007edfa82a7b2a2e1b969477dcf5099ce7f4f926fb54ce7e27c4a0cd54b",
    ),
    (
        "javax.inject.javax.inject-1.jar",
        "91c77044a50c481636c32d916fd89c9118a72195390452c81065080f957de7ff",
    ),
    (
        "javax.servlet.javax.servlet-api-3.1.0.jar",
        "af456b2dd41c4e82cf54f3e743bc678973d9fe35bd4d3071fa05c7e5333b8482",
    ),
    (
        "javax.servlet.jsp.jsp-api-2.1.jar",
        "545f4e7dc678ffb4cf8bd0fd40b4a4470a409a787c0ea7d0ad2f08d56112987b",
    ),
    (
        "javax.websocket.javax.websocket-api-1.0.jar",
        "dd93009fb5aa3798bcd9ab0492a292ddae0f0b1ed2e45a75867a9925c90e747a",
    ),
    (
        "javax.websocket.javax.websocket-client-api-1.0.jar",
        "0102ee41121ed7b8834f1efc6ef1a0dbaf610c1ad8f0d941ad721662b17bd27e",
    ),
    (
        "javax.ws.rs.jsr311-api-1.1.1.jar",
        "ab1534b73b5fa055808e6598a5e73b599ccda28c3159c3c0908977809422ee4a",
    ),
    (
        "javax.xml.bind.jaxb-api-2.2.11.jar",
        "273d82f8653b53ad9d00ce2b2febaef357e79a273560e796ff3fcfec765f8910",
    ),
    (
        "net.bytebuddy.byte-buddy-1.9.10.jar",
        "2936debc4d7b6c534848d361412e2d0f8bd06f7f27a6f4e728a20e97648d2bf3",
    ),
    (
        "net.bytebuddy.byte-buddy-agent-1.9.10.jar",
        "8ed739d29132103250d307d2e8e3c95f07588ef0543ab11d2881d00768a5e182",
    ),
    (
        "net.java.dev.jna.jna-5.2.0.jar",
        "0271ae7fc162a5e69c337f36d86fdb94a8a232c5c42a80d8a7424071addd1fdc",
    ),
    (
        "org.apache.avro.avro-1.9.2.jar",
        "9d8f65504604b5fcdffb96793a9a32ca7b10bc0a469425d1d1fe4aa490c31c02",
    ),
    (
        "org.apache.commons.commons-compress-1.26.1.jar",
        "27bb5d40f37c3bb7205b4a0540247df057715e9f6cbbd97d626ab8b50318bb04",
    ),
    (
        "org.apache.commons.commons-configuration2-2.10.1.jar",
        "d5642131fbd7d85e9a4b824c52711528a1dde0a7866dfbd22a8711dbabd9eabc",
    ),
    (
        "org.apache.commons.commons-csv-1.9.0.jar",
        "c418d6aab4db4f1f70983d355de8d7c1e755c754820a92294da2e5f5081022cc",
    ),
    (
        "org.apache.commons.commons-lang3-3.12.0.jar",
        "d919d904486c037f8d193412da0c92e22a9fa24230b9d67a57855c5c31c7e94e",
    ),
    (
        "org.apache.commons.commons-math3-3.6.1.jar",
        "1e56d7b058d28b65abd256b8458e3885b674c1d588fa43cd7d1cbb9c7ef2b308",
    ),
    (
        "org.apache.commons.commons-text-1.10.0.jar",
        "770cd903fa7b604d1f7ef7ba17f84108667294b2b478be8ed1af3bffb4ae0018",
    ),
    (
        "org.apache.curator.curator-client-5.2.0.jar",
        "345ec409bc026e114e8fd471a9273f631a3a494f0e091b092c1ac94499ddee4f",
    ),
    (
        "org.apache.curator.curator-framework-5.2.0.jar",
        "9a6b6ec713bd4145fa6912f2197a1f642806c10d4ba87561dfec551f6eaec4f1",
    ),
    (
        "org.apache.curator.curator-recipes-5.2.0.jar",
        "45e755b95763c9db8b8c465098ec72a33ee7c82132145a32dc9844d699c5b7f3",
    ),
    (
        "org.apache.hadoop.hadoop-annotations-3.4.1.jar",
        "b29271921faf6e88212f0e9304bf716f466eecff37037d6cb75450ce202c7791",
    ),
    (
        "org.apache.hadoop.hadoop-auth-3.4.1.jar",
        "9e3f5ddfdb3279690cd8d5c03cfd811787b7b3df129ddff4b09574d2305f3567",
    ),
    (
        "org.apache.hadoop.hadoop-common-3.4.1-tests.jar",
        "0b59cc16eda2591ae3378a694b1de99e1048b907448452e84b09ee7d3dade759",
    ),
    (
        "org.apache.hadoop.hadoop-common-3.4.1.jar",
        "85ab34eb0efc42651290991473341fc77491de2e0cfa7f2d02d20c57abed3aeb",
    ),
    (
        "org.apache.hadoop.hadoop-hdfs-3.4.1-tests.jar",
        "8b75b467b134303e47d4b4d97ca6bdac9a397f4a232dd1e5f9abb87498db31af",
    ),
    (
        "org.apache.hadoop.hadoop-hdfs-3.4.1.jar",
        "91d1bcdb554dcf95d2daa12c7c0ef706c64692c21e9edcf2059d4683bedb0cc6",
    ),
    (
        "org.apache.hadoop.hadoop-hdfs-client-3.4.1.jar",
        "d002ccda9c7f26a4834bbdfb9068a498cdf5642e813b9c1541085153e3cb2cf1",
    ),
    (
        "org.apache.hadoop.hadoop-mapreduce-client-app-3.4.1.jar",
        "0b73c9a701f1cc89ae2ff8a0adb57f0e7686ddf2afb7e097341d63be74981f42",
    ),
    (
        "org.apache.hadoop.hadoop-mapreduce-client-common-3.4.1.jar",
        "9c44d8ff9844e8726d90e2246e2f7d48a0227daae621bb0816f79788e1e411e5",
    ),
    (
        "org.apache.hadoop.hadoop-mapreduce-client-core-3.4.1.jar",
        "75a69313a362bb1784e52e9f5e532c6cf2d905a871801ed86f529d97cc5c5966",
    ),
    (
        "org.apache.hadoop.hadoop-mapreduce-client-hs-3.4.1.jar",
        "c25b05648af49e89cecd426e25bb4690c593d3ec5df05750da0c18eda0fd8551",
    ),
    (
        "org.apache.hadoop.hadoop-mapreduce-client-jobclient-3.4.1-tests.jar",
        "ad789e3cf78b06311be84c2c3d8766e267684aa8eb70d03d3a27fdd8124132bf",
    ),
    (
        "org.apache.hadoop.hadoop-mapreduce-client-jobclient-3.4.1.jar",
        "90ff4d5bf3d0d2f34be506185928adc8b2911e9054f1775804d7e0aaf8f731d0",
    ),
    (
        "org.apache.hadoop.hadoop-mapreduce-client-shuffle-3.4.1.jar",
        "278674f65c464556d494ac4d9744add7d1d6992b8e52653f161a9f57a9639027",
    ),
    (
        "org.apache.hadoop.hadoop-registry-3.4.1.jar",
        "69feeb006beb3edfd0cce655fb257ff2cae1c62e63bc5379e1106599bc0a82c6",
    ),
    (
        "org.apache.hadoop.hadoop-yarn-api-3.4.1.jar",
        "f0943f95a4db9af48d0b077b498baf126b961a87524f1ab619b64cf8fe8337ac",
    ),
    (
        "org.apache.hadoop.hadoop-yarn-client-3.4.1.jar",
        "913632fd5031f75151db269cd7850621c8f7a413984ab74fcf4e44f8c0aece10",
    ),
    (
        "org.apache.hadoop.hadoop-yarn-common-3.4.1.jar",
        "43d457e254fcd3dc00da09dc825624aa6383178a6a60adb4c4388e169088c1ee",
    ),
    (
        "org.apache.hadoop.hadoop-yarn-server-applicationhistoryservice-3.4.1.jar",
        "a884f14b2c301b358128d3623ba08577ec82d66af6c4b9f1d6d67f9d4f20eb87",
    ),
    (
        "org.apache.hadoop.hadoop-yarn-server-common-3.4.1.jar",
        "5664797e3030252d8b82cdd8adea331b4aa643f0ca7905551d724b6eac1b4514",
    ),
    (
        "org.apache.hadoop.hadoop-yarn-server-nodemanager-3.4.1.jar",
        "014a48e739ee82a2d93a90f6a9dc25a56bda01d369a6231d683944f4d1673aa9",
    ),
    (
        "org.apache.hadoop.hadoop-yarn-server-resourcemanager-3.4.1.jar",
        "6ce3fe0688ff17532e8ea90ef10d83a59d00a48752aae64f9f0c3a1e57653b87",
    ),
    (
        "org.apache.hadoop.hadoop-yarn-server-tests-3.4.1-tests.jar",
        "5adcc172aa17727c1e6e56fb8f8035b4a5b3159d4234e4631f5d3604ab4927ac",
    ),
    (
        "org.apache.hadoop.hadoop-yarn-server-timelineservice-3.4.1.jar",
        "f58754b3d65e9a15ba7c1047f2f8fbb3693cbf8045f94531d2ed6e7110de1089",
    ),
    (
        "org.apache.hadoop.hadoop-yarn-server-web-proxy-3.4.1.jar",
        "82c17b2c4c5585fa7bea3e9f02523819998b27cc3580cb765c0587104bbb323f",
    ),
    (
        "org.apache.hadoop.thirdparty.hadoop-shaded-guava-1.3.0.jar",
        "a8b83aecef36f55f3e6377c850a763b995cb8eea629a43e78329c580ba651dda",
    ),
    (
        "org.apache.hadoop.thirdparty.hadoop-shaded-protobuf_3_25-1.3.0.jar",
        "6824b765afc0ad8f7ec50c2f8bb140d6931666db4ff64eb6d2a1ed01819ef5f4",
    ),
    (
        "org.apache.httpcomponents.httpclient-4.5.13.jar",
        "6fe9026a566c6a5001608cf3fc32196641f6c1e5e1986d1037ccdbd5f31ef743",
    ),
    (
        "org.apache.httpcomponents.httpcore-4.4.13.jar",
        "e06e89d40943245fcfa39ec537cdbfce3762aecde8f9c597780d2b00c2b43424",
    ),
    (
        "org.apache.kerby.kerb-core-2.0.3.jar",
        "89247dda5c0e61e8c658ed36109ca6ec662ebae9fa2c40d937466035d023419b",
    ),
    (
        "org.apache.kerby.kerb-crypto-2.0.3.jar",
        "9e368bdc1e8a22e87c775e42d0a15599bdd9e16954f55a964f42ff1d9f94adb2",
    ),
    (
        "org.apache.kerby.kerb-util-2.0.3.jar",
        "59da956d1c65f5ddfe43606ccfcccd1a4508936fb726d01b2f3753b292b97b34",
    ),
    (
        "org.apache.kerby.kerby-asn1-2.0.3.jar",
        "3f1532d2bfa0dd6fec171744a07990c0046e0f2f0f65ca21780b408a3827dbd2",
    ),
    (
        "org.apache.kerby.kerby-config-2.0.3.jar",
        "5137cab8fd70ce322f92a6ab7678f63d2660dab2c14d339dabae9f8e14067d06",
    ),
    (
        "org.apache.kerby.kerby-pkix-2.0.3.jar",
        "aec2d810b0ad3ff939bd4c70ebfce96539642c20f52cb3fbe4852dc827fec2c9",
    ),
    (
        "org.apache.kerby.kerby-util-2.0.3.jar",
        "65afc7a01a6d43b7db9e0a6768a750607fd318656da10a7f654414a5ccf5dc8a",
    ),
    (
        "org.apache.yetus.audience-annotations-0.12.0.jar",
        "ffb101fc066360ff3c77457c927fd7967fb096a6ee9e046ab7071447d8208efc",
    ),
    (
        "org.apache.zookeeper.zookeeper-3.8.4.jar",
        "2d77b152039e7f85dc5438a9304febff86a2f3e55c88976a8be309af39028e97",
    ),
    (
        "org.apache.zookeeper.zookeeper-jute-3.8.4.jar",
        "93e854b55d731e745bafec187e2e7bf3389fd2a88e2fc8d1a3c1b9110284b284",
    ),
    (
        "org.bouncycastle.bcpkix-jdk18on-1.78.1.jar",
        "4b48ea084e5232b9d79ebca1887b9de037b124931807cd60710748c2aee08cc9",
    ),
    (
        "org.bouncycastle.bcprov-jdk18on-1.78.1.jar",
        "add5915e6acfc6ab5836e1fd8a5e21c6488536a8c1f21f386eeb3bf280b702d7",
    ),
    (
        "org.bouncycastle.bcutil-jdk18on-1.78.1.jar",
        "d9fa56f97b0f761ce3bc8d9d74c5d7137a987bf5bd3abfe1003f9bafa45a1d2f",
    ),
    (
        "org.checkerframework.checker-qual-2.5.2.jar",
        "64b02691c8b9d4e7700f8ee2e742dce7ea2c6e81e662b7522c9ee3bf568c040a",
    ),
    (
        "org.codehaus.jettison.jettison-1.5.4.jar",
        "fc3a68a7c17688ee50817340fef265d8d3f6c192c92bbee00d17f18a6d3dfeda",
    ),
    (
        "org.codehaus.mojo.animal-sniffer-annotations-1.17.jar",
        "92654f493ecfec52082e76354f0ebf87648dc3d5cec2e3c3cdb947c016747a53",
    ),
    (
        "org.codehaus.woodstox.stax2-api-4.2.1.jar",
        "678567e48b51a42c65c699f266539ad3d676d4b1a5b0ad7d89ece8b9d5772579",
    ),
    (
        "org.eclipse.jetty.jetty-annotations-9.4.53.v20231009.jar",
        "b0133faa361f0fa2b301a8944260e24881c74374338d00058d2904f5e1df543a",
    ),
    (
        "org.eclipse.jetty.jetty-client-9.4.53.v20231009.jar",
        "9f5b83f64307bbb5d42dd4273e88d642214b275490363bac954369f029643c66",
    ),
    (
        "org.eclipse.jetty.jetty-http-9.4.53.v20231009.jar",
        "c0a0cbd25998a13ce68481d6002757e6489ea0253463db761fec0cb30d15d612",
    ),
    (
        "org.eclipse.jetty.jetty-io-9.4.53.v20231009.jar",
        "779a91750a60957c613ce5013404269717c504c2b21f3a73145e81c3dc41c67f",
    ),
    (
        "org.eclipse.jetty.jetty-jndi-9.4.53.v20231009.jar",
        "e7c7f26d030ce4c8b8fdfea6b6ef96c712eec6a16edccc69a061c059c6f717c0",
    ),
    (
        "org.eclipse.jetty.jetty-plus-9.4.53.v20231009.jar",
        "b69087bc5d6d01bd20116e50cb5dddf308476b6a1834ed525a2b5e9d33cb6071",
    ),
    (
        "org.eclipse.jetty.jetty-security-9.4.53.v20231009.jar",
        "6d958d0065013e0a8d64b3e683d2301cf83de4a25d34552ad60714b6cbe2a7be",
    ),
    (
        "org.eclipse.jetty.jetty-server-9.4.53.v20231009.jar",
        "9c4e9c6cb0a7a541031500af0823b678f65d809f481efa9cadd1ff81bda19f78",
    ),
    (
        "org.eclipse.jetty.jetty-servlet-9.4.53.v20231009.jar",
        "b0d372f7033b42ff72c3639d0da9c9fc0d84a89f548f0b8888716863424ed4b7",
    ),
    (
        "org.eclipse.jetty.jetty-util-9.4.53.v20231009.jar",
        "7e5370022ecd1f682653641169a33e62e26730dd1e786433bed506cb0dcb1abc",
    ),
    (
        "org.eclipse.jetty.jetty-util-ajax-9.4.53.v20231009.jar",
        "c32c1e170615e366d90d92c1172588babc72ba31fdca85d84fa9172db26b73f4",
    ),
    (
        "org.eclipse.jetty.jetty-webapp-9.4.53.v20231009.jar",
        "eb9ccd5f9cbf47bbeafb153fbfb53ff3cf34c07778df68247649ca00a9f599de",
    ),
    (
        "org.eclipse.jetty.jetty-xml-9.4.53.v20231009.jar",
        "c9205d81626888be957a27fd1f0507e31bd01d839f1cefea715079648b4f7e0b",
    ),
    (
        "org.eclipse.jetty.websocket.javax-websocket-client-impl-9.4.53.v20231009.jar",
        "ca61cc6b46127c03655f162a2d83f4d202488b461ee42be150e179ac20d04ef8",
    ),
    (
        "org.eclipse.jetty.websocket.javax-websocket-server-impl-9.4.53.v20231009.jar",
        "3ba7291d5e96d88a7a56515890999a243f4a58d7734e47a10f74a883c431eea4",
    ),
    (
        "org.eclipse.jetty.websocket.websocket-api-9.4.53.v20231009.jar",
        "a90b8ebd397edd214229c40b141213ce5dda9a8373e7e47b8b019a46a084e5af",
    ),
    (
        "org.eclipse.jetty.websocket.websocket-client-9.4.53.v20231009.jar",
        "99de69d0dff50d3a128a428d8da6b82bdca81fb95813f618f4f9256db475b22c",
    ),
    (
        "org.eclipse.jetty.websocket.websocket-common-9.4.53.v20231009.jar",
        "f0b77337d00f85b3fee0910286e724925cb78828952196648646873c47a7f58c",
    ),
    (
        "org.eclipse.jetty.websocket.websocket-server-9.4.53.v20231009.jar",
        "c2f0fc5bffdd03e11fa5fe729861696b50f20b1c8922137e9eba9142c37c1773",
    ),
    (
        "org.eclipse.jetty.websocket.websocket-servlet-9.4.53.v20231009.jar",
        "6c6c26b6da021f755cf9768dc843cce1dcde328a95538605796eebd7bb206ee6",
    ),
    (
        "org.ehcache.ehcache-3.8.2.jar",
        "55bed52234c3c504b9c18b921af23064d9d75028283fd93d9ff5bff11eec023f",
    ),
    (
        "org.fusesource.leveldbjni.leveldbjni-all-1.8.jar",
        "c297213b0e6f9392305952753f3099a4c02e70b3656266fe01867e7b6c160ffe",
    ),
    (
        "org.glassfish.jaxb.jaxb-runtime-2.3.1.jar",
        "45fecfa5c8217ce1f3652ab95179790ec8cc0dec0384bca51cbeb94a293d9f2f",
    ),
    (
        "org.glassfish.jaxb.txw2-2.3.1.jar",
        "34975dde1c6920f1a39791142235689bc3cd357e24d05edd8ff93b885bd68d60",
    ),
    (
        "org.hamcrest.hamcrest-core-1.3.jar",
        "66fdef91e9739348df7a096aa384a5685f4e875584cce89386a7a47251c4d8e9",
    ),
    (
        "org.jline.jline-3.9.0.jar",
        "d2b986fd15d05e0b900faba776c1de9b4dc4a4fcdfeaa12a8ab8fb2b290ed527",
    ),
    (
        "org.jsonschema2pojo.jsonschema2pojo-core-1.0.2.jar",
        "92ecce55d555071dc298843259319639336cb5108101c0b97879151b12dbcdd6",
    ),
    (
        "org.jvnet.staxex.stax-ex-1.8.jar",
        "95b05d9590af4154c6513b9c5dc1fb2e55b539972ba0a9ef28e9a0c01d83ad77",
    ),
    (
        "org.objenesis.objenesis-2.6.jar",
        "5e168368fbc250af3c79aa5fef0c3467a2d64e5a7bd74005f25d8399aeb0708d",
    ),
    (
        "org.ow2.asm.asm-commons-9.6.jar",
        "7aefd0d5c0901701c69f7513feda765fb6be33af2ce7aa17c5781fc87657c511",
    ),
    (
        "org.ow2.asm.asm-tree-9.6.jar",
        "c43ecf17b539c777e15da7b5b86553b377e2d39a683de6285567d5283888e7ef",
    ),
    (
        "org.slf4j.slf4j-api-1.7.36.jar",
        "d3ef575e3e4979678dc01bf1dcce51021493b4d11fb7f1be8ad982877c16a1c0",
    ),
    (
        "org.slf4j.slf4j-reload4j-1.7.36.jar",
        "ae6fdd5c9547896114d5ec7fa7503733b7d2890573d3886fb548b3119c4d3f67",
    ),
    (
        "org.xerial.snappy.snappy-java-1.1.10.4.jar",
        "55b30c94e5c4cc2d4b6976916098d0678a8a6cc7427fa8c875621bd94e731ac8",
    ),
)
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
