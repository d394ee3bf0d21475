"""Aliases, the lifecycle moves that go with them, and the rule of what to serve.

What to serve: the version carrying the alias ``deployed`` (``SERVING_ALIAS``), else the newest
version that is neither rejected nor failed. That rule is written once, as the SQL of
``serving_statement``, which both ``serving_pointer`` (model servers poll it) and
``serving_version`` (the same version with its aliases and metrics) run.

The stage ``deployed`` goes with the alias: promoting a version onto ``deployed`` makes its
stage ``deployed`` and retires the version that had it; a failed version that had it hands it
back to the previous holder (``_history.withdraw``, with these helpers). Every move writes the
model's history (``model_history``) and a ``MODEL_ALIAS_SET`` event (``<alias>=<version>``) in
the same transaction, under the lock on the model row, so concurrent moves queue and the
history chains; ``roll_back_alias`` walks it.

Why the serving statement is built once and in Core: profiling the server under load
(docs/benchmarks.md) showed that *constructing* the ORM statement -- an ``aliased()`` entity and
two correlated subqueries -- cost more CPU than running it (~450 of ~820 us per call on SQLite),
and the ORM session and row loading most of the rest. The statement never changes (the model
name is a bound parameter), and SQLAlchemy caches its compiled form, so a call only binds,
executes and reads one tuple on a Core connection (~60 us).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Final

from sqlalchemy import Select, String, bindparam, cast, delete, func, select
from sqlalchemy.orm import Session

from aiflow.errors import InvalidInput, NotFound
from aiflow.schemas.entities import (
    SERVING_ALIAS,
    UNSERVABLE_STAGES,
    ModelVersion,
    ServingVersion,
)
from aiflow.schemas.limits import check_name
from aiflow.store._base import Audit, Changes, StoreBase, upsert
from aiflow.store._registry import (
    alias_holder,
    change_stage,
    model_row,
    model_row_or_none,
    newest_of,
    version_entities,
    version_row,
)
from aiflow.store.orm import (
    SqlModel,
    SqlModelAlias,
    SqlModelHistory,
    SqlModelVersion,
    utcnow,
)

ALIAS_SET_EVENT: Final = "MODEL_ALIAS_SET"  # value "<alias>=<version>"
ALIAS_DELETED_EVENT: Final = "MODEL_ALIAS_DELETED"  # value "<alias>"
MODEL_NAME_PARAM: Final = "model_name"


class AliasStore(StoreBase):
    def set_model_alias(
        self,
        model_name: str,
        alias: str,
        version: int,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> ModelVersion:
        """Point ``alias`` at ``version``: ``promote_model_version`` under another name.

        Only setting checks the alias against the name rule: deleting or looking up takes any
        text, so an alias stored before the rule existed can still be removed."""
        return self.promote_model_version(
            model_name, version, alias=alias, reason=reason, actor=actor
        )

    def promote_model_version(
        self,
        model_name: str,
        version: int,
        *,
        alias: str = SERVING_ALIAS,
        reason: str | None = None,
        metrics: Mapping[str, float] | None = None,
        actor: str | None = None,
    ) -> ModelVersion:
        """Move ``alias`` onto ``version``, off the version that had it.

        For ``deployed`` the version's stage becomes ``deployed`` and the previous holder's
        ``retired``; a rejected or failed version cannot take it. Each change is a history row
        (with ``actor``, ``reason`` and the ``metrics`` it was decided on) and an event. A
        version that holds the alias already is returned unchanged, nothing recorded.
        """
        check_name("alias", alias)
        audit = Audit.of(self.actor if actor is None else actor, reason, metrics)

        def work(session: Session) -> ModelVersion:
            model = model_row(session, model_name, lock=True)
            row = version_row(session, model, version)
            changes = Changes(session, model, audit)
            move_alias(changes, alias, row)
            changes.finish()
            return version_entities(session, model, [row])[0]

        return self._write_retrying(work)

    def delete_model_alias(
        self,
        model_name: str,
        alias: str,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Remove ``alias``; its holder, if it loses ``deployed``, is retired (served next is
        then the newest version neither rejected nor failed)."""
        audit = Audit.of(self.actor if actor is None else actor, reason)

        def work(session: Session) -> None:
            model = model_row(session, model_name, lock=True)
            holder = alias_holder(session, model, alias)
            if holder is None:
                raise NotFound(
                    f"alias '{alias}' not found for model '{model_name}' "
                    f"(see `aiflow model versions {model_name}`)"
                )
            changes = Changes(session, model, audit)
            remove_alias(changes, alias, holder)
            changes.finish()

        self._write_retrying(work)

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

    def roll_back_alias(
        self,
        model_name: str,
        alias: str = SERVING_ALIAS,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> ModelVersion:
        """Point ``alias`` back at the version it pointed at before its current one.

        Walking the alias's history newest first, the answer is the first version other than
        the current one (for ``deployed``: one neither rejected nor failed since), so rolling
        back twice returns to where it started (an undo, like ``kubectl rollout undo``). The
        move is a promotion like any other, recorded the same way, under the lock on the model
        row, so concurrent rollbacks queue rather than both reading the same history.
        """
        audit = Audit.of(self.actor if actor is None else actor, reason)

        def work(session: Session) -> ModelVersion:
            model = model_row(session, model_name, lock=True)
            current = alias_holder(session, model, alias)
            if current is None:
                raise InvalidInput(
                    f"model '{model_name}' has no '{alias}' alias to roll back "
                    f"(set one with `aiflow model alias {model_name} {alias} VERSION`)"
                )
            previous = previous_holder(session, model, alias, current.version)
            if previous is None:
                raise InvalidInput(
                    f"model '{model_name}': alias '{alias}' has pointed at no version other than "
                    f"{current.version} that could take it, so there is nothing to roll back to"
                )
            changes = Changes(session, model, audit)
            move_alias(
                changes,
                alias,
                previous,
                reason=audit.reason or f"rolled back from version {current.version}",
            )
            changes.finish()
            return version_entities(session, model, [previous])[0]

        return self._write_retrying(work)

    # -- what to serve ------------------------------------------------------------------------

    def serving_version(self, model_name: str) -> ModelVersion | None:
        """What a server should load (the version ``serving_pointer`` names), with its aliases
        and metrics; ``None`` when the model does not exist or has no version to serve."""
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
        poll it. ``None`` when the model does not exist or has no version to serve."""
        with self._read_connection() as connection:
            found = connection.execute(
                serving_statement(), {MODEL_NAME_PARAM: model_name}
            ).one_or_none()
        if found is None:
            return None
        row = found._asdict()
        deployed_id = row.pop("deployed_id")
        return ServingVersion(**row, deployed=deployed_id == row["id"])


def move_alias(
    changes: Changes, alias: str, row: SqlModelVersion, *, reason: str | None = None
) -> None:
    """Point ``alias`` at ``row`` in the caller's transaction, with its history rows and
    events; for ``deployed`` also the stages of the new holder and of the one replaced (which
    keeps ``rejected`` or ``failed`` when it is withdrawn for that). Nothing when ``row`` holds
    the alias already, except that a holder labelled another stage since gets ``deployed``.
    """
    session, model = changes.session, changes.model
    deployed = alias == SERVING_ALIAS
    if deployed and row.stage in UNSERVABLE_STAGES:
        raise InvalidInput(
            f"model '{model.name}' version {row.version} is {row.stage}, so it cannot take alias "
            f"'{SERVING_ALIAS}' (a {row.stage} version is never served): set its stage to "
            f"validated first if it was {row.stage} by mistake"
        )
    holder = alias_holder(session, model, alias)
    if holder is not None and holder.id == row.id:
        if deployed:
            change_stage(changes, row, "deployed", reason=reason)
        return
    upsert(
        session,
        SqlModelAlias,
        {"model_id": model.id, "alias": alias, "model_version_id": row.id, "updated_at": utcnow()},
        conflict=["model_id", "alias"],
        update=["model_version_id", "updated_at"],
    )
    was = None if holder is None else str(holder.version)
    changes.record(row.version, "alias", alias, was, str(row.version), reason=reason)
    changes.event(ALIAS_SET_EVENT, f"{alias}={row.version}")
    if deployed:
        change_stage(changes, row, "deployed", reason=reason)
        if holder is not None and holder.stage not in UNSERVABLE_STAGES:
            why = f"replaced by version {row.version}"
            change_stage(changes, holder, "retired", reason=f"{why}: {reason}" if reason else why)


def remove_alias(changes: Changes, alias: str, holder: SqlModelVersion) -> None:
    """Delete ``alias`` (held by ``holder``) with its history row and event; a holder losing
    ``deployed`` is retired, unless withdrawn as rejected or failed."""
    session, model = changes.session, changes.model
    session.execute(
        delete(SqlModelAlias)
        .where(SqlModelAlias.model_id == model.id, SqlModelAlias.alias == alias)
        .execution_options(synchronize_session=False)
    )
    changes.record(holder.version, "alias", alias, str(holder.version), None)
    changes.event(ALIAS_DELETED_EVENT, alias)
    if alias == SERVING_ALIAS and holder.stage not in UNSERVABLE_STAGES:
        change_stage(changes, holder, "retired")


def previous_holder(
    session: Session, model: SqlModel, alias: str, current: int
) -> SqlModelVersion | None:
    """The newest version ``alias`` was moved onto, other than ``current``, that may take it
    now (for ``deployed``: neither rejected nor failed). One statement, stopping at the first
    match however long the history is."""
    history = SqlModelHistory
    stmt = (
        select(SqlModelVersion)
        .join(
            history,
            (history.model_id == SqlModelVersion.model_id)
            & (history.to_value == cast(SqlModelVersion.version, String)),
        )
        .where(
            history.model_id == model.id,
            history.kind == "alias",
            history.field == alias,
            SqlModelVersion.version != current,
        )
        .order_by(history.id.desc())
        .limit(1)
    )
    if alias == SERVING_ALIAS:
        stmt = stmt.where(SqlModelVersion.stage.not_in(UNSERVABLE_STAGES))
    return session.scalars(stmt).first()


@cache
def serving_statement() -> Select[tuple[object, ...]]:
    """One row for the model named by the ``model_name`` parameter (none if it does not exist
    or has no version to serve): ``COALESCE(<deployed alias target>, <newest version neither
    rejected nor failed>)``, with columns named as ``ServingVersion``'s fields plus
    ``deployed_id``.

    The two correlated subqueries are each an index lookup (the alias by its unique (model,
    alias) key; the newest version walks the unique (model, version) key down from the top,
    past rejected and failed versions only), so the cost does not grow with the version count.
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
        .where(newest.c.model_id == model.c.id, newest.c.stage.not_in(UNSERVABLE_STAGES))
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
            version.c.checksum,
            deployed_id.label("deployed_id"),
        )
        .select_from(model.join(version, version.c.id == func.coalesce(deployed_id, newest_id)))
        .where(model.c.name == bindparam(MODEL_NAME_PARAM))
    )
