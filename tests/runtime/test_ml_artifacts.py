"""The ``aiflow.ml`` artifact flavor: a fitted stage is saved in its open format (JSON +
Parquet, no pickle) with a checksum over its files, loads back verified, and a damaged file is
``ArtifactCorrupt`` like a damaged pickle."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import fsspec
import numpy as np
import pytest

from aiflow.errors import ArtifactCorrupt, UserCodeError
from aiflow.ml import Pipeline, PipelineModel, Table, load
from aiflow.ml.classification import LogisticRegression
from aiflow.ml.feature import StandardScaler, VectorAssembler
from aiflow.store import ml_artifacts
from aiflow.store.artifacts import artifact_checksum, load_model, save_model
from tests.ml.toy_stages import ToyScaler


def fitted() -> tuple[PipelineModel, Table]:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=150), rng.normal(size=150)
    data = Table({"a": a, "b": b, "label": (a + 2 * b > 0).astype(float)})
    pipe = Pipeline(
        [
            VectorAssembler(input_cols=["a", "b"], output_col="features"),
            StandardScaler(input_col="features", output_col="scaled"),
            LogisticRegression(features_col="scaled", label_col="label", max_iter=40),
        ]
    )
    return pipe.fit(data), data


def files_of(uri: str) -> list[str]:
    root = Path(uri)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_a_fitted_pipeline_is_saved_in_the_open_format_with_a_folder_checksum(
    tmp_path: Path,
) -> None:
    model, data = fitted()
    uri, flavor = save_model(model, "lr", str(tmp_path))
    assert flavor == "aiflow.ml"
    assert files_of(uri) == [
        "meta.json",
        "metadata.json",
        "stages/0/metadata.json",
        "stages/1/metadata.json",
        "stages/1/model_data/0.parquet",
        "stages/2/metadata.json",
        "stages/2/model_data/0.parquet",
    ]  # no pickle
    meta = json.loads((Path(uri) / "meta.json").read_text())
    assert meta["flavor"] == "aiflow.ml" and sorted(meta["files"]) == files_of(uri)[1:]
    checksum = artifact_checksum(uri)
    assert checksum == meta["sha256"] == ml_artifacts.digest_of(uri, skip="meta.json")

    loaded = load_model(uri, checksum=checksum)
    (expected,) = model.transform(data)
    for same in (loaded, load(uri)):  # the artifact folder is a saved stage: any reader opens it
        assert isinstance(same, PipelineModel)
        (out,) = same.transform(data)
        assert np.array_equal(out.vector("raw_prediction"), expected.vector("raw_prediction"))


def test_the_checksum_depends_on_the_files_not_on_where_or_when_they_were_written(
    tmp_path: Path,
) -> None:
    model, _ = fitted()
    first, _ = save_model(model, "lr", str(tmp_path / "one"))
    second, _ = save_model(model, "lr", str(tmp_path / "two"))
    assert artifact_checksum(first) == artifact_checksum(second)
    other, _ = fitted()
    other.stages[2].set_prediction_col("p")  # type: ignore[attr-defined]
    third, _ = save_model(other, "lr", str(tmp_path / "three"))
    assert artifact_checksum(third) != artifact_checksum(first)


def test_a_damaged_parquet_file_is_artifact_corrupt_naming_it(tmp_path: Path) -> None:
    model, _ = fitted()
    uri, _ = save_model(model, "lr", str(tmp_path))
    checksum = artifact_checksum(uri)
    damaged = Path(uri) / "stages/2/model_data/0.parquet"
    damaged.write_bytes(damaged.read_bytes()[:40])
    with pytest.raises(ArtifactCorrupt, match=r"changed: stages/2/model_data/0\.parquet") as caught:
        load_model(uri, checksum=checksum)
    assert caught.value.expected == checksum and caught.value.uri == uri
    with pytest.raises(ArtifactCorrupt, match=r"not a loadable aiflow\.ml stage"):
        load_model(uri)  # no checksum: the damage is found reading it


def test_missing_files_and_untrusted_classes_are_artifact_corrupt(tmp_path: Path) -> None:
    model, _ = fitted()
    uri, _ = save_model(model, "lr", str(tmp_path))
    checksum = artifact_checksum(uri)
    (Path(uri) / "stages/1/model_data/0.parquet").unlink()
    with pytest.raises(ArtifactCorrupt, match=r"missing: stages/1/model_data/0\.parquet"):
        load_model(uri, checksum=checksum)

    meta = Path(uri) / "metadata.json"
    meta.write_text(meta.read_text().replace("aiflow.ml.pipeline", "os.path"))
    with pytest.raises(ArtifactCorrupt, match=r"refusing to load class 'os\.path\.PipelineModel'"):
        load_model(uri)
    meta.unlink()
    (Path(uri) / "meta.json").write_text("{not json")
    with pytest.raises(ArtifactCorrupt, match="does not exist"):
        load_model(uri)


def test_a_stage_that_cannot_be_saved_is_a_user_code_error_leaving_nothing(
    tmp_path: Path,
) -> None:
    class Local(ToyScaler):  # a class inside a function cannot be loaded again: save refuses
        pass

    with pytest.raises(UserCodeError, match="could not be saved"):
        save_model(Local(input_col="a", output_col="b"), "toy", str(tmp_path))
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_remote_artifact_root_round_trips(tmp_path: Path) -> None:
    model, data = fitted()
    root = f"memory://aiflow-{uuid.uuid4().hex}"
    uri, flavor = save_model(model, "lr", root)
    fs = fsspec.filesystem("memory")
    assert flavor == "aiflow.ml" and fs.exists(f"{uri}/stages/2/model_data/0.parquet")
    loaded = load_model(uri, checksum=artifact_checksum(uri))
    (out,) = loaded.transform(data)
    (expected,) = model.transform(data)
    assert np.array_equal(out.column("prediction"), expected.column("prediction"))
    fs.rm(root, recursive=True)
