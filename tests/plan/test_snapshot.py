"""Source snapshots: content hashes, deterministic archives, safe and verified extraction."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from aiflow.errors import InvalidInput
from aiflow.plan import snapshot


def _project(root: Path) -> Path:
    (root / "lib").mkdir(parents=True)
    (root / "wf.py").write_text("X = 1\n")
    (root / "lib" / "feats.py").write_text("Y = 2\n")
    (root / "data.csv").write_text("a\n1\n")  # data is not code: not in the snapshot
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "wf.cpython-311.pyc").write_bytes(b"\0")
    return root / "wf.py"


def test_collect_hash_and_archive_are_deterministic(tmp_path: Path) -> None:
    entry = _project(tmp_path / "p")
    first = snapshot.collect(entry)
    assert first.files == ("lib/feats.py", "wf.py") and first.entrypoint == "wf.py"
    assert snapshot.collect(entry).hash == first.hash
    assert first.archive() == snapshot.collect(entry).archive()
    (tmp_path / "p" / "lib" / "feats.py").write_text("Y = 3\n")
    assert snapshot.collect(entry).hash != first.hash


def test_store_and_extract(tmp_path: Path) -> None:
    snap = snapshot.collect(_project(tmp_path / "p"))
    uri = snapshot.store(snap, tmp_path / "snaps")
    assert uri == str(tmp_path / "snaps" / f"{snap.hash}.tar.gz")
    root = snapshot.extract(uri, snap.hash, tmp_path / "cache")
    assert (root / "lib" / "feats.py").read_text() == "Y = 2\n"
    assert snapshot.extract(uri, snap.hash, tmp_path / "cache") == root  # cached


def _archive(members: dict[str, bytes], link: tuple[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link[0])
            info.type, info.linkname = tarfile.SYMTYPE, link[1]
            tar.addfile(info)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "archive",
    [
        _archive({"../escape.py": b"x"}),
        _archive({"/abs/escape.py": b"x"}),
        _archive({"ok.py": b"x"}, link=("evil", "/etc/passwd")),
    ],
)
def test_extract_refuses_paths_out_of_the_tree(tmp_path: Path, archive: bytes) -> None:
    path = tmp_path / "bad.tar.gz"
    path.write_bytes(archive)
    with pytest.raises((tarfile.TarError, InvalidInput)):
        snapshot.extract(str(path), "0" * 64, tmp_path / "cache")
    assert not (tmp_path / "escape.py").exists()


def test_extract_verifies_the_hash(tmp_path: Path) -> None:
    snap = snapshot.collect(_project(tmp_path / "p"))
    uri = snapshot.store(snap, tmp_path / "snaps")
    with pytest.raises(InvalidInput, match="does not match its hash"):
        snapshot.extract(uri, "f" * 64, tmp_path / "cache")
