"""Bucketizer: number columns to bucket indices, by fixed split points per column.

``splits_array[i]`` holds the strictly increasing split points of ``input_cols[i]`` (at least
three, as Flink ML requires; use ``-inf`` / ``inf`` to leave an end open): bucket ``j`` holds
``[s[j], s[j+1])``, the last one also its right end. As ``np.digitize(x, s) - 1``, except that
``x == s[-1]`` falls in the last bucket.

A value outside ``[s[0], s[-1]]``, or NaN, follows ``handle_invalid`` (Flink ML's rule):
``error`` raises naming the column, ``skip`` drops the row, ``keep`` puts it in an extra bucket
after the last (index ``len(s) - 1``). Outputs are ``bigint`` columns (Flink ML: int).
"""

from __future__ import annotations

from typing import Self

import numpy as np

from aiflow.ml.api import Transformer
from aiflow.ml.common_params import HasHandleInvalid, HasInputCols, HasOutputCols
from aiflow.ml.feature._common import (
    FloatArrayArrayParam,
    number_column,
    output_table,
    paired_cols,
    raise_invalid,
    required,
    splits_validator,
)
from aiflow.ml.table import Table


class Bucketizer(Transformer, HasInputCols, HasOutputCols, HasHandleInvalid):
    """Writes the bucket index of each of ``input_cols`` to the matching ``output_cols``."""

    SPLITS_ARRAY = FloatArrayArrayParam(
        "splits_array",
        "The split points of each input column, strictly increasing, at least three each.",
        None,
        splits_validator(),
    )

    def get_splits_array(self) -> list[list[float]]:
        return self.get(self.SPLITS_ARRAY)

    def set_splits_array(self, value: list[list[float]]) -> Self:
        return self.set(self.SPLITS_ARRAY, value)

    def transform(self, *tables: Table) -> list[Table]:
        self.check_inputs(tables, allow_empty=True)
        inputs, outputs = paired_cols(self, self.INPUT_COLS, self.OUTPUT_COLS)
        splits_array: list[list[float]] = required(self, self.SPLITS_ARRAY)
        if len(splits_array) != len(inputs):
            raise self.error(
                f"splits_array has {len(splits_array)} split list(s) but input_cols has "
                f"{len(inputs)} column(s) ({', '.join(inputs)})"
            )
        table, mode = tables[0], self.get_handle_invalid()
        columns: dict[str, np.ndarray] = {}
        any_invalid = np.zeros(table.num_rows, dtype=bool)
        for name, out_name, split_list in zip(inputs, outputs, splits_array, strict=True):
            splits = np.asarray(split_list, dtype=np.float64)
            values = number_column(table, name, self)
            buckets = len(splits) - 1
            with np.errstate(invalid="ignore"):
                bad = np.isnan(values) | (values < splits[0]) | (values > splits[-1])
            if mode == "error":
                raise_invalid(self, name, bad, f"NaN or values outside [{splits[0]}, {splits[-1]}]")
            any_invalid |= bad
            index = np.searchsorted(splits, values, side="right") - 1
            index = np.minimum(index, buckets - 1)  # the right end belongs to the last bucket
            columns[out_name] = np.where(bad, buckets, index).astype(np.int64)
        return [output_table(table, columns, any_invalid, mode)]
