"""A driver's lease in the meta store: how a driver on another host is known to be dead.

From its own host, a driver is proven dead by its pid (``reconcile.driver_is_dead``). From any
other host there is no such proof: a Kubernetes pod replaced by a rollout or a lost node comes
back with another hostname, and without a lease its executions would never be adopted, nor
could ``aiflow execution stop`` end them. So a driver renews ``driver_heartbeat_at`` every
``scheduler.driver_heartbeat`` seconds (and at its claim), and another host declares it dead
once that is older than ``scheduler.driver_lease``.

The renewal is a conditional UPDATE on (execution, driver pid, driver host): a driver that
stalled past its lease (a frozen VM, a long GC pause) and was replaced meanwhile renews
nothing, finds out, and stops acting at once (``ClaimLost``): the jobs are its successor's now,
and stopping them or writing a status would undo the adoption.

Only drivers whose jobs another host can reach hold a lease: not the local deployer's, whose
jobs are processes of the driver's host (``holds_lease``).

Clocks: the heartbeat is written with the writing host's clock (``utcnow()``, as every store
timestamp) and judged with the judging host's. The lease therefore assumes the hosts' clocks
agree (NTP) to well within ``driver_lease - driver_heartbeat``; a judge whose clock runs ahead
by S seconds declares a driver dead S seconds early.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aiflow.config import get_settings
from aiflow.errors import NotFound

if TYPE_CHECKING:
    from aiflow.deployers.base import Deployer
    from aiflow.schemas.entities import Execution
    from aiflow.store.sql_store import MetaStore

log = logging.getLogger("aiflow.scheduler")


class ClaimLost(Exception):
    """The driver's execution was adopted or ended by another process: stop acting on it."""


def lease_expired(execution: Execution, now: datetime | None = None) -> bool:
    """True when the execution's driver has not renewed its lease for ``scheduler.driver_lease``
    seconds, judged by this host's clock (see the module docstring on skew).

    A driver without a heartbeat (``None``) was claimed by an aiflow without leases (before
    revision 0009) or never renewed under one: its silence proves nothing, so it is never
    expired here, and such an execution is left to its own host as it always was.
    """
    beat = execution.driver_heartbeat_at
    if beat is None:
        return False
    age = ((now or datetime.now(UTC)) - beat).total_seconds()
    return age > get_settings().scheduler.driver_lease


def holds_lease(deployer: Deployer) -> bool:
    """Whether the drivers of ``deployer`` hold a lease: not when its jobs are processes of the
    driver's host (``Deployer.host_bound``: the local deployer), which no other host can
    poll or stop (the local deployer's handles name their host and refuse elsewhere). Adopting
    those from another host would take the execution from a driver that is only asleep (a
    suspended laptop) without reaching its jobs; so such a driver records no heartbeat and is
    judged from its own host only, as before leases."""
    return not deployer.host_bound


class DriverLease:
    """This process's lease on execution ``execution_id``, renewed from the driver's loop
    (a no-op for a deployer that holds none, see ``holds_lease``)."""

    def __init__(self, store: MetaStore, execution_id: int, deployer: Deployer) -> None:
        self.store = store
        self.id = execution_id
        self.held = holds_lease(deployer)
        self.pid, self.host = os.getpid(), socket.gethostname()
        self.every = get_settings().scheduler.driver_heartbeat
        self.next = time.monotonic() + self.every

    def claim(self, *, replacing: tuple[int | None, str | None]) -> bool:
        """Become the execution's driver, replacing the driver ``replacing`` (pid, host; both
        None for the first): a compare-and-set, which also is the lease's first renewal."""
        claimed = self.store.claim_driver(
            self.id, replacing=replacing, pid=self.pid, host=self.host, lease=self.held
        )
        self.next = time.monotonic() + self.every
        return claimed

    def keep(self, now: float) -> None:
        """Renew the lease if it is due; raise ``ClaimLost`` if this process no longer holds
        it. Called once per loop turn, first, so a driver waking from a stall longer than the
        lease finds out before it acts on anything."""
        if not self.held or now < self.next:
            return
        self.next = now + self.every
        try:
            held = self.store.renew_driver(self.id, pid=self.pid, host=self.host)
        except NotFound:
            held = False
        if held:
            return
        log.warning(
            "execution %s: this driver (pid %s on %s) lost its claim: another process adopted or "
            "ended the execution while it was stalled past scheduler.driver_lease; leaving its "
            "jobs and statuses to that process and exiting",
            self.id,
            self.pid,
            self.host,
        )
        raise ClaimLost(f"execution {self.id} is no longer driven by pid {self.pid}")
