"""Tables: what ``aiflow.ml`` stages consume and produce.

A ``Table`` is immutable and columnar: each column is one numpy array -- 1-D for a scalar
column, **2-D (rows x dims, float64) for a vector column** -- so stages compute on whole columns
(a matrix product over a vector column, never a Python loop over records). ``to_pandas`` shows a
vector column as pandas users expect it, one 1-D array per row, and ``from_pandas`` accepts that
form back (or lists); sizes must agree within a column, else the error names the column.

``engine`` says where stages run: ``"local"`` (numpy, in this process) or ``"flink"`` (the same
stages on PyFlink; the table then still holds its rows here, and a stage's Flink implementation
ships them to the job). Tables of one engine go into one stage call; mixing raises.

Not here: what stages do with tables (``api``), mini-batches over a stream (``iteration``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from aiflow.errors import MLError

if TYPE_CHECKING:
    import pandas as pd

ENGINES: Final = ("local", "flink")
VECTOR: Final = "vector"  # the schema type of a vector column


class Table:
    """An immutable table of named numpy columns (see the module docstring)."""

    __slots__ = ("_columns", "_rows", "engine")

    def __init__(self, columns: Mapping[str, Any], *, engine: str = "local") -> None:
        if engine not in ENGINES:
            raise MLError(f"unknown engine '{engine}' for a table (known: {', '.join(ENGINES)})")
        arrays = {str(name): _array(str(name), values) for name, values in columns.items()}
        lengths = {name: len(a) for name, a in arrays.items()}
        if len(set(lengths.values())) > 1:
            raise MLError(f"columns have different lengths: {lengths}")
        self._columns = arrays
        self._rows = next(iter(lengths.values()), 0)
        self.engine = engine

    # -- conversions --------------------------------------------------------------------------

    @classmethod
    def from_pandas(cls, frame: pd.DataFrame, *, engine: str = "local") -> Table:
        """A table of ``frame``'s columns; a column of 1-D arrays or lists is a vector column."""
        return cls({name: frame[name].to_numpy() for name in frame.columns}, engine=engine)

    def to_pandas(self) -> pd.DataFrame:
        """The rows as a DataFrame; a vector column holds one 1-D float array per row."""
        import pandas as pd

        data: dict[str, Any] = {}
        for name, values in self._columns.items():
            if values.ndim == 2:
                column = np.empty(len(values), dtype=object)
                column[:] = list(values)
                data[name] = column
            else:
                data[name] = values
        return pd.DataFrame(data, index=pd.RangeIndex(self._rows))

    # -- reading --------------------------------------------------------------------------------

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    @property
    def num_rows(self) -> int:
        return self._rows

    def __len__(self) -> int:
        return self._rows

    @property
    def schema(self) -> dict[str, str]:
        """Column name -> ``double``, ``bigint``, ``boolean``, ``string`` or ``vector``."""
        return {name: _type_of(values) for name, values in self._columns.items()}

    def column(self, name: str, *, stage: str | None = None) -> np.ndarray:
        """The column's array (read-only); a missing column is an error naming it, the table's
        columns and, when given, the stage that asked."""
        try:
            return self._columns[name]
        except KeyError:
            who = f"{stage}: " if stage else ""
            raise MLError(
                f"{who}column '{name}' is not in the table (columns: {', '.join(self.columns)})"
            ) from None

    def vector(self, name: str, *, stage: str | None = None) -> np.ndarray:
        """The column as a 2-D float64 matrix: a vector column as is, a numeric column as one
        dimension. Anything else is an error naming the column."""
        values = self.column(name, stage=stage)
        if values.ndim == 2:
            return values
        if values.dtype.kind in "biuf":
            return values.astype(np.float64, copy=False).reshape(-1, 1)
        who = f"{stage}: " if stage else ""
        raise MLError(f"{who}column '{name}' is {_type_of(values)}, expected a vector or number")

    def __contains__(self, name: object) -> bool:
        return name in self._columns

    def __repr__(self) -> str:
        kinds = ", ".join(f"{n}: {t}" for n, t in self.schema.items())
        return f"Table({self._rows} rows; {kinds}; engine={self.engine})"

    # -- new tables -------------------------------------------------------------------------------

    def with_columns(self, columns: Mapping[str, Any]) -> Table:
        """This table with columns added or replaced (same number of rows)."""
        return Table({**self._columns, **columns}, engine=self.engine)

    def on(self, engine: str) -> Table:
        """The same columns on ``engine`` (no copy; ``self`` when it is there already)."""
        return self if engine == self.engine else Table(self._columns, engine=engine)

    def select(self, names: Sequence[str], *, stage: str | None = None) -> Table:
        return Table({n: self.column(n, stage=stage) for n in names}, engine=self.engine)

    def drop(self, names: Sequence[str]) -> Table:
        gone = set(names)
        return Table({n: a for n, a in self._columns.items() if n not in gone}, engine=self.engine)

    def take(self, rows: np.ndarray | Sequence[int] | slice) -> Table:
        """The rows at ``rows`` (indices, a boolean mask or a slice), in that order."""
        return Table({n: a[rows] for n, a in self._columns.items()}, engine=self.engine)

    def batches(self, size: int) -> Iterator[Table]:
        """Consecutive slices of ``size`` rows (the last may be shorter)."""
        if size < 1:
            raise MLError(f"batch size must be at least 1, got {size}")
        for start in range(0, self._rows, size):
            yield self.take(slice(start, start + size))

    @staticmethod
    def concat(tables: Sequence[Table]) -> Table:
        """The rows of ``tables`` one after the other; they must have the same columns."""
        if not tables:
            raise MLError("cannot concatenate no tables")
        first = tables[0]
        for other in tables[1:]:
            if other.columns != first.columns:
                raise MLError(f"cannot concatenate tables {first.columns} and {other.columns}")
        columns = {n: np.concatenate([t._columns[n] for t in tables]) for n in first.columns}
        return Table(columns, engine=first.engine)


def same_engine(tables: Sequence[Table], stage: str) -> str:
    """The engine all ``tables`` share (a stage runs on one); an error naming ``stage`` if not."""
    engines = {t.engine for t in tables}
    if len(engines) > 1:
        raise MLError(f"{stage}: tables of different engines {sorted(engines)} in one call")
    return engines.pop() if engines else "local"


def _array(name: str, values: Any) -> np.ndarray:
    """``values`` as a read-only column array; rows that are arrays or lists make a 2-D one."""
    array = values if isinstance(values, np.ndarray) else np.asarray(values)
    if array.ndim == 1 and array.dtype == object and len(array) and _is_vector(array[0]):
        try:
            array = np.stack([np.asarray(v, dtype=np.float64) for v in array])
        except ValueError:
            sizes = sorted({len(v) for v in array})
            raise MLError(f"column '{name}': vectors of different sizes {sizes}") from None
    elif array.ndim == 2:
        array = array.astype(np.float64, copy=False)
    elif array.ndim != 1:
        raise MLError(f"column '{name}': expected one value or one vector per row")
    view = array.view()  # read-only through the table, without copying the caller's data
    view.flags.writeable = False
    return view


def _is_vector(value: Any) -> bool:
    return isinstance(value, np.ndarray | list | tuple)


def _type_of(values: np.ndarray) -> str:
    if values.ndim == 2:
        return VECTOR
    kind = values.dtype.kind
    return {"f": "double", "i": "bigint", "u": "bigint", "b": "boolean"}.get(kind, "string")
