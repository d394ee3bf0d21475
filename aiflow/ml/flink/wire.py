"""The bytes that travel between the driver and its Flink tasks: a JSON header and tables.

A message is ``<4-byte length><JSON header>`` followed by one ``<8-byte length><Arrow IPC
stream>`` per table, tables converted as ``persist`` writes model data (a vector column as
list<double> with its size). Nothing is pickled: a message decodes to numbers, strings and
tables only, so a task cannot make the driver run code (nor the reverse), whatever it sends.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import Any

from aiflow.errors import MLError
from aiflow.ml.persist import from_arrow, to_arrow
from aiflow.ml.table import Table

_HEADER = struct.Struct("!I")
_TABLE = struct.Struct("!Q")


def pack(header: dict[str, Any], tables: Sequence[Table] = ()) -> bytes:
    """``header`` (JSON values) and ``tables`` as one message."""
    import pyarrow as pa

    text = json.dumps({**header, "tables": len(tables)}, allow_nan=False).encode()
    parts = [_HEADER.pack(len(text)), text]
    for table in tables:
        sink = pa.BufferOutputStream()
        data = to_arrow(table)
        with pa.ipc.new_stream(sink, data.schema) as writer:
            writer.write_table(data)
        buffer = sink.getvalue()
        parts += [_TABLE.pack(buffer.size), buffer.to_pybytes()]
    return b"".join(parts)


def unpack(message: bytes) -> tuple[dict[str, Any], list[Table]]:
    """The header and tables of a ``pack``\\ ed message (local tables)."""
    import pyarrow as pa

    view = memoryview(message)
    try:
        (size,) = _HEADER.unpack_from(view, 0)
        header = json.loads(bytes(view[_HEADER.size : _HEADER.size + size]))
        offset = _HEADER.size + size
        tables = []
        for i in range(int(header.pop("tables"))):
            (length,) = _TABLE.unpack_from(view, offset)
            offset += _TABLE.size
            reader = pa.ipc.open_stream(pa.py_buffer(view[offset : offset + length]))
            tables.append(from_arrow(reader.read_all(), f"message table {i}"))
            offset += length
    except (struct.error, ValueError, KeyError, pa.ArrowException) as exc:
        raise MLError(
            f"aiflow.ml.flink: a malformed message between driver and task ({exc})"
        ) from None
    return header, tables
