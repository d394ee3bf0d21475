"""Bounds and name rules declared once, so that the meta store's columns, the store's input
checks and the REST API's parameters accept exactly the same values (a name the API takes fits
the column; a page size the store takes, the API takes too).

**One name rule** for everything a user names and later types into a URL, a shell or an event
rule -- workflows, models, model aliases, examples, API tokens and triggers: ``NAME_PATTERN``
(letters, digits, ``.``, ``_``, ``-``, starting with a letter or digit) within the kind's
length (``NAME_LENGTHS``). It rules out ``.`` and ``..`` (which URL normalisation would turn
into another path, so a client could create such a name and never delete it), separators
(``/``, spaces), shell and markup characters, and a leading ``-`` (read as an option by a
CLI). The DSL, the store, the client and the CLI check it with ``check_name``; pydantic inputs
and the REST API's parameters declare the same ``NAME_PATTERN`` and lengths.

Names aiflow generates for itself never pass that rule, on purpose, so they cannot collide with
a user's: the examples of materialized intermediates are ``intermediate:<node>.<port>`` and
their nodes ``__to_<node>.<port>`` / ``__from_...``. They live only in the physical plan of a
workflow version (and the intermediate's own directory), never among the stored examples.
"""

from __future__ import annotations

import re
from typing import Final, Literal

from aiflow.errors import InvalidInput

NAME_LENGTH: Final = 255  # names, keys and hosts: indexable on every backend (MySQL key size)
# A trigger's events are keyed ``trigger/<name>``, which must fit the event key column.
TRIGGER_NAME_LENGTH: Final = NAME_LENGTH - len("trigger/")
CRON_LENGTH: Final = 128
ALIAS_LENGTH: Final = 64
INT32_MAX: Final = 2**31 - 1  # ids and version numbers are INTEGER columns
INT64_MAX: Final = 2**63 - 1  # event sequence numbers are BIGINT

MAX_PAGE: Final = 500
DEFAULT_PAGE: Final = 50

NO_CONTROL: Final = r"^[^\x00-\x1f\x7f]+$"  # PostgreSQL refuses NUL in text
PLAIN_NAME: Final = r"^[A-Za-z0-9_.-]{1,64}$"  # engine and deployer names

NameKind = Literal["workflow", "model", "alias", "example", "token", "trigger"]

# The one rule for names users give (see the module docstring). ``$`` is the end of the text
# for pydantic and JSON Schema; ``check_name`` uses ``fullmatch``, since Python's ``$`` would
# also match before a final newline.
NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
NAME_RULE: Final = "letters, digits, '.', '_' or '-', starting with a letter or digit"
NAME_LENGTHS: Final[dict[NameKind, int]] = {
    "workflow": NAME_LENGTH,
    "model": NAME_LENGTH,
    "alias": ALIAS_LENGTH,
    "example": NAME_LENGTH,
    "token": NAME_LENGTH,
    "trigger": TRIGGER_NAME_LENGTH,
}
# Token and trigger names appear in URLs (/tokens/{name}), shell commands and event keys.
TOKEN_NAME_PATTERN: Final = NAME_PATTERN
TRIGGER_NAME_PATTERN: Final = NAME_PATTERN

_NAME_RE: Final = re.compile(NAME_PATTERN)


def name_rule(kind: NameKind) -> str:
    """The rule for names of ``kind``, in words (for messages and API descriptions)."""
    rule = f"1 to {NAME_LENGTHS[kind]} {NAME_RULE}"
    # An all-digit alias would be ambiguous wherever "model:3" means version 3.
    return rule + ", and not a number" if kind == "alias" else rule


def check_name(kind: NameKind, value: object) -> str:
    """``value`` if it is a valid name for a ``kind`` (the rule above), else ``InvalidInput``
    naming the kind, the value and the rule."""
    if (
        isinstance(value, str)
        and len(value) <= NAME_LENGTHS[kind]
        and _NAME_RE.fullmatch(value)
        and not (kind == "alias" and value.isdigit())
    ):
        return value
    what = "alias" if kind == "alias" else f"{kind} name"
    raise InvalidInput(f"{what} {value!r} is invalid: use {name_rule(kind)}")
