"""The filled meta stores ``meta_store_scale.py`` measures, cached between runs.

A filled store is kept under ``~/.cache/aiflow/bench/meta-store/<backend>-<sizes>-<revision>/``
(an SQLite file, or a PostgreSQL cluster's data directory) with ``meta.json`` saying how it was
made. Each run measures a throwaway copy under ``/tmp`` (the benchmark writes events and fires
triggers), so the cached store stays as the fill left it. A cached store of the same sizes at
an older revision this code knows is upgraded by aiflow's own migrations (the run reports how
long that took: what ``aiflow db upgrade`` costs on a store that size) and cached anew.

PostgreSQL runs as a private cluster (``chaos/postgres.py``, the test suite's recipe: initdb,
pg_ctl, the ``postgres`` OS user when run as root). Its data directory is copied with ``cp -a``
(owners kept), never used from the cache in place: ``postgres`` cannot enter root's home.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chaos.postgres import PrivatePostgres

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from fill_rows import Sizes
from fill_store import fill_store

CACHE = Path.home() / ".cache" / "aiflow" / "bench" / "meta-store"
DATABASE = "aiflow_bench"
Log = Callable[[str], None]


@contextmanager
def filled_store(backend: str, sizes: Sizes, log: Log) -> Iterator[tuple[str, dict[str, Any]]]:
    """A meta store URL on a throwaway copy of the cached filled store of ``sizes`` (filled or
    upgraded first when needed), and the cache entry's ``meta.json``."""
    from aiflow.store import migrations

    head = migrations.head()
    CACHE.mkdir(parents=True, exist_ok=True)
    entry = CACHE / f"{backend}-{sizes.key()}-{head}"
    work = Path(tempfile.mkdtemp(prefix="aiflow-bench-scale-"))
    server: PrivatePostgres | None = None
    uri = ""
    try:
        older = None if (entry / "meta.json").exists() else _older(backend, sizes)
        source = entry if (entry / "meta.json").exists() else older
        if backend == "postgres":
            server = PrivatePostgres.start(source / "data" if source else None)
            if source is None:
                server.create_database(DATABASE)
            uri = server.url(DATABASE)
        else:
            uri = f"sqlite:///{work / 'meta.db'}"
            if source is not None:
                shutil.copy(source / "meta.db", work / "meta.db")
        if source is None:
            log(f"{backend}: filling a store of {sizes.key()} (once; cached in {CACHE})")
            meta = {"sizes": sizes.key(), "fill_seconds": round(fill_store(uri, sizes, log=log))}
        else:
            meta = json.loads((source / "meta.json").read_text())
        if source is not entry:
            if older is not None:
                began = time.monotonic()
                migrations.upgrade(uri)
                meta["upgraded_from"] = meta["revision"]
                meta["upgrade_seconds"] = round(time.monotonic() - began, 1)
                log(f"{backend}: upgraded the cached store {meta['revision']} -> {head} "
                    f"in {meta['upgrade_seconds']} s")  # fmt: skip
            meta["revision"] = head
            _save(entry, meta, uri, server)
            if older is not None:
                shutil.rmtree(older, ignore_errors=True)
        yield uri, meta
    finally:
        from aiflow.store import db

        if uri:
            db.dispose_engine(uri)
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


def _older(backend: str, sizes: Sizes) -> Path | None:
    """A cache entry of ``sizes`` at a revision this code knows but older than head."""
    from aiflow.store import migrations

    for found in sorted(CACHE.glob(f"{backend}-{sizes.key()}-*")):
        meta = found / "meta.json"
        if (
            found.suffix != ".partial"
            and meta.exists()
            and migrations.is_newer(json.loads(meta.read_text())["revision"]) is False
        ):
            return found
    return None


def _save(entry: Path, meta: dict[str, Any], uri: str, server: PrivatePostgres | None) -> None:
    from aiflow.store import db

    partial = entry.with_name(entry.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    db.dispose_engine(uri)
    if server is not None:
        server.save(partial / "data")
    else:
        path = db.normalize_url(uri).database
        assert path is not None
        shutil.copy(path, partial / "meta.db")
    (partial / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    shutil.rmtree(entry, ignore_errors=True)
    partial.rename(entry)
