"""The block-by-block csv read (``arrow_io._read_csv_streamed``, schemas of numbers and bools):
over many blocks, with its arrays grown when the rows outrun the file size's estimate and a
sample cut inside a block, it answers what the exact reader answers, or hands the file on."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from aiflow.translators import arrow_io
from tests.test_arrow_io import _fast, check_both_ways

NUMBERS = {"d": "double", "x": "double", "f": "float", "i": "int", "b": "bool"}


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(arrow_io, "_BLOCK", 256)  # many blocks from a small file
    monkeypatch.setattr(arrow_io, "_SLACK", 0)  # estimates short of the rows: arrays grow


def _rows(rng: random.Random, count: int, wide: bool) -> list[str]:
    """Rows of numbers that Arrow reads as the exact rules do; ``wide``: long fields (few rows
    a block, so a file of short rows after them outruns the estimate)."""
    pad = "0" * 8 if wide else ""
    out = []
    for _ in range(count):
        d = f"{rng.randint(1, 999)}.{rng.randint(1, 99)}{pad}".rstrip("0") if wide else "1.5"
        out.append(
            f"{d},{rng.choice(['', '2.25', '-3'])},{rng.random():.4f},"
            f"{rng.choice(['', '4', '-7'])},{rng.choice(['true', '0', ''])}"
        )
    return out


@pytest.mark.parametrize("wide_first", [True, False])
def test_streamed_read_across_blocks_is_the_exact_readers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wide_first: bool
) -> None:
    grown: list[int] = []
    real = arrow_io._grown
    monkeypatch.setattr(arrow_io, "_grown", lambda *a: grown.append(a[-1]) or real(*a))
    rng = random.Random(1)
    lines = _rows(rng, 40, wide_first) + _rows(rng, 400, not wide_first)
    path = tmp_path / "numbers.csv"
    path.write_text("d,x,f,i,b\n" + "\n".join(lines) + "\n")
    assert check_both_ways(monkeypatch, path, "csv", NUMBERS)
    frame = _fast(path, "csv", NUMBERS)
    assert frame is not None and len(frame) == 440
    assert str(frame["i"].dtype) == "Int64" and str(frame["b"].dtype) == "boolean"
    assert len(grown) > 1  # the arrays outgrew a first estimate


def test_a_long_number_in_a_late_block_hands_its_column_to_the_exact_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole table is read then (its other columns still by Arrow), as before."""
    lines = [f"{k}.5,{k}" for k in range(300)] + ["0.30000000000000004,7"]
    path = tmp_path / "late.csv"
    path.write_text("d,i\n" + "\n".join(lines) + "\n")
    columns = {"d": "double", "i": "int"}
    assert check_both_ways(monkeypatch, path, "csv", columns)
    frame = _fast(path, "csv", columns)
    assert frame is not None and len(frame) == 301


@pytest.mark.parametrize("bad", ["x", "1.5", "", "1,2"])
def test_a_bad_value_in_a_late_block_is_the_exact_readers_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    lines = [f"{k}.5,{k}" for k in range(300)] + [f"1,{bad}"]
    path = tmp_path / "bad.csv"
    path.write_text("d,i\n" + "\n".join(lines) + "\n")
    check_both_ways(monkeypatch, path, "csv", {"d": "double", "i": "int"})
