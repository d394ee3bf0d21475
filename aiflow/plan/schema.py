"""Column types of an Example's schema, shared by the DSL's checks and the runtime's coercion.

The names are the user-facing vocabulary (``"double"``, ``"int"``...); aliases normalise to one
canonical name so ``{"x": "float64"}`` and ``{"x": "double"}`` describe the same example.
"""

from __future__ import annotations

CANONICAL_TYPES = ("double", "float", "int", "bigint", "string", "bool", "timestamp")
_ALIASES = {
    "double": "double",
    "float64": "double",
    "float": "float",
    "float32": "float",
    "int": "int",
    "int32": "int",
    "integer": "int",
    "bigint": "bigint",
    "long": "bigint",
    "int64": "bigint",
    "string": "string",
    "str": "string",
    "varchar": "string",
    "bool": "bool",
    "boolean": "bool",
    "timestamp": "timestamp",
    "datetime": "timestamp",
}
# A producer of the key type may feed a consumer expecting any type in the value set.
_WIDENS_TO = {
    "int": {"int", "bigint", "double", "float"},
    "bigint": {"bigint", "double"},
    "float": {"float", "double"},
}


def normalize_type(type_name: str) -> str:
    """The canonical type name; ``ValueError`` listing the valid names for an unknown one."""
    try:
        return _ALIASES[type_name.strip().lower()]
    except (KeyError, AttributeError):
        raise ValueError(
            f"unknown column type {type_name!r} (valid: {', '.join(CANONICAL_TYPES)})"
        ) from None


def normalize_columns(columns: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, type_name in columns.items():
        try:
            out[str(name)] = normalize_type(type_name)
        except ValueError as exc:
            raise ValueError(f"column '{name}': {exc}") from None
    return out


def type_feeds(produced: str, expected: str) -> bool:
    """Whether values of the produced type can be used where ``expected`` is declared."""
    return produced == expected or expected in _WIDENS_TO.get(produced, set())
