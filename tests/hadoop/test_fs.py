"""``aiflow.hadoop.fs``: ``hdfs://`` URLs in fsspec are WebHDFS on the NameNode that
``$HADOOP_CONF_DIR`` names, with errors that say what is missing. Reading and writing against a
real NameNode is covered by the YARN tests (tests/deployers/test_yarn_deployer.py's staging,
tests/yarn/test_e2e_flink.py's checkpoints and storage root)."""

from __future__ import annotations

import ast
from pathlib import Path

import fsspec
import pytest

import aiflow.hadoop.fs  # noqa: F401 (registers hdfs://)
from aiflow.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def hadoop_conf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "core-site.xml").write_text(
        "<configuration><property><name>fs.defaultFS</name><value>hdfs://nn.example:8020"
        "</value></property><property><name>dfs.namenode.http-address</name>"
        "<value>nn.example:9871</value></property></configuration>"
    )
    monkeypatch.setenv("HADOOP_CONF_DIR", str(tmp_path))
    return tmp_path


@pytest.mark.usefixtures("hadoop_conf")
def test_hdfs_urls_go_to_the_namenodes_webhdfs_address() -> None:
    fs, path = fsspec.core.url_to_fs("hdfs://nn.example:8020/aiflow/chk")
    assert (fs.url, path) == ("http://nn.example:9871/webhdfs/v1", "/aiflow/chk")
    assert fs.unstrip_protocol(path) == "hdfs://nn.example:8020/aiflow/chk"  # listings round trip
    bare, bare_path = fsspec.core.url_to_fs("hdfs:///aiflow/chk")  # no authority: default FS
    assert (bare.url, bare_path) == (fs.url, "/aiflow/chk")


@pytest.mark.usefixtures("hadoop_conf")
def test_another_namenode_is_refused_by_name() -> None:
    with pytest.raises(InvalidInput, match="hdfs://other:8020/"):
        fsspec.core.url_to_fs("hdfs://other:8020/x")


def test_hdfs_without_a_hadoop_configuration_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HADOOP_CONF_DIR", raising=False)
    with pytest.raises(InvalidInput, match="HADOOP_CONF_DIR"):
        fsspec.core.url_to_fs("hdfs://nn-unset.example:8020/aiflow")


def test_every_module_opening_storage_through_fsspec_registers_hdfs() -> None:
    """A module that imports fsspec but not ``aiflow.hadoop.fs`` would open ``hdfs://`` with
    pyarrow's client (libhdfs, a JVM) in a process where nothing else imported ours."""
    missing = []
    for folder in ("aiflow", "translators", "deployers"):
        for path in (ROOT / folder).rglob("*.py"):
            if "hadoop" in path.parts:
                continue
            tree = ast.parse(path.read_text())
            imported = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    imported |= {alias.name for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module:
                    imported.add(node.module)
                    imported |= {f"{node.module}.{alias.name}" for alias in node.names}
            uses_fsspec = any(name == "fsspec" or name.startswith("fsspec.") for name in imported)
            if uses_fsspec and "aiflow.hadoop.fs" not in imported:
                missing.append(str(path.relative_to(ROOT)))
    assert not missing, f"import aiflow.hadoop.fs (registers hdfs://) in: {missing}"
