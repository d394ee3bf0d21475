"""KMeans against scikit-learn's on iris and on well-separated blobs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans as SkKMeans
from sklearn.datasets import load_iris, make_blobs
from sklearn.metrics import adjusted_rand_score

from aiflow.errors import MLError
from aiflow.ml import Table, load
from aiflow.ml.clustering import KMeans, KMeansModel


def inertia(x: np.ndarray, model: KMeansModel) -> float:
    centroids = model.get_model_data()[0].vector("centroids")
    return float(((x[:, None, :] - centroids[None]) ** 2).sum(axis=2).min(axis=1).sum())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_inertia_equals_sklearn_from_the_same_centroids(seed) -> None:
    x = load_iris().data
    start = x[np.random.default_rng(seed).choice(len(x), 3, replace=False)]
    sk = SkKMeans(n_clusters=3, init=start, n_init=1, max_iter=300).fit(x)
    model = (
        KMeans(k=3, max_iter=300)
        .set_initial_model_data(Table({"centroids": start}))
        .fit(Table({"features": x}))
    )
    assert inertia(x, model) == pytest.approx(sk.inertia_, rel=0.01)
    (out,) = model.transform(Table({"features": x}))
    assert adjusted_rand_score(out.column("prediction"), sk.labels_) > 0.95


def test_kmeans_plus_plus_finds_five_blobs() -> None:
    x, truth = make_blobs(n_samples=1000, centers=5, cluster_std=0.5, random_state=7)
    for seed in range(3):
        model = KMeans(k=5, seed=seed).fit(Table({"features": x}))
        (out,) = model.transform(Table({"features": x}))
        assert adjusted_rand_score(truth, out.column("prediction")) == 1.0
        (data,) = model.get_model_data()
        assert sorted(data.column("weights")) == sorted(np.bincount(truth))
        sk = SkKMeans(n_clusters=5, n_init=1, random_state=seed).fit(x)
        assert inertia(x, model) == pytest.approx(sk.inertia_, rel=0.01)


def test_random_init_is_seeded() -> None:
    x, _ = make_blobs(n_samples=300, centers=4, random_state=1)
    t = Table({"features": x})
    one = KMeans(k=4, init_mode="random", seed=5).fit(t).get_model_data()[0]
    two = KMeans(k=4, init_mode="random", seed=5).fit(t).get_model_data()[0]
    np.testing.assert_array_equal(one.vector("centroids"), two.vector("centroids"))


def test_save_load_keeps_predictions_and_initial_centroids(tmp_path) -> None:
    x, _ = make_blobs(n_samples=200, centers=3, random_state=2)
    t = Table({"features": x})
    estimator = KMeans(k=3).set_initial_model_data(Table({"centroids": x[:3]}))
    estimator.save(tmp_path / "est")
    again = load(tmp_path / "est")
    assert isinstance(again, KMeans)
    model, model_again = estimator.fit(t), again.fit(t)
    np.testing.assert_array_equal(
        model.get_model_data()[0].vector("centroids"),
        model_again.get_model_data()[0].vector("centroids"),
    )
    model.save(tmp_path / "model")
    (before,) = model.transform(t)
    (after,) = load(tmp_path / "model").transform(t)
    np.testing.assert_array_equal(after.column("prediction"), before.column("prediction"))
    assert after.schema["prediction"] == "bigint"


def test_bad_input() -> None:
    with pytest.raises(MLError, match="KMeans: k must be > 1"):
        KMeans(k=1)
    with pytest.raises(MLError, match="KMeans: init_mode must be one of"):
        KMeans(init_mode="k-means||")
    with pytest.raises(MLError, match="KMeans: distance_measure must be one of"):
        KMeans(distance_measure="cosine")
    with pytest.raises(MLError, match="KMeans: k is 5 but the input table has only 3 rows"):
        KMeans(k=5).fit(Table({"features": np.eye(3)}))
    with pytest.raises(MLError, match="KMeans: initial model data has 2 centroids, k is 3"):
        KMeans(k=3).set_initial_model_data(Table({"centroids": np.eye(2)}))
    with pytest.raises(MLError, match="KMeans: column 'features' holds vectors of size 3"):
        KMeans(k=2).set_initial_model_data(Table({"centroids": np.eye(2)})).fit(
            Table({"features": np.eye(3)})
        )
    with pytest.raises(MLError, match="KMeans: column 'features' has NaN"):
        KMeans().fit(Table({"features": np.array([[np.nan, 1.0], [1.0, 1.0]])}))
    model = KMeans().fit(Table({"features": np.eye(2)}))
    with pytest.raises(MLError, match="KMeansModel: column 'features' holds vectors of size 3"):
        model.transform(Table({"features": np.eye(3)}))
    with pytest.raises(MLError, match="KMeansModel: the input table is empty"):
        model.transform(Table({"features": np.zeros((0, 2))}))
