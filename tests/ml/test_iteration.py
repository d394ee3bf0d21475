"""The local iteration engine: convergence against numpy references, replay, operator
lifecycle, listeners, termination, unbounded mini-batches over an endless stream, and errors."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from aiflow.errors import MLError
from aiflow.ml.iteration import (
    BodyOperator,
    Collect,
    IterationBodyResult,
    IterationConfig,
    IterationContext,
    IterationListener,
    OperatorFactory,
    ReplayableData,
    iterate_bounded,
    iterate_unbounded,
    terminate_on_max_iteration,
    terminate_on_max_iteration_or_tolerance,
)
from aiflow.ml.table import Table

DOCS = Path(__file__).resolve().parents[2] / "docs" / "ml.md"


def model(w: np.ndarray, b: float) -> Table:
    return Table({"coefficient": w.reshape(1, -1), "intercept": [b]})


def regression_data(rows: int = 500, seed: int = 0) -> Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4))
    y = x @ np.array([1.5, -2.0, 0.0, 0.7]) - 1.0 + rng.normal(scale=0.3, size=rows)
    return Table({"features": x, "label": y})


def gd_body(variables: list[Table], data: list[Table], ctx: IterationContext) -> Any:
    (current,), (points,) = variables, data
    w, b = current.vector("coefficient")[0], float(current.column("intercept")[0])
    x, y = points.vector("features"), points.column("label")
    error = x @ w + b - y
    grad_w, grad_b = x.T @ error / len(y), float(error.mean())
    new = model(w - 0.3 * grad_w, b - 0.3 * grad_b)
    grad_norm = float(np.hypot(np.linalg.norm(grad_w), grad_b))
    return IterationBodyResult(
        feedback=[new],
        outputs=[new.with_columns({"epoch": [ctx.epoch], "grad_norm": [grad_norm]})],
        termination=terminate_on_max_iteration_or_tolerance(1000, 1e-12, ctx.epoch, grad_norm),
    )


def counting_body(stop_at: int, *, how: str = "termination") -> Any:
    """A body feeding back a counter; the round ``stop_at`` ends the iteration ``how``."""

    def body(variables: list[Table], data: list[Table], ctx: IterationContext) -> Any:
        (counter,) = variables
        new = Table({"n": counter.column("n") + 1})
        last = ctx.epoch == stop_at
        termination = None
        if how == "termination":
            termination = Table({"go": np.array([] if last else [1], dtype=np.int64)})
        feedback: list[Table] = [new]
        if last and how == "no_feedback":
            feedback = []
        if last and how == "empty_feedback":
            feedback = [new.take(slice(0, 0))]
        outputs = [Table({"epoch": [ctx.epoch], "n": new.column("n")})]
        return IterationBodyResult(feedback=feedback, outputs=outputs, termination=termination)

    return body


COUNTER = Table({"n": np.array([0])})


# -- bounded: convergence ------------------------------------------------------------------


def test_gradient_descent_converges_to_least_squares() -> None:
    points = regression_data()
    (history,) = iterate_bounded(
        variables=[model(np.zeros(4), 0.0)],
        data=ReplayableData([points], replay=True),
        body=gd_body,
        config=IterationConfig(operator_lifecycle="all_round"),
    )
    rounds = history.num_rows
    assert 1 < rounds < 1000  # stopped by the tolerance, not by max_iter
    assert history.column("epoch").tolist() == list(range(rounds))  # every round, in order
    assert history.column("grad_norm")[-1] <= 1e-12 < history.column("grad_norm")[-2]
    x = np.column_stack([points.vector("features"), np.ones(points.num_rows)])
    reference = np.linalg.lstsq(x, points.column("label"), rcond=None)[0]
    np.testing.assert_allclose(history.vector("coefficient")[-1], reference[:4], atol=1e-10)
    assert history.column("intercept")[-1] == pytest.approx(reference[4], abs=1e-10)


def test_max_iteration_caps_rounds_before_tolerance() -> None:
    def body(variables: list[Table], data: list[Table], ctx: IterationContext) -> Any:
        result = gd_body(variables, data, ctx)
        cap = terminate_on_max_iteration(7, ctx.epoch)
        return IterationBodyResult(result.feedback, result.outputs, cap)

    (history,) = iterate_bounded(
        [model(np.zeros(4), 0.0)], ReplayableData([regression_data()]), body
    )
    assert history.column("epoch").tolist() == list(range(7))


class KMeansStep(BodyOperator):
    """Lloyd's step caching points read once (round 0): needs an all-round operator."""

    def __init__(self) -> None:
        self.points: np.ndarray | None = None

    def process(
        self, variables: list[Table], data: list[Table], ctx: IterationContext
    ) -> IterationBodyResult:
        if ctx.epoch == 0:
            self.points = data[0].vector("features")
        assert self.points is not None
        centroids = variables[0].vector("centroid")
        nearest = ((self.points[:, None, :] - centroids[None]) ** 2).sum(axis=2).argmin(axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, nearest, self.points)
        new = sums / np.bincount(nearest, minlength=len(centroids))[:, None]
        moved = float(np.abs(new - centroids).max())
        return IterationBodyResult(
            feedback=[Table({"centroid": new})],
            outputs=[Table({"centroid": new, "epoch": np.full(len(new), ctx.epoch)})],
            termination=terminate_on_max_iteration_or_tolerance(50, 0.0, ctx.epoch, moved),
        )


def lloyd_reference(points: np.ndarray, centroids: np.ndarray, rounds: int) -> np.ndarray:
    for _ in range(rounds):
        nearest = ((points[:, None, :] - centroids[None]) ** 2).sum(axis=2).argmin(axis=1)
        centroids = np.stack([points[nearest == c].mean(axis=0) for c in range(len(centroids))])
    return centroids


def test_kmeans_on_data_read_once_matches_lloyd() -> None:
    rng = np.random.default_rng(3)
    points = np.concatenate([rng.normal(c, 1.0, size=(150, 3)) for c in (0.0, 3.0, 6.0)])
    start = points[[0, 1, 2]]  # a poor start: Lloyd needs several rounds
    (rounds,) = iterate_bounded(
        [Table({"centroid": start})],
        ReplayableData([Table({"features": points})], replay=False),
        KMeansStep,
        IterationConfig(operator_lifecycle="all_round"),
    )
    epochs = rounds.column("epoch")
    n_rounds = int(epochs.max()) + 1
    assert 2 < n_rounds < 50
    final = rounds.take(epochs == epochs.max()).vector("centroid")
    np.testing.assert_allclose(final, lloyd_reference(points, start, n_rounds), atol=1e-12)
    # the last round moved nothing: Lloyd's fixed point
    np.testing.assert_allclose(final, lloyd_reference(points, final, 1), atol=1e-12)


# -- replay ---------------------------------------------------------------------------------


def data_seen_body(variables: list[Table], data: list[Table], ctx: IterationContext) -> Any:
    (points,) = data
    seen = Table(
        {
            "rows": [points.num_rows],
            "columns": [",".join(points.columns)],
            "dims": [points.vector("features").shape[1]],
        }
    )
    return IterationBodyResult(
        feedback=variables, outputs=[seen], termination=terminate_on_max_iteration(3, ctx.epoch)
    )


@pytest.mark.parametrize(("replay", "rows"), [(True, [5, 5, 5]), (False, [5, 0, 0])])
def test_data_replayed_or_read_once(replay: bool, rows: list[int]) -> None:
    points = Table({"features": np.ones((5, 2)), "label": np.arange(5)})
    (seen,) = iterate_bounded([COUNTER], ReplayableData([points], replay=replay), data_seen_body)
    assert seen.column("rows").tolist() == rows
    # later rounds of read-once data: empty tables with the same columns and vector size
    assert seen.column("columns").tolist() == ["features,label"] * 3
    assert seen.column("dims").tolist() == [2, 2, 2]


# -- operator lifecycle ------------------------------------------------------------------------


class CountingOperator(BodyOperator):
    created: ClassVar[int] = 0
    opened_at: ClassVar[list[int]] = []
    closed: ClassVar[int] = 0

    def __init__(self, rounds: int = 4) -> None:
        CountingOperator.created += 1
        self.rounds, self.calls = rounds, 0

    def open(self, ctx: IterationContext) -> None:
        CountingOperator.opened_at.append(ctx.epoch)

    def process(
        self, variables: list[Table], data: list[Table], ctx: IterationContext
    ) -> IterationBodyResult:
        self.calls += 1  # state kept by an all-round operator only
        outputs = [Table({"epoch": [ctx.epoch], "calls": [self.calls]})]
        return IterationBodyResult(
            variables, outputs, terminate_on_max_iteration(self.rounds, ctx.epoch)
        )

    def close(self) -> None:
        CountingOperator.closed += 1


@pytest.fixture
def counting() -> Iterator[type[CountingOperator]]:
    CountingOperator.created, CountingOperator.opened_at, CountingOperator.closed = 0, [], 0
    yield CountingOperator


@pytest.mark.parametrize(
    ("lifecycle", "created", "opened_at", "calls"),
    [("all_round", 1, [0], [1, 2, 3, 4]), ("per_round", 4, [0, 1, 2, 3], [1, 1, 1, 1])],
)
def test_operator_lifecycle(
    counting: type[CountingOperator],
    lifecycle: str,
    created: int,
    opened_at: list[int],
    calls: list[int],
) -> None:
    (out,) = iterate_bounded(
        [COUNTER], ReplayableData([]), counting, IterationConfig(operator_lifecycle=lifecycle)
    )
    assert out.column("calls").tolist() == calls
    assert (counting.created, counting.opened_at, counting.closed) == (created, opened_at, created)


def test_operator_factory_with_arguments(counting: type[CountingOperator]) -> None:
    (out,) = iterate_bounded(
        [COUNTER], ReplayableData([]), OperatorFactory(lambda: counting(rounds=2))
    )
    assert out.column("epoch").tolist() == [0, 1]
    assert counting.created == counting.closed == 1


def test_operator_closed_when_a_round_raises(counting: type[CountingOperator]) -> None:
    class Failing(CountingOperator):
        def process(
            self, variables: list[Table], data: list[Table], ctx: IterationContext
        ) -> IterationBodyResult:
            if ctx.epoch == 1:
                raise RuntimeError("boom")
            return super().process(variables, data, ctx)

    with pytest.raises(RuntimeError, match="boom"):
        iterate_bounded([COUNTER], ReplayableData([]), Failing)
    assert counting.created == counting.closed == 1


# -- listeners ----------------------------------------------------------------------------------


class Recorder(IterationListener):
    def __init__(self, collect_rows: bool = True) -> None:
        self.calls: list[tuple[str, int]] = []
        self.collect_rows = collect_rows

    def on_epoch_watermark_incremented(
        self, epoch: int, ctx: IterationContext, collect: Collect
    ) -> None:
        assert ctx.epoch == epoch and ctx.result is not None
        self.calls.append(("watermark", epoch))
        if self.collect_rows:
            (fed_back,) = ctx.result.feedback
            collect(Table({"epoch": [epoch], "n": fed_back.column("n")}))

    def on_iteration_terminated(self, ctx: IterationContext, collect: Collect) -> None:
        self.calls.append(("terminated", ctx.epoch))
        if self.collect_rows:
            collect(Table({"epoch": [-1], "n": [-1]}))


def test_listeners_called_in_epoch_order_and_collect_extra_outputs() -> None:
    recorder, silent = Recorder(), Recorder(collect_rows=False)
    out, collected, nothing = iterate_bounded(
        [COUNTER], ReplayableData([]), counting_body(3), listeners=[recorder, silent]
    )
    expected_calls = [("watermark", e) for e in range(4)] + [("terminated", 3)]
    assert recorder.calls == silent.calls == expected_calls
    assert collected.column("epoch").tolist() == [0, 1, 2, 3, -1]
    assert collected.column("n").tolist() == [1, 2, 3, 4, -1]  # each round's feedback
    assert out.column("epoch").tolist() == [0, 1, 2, 3]
    assert (nothing.num_rows, nothing.columns) == (0, [])


# -- termination --------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["termination", "no_feedback", "empty_feedback"])
def test_termination(how: str) -> None:
    (out,) = iterate_bounded([COUNTER], ReplayableData([]), counting_body(4, how=how))
    assert out.column("epoch").tolist() == [0, 1, 2, 3, 4]  # the last round's outputs kept
    assert out.column("n").tolist() == [1, 2, 3, 4, 5]  # variables fed back each round


def test_termination_helpers() -> None:
    assert terminate_on_max_iteration(3, 1).num_rows == 1
    assert terminate_on_max_iteration(3, 2).num_rows == 0
    assert terminate_on_max_iteration(1, 0).num_rows == 0
    assert terminate_on_max_iteration_or_tolerance(10, 0.1, 2, 0.5).num_rows == 1
    assert terminate_on_max_iteration_or_tolerance(10, 0.1, 2, 0.1).num_rows == 0
    assert terminate_on_max_iteration_or_tolerance(3, 0.1, 2, 0.5).num_rows == 0
    with pytest.raises(MLError, match="loss is NaN in round 4"):
        terminate_on_max_iteration_or_tolerance(10, 0.1, 4, float("nan"))
    with pytest.raises(MLError, match="max_iter must be an integer >= 1, got 0"):
        terminate_on_max_iteration(0, 0)
    with pytest.raises(MLError, match="tol must be >= 0"):
        terminate_on_max_iteration_or_tolerance(5, -1.0, 0, 1.0)


# -- unbounded ----------------------------------------------------------------------------------


def test_unbounded_online_mean_over_endless_stream() -> None:
    pulled: list[np.ndarray] = []

    def endless() -> Iterator[Table]:
        rng = np.random.default_rng(7)
        while True:  # never ends: only laziness lets the test finish
            batch = rng.normal(size=(int(rng.integers(1, 40)), 2))
            pulled.append(batch)
            yield Table({"x": batch})

    def running_mean(variables: list[Table], data: list[Table], ctx: IterationContext) -> Any:
        (state,), (batch,) = variables, data
        count, mean = state.column("count")[0], state.vector("mean")[0]
        x = batch.vector("x")
        total = count + len(x)
        new = Table({"count": [total], "mean": [mean + (x.sum(axis=0) - len(x) * mean) / total]})
        return IterationBodyResult(feedback=[new], outputs=[new])

    start = Table({"count": [0], "mean": np.zeros((1, 2))})
    outputs = list(itertools.islice(iterate_unbounded([start], endless(), running_mean), 6))
    assert len(outputs) == 6 and len(pulled) == 6  # one mini-batch pulled per output
    for i, (state,) in enumerate(outputs):  # the model after each mini-batch, shared by all
        seen = np.concatenate(pulled[: i + 1])
        assert state.column("count")[0] == len(seen)
        np.testing.assert_allclose(state.vector("mean")[0], seen.mean(axis=0), atol=1e-12)


def test_unbounded_operator_closed_when_consumer_stops(counting: type[CountingOperator]) -> None:
    stream = (COUNTER for _ in itertools.count())
    outputs = iterate_unbounded([COUNTER], stream, OperatorFactory(lambda: counting(10**9)))
    first = [next(outputs)[0].column("calls")[0] for _ in range(3)]
    assert first == [1, 2, 3] and counting.created == 1 and counting.closed == 0
    outputs.close()  # type: ignore[attr-defined]
    assert counting.closed == 1


def test_unbounded_finite_stream_with_listeners_and_termination() -> None:
    recorder = Recorder()
    batches = [Table({"x": [1.0]})] * 10
    outputs = list(iterate_unbounded([COUNTER], batches, counting_body(2), listeners=[recorder]))
    # rounds 0..2 (the body terminates in round 2), then the rows collected at termination
    assert [o[0].column("epoch").tolist() for o in outputs] == [[0], [1], [2], []]
    assert [o[1].column("epoch").tolist() for o in outputs] == [[0], [1], [2], [-1]]
    assert outputs[-1][0].columns == ["epoch", "n"]
    assert recorder.calls[-1] == ("terminated", 2)
    assert list(iterate_unbounded([COUNTER], [], counting_body(2))) == []


# -- errors -------------------------------------------------------------------------------------


def returning(value: Any) -> Any:
    def body(variables: list[Table], data: list[Table], ctx: IterationContext) -> Any:
        return value

    return body


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ({"feedback": []}, "in round 0 returned dict, expected IterationBodyResult"),
        (None, "in round 0 returned NoneType, expected IterationBodyResult"),
        ([COUNTER], "in round 0 returned list, expected IterationBodyResult"),
        (IterationBodyResult([pd.DataFrame()]), r"feedback\[0\] is DataFrame, expected a Table"),  # type: ignore[list-item]
        (IterationBodyResult(COUNTER), "feedback must be a list of Tables, got Table"),  # type: ignore[arg-type]
        (IterationBodyResult([COUNTER, COUNTER]), "fed back 2 tables for 1 variables"),
        (IterationBodyResult([COUNTER], [], "stop"), "termination is str, expected a Table"),  # type: ignore[arg-type]
    ],
)
def test_body_returning_the_wrong_thing(result: Any, message: str) -> None:
    with pytest.raises(MLError, match=message) as raised:
        iterate_bounded([COUNTER], ReplayableData([]), returning(result))
    assert "iterate_bounded: body" in str(raised.value)


def test_outputs_changing_between_rounds() -> None:
    def body(variables: list[Table], data: list[Table], ctx: IterationContext) -> Any:
        outputs = [Table({"a": [1]})] if ctx.epoch == 0 else [Table({"b": [1]})]
        return IterationBodyResult(variables, outputs, terminate_on_max_iteration(3, ctx.epoch))

    with pytest.raises(MLError, match=r"round 1: outputs\[0\] has columns \['b'\], was \['a'\]"):
        iterate_bounded([COUNTER], ReplayableData([]), body)

    def growing(variables: list[Table], data: list[Table], ctx: IterationContext) -> Any:
        return IterationBodyResult(variables, [COUNTER] * (ctx.epoch + 1))

    with pytest.raises(MLError, match="round 1 returned 2 outputs, earlier rounds 1"):
        iterate_bounded([COUNTER], ReplayableData([]), growing)


def test_bad_arguments() -> None:
    body = counting_body(1)
    with pytest.raises(MLError, match="operator_lifecycle must be one of all_round, per_round"):
        IterationConfig(operator_lifecycle="sometimes")
    with pytest.raises(MLError, match="data must be a ReplayableData, got list"):
        iterate_bounded([COUNTER], [COUNTER], body)  # type: ignore[arg-type]
    with pytest.raises(MLError, match="variables must hold at least one Table"):
        iterate_bounded([], ReplayableData([]), body)
    with pytest.raises(MLError, match=r"ReplayableData: tables\[1\] is int"):
        ReplayableData([COUNTER, 3])  # type: ignore[list-item]
    with pytest.raises(MLError, match="CountingOperator instance; pass its class"):
        iterate_bounded([COUNTER], ReplayableData([]), CountingOperator())  # type: ignore[arg-type]
    with pytest.raises(MLError, match="returned Table, expected a BodyOperator"):
        iterate_bounded([COUNTER], ReplayableData([]), OperatorFactory(lambda: COUNTER))  # type: ignore[arg-type, return-value]
    with pytest.raises(MLError, match=r"listeners\[0\] is str, expected an IterationListener"):
        iterate_bounded([COUNTER], ReplayableData([]), body, listeners=["log"])  # type: ignore[list-item]
    with pytest.raises(MLError, match="data_stream must be an iterable of Tables"):
        iterate_unbounded([COUNTER], COUNTER, body)  # type: ignore[arg-type]
    with pytest.raises(MLError, match=r"mini-batch 1\[0\] is int, expected a Table"):
        list(iterate_unbounded([COUNTER], [COUNTER, [3]], counting_body(5)))  # type: ignore[list-item]
    flink = Table({"n": [0]}, engine="flink")
    with pytest.raises(MLError, match="mini-batch 0 is on engine 'local', the model on 'flink'"):
        list(iterate_unbounded([flink], [COUNTER], body))
    with pytest.raises(MLError, match="tables of different engines"):
        iterate_bounded([flink], ReplayableData([COUNTER]), body)


def test_listener_collecting_a_non_table() -> None:
    class Bad(IterationListener):
        def on_epoch_watermark_incremented(
            self, epoch: int, ctx: IterationContext, collect: Collect
        ) -> None:
            collect({"epoch": epoch})  # type: ignore[arg-type]

    with pytest.raises(MLError, match=r"listeners\[0\] collected dict, expected a Table"):
        iterate_bounded([COUNTER], ReplayableData([]), counting_body(1), listeners=[Bad()])


# -- docs -----------------------------------------------------------------------------------------


def test_docs_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    text = DOCS.read_text()
    section = text[text.index("## Iteration engine") :]
    section = section[: section.find("\n## ", 1)] if "\n## " in section[1:] else section
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(compile(block, str(DOCS), "exec"), namespace)
    printed = capsys.readouterr().out
    assert "snapshots at epochs [0, 10" in printed
    assert "[ 2.  -1.   0.5]" in printed  # the online model found the true weights
