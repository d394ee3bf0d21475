"""The layer rule: dependencies point one way along the data path.

    errors, config -> hadoop -> ml -> plan -> schemas -> store -> dsl -> translators (engines)
        -> runtime -> deployers -> scheduler -> serving -> check -> server -> cli

A module may import its own layer and the layers to its left, never one to its right, lazily
(inside a function) or not, and type-only imports count too: a layer that must *name* a type
of a higher one is a sign the type lives in the wrong place. ``aiflow.client`` stands apart:
it imports only errors, config, plan and schemas, so that a program that only talks to a
server never loads FastAPI, SQLAlchemy or pandas. The few exceptions are listed below with
their reason; a new one needs a line there, which a reviewer will see.

The test parses every module (``ast``, nothing is imported) and fails naming the file, the
line, the import and the rule it breaks.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# source folder -> the package it installs as (pyproject.toml's package-dir)
SOURCES = {
    "aiflow": "aiflow",
    "translators": "aiflow.translators",
    "deployers": "aiflow.deployers",
    "metastore_migrations": "aiflow.metastore_migrations",
}
LAYERS = [
    "base",  # aiflow.errors, aiflow.config, aiflow.config_file
    "hadoop",  # clients of a Hadoop cluster's interfaces (YARN deployer, Flink's YARN session)
    "ml",  # aiflow.ml: the algorithm library, usable alone (numpy, PyFlink); engines use it
    "plan",
    "schemas",
    "store",  # with metastore_migrations
    "dsl",  # with the `aiflow` facade (`import aiflow as af`)
    "translators",
    "runtime",
    "deployers",
    "scheduler",
    "serving",  # aiflow serve: reads the store, runs user code like a job
    "check",  # aiflow check: compares every engine, mode and the service
    "server",
    "cli",  # with each engine's own command group (translators/<engine>/cli.py)
]
CLIENT_MAY_IMPORT = {"base", "plan", "schemas", "client"}
# (importing module, imported module prefix) -> why the rule does not hold there
EXCEPTIONS = {
    ("aiflow.dsl.run", "aiflow.scheduler.submit"): "af.run is the facade: it runs the "
    "workflow locally (lazily imported, only when called)",
    ("aiflow.dsl.run", "aiflow.client"): "af.run(server=...) submits through the client "
    "(lazily imported, only when called)",
    ("aiflow.dsl.events", "aiflow.translators.job_store"): "af.send_event in a job under a "
    "server reaches the store through the job's own credential (lazily imported)",
    ("aiflow.ml.flink.cluster", "aiflow.translators.flink"): "aiflow.ml's Flink jobs run "
    "where the Flink engine runs its own, with its settings (lazily imported, engine flink only)",
}


def layer_of(module: str) -> str:
    parts = module.split(".")
    if module in ("aiflow", "aiflow.__init__"):
        return "dsl"
    second = parts[1] if len(parts) > 1 else ""
    if second in ("errors", "config", "config_file"):
        return "base"
    if second == "metastore_migrations":
        return "store"
    if second == "check_ml":  # aiflow check's aiflow.ml fit comparison, beside aiflow/check.py
        return "check"
    if second == "translators" and parts[-1] == "cli":
        return "cli"
    if second == "__main__":
        return "cli"
    if second in ("client", "client_models"):
        return "client"
    if second in LAYERS:
        return second
    raise AssertionError(f"module {module} is in no layer: add its package to LAYERS")


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT)
    parts = [SOURCES[rel.parts[0]], *rel.with_suffix("").parts[1:]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@dataclass
class Violation:
    where: str
    imported: str
    rule: str

    def __str__(self) -> str:
        return f"{self.where}: imports {self.imported}: {self.rule}"


def imports_of(path: Path, *, names: bool = False) -> list[tuple[int, str]]:
    """``(line, module)`` of every aiflow import in ``path``; with ``names``, ``from m import
    n`` also gives ``m.n`` (``n`` may be a function or class, not a module)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            if names:
                found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name == "aiflow" or name.startswith("aiflow.")]


def violations() -> list[Violation]:
    found = []
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            module = module_name(path)
            mine = layer_of(module)
            for line, imported in imports_of(path):
                theirs = layer_of(imported)
                where = f"{path.relative_to(ROOT)}:{line}"
                if any(
                    module == src and (imported == dst or imported.startswith(dst + "."))
                    for src, dst in EXCEPTIONS
                ):
                    continue
                if mine == "client":
                    if theirs not in CLIENT_MAY_IMPORT:
                        found.append(
                            Violation(
                                where, imported, f"the client imports only {CLIENT_MAY_IMPORT}"
                            )
                        )
                    continue
                if theirs == "client":
                    if LAYERS.index(mine) < LAYERS.index("cli"):
                        found.append(
                            Violation(
                                where, imported, f"only the CLI uses the client ({mine} may not)"
                            )
                        )
                    continue
                if LAYERS.index(theirs) > LAYERS.index(mine):
                    found.append(
                        Violation(
                            where, imported, f"{mine} may not import {theirs} (a later layer)"
                        )
                    )
    return found


def _is_module_file(module: str) -> bool:
    for folder, package in sorted(SOURCES.items(), key=lambda item: -len(item[1])):
        if module.startswith(package + "."):
            rest = module.removeprefix(package + ".").replace(".", "/")
            return (ROOT / folder / f"{rest}.py").is_file()
    return (ROOT / f"{module.replace('.', '/')}.py").is_file()


def private_imports() -> list[Violation]:
    """``_``-prefixed modules, functions and classes are private to their package."""
    found = []
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            package = (
                module_name(path)
                if path.name == "__init__.py"
                else module_name(path.parent / "__init__.py")
            )
            for line, imported in imports_of(path, names=True):
                parts = imported.split(".")
                for i, part in enumerate(parts):
                    if part.startswith("_") and not part.startswith("__"):
                        owner = ".".join(parts[:i])
                        if _is_module_file(owner):  # a private name: private to the package
                            owner = owner.rpartition(".")[0]
                        if package != owner and not package.startswith(owner + "."):
                            where = f"{path.relative_to(ROOT)}:{line}"
                            found.append(Violation(where, imported, f"private to {owner}"))
                        break
    return found


def test_dependencies_point_one_way() -> None:
    problems = violations()
    assert not problems, "layer rule broken (see tests/test_layers.py):\n" + "\n".join(
        map(str, problems)
    )


def test_private_modules_stay_private() -> None:
    problems = private_imports()
    assert not problems, "private module imported from outside its package:\n" + "\n".join(
        map(str, problems)
    )


def test_the_rule_catches_an_upward_import(tmp_path: Path) -> None:
    """The checker itself: a store module importing the scheduler is reported with its line."""
    assert layer_of("aiflow.store.sql_store") == "store"
    assert layer_of("aiflow.translators.flink.cli") == "cli"
    assert layer_of("aiflow.translators.flink.engine") == "translators"
    source = tmp_path / "x.py"
    source.write_text("import os\n\ndef f():\n    from aiflow.scheduler import driver\n")
    assert imports_of(source) == [(4, "aiflow.scheduler")]
    assert LAYERS.index(layer_of("aiflow.scheduler")) > LAYERS.index("store")
