"""Params: the typed, validated settings of a stage, and the ``WithParams`` mixin that holds them.

A stage declares each param once, as a class attribute (found through the MRO, so mixins such
as ``HasMaxIter`` in ``common_params`` share one name and rule across stages)::

    class KMeans(Estimator, HasK, HasMaxIter):
        INIT_MODE = StringParam("init_mode", "How centroids start.", "k-means++",
                                ParamValidators.in_array(["k-means++", "random"]))

Everything else follows from the declaration: ``KMeans(k=3, init_mode="random")`` (an unknown
keyword is an error naming it and the known ones), ``set(param, value)`` / ``get(param)`` (typed:
``get(KMeans.INIT_MODE)`` is a ``str`` for mypy), ``get_param_map()`` (what ``save`` writes),
and a chainable ``set_<name>(v)`` / ``get_<name>()`` generated for every param the class does not
define by hand. A value is converted to the param's type (an ``int`` is a valid float) and
checked against its validator when set -- never later -- so a bad value fails where it was
written: ``LogisticRegression: max_iter must be > 0, got 0``. Defaults are not validated: a
default of ``None`` means "not set" (e.g. ``weight_col``), and only ``not_null`` forbids it.

Why typed classes rather than annotations: the param's type decides its JSON form in
``metadata.json`` (``FloatParam`` writes NaN and infinities as strings, which JSON lacks), so a
saved stage reloads with the same values and types.

Not here: the params shared by many stages (``common_params``), saving (``persist``).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar

import numpy as np

from aiflow.errors import MLError

T = TypeVar("T")


@dataclass(frozen=True)
class ParamValidator:
    """A rule a param's value must follow; ``rule`` completes "<param> must ..." in errors."""

    rule: str
    check: Callable[[Any], bool]

    def __call__(self, value: Any) -> bool:
        return bool(self.check(value))


class ParamValidators:
    """The validators of the contract. Each but ``not_null`` rejects ``None`` too (a bound on
    a value that is not there cannot hold)."""

    @staticmethod
    def always_true() -> ParamValidator:
        return ParamValidator("be anything", lambda value: True)

    @staticmethod
    def gt(lower: float) -> ParamValidator:
        return ParamValidator(f"be > {lower}", lambda v: v is not None and v > lower)

    @staticmethod
    def gt_eq(lower: float) -> ParamValidator:
        return ParamValidator(f"be >= {lower}", lambda v: v is not None and v >= lower)

    @staticmethod
    def lt(upper: float) -> ParamValidator:
        return ParamValidator(f"be < {upper}", lambda v: v is not None and v < upper)

    @staticmethod
    def lt_eq(upper: float) -> ParamValidator:
        return ParamValidator(f"be <= {upper}", lambda v: v is not None and v <= upper)

    @staticmethod
    def in_range(
        lower: float, upper: float, lower_inclusive: bool = True, upper_inclusive: bool = True
    ) -> ParamValidator:
        left, right = "[" if lower_inclusive else "(", "]" if upper_inclusive else ")"

        def check(v: Any) -> bool:
            if v is None:
                return False
            above = v >= lower if lower_inclusive else v > lower
            below = v <= upper if upper_inclusive else v < upper
            return bool(above and below)

        return ParamValidator(f"be in {left}{lower}, {upper}{right}", check)

    @staticmethod
    def in_array(allowed: Sequence[Any]) -> ParamValidator:
        choices = list(allowed)
        shown = ", ".join(repr(c) for c in choices)
        return ParamValidator(f"be one of {shown}", lambda v: v is not None and v in choices)

    @staticmethod
    def not_null() -> ParamValidator:
        return ParamValidator("be set (not None)", lambda v: v is not None)

    @staticmethod
    def non_empty_array() -> ParamValidator:
        return ParamValidator("be a non-empty list", lambda v: v is not None and len(v) > 0)


class Param(Generic[T]):
    """One named setting: description, default and validator. The base class takes any JSON
    value as is; the typed subclasses below convert and type-check first."""

    type_name = "a value"

    def __init__(
        self,
        name: str,
        description: str,
        default: T | None = None,
        validator: ParamValidator | None = None,
    ) -> None:
        if not name.isidentifier():
            raise MLError(f"param name '{name}' must be a Python identifier (set_{name})")
        self.name = name
        self.description = description
        self.default = default
        self.validator = validator or ParamValidators.always_true()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, default={self.default!r})"

    def validate(self, value: Any, stage: str) -> T | None:
        """``value`` converted to this param's type; an error naming ``stage``, the param and
        the rule if it breaks one."""
        converted = None if value is None else self.convert(value, stage)
        if not self.validator(converted):
            raise MLError(f"{stage}: {self.name} must {self.validator.rule}, got {value!r}")
        return converted

    def convert(self, value: Any, stage: str) -> T:
        """``value`` as this param's type (never called with ``None``)."""
        return value

    def wrong_type(self, value: Any, stage: str) -> MLError:
        return MLError(
            f"{stage}: {self.name} must be {self.type_name}, got {value!r} ({type(value).__name__})"
        )

    def to_json(self, value: T | None) -> Any:
        """The JSON form of ``value`` in ``metadata.json``."""
        return value

    def from_json(self, data: Any) -> T | None:
        return data


class IntParam(Param[int]):
    type_name = "an integer"

    def convert(self, value: Any, stage: str) -> int:
        if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
            raise self.wrong_type(value, stage)
        return int(value)


class FloatParam(Param[float]):
    type_name = "a number"

    def convert(self, value: Any, stage: str) -> float:
        if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
            raise self.wrong_type(value, stage)
        return float(value)

    def to_json(self, value: float | None) -> Any:
        # JSON has no NaN or infinity (json.dumps would write non-standard tokens).
        return value if value is None or math.isfinite(value) else str(value)

    def from_json(self, data: Any) -> float | None:
        return None if data is None else float(data)


class StringParam(Param[str]):
    type_name = "a string"

    def convert(self, value: Any, stage: str) -> str:
        if not isinstance(value, str):
            raise self.wrong_type(value, stage)
        return value


class BooleanParam(Param[bool]):
    type_name = "a boolean"

    def convert(self, value: Any, stage: str) -> bool:
        if not isinstance(value, bool | np.bool_):
            raise self.wrong_type(value, stage)
        return bool(value)


class _ArrayParam(Param[list[T]]):
    """A list of one element type; held as a new list, so the caller's list can change freely."""

    element: Param[T]

    def convert(self, value: Any, stage: str) -> list[T]:
        if isinstance(value, str) or not isinstance(value, list | tuple | np.ndarray):
            raise self.wrong_type(value, stage)
        try:
            return [self.element.convert(v, stage) for v in value]
        except MLError:
            raise self.wrong_type(value, stage) from None

    def to_json(self, value: list[T] | None) -> Any:
        return None if value is None else [self.element.to_json(v) for v in value]

    def from_json(self, data: Any) -> list[T] | None:
        return None if data is None else [self.element.from_json(v) for v in data]  # type: ignore[misc]


class IntArrayParam(_ArrayParam[int]):
    type_name = "a list of integers"
    element = IntParam("element", "")


class FloatArrayParam(_ArrayParam[float]):
    type_name = "a list of numbers"
    element = FloatParam("element", "")


class StringArrayParam(_ArrayParam[str]):
    type_name = "a list of strings"
    element = StringParam("element", "")


class WithParams:
    """Holds the values of the params a class declares (see the module docstring)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in cls.params():
            for prefix, make in (("set_", _setter), ("get_", _getter)):
                if not hasattr(cls, prefix + name):
                    setattr(cls, prefix + name, make(name))

    def __init__(self, **params: Any) -> None:
        self._param_values: dict[str, Any] = {
            name: _copy(p.default) for name, p in self.params().items()
        }
        for name, value in params.items():
            self.set(name, value)

    @classmethod
    def params(cls) -> dict[str, Param[Any]]:
        """Every param of the class by name; a subclass's declaration wins over a base's.

        Computed once per class (walking the MRO was a third of an online model's time per
        mini-batch); a copy is returned, so callers may change it."""
        found: dict[str, Param[Any]] | None = cls.__dict__.get("_params_of_class")
        if found is None:
            found = {}
            for klass in reversed(cls.__mro__):
                for value in vars(klass).values():
                    if isinstance(value, Param):
                        found[value.name] = value
            type.__setattr__(cls, "_params_of_class", found)
        return dict(found)

    @property
    def stage_name(self) -> str:
        """The class name: the first word of every error a stage raises."""
        return type(self).__name__

    def param(self, name: str) -> Param[Any]:
        """The param called ``name``; an unknown one is an error naming the known ones."""
        known = self.params()
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise MLError(
                f"{self.stage_name}: unknown param '{name}'{hint} "
                f"(params: {', '.join(sorted(known)) or 'none'})"
            )
        return known[name]

    def set(self, param: Param[T] | str, value: T | None) -> Self:
        """Set ``param`` (or the param of that name) to ``value``, checked; returns ``self``."""
        target = self.param(param if isinstance(param, str) else param.name)
        self._param_values[target.name] = target.validate(value, self.stage_name)
        return self

    def get(self, param: Param[T] | str) -> T:
        """The value of ``param``; a list comes as a copy (the stage's own stays unchanged)."""
        target = self.param(param if isinstance(param, str) else param.name)
        return _copy(self._param_values[target.name])

    def get_param_map(self) -> dict[str, Any]:
        """Param name -> value, for every param of the stage."""
        return {name: _copy(value) for name, value in self._param_values.items()}

    def copy_params_from(self, other: WithParams) -> Self:
        """Take the values of ``other``'s params this stage also has (how ``fit`` hands an
        estimator's settings, e.g. ``features_col``, to the model it returns)."""
        mine = self.params()
        for name, value in other.get_param_map().items():
            if name in mine:
                self.set(name, value)
        return self


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def _setter(name: str) -> Callable[[WithParams, Any], WithParams]:
    def setter(self: WithParams, value: Any) -> WithParams:
        return self.set(name, value)

    setter.__name__ = setter.__qualname__ = f"set_{name}"
    setter.__doc__ = f"Set the param '{name}'; returns the stage (chainable)."
    return setter


def _getter(name: str) -> Callable[[WithParams], Any]:
    def getter(self: WithParams) -> Any:
        return self.get(name)

    getter.__name__ = getter.__qualname__ = f"get_{name}"
    getter.__doc__ = f"The value of the param '{name}'."
    return getter
