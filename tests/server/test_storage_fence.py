"""The server's fence around aiflow's own files extends to ``storage.root``, local or on HDFS
(the rest of the fence, through real submissions, is test_submit_paths.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiflow.errors import InvalidInput


def test_examples_inside_the_storage_root_are_refused(tmp_path: Path) -> None:
    """``storage.root`` holds snapshots, artifacts and intermediates wherever it is: an example
    there could read or overwrite them, as one in ``AIFLOW_HOME`` could."""
    from aiflow.server.locations import _Fence

    shared = tmp_path / "shared"
    fence = _Fence(tmp_path / "home", "sqlite:///:memory:", str(shared))
    inside = str(shared / "artifacts" / "m" / "1")
    with pytest.raises(InvalidInput, match="inside aiflow's storage root"):
        fence.check("example 'e' (batch view)", inside, inside)
    fence.check("example 'e' (batch view)", str(tmp_path / "data"), str(tmp_path / "data"))

    on_hdfs = _Fence(tmp_path / "home", "sqlite:///:memory:", "hdfs://nn:8020/aiflow")
    with pytest.raises(InvalidInput, match="hdfs://nn:8020/aiflow/executions/3"):
        on_hdfs.check_remote("example 'e' (stream view)", "hdfs://nn:8020/aiflow/executions/3")
    on_hdfs.check_remote("example 'e' (stream view)", "hdfs://nn:8020/aiflow-data/in")
