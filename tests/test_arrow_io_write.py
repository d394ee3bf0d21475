"""The fast csv writer (``translators/csv_writer.py``) writes pandas' ``to_csv`` bytes: numbers
of every magnitude, NaN and infinities, nullable ints and bools, strings that need quoting; and
it leaves to pandas the frames it cannot format alike (``write_frame`` writes them the same)."""

from __future__ import annotations

import io as _io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aiflow.translators import csv_writer, io


def _pandas(frame: pd.DataFrame) -> bytes:
    out = _io.BytesIO()
    frame.to_csv(out, index=False)
    return out.getvalue()


def _fast(frame: pd.DataFrame) -> bytes | None:
    out = _io.BytesIO()
    return out.getvalue() if csv_writer.write_csv(frame, out) else None


def _doubles(rng: np.random.Generator, n: int) -> np.ndarray:
    values = rng.normal(0, 1, n) * 10.0 ** rng.integers(-320, 300, n)
    values[::7] = np.round(values[::7])  # whole numbers: '3.0'
    values[::11] = rng.integers(-(10**6), 10**6, len(values[::11])) / 10**4  # 4 decimals
    return values


EDGES = [0.0, -0.0, 1.0, -1.0, 1e-4, 9.999999999999999e-05, 1e15, 1e16, 9999999999999998.0]
EDGES += [5e-324, 1.7976931348623157e308, 0.1, 1 / 3, 123456789012345680.0, 2.5e-310]


@pytest.mark.parametrize("seed", range(3))
def test_numbers_are_written_as_pandas_writes_them(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_writer, "_ROWS_PER_CHUNK", 997)  # several chunks, uneven
    rng = np.random.default_rng(seed)
    n = 5000
    doubles = _doubles(rng, n)
    doubles[: len(EDGES)] = EDGES
    with_nan = doubles.copy()
    with_nan[rng.random(n) < 0.1] = np.nan
    with_nan[3], with_nan[5] = np.inf, -np.inf
    frame = pd.DataFrame(
        {
            "d": doubles,
            "nan": with_nan,
            "f": (rng.normal(0, 1, n) * 10.0 ** rng.integers(-45, 38, n)).astype(np.float32),
            "i": rng.integers(-(2**63), 2**63 - 1, n),
            "i32": rng.integers(-(2**31), 2**31 - 1, n).astype(np.int32),
            "u8": rng.integers(0, 255, n).astype(np.uint8),
            "b": rng.random(n) < 0.5,
            "I": pd.arrays.IntegerArray(rng.integers(-9, 9, n), rng.random(n) < 0.2),
            "B": pd.arrays.BooleanArray(rng.random(n) < 0.5, rng.random(n) < 0.2),
        }
    )
    assert _fast(frame) == _pandas(frame)


@pytest.mark.parametrize("seed", range(3))
def test_doubles_polars_writes_are_pandas_bytes(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Finite doubles of magnitude 0 or >= 1e-4 go to polars' writer: the same digits in the
    same notation as numpy's repr, at every magnitude and bit pattern."""
    monkeypatch.setattr(csv_writer, "_ROWS_PER_CHUNK", 997)
    written: list[int] = []
    real = csv_writer._write_polars
    monkeypatch.setattr(
        csv_writer, "_write_polars", lambda rows, *a: written.append(rows) or real(rows, *a)
    )
    rng = np.random.default_rng(seed)
    n = 20000
    patterns = rng.integers(0, 2**64 - 1, n, dtype=np.uint64).view(np.float64)  # both signs
    mixed = _doubles(rng, n)
    columns = {}
    for name, values in (("bits", patterns), ("mixed", mixed)):
        size = np.abs(values)
        keep = values[np.isfinite(values) & ((size >= 1e-4) | (size == 0))][: n // 2]
        columns[name] = np.concatenate([[e for e in EDGES if e == 0 or abs(e) >= 1e-4], keep])
    rows = min(map(len, columns.values()))
    frame = pd.DataFrame({k: v[:rows] for k, v in columns.items()})
    frame["i"] = rng.integers(-(2**63), 2**63 - 1, rows)
    frame["s"] = rng.choice(["a", "b,c", ""], rows)

    assert _fast(frame) == _pandas(frame)
    assert written == [rows]


STRINGS = ["", "a", "a,b", 'say "hi"', "two\nlines", "cr\rhere", "crlf\r\n", " lead", "trail "]
STRINGS += ["é中😀", "\t", '"', ",", "'", "\x00", "#", "\\", "null", "NaN", "\u2028"]


def test_strings_are_quoted_as_pandas_quotes_them() -> None:
    rng = np.random.default_rng(0)
    values = [STRINGS[k] for k in rng.integers(0, len(STRINGS), 3000)]
    frame = pd.DataFrame(
        {
            "s": values,
            "n": [None if k % 5 == 0 else v for k, v in enumerate(values)],
            "nan": [np.nan if k % 3 == 0 else v for k, v in enumerate(values)],
            "S": pd.array([None if k % 4 == 0 else v for k, v in enumerate(values)], "string"),
            "x": np.arange(3000),
        }
    )
    assert _fast(frame) == _pandas(frame)
    plain = pd.DataFrame({"s": ["a", "b c", None, ""], "x": [1.5, 2.0, np.nan, 3.0]})
    assert _fast(plain) == _pandas(plain)  # Arrow's writer joins rows: nothing to quote


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"only": [1.0, np.nan]}),  # one column: pandas writes '""' for a null
        pd.DataFrame({"t": pd.to_datetime(["2024-01-01"]), "x": [1]}),
        pd.DataFrame({"mixed": [1, "a"], "x": [1, 2]}),
        pd.DataFrame({"lists": [[1], [2]], "x": [1, 2]}),
        pd.DataFrame({0: [1.0], 1: [2.0]}),  # names that are not strings
        pd.DataFrame([[1, 2]], columns=["a", "a"]),
    ],
    ids=["one column", "datetime", "mixed objects", "lists", "int names", "duplicate names"],
)
def test_other_frames_are_left_to_pandas(tmp_path: Path, frame: pd.DataFrame) -> None:
    assert _fast(frame) is None
    target = io.write_frame(frame, str(tmp_path / "out.csv"), "csv")
    assert Path(target).read_bytes() == _pandas(frame)


def test_empty_frame_and_header_quoting(tmp_path: Path) -> None:
    empty = pd.DataFrame({"a,b": pd.Series([], dtype=float), 'say "x"': pd.Series([], dtype=int)})
    assert _fast(empty) == _pandas(empty) == b'"a,b","say ""x"""\n'
    target = io.write_frame(empty, str(tmp_path / "e.csv"), "csv")
    assert Path(target).read_bytes() == _pandas(empty)
