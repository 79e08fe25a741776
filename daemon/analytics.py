"""Analytics of a journaled run: counts, win rate, P&L per structure, drawdown.

Every computation is a pure function over the journal's read models
(:mod:`daemon.journal.read`), so it can be tested with hand-made records and
reused by any report; :func:`summarize` gathers one run's read models and
builds the :class:`JournalSummary` that ``alvh journal`` prints and
:meth:`~daemon.journal.Journal.finish_run` stores. The journal itself knows
nothing of these numbers.

Units: money in dollars, net of commissions and fees; percentages in percent
(``max_drawdown_pct``) or as a decimal share (``win_rate``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from daemon.journal import DailyRecord, Journal, PositionRecord, RunInfo, TallyRecord
from strategies.domain import Structure

__all__ = [
    "OTHER",
    "ActivityCounts",
    "JournalSummary",
    "count_activity",
    "max_drawdown",
    "realized_by_structure",
    "starting_net_liquidation",
    "summarize",
    "summarize_records",
    "win_rate",
]

#: Count key for orders and fills that belong to no journaled decision (e.g. manual trades).
OTHER = "other"


#: Fields of :class:`JournalSummary` in dollars (rounded to cents in JSON).
MONEY_FIELDS = frozenset(
    {
        "total_pnl",
        "realized_pnl",
        "unrealized_pnl",
        "condor_pnl",
        "hedge_pnl",
        "interest",
        "commissions",
        "starting_net_liquidation",
        "final_net_liquidation",
        "max_drawdown",
    }
)


@dataclass(frozen=True, slots=True)
class JournalSummary:
    """What ``alvh journal FILE`` prints about one run; money in dollars.

    Counts are keyed by structure (``"condor"``, ``"hedge_layer"``; fills of
    orders the journal does not know are under ``"other"``). P&L is net of
    commissions and fees. ``total_pnl`` is the last session's realized plus
    unrealized P&L plus ``interest``, the interest credited to cash
    (realized only when no session was marked);
    ``max_drawdown`` is the largest fall of net liquidation from its running
    peak, also as ``max_drawdown_pct`` percent of that peak. ``win_rate`` is
    a decimal share of closed positions with positive realized P&L, ``None``
    when nothing closed.
    """

    run_id: int
    mode: str
    started_at: str
    finished_at: str | None
    replay_start: date | None
    replay_end: date | None
    sessions: int
    first_session: date | None
    last_session: date | None
    decisions: dict[str, int] = field(default_factory=dict)
    orders: dict[str, int] = field(default_factory=dict)
    orders_filled: int = 0
    fills: dict[str, int] = field(default_factory=dict)
    trades_closed: int = 0
    wins: int = 0
    win_rate: float | None = None
    total_pnl: float = 0.0
    realized_pnl: float = 0.0
    unrealized_pnl: float = 0.0
    condor_pnl: float = 0.0
    hedge_pnl: float = 0.0
    interest: float = 0.0
    commissions: float = 0.0
    starting_net_liquidation: float | None = None
    final_net_liquidation: float | None = None
    max_drawdown: float = 0.0
    max_drawdown_pct: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """The summary as JSON-ready values: dates ISO, money rounded to cents.

        Sums of float dollars carry binary noise (``42683.60999999966``); the
        journal's ``summary_json`` and ``alvh journal --json`` show cents
        (:data:`MONEY_FIELDS`), percentages and the win rate to 6 decimals.
        """
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, Mapping):
                value = dict(value)
            elif isinstance(value, float) and math.isfinite(value):
                value = round(value, 2) if name in MONEY_FIELDS else round(value, 6)
            out[name] = value
        return out

    def render(self) -> str:
        """A short human-readable report (several lines)."""

        def counts(values: Mapping[str, int]) -> str:
            total = sum(values.values())
            parts = ", ".join(f"{k} {v}" for k, v in sorted(values.items()))
            return f"{total}" + (f" ({parts})" if parts else "")

        period = ""
        if self.first_session is not None:
            period = f", sessions {self.first_session} .. {self.last_session} ({self.sessions})"
        win = "n/a" if self.win_rate is None else f"{self.win_rate * 100:.1f}%"
        lines = [
            f"run {self.run_id} [{self.mode}] started {self.started_at}"
            + (f", finished {self.finished_at}" if self.finished_at else ", not finished")
            + period,
            f"decisions {counts(self.decisions)}; orders {counts(self.orders)}"
            f" ({self.orders_filled} filled); fills {counts(self.fills)}",
            f"trades closed {self.trades_closed}, wins {self.wins}, win rate {win}",
            f"P&L total {self.total_pnl:,.2f} (condor {self.condor_pnl:,.2f},"
            f" hedge {self.hedge_pnl:,.2f}, interest on cash {self.interest:,.2f};"
            f" realized {self.realized_pnl:,.2f}, open {self.unrealized_pnl:,.2f}) USD",
            f"max drawdown {self.max_drawdown:,.2f} USD ({self.max_drawdown_pct:.2f}%);"
            f" commissions {self.commissions:,.2f} USD",
        ]
        if self.final_net_liquidation is not None:
            lines.append(
                f"net liquidation {self.starting_net_liquidation or 0:,.2f}"
                f" -> {self.final_net_liquidation:,.2f} USD"
            )
        return "\n".join(lines)


# --------------------------------------------------------------------------- computations


@dataclass(frozen=True, slots=True)
class ActivityCounts:
    """How much a run did, by structure (see :func:`count_activity`).

    Count dicts are keyed by structure value (``"condor"``, ``"hedge_layer"``)
    plus :data:`OTHER` for orders and fills tied to no journaled decision,
    sorted by key. ``orders_filled`` counts orders with at least one combo
    unit filled; ``commissions`` is the dollars of commissions and fees of
    every fill.
    """

    decisions: dict[str, int]
    orders: dict[str, int]
    orders_filled: int
    fills: dict[str, int]
    commissions: float


def count_activity(tallies: Iterable[TallyRecord]) -> ActivityCounts:
    """A run's decisions, orders and fills by structure, from its :meth:`Journal.tally`.

    ``commissions`` adds the per-structure subtotals in the order given.
    """
    counts: dict[str, dict[str, int]] = {"decision": {}, "order": {}, "fill": {}}
    filled = 0
    commissions = 0.0
    for t in tallies:
        key = OTHER if t.structure is None else t.structure
        by_structure = counts[t.kind]
        by_structure[key] = by_structure.get(key, 0) + t.rows
        filled += t.filled
        commissions += t.commission
    decisions, orders, fills = (dict(sorted(c.items())) for c in counts.values())
    return ActivityCounts(decisions, orders, filled, fills, commissions)


def win_rate(positions: Iterable[PositionRecord]) -> tuple[int, int, float | None]:
    """``(closed, wins, rate)`` of the closed positions.

    A win is a closed position with positive realized P&L; ``rate`` is
    ``wins / closed`` as a decimal share, ``None`` when nothing closed.
    """
    closed = wins = 0
    for p in positions:
        if p.closed_session is None:
            continue
        closed += 1
        if p.realized_pnl is not None and p.realized_pnl > 0:
            wins += 1
    return closed, wins, (wins / closed if closed else None)


def realized_by_structure(positions: Iterable[PositionRecord]) -> dict[str, float]:
    """Realized P&L of the closed positions per structure value, dollars net of costs.

    Summed in order of closing session; structures with no closed position
    are absent.
    """
    closed = sorted((p for p in positions if p.closed_session is not None), key=_closed_on)
    out: dict[str, float] = {}
    for p in closed:
        key = p.structure.value
        out[key] = out.get(key, 0.0) + (p.realized_pnl or 0.0)
    return out


def _closed_on(p: PositionRecord) -> date:
    assert p.closed_session is not None
    return p.closed_session


def max_drawdown(
    net_liquidation: Iterable[float | None], start: float | None = None
) -> tuple[float, float]:
    """The largest fall of net liquidation from its running peak.

    Args:
        net_liquidation: end-of-session net liquidation in session order,
            dollars; ``None`` entries (no value that session) are skipped.
        start: net liquidation before the first session (the peak to beat),
            dollars; ``None`` starts from the first value.

    Returns:
        ``(dollars, percent)``: the largest fall in dollars, and the largest
        fall as percent of its peak (the two may come from different
        sessions); ``(0.0, 0.0)`` when it never fell.
    """
    max_dd = max_dd_pct = 0.0
    peak = start
    for nl in net_liquidation:
        if nl is None:
            continue
        peak = nl if peak is None else max(peak, nl)
        dd = peak - nl
        if dd > max_dd:
            max_dd = dd
        if peak > 0 and dd / peak * 100.0 > max_dd_pct:
            max_dd_pct = dd / peak * 100.0
    return max_dd, max_dd_pct


def starting_net_liquidation(info: RunInfo, daily: Sequence[DailyRecord]) -> float | None:
    """Net liquidation before a run's first session, dollars.

    A replay's configured ``replay.starting_cash``; otherwise (or when the
    configuration has none) the first session's net liquidation; ``None``
    when no session was recorded.
    """
    if info.mode == "replay":
        cash = info.config.get("replay", {}).get("starting_cash")
        if isinstance(cash, int | float):
            return float(cash)
    return float(daily[0].net_liquidation) if daily else None


# --------------------------------------------------------------------------- summary


def summarize_records(
    info: RunInfo,
    tallies: Iterable[TallyRecord],
    positions: Sequence[PositionRecord],
    daily: Sequence[DailyRecord],
) -> JournalSummary:
    """The summary of a run from its read models.

    Args:
        info: the run.
        tallies: its decisions, orders and fills by structure (:meth:`Journal.tally`).
        positions: its positions, open and closed.
        daily: its ``daily`` rows in session order.

    P&L comes from the last ``daily`` row (cumulative, interest on cash
    included); a run with none falls back to the realized P&L of its closed
    positions.
    """
    counts = count_activity(tallies)
    closed, wins, rate = win_rate(positions)
    if daily:
        last = daily[-1]
        realized = float(last.realized_pnl or 0.0)
        unrealized = float(last.unrealized_pnl or 0.0)
        condor_pnl, hedge_pnl = float(last.condor_pnl or 0.0), float(last.hedge_pnl or 0.0)
        interest = float(last.interest or 0.0)
    else:
        by_structure = realized_by_structure(positions)
        realized, unrealized, interest = sum(by_structure.values()), 0.0, 0.0
        condor_pnl = by_structure.get(Structure.CONDOR.value, 0.0)
        hedge_pnl = by_structure.get(Structure.HEDGE_LAYER.value, 0.0)
    starting = starting_net_liquidation(info, daily)
    drawdown, drawdown_pct = max_drawdown((d.net_liquidation for d in daily), starting)
    return JournalSummary(
        run_id=info.id,
        mode=info.mode,
        started_at=info.started_at,
        finished_at=info.finished_at,
        replay_start=info.replay_start,
        replay_end=info.replay_end,
        sessions=len(daily),
        first_session=daily[0].session if daily else None,
        last_session=daily[-1].session if daily else None,
        decisions=counts.decisions,
        orders=counts.orders,
        orders_filled=counts.orders_filled,
        fills=counts.fills,
        trades_closed=closed,
        wins=wins,
        win_rate=rate,
        total_pnl=realized + unrealized + interest,
        realized_pnl=realized,
        unrealized_pnl=unrealized,
        condor_pnl=condor_pnl,
        hedge_pnl=hedge_pnl,
        interest=interest,
        commissions=counts.commissions,
        starting_net_liquidation=starting,
        final_net_liquidation=float(daily[-1].net_liquidation) if daily else None,
        max_drawdown=drawdown,
        max_drawdown_pct=drawdown_pct,
    )


def summarize(journal: Journal, run_id: int | None = None) -> JournalSummary:
    """Counts, P&L and drawdown of one run of ``journal`` (``None`` = the latest).

    Raises:
        JournalError: no such run / no runs.
    """
    info = journal.run(run_id)
    return summarize_records(
        info, journal.tally(info.id), journal.positions(info.id), journal.daily(info.id)
    )
