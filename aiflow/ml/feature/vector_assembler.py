"""VectorAssembler: number and vector columns side by side in one vector column.

``input_sizes`` (optional, Flink ML's param) states each input's size (1 for a number column);
a column of another size follows ``handle_invalid`` as in Flink ML: ``error`` raises naming it,
``skip`` drops its rows -- all of them, since a column has one size -- and ``keep`` assembles it
as it is. Without ``input_sizes`` the sizes are read from the columns.

A row with NaN in any input is invalid too (Flink ML and Spark): ``error`` raises naming the
column, ``skip`` drops the row, ``keep`` keeps the NaN in the output. (Flink ML's other invalid
input, a null value, does not exist here: a number column holds NaN for it.)
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np

from aiflow.ml.api import Transformer
from aiflow.ml.common_params import HasHandleInvalid, HasInputCols, HasOutputCol
from aiflow.ml.feature._common import output_table, raise_invalid, required, vector_column
from aiflow.ml.param import IntArrayParam, ParamValidator
from aiflow.ml.table import Table


def _sizes_validator() -> ParamValidator:
    def check(value: Any) -> bool:
        return value is None or (len(value) > 0 and all(size > 0 for size in value))

    return ParamValidator("be None or a non-empty list of sizes > 0", check)


class VectorAssembler(Transformer, HasInputCols, HasOutputCol, HasHandleInvalid):
    """Writes the concatenation of ``input_cols`` to ``output_col``."""

    INPUT_SIZES = IntArrayParam(
        "input_sizes",
        "The size of each input column (1 for a number); None: read from the columns.",
        None,
        _sizes_validator(),
    )

    def get_input_sizes(self) -> list[int] | None:
        return self.get(self.INPUT_SIZES)

    def set_input_sizes(self, value: list[int] | None) -> Self:
        return self.set(self.INPUT_SIZES, value)

    def transform(self, *tables: Table) -> list[Table]:
        self.check_inputs(tables, allow_empty=True)
        table, mode = tables[0], self.get_handle_invalid()
        inputs: list[str] = required(self, self.INPUT_COLS)
        sizes = self.get_input_sizes()
        if sizes is not None and len(sizes) != len(inputs):
            raise self.error(
                f"input_sizes has {len(sizes)} size(s) but input_cols has {len(inputs)} "
                f"column(s) ({', '.join(inputs)})"
            )
        parts = []
        invalid = np.zeros(table.num_rows, dtype=bool)
        for i, name in enumerate(inputs):
            values = vector_column(table, name, self)
            if sizes is not None and table.num_rows and values.shape[1] != sizes[i]:
                if mode == "error":
                    raise self.error(
                        f"column '{name}' has size {values.shape[1]} but input_sizes says "
                        f"{sizes[i]} (handle_invalid='keep' assembles it as it is)"
                    )
                if mode == "skip":
                    invalid[:] = True
            nan = np.isnan(values).any(axis=1)
            if mode == "error":
                raise_invalid(self, name, nan, "NaN")
            invalid |= nan
            parts.append(values)
        assembled = np.hstack(parts) if parts else np.empty((table.num_rows, 0))
        return [output_table(table, {self.get_output_col(): assembled}, invalid, mode)]
