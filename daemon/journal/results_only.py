"""A results-only journal: runs, daily equity and P&L, positions; no per-decision rows.

A parameter sweep replays the same history hundreds of times and needs only
each run's results. :class:`ResultsOnlyJournal` (``Journal.open(path,
results_only=True)``, ``run_replay(..., results_only=True)``, ``alvh replay
--results-only``) writes the same schema as the full journal, but only these
tables:

* ``runs`` (with the summary ``finish_run`` stores),
* ``daily`` (end-of-session cash, net liquidation, realized and open P&L,
  P&L per structure, drawdown),
* ``positions`` (every structure opened, its close, realized P&L and
  reason: the closed trades),
* ``interest`` (the cash interest credited per session, schema v4).

It writes **no** rows to ``decisions``, ``orders``, ``order_events``,
``fills``, ``settlements`` or ``marks`` (:data:`SKIPPED_TABLES`). The
engine's own checks still work within the run: the exactly-once keys of the
skipped tables are kept in memory (:attr:`~daemon.journal.keys.UniqueKeys.kept`),
an order's transitions are checked against the orders accepted, and
:meth:`ResultsOnlyJournal.tally` counts the run's decisions, orders (filled
ones too), fills and commissions in memory, so :meth:`~Journal.summary` of a
run written by this object, and the summary stored by ``finish_run``, are
the full journal's. A later reader of the file finds no such rows; the
analytics fall back to the stored summary's counts
(:func:`daemon.analytics.summarize`). The realized and open P&L, positions
and daily rows are identical to a full journal's (tested).

Only replay runs may be results-only: a paper or live daemon must journal
every order and fill, which the next start folds to rebuild its book
(:mod:`daemon.reconcile`); :meth:`ResultsOnlyJournal.start_run` refuses
other modes.

Saving: the full journal of a 2007-2024 replay has 21,837 decisions, 2,305
orders with their events, 6,895 fills and a mark per open position and
session (34 MB); the results-only one is 1.7 MB and the replay 10-20 %
cheaper (``docs/sweep.md``, measured). The ``interest`` rows (schema v4, one
per session) are kept: they are part of the daily equity.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeVar

from daemon.brokers.base import OrderResult
from daemon.journal.errors import JournalError
from daemon.journal.file import Journal
from daemon.journal.read import TallyRecord
from strategies.domain import Decision
from strategies.execution import Fill, OrderIntent, OrderState, Settlement

__all__ = ["SKIPPED_TABLES", "ActivityTally", "ResultsOnlyJournal"]

_T = TypeVar("_T")

#: Tables a results-only journal leaves empty.
SKIPPED_TABLES = ("decisions", "orders", "order_events", "fills", "settlements", "marks")


@dataclass(slots=True)
class ActivityTally:
    """In-memory counts of the rows a results-only journal does not write.

    Mirrors the SQL tally of :meth:`~daemon.journal.read.JournalReader.tally`:
    an order or fill belongs to the structure of the decision whose id is its
    ``order_ref`` (``None`` when no decision of this object has that id).
    """

    #: decision id -> structure value
    structure_of: dict[str, str] = field(default_factory=dict)
    #: (run id, structure) -> decisions
    decisions: Counter[tuple[int, str | None]] = field(default_factory=Counter)
    #: order_ref -> [run id, filled quantity (combo units)]
    orders: dict[str, list[int]] = field(default_factory=dict)
    #: (run id, order_ref) -> [fills, commission dollars]
    fills: dict[tuple[int, str], list[float]] = field(default_factory=dict)
    #: runs that wrote anything through this object
    runs: set[int] = field(default_factory=set)

    def decision(self, decision_id: str, run_id: int, structure: str) -> None:
        self.structure_of[decision_id] = structure
        self.decisions[(run_id, structure)] += 1
        self.runs.add(run_id)

    def order(self, order_ref: str, run_id: int) -> None:
        self.orders[order_ref] = [run_id, 0]
        self.runs.add(run_id)

    def order_filled(self, order_ref: str, filled_quantity: int | None) -> None:
        """An order's filled quantity changed (``None`` keeps the previous one)."""
        if filled_quantity is not None:
            self.orders[order_ref][1] = filled_quantity

    def fill(self, run_id: int, order_ref: str, commission: float) -> None:
        entry = self.fills.setdefault((run_id, order_ref), [0.0, 0.0])
        entry[0] += 1
        entry[1] += commission
        self.runs.add(run_id)

    def tally(self, run_id: int) -> list[TallyRecord]:
        """``run_id``'s tallies in the order of the SQL tally (kind, then structure, None first)."""
        decisions: Counter[str | None] = Counter()
        for (rid, structure), n in self.decisions.items():
            if rid == run_id:
                decisions[structure] += n
        orders: dict[str | None, list[int]] = {}
        for ref, (rid, filled) in self.orders.items():
            if rid == run_id:
                entry = orders.setdefault(self.structure_of.get(ref), [0, 0])
                entry[0] += 1
                entry[1] += filled > 0
        fills: dict[str | None, list[float]] = {}
        for (rid, ref), (count, commission) in self.fills.items():
            if rid == run_id:
                entry_f = fills.setdefault(self.structure_of.get(ref), [0.0, 0.0])
                entry_f[0] += count
                entry_f[1] += commission
        out = [TallyRecord("decision", s, n) for s, n in _by_structure(decisions.items())]
        out += [TallyRecord("order", s, n, f) for s, (n, f) in _by_structure(orders.items())]
        out += [TallyRecord("fill", s, int(n), 0, c) for s, (n, c) in _by_structure(fills.items())]
        return out


def _by_structure(items: Iterable[tuple[str | None, _T]]) -> list[tuple[str | None, _T]]:
    """Items sorted by structure, ``None`` first (SQLite sorts NULL first)."""
    return sorted(items, key=lambda kv: (kv[0] is not None, kv[0] or ""))


class ResultsOnlyJournal(Journal):
    """A :class:`Journal` that writes only runs, daily rows and positions (module docstring).

    Open it with ``Journal.open(path, results_only=True)``.
    """

    results_only = True

    def _activity(self) -> ActivityTally:
        tally: ActivityTally | None = getattr(self, "_tally", None)
        if tally is None:
            tally = self._tally = ActivityTally()
        return tally

    def _check_writable(self) -> None:
        if self._closed:
            raise JournalError(f"{self.path}: journal is closed")
        if self.read_only:
            raise JournalError(f"{self.path}: journal is open read-only")

    # -- runs -----------------------------------------------------------------
    def start_run(
        self,
        mode: str,
        *,
        config_json: str = "{}",
        replay_start: date | None = None,
        replay_end: date | None = None,
        started_at: datetime | None = None,
        account: str | None = None,
    ) -> int:
        """As :meth:`Journal.start_run`, for replay runs only.

        Raises:
            JournalError: ``mode`` is not ``"replay"`` (a paper or live run must
                journal every order and fill), or as :meth:`Journal.start_run`.
        """
        if mode != "replay":
            raise JournalError(
                f"a results-only journal is for replays only, not {mode!r} runs "
                "(paper and live runs journal every order and fill)"
            )
        return super().start_run(
            mode,
            config_json=config_json,
            replay_start=replay_start,
            replay_end=replay_end,
            started_at=started_at,
            account=account,
        )

    # -- decisions and orders (kept in memory) --------------------------------
    def record_decision(
        self, decision_id: str, run_id: int, session: date, time: datetime, decision: Decision
    ) -> None:
        if self.decision_exists(decision_id):
            raise JournalError(f"decision {decision_id!r} is already journaled")
        self._check_writable()
        self._decision_ids.kept.add(decision_id)
        self._activity().decision(decision_id, run_id, decision.structure.value)

    def record_order_intent(self, intent: OrderIntent, run_id: int, time: datetime) -> None:
        self._queue_order(intent, run_id, time.isoformat(), OrderState.INTENT)

    def _queue_order(self, intent: OrderIntent, run_id: int, stamp: str, state: OrderState) -> None:
        ref = intent.order_ref
        if not self.decision_exists(intent.decision_id):
            raise JournalError(f"order {ref!r} has no journaled decision")
        if self.order_exists(ref):
            raise JournalError(f"order {ref!r} is already journaled")
        self._check_writable()
        self._order_refs.kept.add(ref)
        self._activity().order(ref, run_id)

    def transition_order(
        self,
        order_ref: str,
        run_id: int,
        state: OrderState,
        time: datetime,
        *,
        filled_quantity: int | None = None,
        avg_price: float | None = None,
        reason: str = "",
    ) -> None:
        if not self.order_exists(order_ref):
            raise JournalError(f"transition of unknown order {order_ref!r}")
        self._check_writable()
        if order_ref in self._activity().orders:
            self._activity().order_filled(order_ref, filled_quantity)

    def update_order(self, result: OrderResult, time: datetime) -> None:
        if not self.order_exists(result.order_ref):
            raise JournalError(f"update for unknown order {result.order_ref!r}")
        self._check_writable()
        if result.order_ref in self._activity().orders:
            self._activity().order_filled(result.order_ref, result.filled_quantity)

    # -- fills, settlements, marks --------------------------------------------
    def record_fill(self, fill: Fill, run_id: int) -> bool:
        if fill.exec_id in self._exec_ids:
            return False
        self._check_writable()
        self._exec_ids.kept.add(fill.exec_id)
        self._activity().fill(run_id, fill.order_ref, fill.commission)
        return True

    def record_settlement(self, settlement: Settlement, run_id: int) -> bool:
        key = (run_id, settlement.contract.local_symbol, settlement.structure_id or "")
        if key in self._settled:
            return False
        self._check_writable()
        self._settled.kept.add(key)
        return True

    def record_mark(
        self,
        run_id: int,
        session: date,
        position_id: str,
        *,
        mark_price: float,
        unrealized_pnl: float,
        delta: float,
        gamma: float,
        vega: float,
        theta: float,
    ) -> None:
        self._check_writable()

    # -- reads ------------------------------------------------------------------
    def tally(self, run_id: int) -> list[TallyRecord]:
        """The run's tallies: from memory for a run written here, else from the file."""
        tally = self._activity()
        if run_id in tally.runs:
            return tally.tally(run_id)
        return super().tally(run_id)
