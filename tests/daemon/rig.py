"""A daemon on a journal file and a scripted broker, started as ``alvh run`` starts it.

:func:`start` mirrors :func:`daemon.live.run_live`'s start-up without the
scheduler: open the journal unbuffered, start a run of ``mode``, build the
engine (book not ready), connect, record the account, restore the book from
the runs of the same mode and account, track the orders whose fate is not
final, reconcile, and reconcile again before every manage job. A test that
"crashes" simply stops using a rig and starts another on the same file and
gateway.

The ``rows``/``order``/``events`` helpers read the file through a separate
``sqlite3`` connection: what they see is what a crash would leave.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from daemon.clock import NEW_YORK
from daemon.engine import TradingEngine
from daemon.journal import Journal
from daemon.reconcile import Reconciler, ReconcileReport, book_runs, restore
from strategies.domain import Action, Decision, Leg, OptionContract, Right, Structure
from strategies.plan import Plan
from strategies.portfolio import StructurePosition
from strategies.rules import CondorRules, HedgeRules
from tests.daemon.scripted_broker import (
    Gateway,
    ManualClock,
    Outcome,
    RecordingLog,
    ScriptedBroker,
)

SESSION = date(2023, 2, 3)  # a Friday
EXPIRY = date(2023, 2, 17)
LP = OptionContract("SPX", "SPXW", EXPIRY, 3850.0, Right.PUT)
SP = OptionContract("SPX", "SPXW", EXPIRY, 3900.0, Right.PUT)
SC = OptionContract("SPX", "SPXW", EXPIRY, 4100.0, Right.CALL)
LC = OptionContract("SPX", "SPXW", EXPIRY, 4150.0, Right.CALL)
CONDOR = (Leg(LP, 1), Leg(SP, -1), Leg(SC, -1), Leg(LC, 1))
CLOSING = tuple(Leg(leg.contract, -leg.ratio) for leg in CONDOR)
#: Opening fill prices per share: a 2.90 credit.
OPEN_PRICES = {LP: 2.0, SP: 3.5, SC: 3.0, LC: 1.6}
VIX_CALL = OptionContract("VIX", "VIX", date(2023, 4, 19), 22.0, Right.CALL)


def open_decision(quantity: int = 6, legs: tuple[Leg, ...] = CONDOR) -> Decision:
    return Decision(
        "condor_entry",
        Action.OPEN,
        Structure.CONDOR,
        f"open {quantity} condors",
        {"credit": 2.90},
        legs=legs,
        quantity=quantity,
        limit_price=-2.90,
    )


def close_decision(position_id: str, quantity: int, legs: tuple[Leg, ...] = CLOSING) -> Decision:
    return Decision(
        "condor_exit",
        Action.CLOSE,
        Structure.CONDOR,
        f"close {quantity} of {position_id}",
        {},
        legs=legs,
        quantity=quantity,
        limit_price=1.00,
        position_id=position_id,
    )


@dataclass
class Rig:
    """One daemon run: journal, scripted broker, engine, reconciler."""

    path: Path
    mode: str
    account: str
    clock: ManualClock
    log: RecordingLog
    journal: Journal
    run_id: int
    broker: ScriptedBroker
    engine: TradingEngine
    reconciler: Reconciler
    report: ReconcileReport | None = None

    @property
    def portfolio(self) -> Any:
        return self.engine.portfolio

    @property
    def executor(self) -> Any:
        return self.engine.executor

    def position(self, structure_id: str) -> StructurePosition:
        return self.engine.portfolio.structures[structure_id]

    async def open(self, quantity: int = 6, outcome: Outcome | None = None) -> str:
        """Open a condor through the executor; returns its structure id (= order ref)."""
        self.broker.script(outcome or Outcome(prices=OPEN_PRICES))
        await self.engine.executor.execute(Plan.of(open_decision(quantity)))
        return self.broker.placed[-1].order_ref

    def close(self) -> None:
        self.journal.close()


async def start(
    path: Path,
    *,
    mode: str = "paper",
    account: str = "DU123",
    gateway: Gateway | None = None,
    clock: ManualClock | None = None,
    policy: str = "adopt",
    settle_expired: bool = False,
    reconcile: bool = True,
) -> Rig:
    """Start a daemon run on ``path`` against ``gateway`` (see the module doc)."""
    clock = clock or ManualClock(datetime.combine(SESSION, time(15, 30), NEW_YORK))
    log = RecordingLog()
    journal = Journal.open(path, buffered=False)
    run_id = journal.start_run(mode)
    gateway = gateway if gateway is not None else Gateway(account_id=account)
    broker = ScriptedBroker(clock.now, gateway)
    engine = TradingEngine(
        broker,
        journal,
        run_id,
        clock.now,
        CondorRules(),
        HedgeRules(),
        log,
        settle_expired=settle_expired,
    )
    engine.book_ready = False
    await broker.connect()
    journal.set_run_account(run_id, account)
    for ref, structure_id in restore(
        journal, book_runs(journal, mode, account), engine.portfolio
    ).items():
        engine.executor.track(ref, structure_id)
    engine.book_ready = True
    reconciler = Reconciler(engine, policy, log)
    rig = Rig(path, mode, account, clock, log, journal, run_id, broker, engine, reconciler)
    if reconcile:
        rig.report = await reconciler.run()
        engine.before_manage = reconciler.run
    return rig


# --------------------------------------------------------------------------- reading the file


def rows(path: Path, sql: str, *params: Any) -> list[dict[str, Any]]:
    """Rows of ``sql`` read through a new, separate connection."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params).fetchall()]
    finally:
        conn.close()


def order(path: Path, ref: str) -> dict[str, Any]:
    [row] = rows(path, "SELECT * FROM orders WHERE order_ref = ?", ref)
    return row


def events(path: Path, ref: str) -> list[str]:
    """The order's journaled states, oldest first."""
    return [
        r["state"]
        for r in rows(path, "SELECT state FROM order_events WHERE order_ref = ? ORDER BY id", ref)
    ]


def position_row(path: Path, structure_id: str) -> dict[str, Any]:
    [row] = rows(path, "SELECT * FROM positions WHERE id = ?", structure_id)
    return row


def decisions(path: Path, run_id: int | None = None) -> list[dict[str, Any]]:
    if run_id is None:
        return rows(path, "SELECT * FROM decisions ORDER BY rowid")
    return rows(path, "SELECT * FROM decisions WHERE run_id = ? ORDER BY rowid", run_id)


def fills(path: Path, ref: str | None = None) -> list[dict[str, Any]]:
    if ref is None:
        return rows(path, "SELECT * FROM fills ORDER BY rowid")
    return rows(path, "SELECT * FROM fills WHERE order_ref = ? ORDER BY rowid", ref)


def held_by_leg(position: StructurePosition) -> dict[str, int]:
    """``{"LP": n, ...}`` of the test condor's legs (0 for a flat leg)."""
    names = {LP: "LP", SP: "SP", SC: "SC", LC: "LC"}
    return {names[c]: position.held.get(c, 0) for c in (LP, SP, SC, LC)}
