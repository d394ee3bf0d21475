"""Model aliases and the rule of what to serve: the version carrying the alias ``deployed``
(``SERVING_ALIAS``), else the newest version. That rule is written once, as the SQL of
``serving_statement``, which both ``serving_pointer`` (model servers poll it) and
``serving_version`` (the same version with its aliases and metrics) run.

Every alias move is recorded as a ``MODEL_ALIAS_SET`` event (``<alias>=<version>``) in the same
transaction: the event log is the alias's history, which ``roll_back_alias`` walks.

Why the serving statement is built once and in Core: profiling the server under load
(docs/benchmarks.md) showed that *constructing* the ORM statement -- an ``aliased()`` entity and
two correlated subqueries -- cost more CPU than running it (~450 of ~820 us per call on SQLite),
and the ORM session and row loading most of the rest. The statement never changes (the model
name is a bound parameter), and SQLAlchemy caches its compiled form, so a call only binds,
executes and reads one tuple on a Core connection (~60 us).
"""

from __future__ import annotations

from functools import cache
from typing import Final

from sqlalchemy import Select, bindparam, delete, func, select
from sqlalchemy.orm import Session

from aiflow.errors import InvalidInput, NotFound
from aiflow.schemas.entities import SERVING_ALIAS, ModelVersion, ServingVersion
from aiflow.schemas.limits import check_name
from aiflow.store._base import StoreBase, add_event, rowcount, upsert
from aiflow.store._registry import (
    model_row,
    model_row_or_none,
    newest_of,
    version_entities,
    version_row,
)
from aiflow.store.orm import SqlEvent, SqlModel, SqlModelAlias, SqlModelVersion, utcnow

ALIAS_SET_EVENT: Final = "MODEL_ALIAS_SET"  # value "<alias>=<version>"; rollback reads this history
MODEL_NAME_PARAM: Final = "model_name"


class AliasStore(StoreBase):
    def set_model_alias(self, model_name: str, alias: str, version: int) -> ModelVersion:
        """Point ``alias`` at ``version``, moving it off the version that had it.

        Only this checks the alias against the name rule: deleting or looking up takes any
        text, so an alias stored before the rule existed can still be removed."""
        check_name("alias", alias)
        with self._write() as session:
            model = model_row(session, model_name)
            return point_alias(session, model, alias, version_row(session, model, version))

    def delete_model_alias(self, model_name: str, alias: str) -> None:
        with self._write() as session:
            model = model_row(session, model_name)
            deleted = rowcount(
                session.execute(
                    delete(SqlModelAlias)
                    .where(SqlModelAlias.model_id == model.id, SqlModelAlias.alias == alias)
                    .execution_options(synchronize_session=False)
                )
            )
            if not deleted:
                raise NotFound(
                    f"alias '{alias}' not found for model '{model_name}' "
                    f"(see `aiflow model versions {model_name}`)"
                )
            add_event(session, model_name, "MODEL_ALIAS_DELETED", alias)

    def get_model_version_by_alias(self, model_name: str, alias: str) -> ModelVersion | None:
        with self._read() as session:
            model = model_row_or_none(session, model_name)
            if model is None:
                return None
            stmt = (
                select(SqlModelVersion)
                .join(SqlModelAlias, SqlModelAlias.model_version_id == SqlModelVersion.id)
                .where(SqlModelAlias.model_id == model.id, SqlModelAlias.alias == alias)
            )
            return newest_of(session, model, stmt)

    def roll_back_alias(self, model_name: str, alias: str = SERVING_ALIAS) -> ModelVersion:
        """Point ``alias`` back at the version it pointed at before its current one.

        The history is the event log: every ``set_model_alias`` records ``<alias>=<version>``
        in the same transaction as the move. Walking it newest first, the answer is the first
        version that differs from the current one, so rolling back twice returns to where it
        started (an undo, like ``kubectl rollout undo``). The move is recorded like any other
        alias move, under a lock on the model row, so concurrent rollbacks queue rather than
        both reading the same history.
        """
        with self._write() as session:
            model = model_row(session, model_name, lock=True)
            current = session.scalar(
                select(SqlModelVersion.version)
                .join(SqlModelAlias, SqlModelAlias.model_version_id == SqlModelVersion.id)
                .where(SqlModelAlias.model_id == model.id, SqlModelAlias.alias == alias)
            )
            if current is None:
                raise InvalidInput(
                    f"model '{model_name}' has no '{alias}' alias to roll back "
                    f"(set one with `aiflow model alias {model_name} {alias} VERSION`)"
                )
            previous = _previous_target(session, model_name, alias, current)
            if previous is None:
                raise InvalidInput(
                    f"model '{model_name}': alias '{alias}' has pointed at no version other than "
                    f"{current}, so there is nothing to roll back to"
                )
            return point_alias(session, model, alias, version_row(session, model, previous))

    # -- what to serve ------------------------------------------------------------------------

    def serving_version(self, model_name: str) -> ModelVersion | None:
        """What a server should load (the version ``serving_pointer`` names), with its aliases
        and metrics; ``None`` when the model does not exist or has no versions."""
        with self._read() as session:
            found = session.execute(
                serving_statement(), {MODEL_NAME_PARAM: model_name}
            ).one_or_none()
            if found is None:
                return None
            model = model_row(session, model_name)
            row = session.get(SqlModelVersion, found.id)
            assert row is not None  # versions are never deleted
            return version_entities(session, model, [row])[0]

    def serving_pointer(self, model_name: str) -> ServingVersion | None:
        """``serving_version`` without aliases and metrics, in a single query: model servers
        poll it. ``None`` when the model does not exist or has no versions."""
        with self._read_connection() as connection:
            found = connection.execute(
                serving_statement(), {MODEL_NAME_PARAM: model_name}
            ).one_or_none()
        if found is None:
            return None
        row = found._asdict()
        deployed_id = row.pop("deployed_id")
        return ServingVersion(**row, deployed=deployed_id == row["id"])


def point_alias(
    session: Session, model: SqlModel, alias: str, row: SqlModelVersion
) -> ModelVersion:
    """Move ``alias`` onto ``row`` and record it in the event log (its alias history), in the
    caller's transaction; shared by setting an alias and rolling one back."""
    values = {
        "model_id": model.id,
        "alias": alias,
        "model_version_id": row.id,
        "updated_at": utcnow(),
    }
    upsert(
        session,
        SqlModelAlias,
        values,
        conflict=["model_id", "alias"],
        update=["model_version_id", "updated_at"],
    )
    entity = version_entities(session, model, [row])[0]
    add_event(session, model.name, ALIAS_SET_EVENT, f"{alias}={row.version}")
    return entity


@cache
def serving_statement() -> Select[tuple[object, ...]]:
    """One row for the model named by the ``model_name`` parameter (none if it does not exist
    or has no versions): the version to serve, ``COALESCE(<deployed alias target>, <newest
    version>)``, with columns named as ``ServingVersion``'s fields plus ``deployed_id``.

    The two correlated subqueries are each one index lookup (the alias by its unique (model,
    alias) key, the newest version by the unique (model, version) key), so the cost does not
    grow with the number of versions.
    """
    model, alias, version = SqlModel.__table__, SqlModelAlias.__table__, SqlModelVersion.__table__
    newest = version.alias("newest")
    deployed_id = (
        select(alias.c.model_version_id)
        .where(alias.c.model_id == model.c.id, alias.c.alias == SERVING_ALIAS)
        .scalar_subquery()
    )
    newest_id = (
        select(newest.c.id)
        .where(newest.c.model_id == model.c.id)
        .order_by(newest.c.version.desc())
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(
            version.c.id,
            model.c.name.label("model_name"),
            version.c.version,
            version.c.artifact_uri,
            version.c.flavor,
            version.c.stage,
            version.c.created_at,
            deployed_id.label("deployed_id"),
        )
        .select_from(model.join(version, version.c.id == func.coalesce(deployed_id, newest_id)))
        .where(model.c.name == bindparam(MODEL_NAME_PARAM))
    )


def _previous_target(session: Session, model_name: str, alias: str, current: int) -> int | None:
    """The newest recorded target of ``alias`` other than ``current``."""
    prefix = f"{alias}="
    history = session.scalars(
        select(SqlEvent.value)
        .where(
            SqlEvent.key == model_name,
            SqlEvent.type == ALIAS_SET_EVENT,
            SqlEvent.value.startswith(prefix, autoescape=True),
        )
        .order_by(SqlEvent.seq.desc())
    )
    for value in history:
        target = value.removeprefix(prefix)
        if target.isdigit() and int(target) != current:
            return int(target)
    return None
