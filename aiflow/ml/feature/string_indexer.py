"""StringIndexer: the values of string (or number) columns to category indices 0, 1, 2, ...

Each of ``input_cols`` gets its own labels, ordered by ``string_order_type`` (Flink ML's
choices): ``arbitrary`` (the default, as Flink ML; here: order of first appearance, so it is
reproducible), ``frequencyDesc`` / ``frequencyAsc`` (ties broken alphabetically, as Spark --
Flink ML leaves them in hash order), ``alphabetDesc`` / ``alphabetAsc``. Numbers are indexed by
their text (``1`` and ``1.0`` are different labels, as in Flink ML), so index a column of one
type.

A value not seen when fitting, or a missing one (``None``, NaN), follows ``handle_invalid``:
``error`` raises, ``skip`` drops the row, ``keep`` gives it the index ``len(labels)`` (one
bucket after the last label). Missing values are never labels: fitting with ``error`` refuses
them, ``skip`` and ``keep`` ignore them. Outputs are ``bigint`` columns (Flink ML: int).

Model data: one table, one row per label: ``column_index`` (the column's position in
``input_cols``), ``index`` (bigint) and ``value`` (string) -- Flink ML's ``stringArrays``, one
row per string, which keeps Parquet readable by any tool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

import numpy as np

from aiflow.ml.api import Estimator, Model
from aiflow.ml.common_params import HasHandleInvalid, HasInputCols, HasOutputCols
from aiflow.ml.feature._common import one_table, output_table, paired_cols, raise_invalid
from aiflow.ml.param import ParamValidators, StringParam
from aiflow.ml.table import Table

if TYPE_CHECKING:
    import pandas as pd

ORDER_TYPES = ("arbitrary", "frequencyDesc", "frequencyAsc", "alphabetDesc", "alphabetAsc")


class StringIndexerModelParams(HasInputCols, HasOutputCols, HasHandleInvalid):
    pass


class StringIndexerParams(StringIndexerModelParams):
    STRING_ORDER_TYPE = StringParam(
        "string_order_type",
        "How to order the labels of each column (the first gets index 0).",
        "arbitrary",
        ParamValidators.in_array(ORDER_TYPES),
    )

    def get_string_order_type(self) -> str:
        return self.get(self.STRING_ORDER_TYPE)

    def set_string_order_type(self, value: str) -> Self:
        return self.set(self.STRING_ORDER_TYPE, value)


def _as_text(table: Table, name: str, stage: Estimator | Model) -> tuple[np.ndarray, np.ndarray]:
    """The column as an object array of strings, and the mask of its missing values."""
    import pandas as pd

    values = table.column(name, stage=stage.stage_name)
    if values.ndim == 2:
        raise stage.error(f"column '{name}' is a vector column, expected strings or numbers")
    missing = np.asarray(pd.isna(values), dtype=bool)
    if values.dtype.kind in "OUS":
        text = np.where(missing, "", values).astype(str).astype(object)
    else:  # numbers and booleans: indexed by their text, as Flink ML does
        text = values.astype(str).astype(object)
    return text, missing


class StringIndexer(Estimator, StringIndexerParams):
    """Learns the labels of each of ``input_cols`` and their order."""

    def fit(self, *tables: Table) -> StringIndexerModel:
        import pandas as pd

        self.check_inputs(tables)
        inputs, _ = paired_cols(self, self.INPUT_COLS, self.OUTPUT_COLS)
        order = self.get_string_order_type()
        positions, indices, labels_out = [], [], []
        for position, name in enumerate(inputs):
            text, missing = _as_text(tables[0], name, self)
            if self.get_handle_invalid() == "error":
                raise_invalid(self, name, missing, "missing values (None or NaN)")
            codes, uniques = pd.factorize(text[~missing])
            if len(uniques) == 0:
                raise self.error(f"column '{name}' has no value to index (all missing)")
            counts = np.bincount(codes, minlength=len(uniques))
            labels = _ordered(np.asarray(uniques, dtype=object), counts, order)
            positions.append(np.full(len(labels), position, dtype=np.int64))
            indices.append(np.arange(len(labels), dtype=np.int64))
            labels_out.append(labels)
        data = Table(
            {
                "column_index": np.concatenate(positions),
                "index": np.concatenate(indices),
                "value": np.concatenate(labels_out).astype(object),
            }
        )
        return StringIndexerModel().copy_params_from(self).set_model_data(data)


def _ordered(labels: np.ndarray, counts: np.ndarray, order: str) -> np.ndarray:
    """``labels`` (in order of first appearance) sorted as ``order`` says."""
    if order == "arbitrary":
        return labels
    alphabetical = np.argsort(labels.astype(str), kind="stable")
    if order == "alphabetAsc":
        return labels[alphabetical]
    if order == "alphabetDesc":
        return labels[alphabetical[::-1]]
    # frequency: sort by count (stable), over the alphabetical order, so ties stay alphabetical
    by_count = counts[alphabetical]
    key = -by_count if order == "frequencyDesc" else by_count
    return labels[alphabetical[np.argsort(key, kind="stable")]]


class StringIndexerModel(Model, StringIndexerModelParams):
    """Writes the index of each value of ``input_cols`` to the matching ``output_cols``."""

    labels: list[pd.Index]  # per input column, in column_index order

    def set_model_data(self, *tables: Table) -> Self:
        import pandas as pd

        super().set_model_data(*tables)
        data = one_table(self, tables, "column_index, index, value")
        position = data.column("column_index", stage=self.stage_name).astype(np.int64)
        index = data.column("index", stage=self.stage_name).astype(np.int64)
        value = data.column("value", stage=self.stage_name)
        columns = int(position.max()) + 1 if len(position) else 0
        self.labels = []
        for i in range(columns):
            mine = position == i
            order = np.argsort(index[mine])
            if not np.array_equal(index[mine][order], np.arange(mine.sum())):
                raise self.error(f"model data: the indices of column_index {i} are not 0..n-1")
            self.labels.append(pd.Index(value[mine][order].astype(str), dtype=object))
        return self

    @property
    def label_arrays(self) -> list[list[str]]:
        """The labels of each input column, in index order (Flink ML's ``stringArrays``)."""
        return [list(labels) for labels in self.labels]

    def transform(self, *tables: Table) -> list[Table]:
        self.get_model_data()  # the error when no model data were set
        self.check_inputs(tables, allow_empty=True)
        inputs, outputs = paired_cols(self, self.INPUT_COLS, self.OUTPUT_COLS)
        if len(inputs) != len(self.labels):
            raise self.error(
                f"input_cols has {len(inputs)} column(s) but the model holds labels for "
                f"{len(self.labels)}"
            )
        table, mode = tables[0], self.get_handle_invalid()
        columns: dict[str, np.ndarray] = {}
        any_invalid = np.zeros(table.num_rows, dtype=bool)
        for name, out_name, labels in zip(inputs, outputs, self.labels, strict=True):
            text, missing = _as_text(table, name, self)
            index = labels.get_indexer(text).astype(np.int64)
            bad = missing | (index < 0)
            if mode == "error":
                raise_invalid(self, name, bad, "values not seen when fitting (or missing)")
            any_invalid |= bad
            columns[out_name] = np.where(bad, len(labels), index)
        return [output_table(table, columns, any_invalid, mode)]
