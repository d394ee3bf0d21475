"""``af.sql_transform``: feature engineering written once in SQL, run by each engine's own SQL.

The local engine runs the query with DuckDB over each (micro-)batch; the flink engine runs it as
Flink SQL over the input table. The query reads its input as ``input``. Both engines agree on
the subset both speak with one meaning: projections, arithmetic, ``CASE``, ``CAST``, ``WHERE``
and the common scalar functions. Aggregations differ by nature between a batch and an
unbounded stream, so keep them out of a workflow meant for both modes.

Here it is an ordinary transform node whose component is ``SqlTransformer``: everything that
handles transforms (plans, snapshots, retries, the local engine) handles it unchanged; only the
flink engine recognises it, to plan real SQL instead of a Python function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Unpack

from aiflow.dsl.components import Transformer
from aiflow.errors import InvalidPlan
from aiflow.plan.model import Node, NodeKind
from aiflow.plan.schema import normalize_columns

if TYPE_CHECKING:
    import pandas as pd

    from aiflow.dsl.nodes import NodeOptions
    from aiflow.dsl.workflow import DataRef

INPUT_TABLE = "input"


class SqlTransformer(Transformer):
    """Runs ``query`` over a batch registered as the table ``input`` (DuckDB)."""

    def __init__(self, query: str) -> None:
        if not isinstance(query, str) or not query.strip():
            raise ValueError("sql_transform needs a non-empty SQL query")
        self.query = query

    def transform(self, batch: pd.DataFrame) -> pd.DataFrame:
        import duckdb

        connection = duckdb.connect()
        try:
            connection.register(INPUT_TABLE, batch)
            return connection.execute(self.query).df()
        finally:
            connection.close()


def is_sql(module: str, qualname: str) -> bool:
    return module == __name__ and qualname == SqlTransformer.__qualname__


def sql_transform(
    data: DataRef,
    query: str,
    output_schema: dict[str, str] | None = None,
    **opts: Unpack[NodeOptions],
) -> DataRef:
    """``SELECT ... FROM input``: a transform in SQL (DuckDB locally, Flink SQL on flink)."""
    from aiflow.dsl import nodes as n
    from aiflow.dsl import workflow as w

    wf = w._wf("sql_transform")
    common = n._new_node(wf, NodeKind.TRANSFORM, "sql", opts)
    node_id = common["id"]
    try:
        transformer = SqlTransformer(query)
    except ValueError as exc:
        raise InvalidPlan(str(exc), node_id) from None
    ref = n._component_ref(transformer, node_id, Transformer)
    n._own_data(wf, data, node_id)
    out = normalize_columns(output_schema) if output_schema else None
    wf._add(Node(**common, component=ref, output_columns=out), [(data, "data")])
    return w.DataRef(wf, node_id, out)
