"""The pinned jars (``versions.py``) in a local cache, fetched with Maven, checked.

``ensure_jars(group)`` returns the paths of a group's jars, fetching them first if needed:

* **Where**: ``$AIFLOW_JAR_CACHE/<group>/`` (default ``~/.cache/aiflow/jars/<group>/``, or under
  ``$XDG_CACHE_HOME``). Outside the repo, so no jar is ever committed, and not under
  ``AIFLOW_HOME``, which the tests replace per test: the cache must outlive both.
* **How**: Maven's own client (``mvn -B dependency:copy-dependencies`` on a throwaway pom in a
  temp dir), not hand-built download URLs, so mirrors and proxies from ``settings.xml`` and the
  shared ``~/.m2`` repository work as for any Java build. The plugin version is pinned so the same
  command resolves the same way everywhere.
* **Checksums**: Maven's ``-C`` only checks a download against the ``.sha1`` served next to it,
  which guards the transfer, not what was published. So every file is also checked against the
  SHA-256 pinned in ``versions.py``. For the broker's transitive closure, the top-level artifacts
  are pinned by version, and the whole resolved set is pinned as a manifest (file name ->
  SHA-256). After a fetch, the set Maven resolved must equal the manifest exactly, so a changed
  POM, a different resolution or a swapped file fails loudly instead of silently running other
  code. It also fails when a version in ``versions.py`` was bumped without regenerating the
  manifest (``python -m aiflow.translators.flink.jars --print-manifest <group>`` prints a
  fresh one).
* **Fast path**: when every pinned file is present and hashes right, nothing runs but SHA-256
  over the files (about 0.05 s for the broker's 44 MB); Maven is not started. A corrupt or missing
  file is fetched again and replaces the cached one (logged as a warning); a fetched file that
  still mismatches raises ``ChecksumMismatch`` and nothing is installed.
* **Concurrency**: an exclusive ``flock`` per group (``<root>/.<group>.lock``) serialises
  callers, so two test sessions or a test run and ``scripts/fetch_jars.sh`` never fetch at the
  same time. A fetch stages files in a temp dir next to the group dir and ``os.replace``-s each
  verified file in, so a reader never sees a half-written jar.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from xml.sax.saxutils import escape

from aiflow.errors import AiflowError, ChecksumMismatch, InvalidInput, JarCacheError
from aiflow.translators.flink.versions import JAR_GROUPS, JarGroup

CACHE_ENV = "AIFLOW_JAR_CACHE"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
MAVEN_TIMEOUT = 900.0  # a cold fetch of both groups (55 MB) took 10-14 s here; room for slow links

log = logging.getLogger(__name__)
_maven_runs = 0
_maven_runs_lock = threading.Lock()


def maven_invocations() -> int:
    """How many times this process has started Maven; lets tests see that a cached call did not."""
    return _maven_runs


def cache_root() -> Path:
    """``$AIFLOW_JAR_CACHE``, else ``$XDG_CACHE_HOME/aiflow/jars``, else ``~/.cache/aiflow/jars``:
    the root under which each group has its own directory."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "aiflow" / "jars"


def jar_group(name: str) -> JarGroup:
    try:
        return JAR_GROUPS[name]
    except KeyError:
        known = ", ".join(sorted(JAR_GROUPS))
        raise InvalidInput(f"unknown jar group '{name}' (known: {known})") from None


def ensure_jars(group: str) -> list[Path]:
    """Paths of the pinned jars of ``group`` (a name in ``versions.JAR_GROUPS``), sorted by name,
    fetched into the cache first if any is missing or corrupt."""
    return ensure_group(jar_group(group), cache_root() / group)


def ensure_group(group: JarGroup, directory: Path) -> list[Path]:
    """``ensure_jars`` for an explicit group and directory (tests use it with private ones)."""
    expected = group.files()
    directory.mkdir(parents=True, exist_ok=True)
    with _exclusive(directory.parent / f".{directory.name}.lock"):
        stale = [name for name in sorted(expected) if not _valid(directory / name, expected[name])]
        if stale:
            _fetch(group, directory, stale)
    return [directory / name for name in sorted(expected)]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_manifest(group: JarGroup) -> dict[str, str]:
    """Fetch ``group`` *without* checking anything and return file name -> SHA-256 of what Maven
    resolved: the one way to (re)compute the pins, after a version bump in ``versions.py``."""
    with tempfile.TemporaryDirectory(prefix="aiflow-jars-") as tmp:
        out = _run_maven(group, Path(tmp))
        return {path.name: sha256_of(path) for path in sorted(out.glob("*.jar"))}


# -- internals ------------------------------------------------------------------------------


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _valid(path: Path, expected: str) -> bool:
    if not path.is_file():
        return False
    actual = sha256_of(path)
    if actual != expected:
        log.warning(
            "%s is corrupt (sha256 %s, pinned %s): fetching it again", path, actual, expected
        )
        return False
    return True


def _fetch(group: JarGroup, directory: Path, stale: Sequence[str]) -> None:
    expected = group.files()
    log.info(
        "fetching %d jar(s) of group '%s' with Maven into %s", len(stale), group.name, directory
    )
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-fetch-", dir=directory.parent))
    try:
        out = _run_maven(group, staging)
        resolved = {path.name for path in out.glob("*.jar")}
        missing, unexpected = sorted(set(expected) - resolved), sorted(resolved - set(expected))
        if missing or (group.transitive and unexpected):
            raise JarCacheError(
                f"Maven resolved a different jar set for group '{group.name}' than "
                f"translators/flink/versions.py pins: missing {missing}, unexpected {unexpected}; "
                f"after a version bump, regenerate closures/{group.name}.sha256 with "
                f"`python -m aiflow.translators.flink.jars --print-manifest {group.name}`"
            )
        for name in stale:
            actual = sha256_of(out / name)
            if actual != expected[name]:
                raise ChecksumMismatch(
                    directory / name,
                    expected[name],
                    actual,
                    hint="Maven served a different file than the one pinned in "
                    "translators/flink/versions.py; if ~/.m2/repository holds a corrupt copy, "
                    "delete "
                    "it and retry, otherwise find out why the published file changed",
                )
        for name in stale:
            os.replace(out / name, directory / name)
        for path in directory.glob("*.jar"):  # left over from an older pin set
            if path.name not in expected:
                path.unlink()
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _run_maven(group: JarGroup, workdir: Path) -> Path:
    """Copy the group's jars into ``workdir/jars`` with Maven; returns that directory."""
    global _maven_runs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise JarCacheError(
            f"Maven (mvn) is not on PATH, and the '{group.name}' jars are not all in the cache: "
            "install Maven (Debian: apt-get install maven) and run scripts/fetch_jars.sh"
        )
    pom, out = workdir / "pom.xml", workdir / "jars"
    pom.write_text(_pom(group), encoding="utf-8")
    command = [
        mvn, "-B", "-q", "-C", "--no-transfer-progress", "-f", str(pom),
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        f"-DoutputDirectory={out}",
        "-DincludeScope=runtime",
        "-Dmdep.prependGroupId=true",
        f"-DexcludeTransitive={'false' if group.transitive else 'true'}",
    ]  # fmt: skip
    env = dict(os.environ)
    # Maven's JVM runs for seconds only: the C1 compiler alone starts it noticeably faster.
    env.setdefault("MAVEN_OPTS", "-XX:+TieredCompilation -XX:TieredStopAtLevel=1")
    with _maven_runs_lock:
        _maven_runs += 1
    try:
        done = subprocess.run(
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=MAVEN_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        raise JarCacheError(
            f"Maven did not finish fetching the '{group.name}' jars within {MAVEN_TIMEOUT:.0f} s"
        ) from exc
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()[-3000:]
        raise JarCacheError(
            f"Maven failed ({done.returncode}) fetching the '{group.name}' jars "
            f"({', '.join(a.coords for a in group.top)}):\n{output}"
        )
    return out


def _pom(group: JarGroup) -> str:
    dependencies = "\n".join(
        f"    <dependency><groupId>{escape(a.group)}</groupId>"
        f"<artifactId>{escape(a.artifact)}</artifactId>"
        f"<version>{escape(a.version)}</version></dependency>"
        for a in group.top
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.aiflow.fetch</groupId>
  <artifactId>{escape(group.name)}</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
{dependencies}
  </dependencies>
</project>
"""


def _print_manifest(name: str) -> None:
    """``closures/<group>.sha256`` on stdout; the top-level jars (pinned in their ``Artifact``)
    on stderr."""
    group = jar_group(name)
    top = {artifact.filename for artifact in group.top}
    for filename, digest in resolve_manifest(group).items():
        if filename in top:
            print(f"top-level, pin in its Artifact: {digest}  {filename}", file=sys.stderr)
        else:
            print(f"{digest}  {filename}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m aiflow.translators.flink.jars",
        description="Fetch the pinned jars (versions.JAR_GROUPS) into the jar cache "
        f"(${CACHE_ENV}, default ~/.cache/aiflow/jars) and verify their SHA-256.",
    )
    parser.add_argument("groups", nargs="*", help=f"default: all of {', '.join(JAR_GROUPS)}")
    parser.add_argument(
        "--print-manifest",
        action="store_true",
        help="resolve the groups without checking and print (file name, sha256) pins",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        for name in args.groups or list(JAR_GROUPS):
            if args.print_manifest:
                _print_manifest(name)
                continue
            paths = ensure_jars(name)
            size = sum(path.stat().st_size for path in paths) / 1e6
            print(f"{name}: {len(paths)} jar(s), {size:.0f} MB, verified, in {cache_root() / name}")
    except AiflowError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
