"""Bounds and name rules declared once, so that the meta store's columns, the store's input
checks and the REST API's parameters accept exactly the same values (a name the API takes fits
the column; a page size the store takes, the API takes too).
"""

from __future__ import annotations

from typing import Final

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
# Token and trigger names appear in URLs (/tokens/{name}), shell commands and event keys.
TOKEN_NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
TRIGGER_NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
