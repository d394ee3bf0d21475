"""The pinned Flink/Kafka versions and the jar cache (``versions`` and ``jars`` of
aiflow.translators.flink).

The cache tests fetch the small "connectors" group (one 11 MB jar) into a private cache dir with
the real Maven client; behaviour is asserted through what can be observed (Maven start count,
file identity and mtimes, digests), never through timings.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from aiflow.errors import InvalidInput
from aiflow.translators.flink import jars, versions
from aiflow.translators.flink.jars import ChecksumMismatch, JarCacheError, ensure_group, ensure_jars
from aiflow.translators.flink.versions import FLINK_VERSION, JAR_GROUPS, KAFKA_CONNECTOR, JarGroup

REPO = Path(__file__).resolve().parents[2]

# -- pins (no Maven) ----------------------------------------------------------------------------


def test_installed_apache_flink_is_the_pinned_one() -> None:
    if versions.installed_flink_version() is None:
        pytest.skip("apache-flink is not installed (the flink extra)")
    assert versions.check_flink_version() == FLINK_VERSION


def test_pyproject_flink_extra_pins_the_same_version() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert f"apache-flink=={FLINK_VERSION}" in project["optional-dependencies"]["flink"]


def test_connector_is_built_for_the_same_flink_major_and_not_a_newer_minor() -> None:
    built_for = KAFKA_CONNECTOR.version.rsplit("-", 1)[1]  # "5.0.0-2.2" -> "2.2"
    major, minor = (int(part) for part in built_for.split("."))
    flink_major, flink_minor = (int(part) for part in FLINK_VERSION.split(".")[:2])
    assert major == flink_major and minor <= flink_minor


def test_a_different_installed_flink_is_reported_with_both_versions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(versions, "installed_flink_version", lambda: "1.20.1")
    with pytest.raises(versions.FlinkVersionError, match=r"1\.20\.1.*2\.3\.0"):
        versions.check_flink_version()
    monkeypatch.setattr(versions, "installed_flink_version", lambda: None)
    with pytest.raises(versions.FlinkVersionError, match=r"aiflow\[flink\]"):
        versions.check_flink_version()


def test_every_jar_of_every_group_is_pinned_by_sha256() -> None:
    for group in JAR_GROUPS.values():
        files = group.files()
        assert len(files) == len(group.top) + len(group.closure), "duplicate file names"
        for name, digest in files.items():
            assert name.endswith(".jar")
            assert len(digest) == 64 and int(digest, 16) >= 0, name
    broker = JAR_GROUPS["kafka-broker"].files()
    assert "org.apache.kafka.kafka-clients-4.1.1.jar" in broker
    assert any("log4j-slf4j" in name for name in broker), "the broker needs an SLF4J binding"


def test_unknown_group_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match=r"unknown jar group 'nope'.*connectors"):
        ensure_jars("nope")
    assert jars.main(["nope"]) == 1


def test_missing_maven_with_an_empty_cache_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(jars.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    with pytest.raises(JarCacheError, match=r"Maven \(mvn\) is not on PATH.*'connectors'"):
        ensure_jars("connectors")


# -- the cache, with the real Maven client ------------------------------------------------------


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private, empty jar cache; Maven must be there (fail rather than skip in CI)."""
    if shutil.which("mvn") is None:
        reason = "Maven (mvn) is not installed"
        if os.environ.get("CI") == "true" or os.environ.get("AIFLOW_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    root = tmp_path / "jar-cache"
    monkeypatch.setenv(jars.CACHE_ENV, str(root))
    return root


def _identity(paths: list[Path]) -> list[tuple[int, int]]:
    return [(path.stat().st_ino, path.stat().st_mtime_ns) for path in paths]


@pytest.mark.slow
def test_second_call_uses_the_cache_without_maven(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = jars.maven_invocations()
    paths = ensure_jars("connectors")
    assert paths == [cache / "connectors" / KAFKA_CONNECTOR.filename]
    assert jars.sha256_of(paths[0]) == KAFKA_CONNECTOR.sha256
    assert jars.maven_invocations() == before + 1
    identity = _identity(paths)

    assert ensure_jars("connectors") == paths
    assert jars.maven_invocations() == before + 1
    assert _identity(paths) == identity  # not rewritten either

    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))  # a complete cache needs no Maven
    assert ensure_jars("connectors") == paths
    assert not list(cache.glob(".connectors-fetch-*")), "staging dirs are cleaned up"


@pytest.mark.slow
def test_corrupted_cached_jar_is_detected_and_fetched_again(cache: Path) -> None:
    (jar,) = ensure_jars("connectors")
    with jar.open("r+b") as stream:  # same size, different bytes
        stream.seek(4096)
        stream.write(b"corrupted")
    assert jars.sha256_of(jar) != KAFKA_CONNECTOR.sha256
    before = jars.maven_invocations()

    assert ensure_jars("connectors") == [jar]
    assert jars.maven_invocations() == before + 1
    assert jars.sha256_of(jar) == KAFKA_CONNECTOR.sha256


@pytest.mark.slow
def test_fetched_jar_with_another_digest_is_rejected_and_not_installed(
    cache: Path, tmp_path: Path
) -> None:
    wrong = dataclasses.replace(KAFKA_CONNECTOR, sha256="0" * 64)
    directory = tmp_path / "pinned-wrong"
    with pytest.raises(ChecksumMismatch) as raised:
        ensure_group(JarGroup("connectors", (wrong,)), directory)
    message = str(raised.value)
    assert str(directory / wrong.filename) in message
    assert f"expected sha256 {'0' * 64}" in message
    assert f"got {KAFKA_CONNECTOR.sha256}" in message
    assert raised.value.actual == KAFKA_CONNECTOR.sha256
    assert not list(directory.glob("*.jar"))


@pytest.mark.slow
def test_resolved_set_that_differs_from_the_manifest_is_an_error(
    cache: Path, tmp_path: Path
) -> None:
    drifted = JarGroup(
        "drift",
        (KAFKA_CONNECTOR,),
        transitive=True,
        closure=(("org.example.gone-1.0.jar", "1" * 64),),
    )
    with pytest.raises(JarCacheError, match=r"missing \['org\.example\.gone-1\.0\.jar'\]"):
        ensure_group(drifted, tmp_path / "drift")


@pytest.mark.slow
def test_two_concurrent_callers_fetch_once(cache: Path) -> None:
    before = jars.maven_invocations()
    with ThreadPoolExecutor(2) as pool:  # separate lock-file opens: flock excludes them too
        first, second = pool.map(lambda _: ensure_jars("connectors"), range(2))
    assert first == second
    assert jars.maven_invocations() == before + 1
    assert jars.sha256_of(first[0]) == KAFKA_CONNECTOR.sha256
