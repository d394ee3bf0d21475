"""The chunked csv read (``io.read_example_chunks``, a local batch chain's input): each chunk is
what the exact reader gives for a file of those records alone, the chunks together are the
file's records in order, and whatever only the exact reader of the whole file answers stops it
(``NotVouched``) at the chunk that meets it."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest

from aiflow.translators import io
from aiflow.translators.arrow_io import NotVouched

COLUMNS = {"d": "double", "f": "float", "i": "int", "b": "bool", "s": "string"}
HEADER = "d,f,i,b,s"


def _lines(rng: random.Random, count: int, nulls: bool) -> list[str]:
    out = []
    for _ in range(count):
        d = rng.choice([f"{rng.uniform(-1e3, 1e3):.4f}", "", "-0.5", "12"])
        f = f"{rng.random():.3f}"
        i = rng.choice(["", "4", "-7"]) if nulls else rng.choice(["4", "-7", "0"])
        b = rng.choice(["true", "0", "False"] + ([""] if nulls else []))
        s = rng.choice(['"a,b"', "plain", '"say ""hi"""', ""])
        out.append(f"{d},{f},{i},{b},{s}")
    return out


def _write(path: Path, lines: list[str]) -> str:
    path.write_text(HEADER + "\n" + "\n".join(lines) + "\n")
    return str(path)


def _exact(uri: str, monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame:
    with monkeypatch.context() as patch:
        patch.setattr(io, "_read_fast", lambda *args: None)
        return io.read_example_file(uri, "csv", COLUMNS)


def test_each_chunk_is_the_exact_read_of_its_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(3)
    # nulls in the int and bool columns only in the middle part: those chunks are nullable
    lines = _lines(rng, 700, False) + _lines(rng, 300, True) + _lines(rng, 700, False)
    uri = _write(tmp_path / "all.csv", lines)

    chunks = list(io.read_example_chunks(uri, COLUMNS, rows=200))

    assert len(chunks) > 3
    assert sum(map(len, chunks)) == len(lines)
    start = 0
    for chunk in chunks:
        alone = _write(tmp_path / "alone.csv", lines[start : start + len(chunk)])
        pd.testing.assert_frame_equal(chunk, _exact(alone, monkeypatch))
        start += len(chunk)
    dtypes = {str(c["i"].dtype) for c in chunks}
    assert dtypes == {"int64", "Int64"}  # typed chunk by chunk, as a micro-batch file is
    whole = pd.concat(chunks, ignore_index=True)
    exact = _exact(uri, monkeypatch)
    assert whole["d"].equals(exact["d"]) and whole["s"].tolist() == exact["s"].tolist()


@pytest.mark.parametrize(
    "late",
    [
        "0.30000000000000004,0.5,1,true,x",  # a number pandas may read otherwise
        "oops,0.5,1,true,x",  # a bad value: the exact reader's error names its line
        "1.5,0.5,1,true",  # a field too few
        "1.5,0.5,1.5,true,x",  # not an int
    ],
)
def test_what_only_the_exact_reader_answers_stops_the_chunks_where_it_is(
    tmp_path: Path, late: str
) -> None:
    rng = random.Random(5)
    uri = _write(tmp_path / "late.csv", [*_lines(rng, 600, False), late])
    chunks = io.read_example_chunks(uri, COLUMNS, rows=100)
    first = next(chunks)
    assert len(first) < 600  # the early chunks came out before the late record was read
    with pytest.raises(NotVouched):
        list(chunks)


def test_a_timestamp_column_is_never_chunked(tmp_path: Path) -> None:
    """pandas infers a timestamp column's format from its values: a chunk could be typed
    otherwise than the same records in the whole file."""
    path = tmp_path / "t.csv"
    path.write_text("t,x\n2026-01-01,1.5\n2026-01-02,2.5\n")
    with pytest.raises(NotVouched):
        next(io.read_example_chunks(str(path), {"t": "timestamp", "x": "double"}, rows=1))
