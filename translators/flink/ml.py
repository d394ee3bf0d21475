"""Flink-engine transform and predict: the user's unchanged ``Transformer`` / ``Predictor``
as vectorized (pandas) Python functions, registered under the node's id so Flink's plan and
UI show ``add_ratios(...)``, not a generated name.

Flink needs each output's column types before the job runs. They come from the user component's
declared ``output_schema`` or, when it declares none, from running the node in the driver on
a sample of its input (the first rows of the source's batch view): the same user code on the
same records, so the types are the ones the job will produce. A node with neither is
reported by name with the fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiflow.dsl.sql import is_sql
from aiflow.errors import InvalidPlan, UserCodeError
from aiflow.plan.model import NodeKind
from aiflow.translators.engine import register_operator
from aiflow.translators.flink.engine import (
    ENGINE,
    FlinkOperator,
    aiflow_type,
    columns_of_frame,
    quote,
    row_type,
    row_udf_query,
)

if TYPE_CHECKING:
    import pandas as pd

    from aiflow.translators.flink.udfs import UserFunction


class UserNode(FlinkOperator):
    """A transform or predict. Besides its own table, it leaves what it built for a writer
    that chains it into its own function (``built``: its function and that function's source)."""

    method = ""
    built: tuple[UserFunction, str] | None = None

    def build(self, inputs: list[str]) -> None:
        from pyflink.table.udf import udf

        node, job = self.node.id, self.job
        source = inputs[0]
        in_columns = job.columns[source]
        out_columns = self.out_columns()
        function = self.function(list(in_columns), out_columns)
        self.built = (function, source)
        job.t_env.create_temporary_function(
            quote(node),
            udf(function, result_type=row_type(out_columns, node), func_type="pandas"),
        )
        table = job.t_env.sql_query(row_udf_query(node, in_columns, out_columns, source))
        job.output(node, table, out_columns)

    def out_columns(self) -> dict[str, str]:
        if self.node.output_columns:
            return dict(self.node.output_columns)
        sample = self.job.sample(self.node.id)
        if sample is None:
            raise InvalidPlan(
                f"the flink engine needs the types of this node's output: declare "
                f"output_schema on {self._class_name()}, or give its source example a batch "
                "view with data to infer them from",
                self.node.id,
            )
        return columns_of_frame(sample, self.node.id)

    def _class_name(self) -> str:
        return self.node.component.qualname if self.node.component else self.node.id

    def user(self) -> Any:
        assert self.node.component is not None
        return self.ctx.code.instantiate(self.node.component, self.node.id)

    def sample(self) -> pd.DataFrame | None:
        frame = self.input_sample()
        if frame is None or frame.empty:
            return None
        try:
            return self.run_on(frame)
        except Exception as exc:
            raise UserCodeError(
                f"{self.method} failed on a sample of its input: {type(exc).__name__}: {exc}",
                self.node.id,
            ) from exc

    def run_on(self, frame: pd.DataFrame) -> pd.DataFrame:
        raise NotImplementedError

    def function(self, in_columns: list[str], out_columns: dict[str, str]) -> UserFunction:
        raise NotImplementedError


@register_operator(NodeKind.TRANSFORM, ENGINE)
class Transform(UserNode):
    method = "transform()"

    def build(self, inputs: list[str]) -> None:
        ref = self.node.component
        if ref is not None and is_sql(ref.module, ref.qualname):
            self._build_sql(inputs[0], str(ref.params["query"]))
        else:
            super().build(inputs)

    def _build_sql(self, source: str, query: str) -> None:
        """``af.sql_transform`` as Flink SQL: the input is ``input`` while the query is
        planned (the resulting table keeps its own plan), then the name is free again."""
        from aiflow.dsl.sql import INPUT_TABLE

        node, t_env = self.node.id, self.job.t_env
        t_env.create_temporary_view(INPUT_TABLE, self.job.tables[source])
        try:
            table = t_env.sql_query(query)
        finally:
            t_env.drop_temporary_view(INPUT_TABLE)
        # the query's own WHERE must hold for what follows too (see FlinkJob.rows_where)
        t_env.create_temporary_view(quote(f"{node}__query"), table)
        schema = table.get_schema()
        columns = {}
        for name, data_type in zip(
            schema.get_field_names(), schema.get_field_data_types(), strict=True
        ):
            columns[name] = aiflow_type(str(data_type), name, node)
        declared = self.node.output_columns
        if declared and list(declared) != list(columns):
            raise InvalidPlan(
                f"the query's columns {list(columns)} differ from the declared output_schema "
                f"{list(declared)}",
                node,
            )
        self.job.output(node, self.job.rows_where(f"{node}__query", columns), columns)

    def run_on(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = self.user().transform(frame)
        assert out is not None
        return out

    def function(self, in_columns: list[str], out_columns: dict[str, str]) -> UserFunction:
        from aiflow.translators.flink.udfs import TransformFunction

        assert self.node.component is not None
        return TransformFunction(
            self.node.id,
            in_columns,
            out_columns,
            self.node.component.model_dump(mode="json"),
            self.job.code,
        )


@register_operator(NodeKind.PREDICT, ENGINE)
class Predict(UserNode):
    """A batch run predicts with the version its train node registered, pinned when the job
    is built; a stream run follows the serving version (see ``PredictFunction``)."""

    properties = frozenset({"model_refresh"})
    method = "predict()"

    def build(self, inputs: list[str]) -> None:
        if self.ctx.mode == "stream":
            self._wait_for_first_version()
        super().build(inputs)

    def _wait_for_first_version(self) -> None:
        """Stream jobs start together; serving waits for training's first version (as on
        the local engine), which also means there is data to infer output types from."""
        from aiflow.translators.flink.engine import Stopped

        while self.ctx.model_version_for(self.node) is None:
            if self.ctx.stop.wait(self.ctx.settings.stream.poll_interval):
                raise Stopped

    def run_on(self, frame: pd.DataFrame) -> pd.DataFrame:
        from aiflow.store.artifacts import load_model

        version = self.ctx.model_version_for(self.node)
        if version is None:
            raise InvalidPlan("no model version to infer predict()'s output from", self.node.id)
        model = load_model(version.artifact_uri, checksum=version.checksum)
        out = self.user().predict(frame, model).copy()
        out["model_version"] = version.version
        return out

    def function(self, in_columns: list[str], out_columns: dict[str, str]) -> UserFunction:
        from aiflow.translators.flink.udfs import PredictFunction

        assert self.node.component is not None and self.node.model is not None
        pinned = None
        if self.ctx.mode == "batch":
            version = self.ctx.model_version_for(self.node)
            assert version is not None  # batch raises NotFound instead
            pinned = (version.id, version.version, version.artifact_uri, version.checksum)
        refresh = float(
            self.node.props(self.ctx.mode).get(
                "model_refresh", self.ctx.settings.stream.poll_interval
            )
        )
        return PredictFunction(
            self.node.id,
            in_columns,
            out_columns,
            self.node.component.model_dump(mode="json"),
            self.job.code,
            model=self.node.model,
            pinned=pinned,
            store=self.ctx.serving_lookup(),
            refresh=refresh,
        )
