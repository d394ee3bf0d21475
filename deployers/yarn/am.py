"""The ApplicationMaster jar (``am/JobMaster.java``): built once, cached, staged on the cluster.

aiflow ships the AM as source, not as a jar: nothing binary goes into the package, and the jar
is compiled for Java 8 (``--release 8``), which every Hadoop 3 cluster runs. The first submit
on a machine compiles it with the JDK's ``javac`` against ``hadoop-client-api`` (fetched by
Maven into the jar cache, pinned in ``versions.py``) into ``~/.cache/aiflow/yarn/``, keyed by
the source's hash; each cluster then gets it once, under ``staging_dir/am/``. A site whose
drivers have no JDK builds it once (``python -m aiflow.deployers.yarn.am``) and sets
``[yarn] am_jar`` to the uploaded file.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from aiflow.errors import DeploymentError

SOURCE = Path(__file__).with_name("am") / "JobMaster.java"
MAIN_CLASS = "JobMaster"
JAR_NAME = "aiflow-am.jar"  # the name it is localized under in each container


def source_digest() -> str:
    return hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]


def cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "aiflow" / "yarn"


def ensure_jar() -> Path:
    """The built AM jar, compiling it first if this source version has none yet."""
    target = cache_dir() / f"aiflow-am-{source_digest()}.jar"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.is_file():
            _build(target)
    return target


def _build(target: Path) -> None:
    javac = _javac()
    from aiflow.translators.flink.jars import ensure_jars

    classpath = os.pathsep.join(str(path) for path in ensure_jars("hadoop-client"))
    with tempfile.TemporaryDirectory(prefix="aiflow-am-") as tmp:
        classes = Path(tmp) / "classes"
        result = subprocess.run(
            [javac, "--release", "8", "-nowarn", "-cp", classpath, "-d", str(classes), str(SOURCE)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise DeploymentError(
                f"cannot build the YARN ApplicationMaster from {SOURCE}: "
                f"{result.stderr.strip()[-2000:]}"
            )
        staged = Path(tmp) / "am.jar"
        with zipfile.ZipFile(staged, "w", zipfile.ZIP_DEFLATED) as jar:
            jar.writestr(
                "META-INF/MANIFEST.MF",
                f"Manifest-Version: 1.0\nMain-Class: {MAIN_CLASS}\nCreated-By: aiflow\n\n",
            )
            for path in sorted(classes.rglob("*.class")):
                jar.write(path, path.relative_to(classes).as_posix())
        os.replace(staged, target)


def _javac() -> str:
    home = os.environ.get("JAVA_HOME")
    candidates = [Path(home) / "bin" / "javac"] if home else []
    found = shutil.which("javac")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    raise DeploymentError(
        "the yarn deployer builds its ApplicationMaster with javac, and no JDK is here "
        "(JAVA_HOME, PATH): install one, or build the jar elsewhere (python -m "
        "aiflow.deployers.yarn.am) and set AIFLOW__YARN__AM_JAR to its hdfs:// URL"
    )


if __name__ == "__main__":
    print(ensure_jar())
    sys.exit(0)
