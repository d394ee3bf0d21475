"""What an instance of a request must hold (``Schema``), and the instances as one typed frame.

Each instance becomes one row of a pandas DataFrame typed exactly as a batch or stream job types
the same record read from a file (``translators/io.py``'s ``apply_schema``: ``double`` is
float64, ``int`` int64 or nullable Int64...), so the transform chain and the predictor see the
same frame online as offline. Checks run in plain Python before pandas is touched, so a bad
instance is refused (``Rejected``, 422) with its index and the name of the field at fault,
never with an error from deep inside pandas or the model. What an instance must hold:

* with ``--workflow``: the fields of the example the predict node reads (its declared schema),
  nulls allowed as in a file; fields the predictor excludes (its ``exclude``, default
  ``label``) may be left out;
* else the columns the model was fitted on (scikit-learn's ``feature_names_in_``), as numbers;
  instances may then also be lists of values in that order (TF Serving's row lists);
* a model fitted on unnamed columns (``n_features_in_`` only): lists of that many numbers;
* nothing known: objects of scalars, every instance with the first one's fields.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from aiflow.serving.protocol import Rejected, shown

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

NUMBER: Final = "number"  # a feature column of a model: any JSON number, no null
ANY: Final = "any"  # a field of a schema nobody declared: any JSON scalar
_FLOAT64: Final = frozenset({"double", NUMBER})
_INT64: Final = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class Schema:
    """The fields an instance must have and their types, in column order.

    ``types`` are aiflow's column types (``double``, ``int``, ``string``... as in an Example's
    schema), ``number`` or ``any``. ``optional`` fields may be absent (a null column then);
    ``nullable``: an explicit ``null`` is a value. ``keyed``: instances may be objects;
    ``positional``: they may be lists, in column order.
    """

    columns: tuple[Any, ...]  # str, or int for a model fitted on unnamed columns
    types: tuple[str, ...]
    source: str  # what the schema is, for messages: "example 'wine'", "the model's features"
    optional: frozenset[str] = frozenset()
    nullable: bool = False
    keyed: bool = True
    positional: bool = False
    _checks: tuple[Callable[[Any], Any], ...] = field(init=False, repr=False, compare=False)
    # The column index, built once: all-float64 frames are then made as one 2-D block, about
    # three times faster than column by column (it matters at a millisecond per request).
    _index: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        import pandas as pd

        object.__setattr__(self, "_checks", tuple(_CHECKS[t] for t in self.types))
        float64 = all(t in _FLOAT64 for t in self.types)
        object.__setattr__(self, "_index", pd.Index(self.columns) if float64 else None)

    @classmethod
    def of_example(cls, name: str, columns: dict[str, str], optional: Sequence[str] = ()) -> Schema:
        """What a record of example ``name`` holds: nulls allowed, as in a file."""
        return cls(
            columns=tuple(columns),
            types=tuple(columns.values()),
            source=f"example '{name}'",
            optional=frozenset(optional) & frozenset(columns),
            nullable=True,
        )

    @classmethod
    def of_model(cls, model: Any) -> Schema | None:
        """The columns ``model`` was fitted on, as numbers; ``None`` when it does not say."""
        names = getattr(model, "feature_names_in_", None)
        if names is not None:
            columns = tuple(str(n) for n in names)
            return cls(columns, (NUMBER,) * len(columns), "the model's features", positional=True)
        count = getattr(model, "n_features_in_", None)
        if isinstance(count, int) and count > 0:
            source = f"the model's {count} unnamed features"
            types = (NUMBER,) * count
            return cls(tuple(range(count)), types, source, keyed=False, positional=True)
        return None

    @property
    def float_block(self) -> bool:
        """Whether every field is a float64 column: instances then make one 2-D float block
        (``to_block``), the array the numpy fast path hands a model."""
        return self._index is not None

    def describe(self) -> dict[str, str]:
        """Field -> type, for the status endpoint."""
        return {str(c): t for c, t in zip(self.columns, self.types, strict=True)}


def to_frame(instances: list[Any], schema: Schema | None) -> pd.DataFrame:
    """The instances as one typed frame, row ``i`` being instance ``i``; ``Rejected`` 422
    naming the first instance and field that do not fit ``schema`` (``None``: open)."""
    if schema is None:
        return _open_frame(instances)
    return _typed_frame(schema, _values(instances, schema))


def to_block(instances: list[Any], schema: Schema) -> np.ndarray:
    """The instances of a ``float_block`` schema as one float64 array of shape (fields,
    instances), checked as ``to_frame`` checks them; ``block_frame`` makes it the same frame."""
    import numpy as np

    return np.array(_values(instances, schema), dtype=np.float64)  # None -> NaN


def block_frame(schema: Schema, block: np.ndarray) -> pd.DataFrame:
    """The frame ``to_frame`` makes of the instances ``block`` holds (no copy: the frame's one
    float block is ``block``, so ``np.asarray(frame)`` is ``block.T``)."""
    import pandas as pd

    return pd.DataFrame(block.T, columns=schema._index, copy=False)


def _values(instances: list[Any], schema: Schema) -> list[list[Any]]:
    """The checked values, column by column."""
    values: list[list[Any]] = [[] for _ in schema.columns]
    width = len(schema.columns)
    for i, instance in enumerate(instances):
        if type(instance) is dict and schema.keyed:
            for j, column in enumerate(schema.columns):
                value = instance.get(column, _ABSENT)
                if value is _ABSENT:
                    if column not in schema.optional:
                        raise _missing(i, column, schema)
                    value = None
                values[j].append(_checked(schema, i, j, value))
        elif type(instance) is list and schema.positional:
            if len(instance) != width:
                raise Rejected(
                    422,
                    f"instance {i} has {len(instance)} values; {schema.source} are {width}: "
                    f"{', '.join(map(str, schema.columns))}",
                    instance=i,
                )
            for j, value in enumerate(instance):
                values[j].append(_checked(schema, i, j, value))
        else:
            raise Rejected(422, _shape_error(i, instance, schema), instance=i)
    return values


_ABSENT: Final = object()


def _checked(schema: Schema, i: int, j: int, value: Any) -> Any:
    if value is None:
        if schema.nullable:
            return None
        raise _bad(i, schema.columns[j], "is null", schema.types[j])
    try:
        return schema._checks[j](value)
    except (TypeError, ValueError):
        raise _bad(i, schema.columns[j], f"is {shown(value)}", schema.types[j]) from None


def _number(value: Any) -> Any:
    kind = type(value)
    if kind is float or kind is int:
        return value
    raise TypeError


def _integer(value: Any) -> int:
    kind = type(value)
    if kind is float and value.is_integer():
        value = int(value)
    elif kind is not int:
        raise TypeError
    if not _INT64[0] <= value <= _INT64[1]:
        raise ValueError
    return int(value)


def _of(kind: type) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if type(value) is not kind:
            raise TypeError
        return value

    return check


def _scalar(value: Any) -> Any:
    if type(value) in (str, int, float, bool):
        return value
    raise TypeError


_CHECKS: Final[dict[str, Callable[[Any], Any]]] = {
    "double": _number,
    "float": _number,
    NUMBER: _number,
    "int": _integer,
    "bigint": _integer,
    "bool": _of(bool),
    "string": _of(str),
    "timestamp": _of(str),  # parsed with the whole column below
    ANY: _scalar,
}
_EXPECTED: Final = {
    NUMBER: "a number",
    "double": "a number (double)",
    "float": "a number (float)",
    "int": "an integer (int)",
    "bigint": "an integer (bigint)",
    "bool": "true or false (bool)",
    "string": "a string",
    "timestamp": "a timestamp string (ISO 8601)",
    ANY: "a string, number or boolean",
}


def _typed_frame(schema: Schema, values: list[list[Any]]) -> pd.DataFrame:
    """The frame ``apply_schema`` would make of the same values read from a file."""
    import numpy as np
    import pandas as pd

    if schema._index is not None:  # every column float64 (None -> NaN)
        return block_frame(schema, np.array(values, dtype=np.float64))
    out: dict[Any, Any] = {}
    for column, kind, column_values in zip(schema.columns, schema.types, values, strict=True):
        has_null = schema.nullable and None in column_values
        if kind in ("double", NUMBER):
            out[column] = np.array(column_values, dtype=np.float64)  # None -> NaN
        elif kind == "float":
            out[column] = np.array(column_values, dtype=np.float32)
        elif kind in ("int", "bigint"):
            out[column] = (
                pd.array(column_values, dtype="Int64")
                if has_null
                else np.array(column_values, dtype=np.int64)
            )
        elif kind == "bool":
            out[column] = (
                pd.array(column_values, dtype="boolean")
                if has_null
                else np.array(column_values, dtype=bool)
            )
        elif kind == "timestamp":
            out[column] = _timestamps(column, column_values)
        elif kind == "string" and has_null:
            out[column] = pd.array(column_values, dtype="string")
        else:
            out[column] = pd.Series(column_values, dtype=object)
    return pd.DataFrame(out)


def _timestamps(column: Any, values: list[Any]) -> Any:
    import pandas as pd

    parsed = pd.to_datetime(pd.Series(values, dtype=object), errors="coerce", utc=True)
    bad = parsed.isna().to_numpy() & pd.Series(values, dtype=object).notna().to_numpy()
    if bad.any():
        i = int(bad.argmax())
        raise _bad(i, column, f"is {shown(values[i])}", "timestamp")
    return parsed


def _open_frame(instances: list[Any]) -> pd.DataFrame:
    """No schema: objects of scalars, all with the first instance's fields."""
    import pandas as pd

    first = instances[0]
    if type(first) is not dict or not first:
        raise Rejected(
            422,
            f"instance 0 must be a non-empty object of fields, got {shown(first)} "
            "(the model declares no features and no --workflow example gives a schema)",
            instance=0,
        )
    columns = list(first)
    values: dict[str, list[Any]] = {c: [] for c in columns}
    for i, instance in enumerate(instances):
        if type(instance) is not dict:
            raise Rejected(
                422, f"instance {i} must be an object, got {shown(instance)}", instance=i
            )
        extra = next((k for k in instance if k not in values), None)
        if extra is not None:
            raise Rejected(
                422,
                f"instance {i}: field '{extra}' is not in instance 0 (every instance must "
                f"have the same fields: {', '.join(columns)})",
                instance=i,
                field=extra,
            )
        for column, kept in values.items():
            if column not in instance:
                raise Rejected(
                    422,
                    f"instance {i}: field '{column}' is missing (instance 0 has it)",
                    instance=i,
                    field=column,
                )
            value = instance[column]
            if value is not None and type(value) not in (str, int, float, bool):
                raise _bad(i, column, f"is {shown(value)}", ANY)
            kept.append(value)
    return pd.DataFrame(values)


# -- messages ---------------------------------------------------------------------------------


def _missing(i: int, column: Any, schema: Schema) -> Rejected:
    required = [str(c) for c in schema.columns if c not in schema.optional]
    return Rejected(
        422,
        f"instance {i}: field '{column}' is missing (needed: {', '.join(required)}, "
        f"{schema.source})",
        instance=i,
        field=str(column),
    )


def _bad(i: int, column: Any, problem: str, kind: str) -> Rejected:
    return Rejected(
        422,
        f"instance {i}: field '{column}' {problem}; expected {_EXPECTED[kind]}",
        instance=i,
        field=str(column),
    )


def _shape_error(i: int, instance: Any, schema: Schema) -> str:
    if schema.keyed and schema.positional:
        wanted = f"an object of fields or a list of {len(schema.columns)} values"
    elif schema.keyed:
        wanted = "an object of fields"
    else:
        wanted = (
            f"a list of {len(schema.columns)} numbers ({schema.source}: the model was "
            "fitted without column names)"
        )
    return f"instance {i} must be {wanted}, got {shown(instance)}"
