"""Translators: logical plan -> physical plan (jobs), with operators per (node kind, engine)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiflow.translators.translator import Translator


def translator_for(mode: str) -> Translator:
    """The translator of a run mode (imports lazily: the CLI's --help must stay fast)."""
    from aiflow.plan.validate import check_mode

    check_mode(mode)
    if mode == "batch":
        from aiflow.translators.batch import BatchTranslator

        return BatchTranslator()
    from aiflow.translators.stream import StreamTranslator

    return StreamTranslator()
