"""What ``alvh report`` shows of one run: pure functions over the journal's read models.

Nothing here opens a file or draws: every function takes read-model records
(:mod:`daemon.journal.read`) and returns plain values, so tests can feed
hand-made records and the study (:mod:`daemon.study`) can reuse them.
:func:`gather` reads one run of an open journal and builds the
:class:`RunReport` the charts (:mod:`daemon.report.charts`) and the page
(:mod:`daemon.report.page`) render.

Units: money in dollars net of commissions and fees; prices index points per
combo unit (+ debit / - credit); drawdown and returns as decimal shares;
volatility annualised decimal (0.15 = 15 %); VIX in VIX points; sessions are
dates (America/New_York); days held are calendar days. Greeks are the
journal's ``marks`` columns, summed per session over the structures of one
kind (condors are SPX options, hedge layers VIX options; greeks of different
underlyings do not add, see :func:`strategies.risk.portfolio_greeks`):
delta dollars per index point of the underlying, gamma dollars-per-point per
point, vega dollars per vol point (0.01) of the options' implied vol, theta
dollars per calendar day.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from daemon.analytics import JournalSummary, starting_net_liquidation, summarize_records
from daemon.journal import (
    DailyRecord,
    DecisionRecord,
    Journal,
    MarkRecord,
    PositionRecord,
    RunInfo,
)
from strategies.domain import Leg, Right, Structure

__all__ = [
    "GREEKS",
    "ROLLING_WINDOW",
    "TRADING_DAYS_PER_YEAR",
    "UNTAGGED",
    "RuleCount",
    "RunReport",
    "StructureRow",
    "TagTotal",
    "attribution_by_tag",
    "drawdown_share",
    "exit_of",
    "gather",
    "irr",
    "max_loss",
    "net_greeks",
    "rolling_vol",
    "rule_counts",
    "structure_rows",
    "tag_totals",
]

#: Sessions in the rolling volatility window (about one calendar month).
ROLLING_WINDOW = 21
#: Sessions per year used to annualise daily volatility.
TRADING_DAYS_PER_YEAR = 252
#: The greeks the journal stores per mark, in display order.
GREEKS = ("delta", "gamma", "vega", "theta")
#: Attribution key of hedge layers the journal gave no tag (journals before the ladder).
UNTAGGED = "untagged"

_CLOSED_BY = "closed by order "


def _num(value: float | None) -> float:
    """``value`` as a float, NaN for ``None``: SQLite stores a NaN (a mark the job could
    not price) as NULL, so a read model may hand back ``None`` where a float is typed."""
    return math.nan if value is None else float(value)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class StructureRow:
    """One structure (a ``positions`` row) as the report's table shows it.

    Attributes:
        id, structure, tag, parent_id: as journaled (``tag`` e.g. ``rung-1``,
            ``rung-2``, ``recycle``; ``None`` for condors).
        opened, closed: sessions; ``closed`` is ``None`` while open.
        days_held: calendar days from opening to closing (or to the run's
            last session while open), at least 1.
        quantity: combo units held.
        open_price, close_price: net per combo unit, index points.
        pnl: dollars net of costs: realized when closed, the last mark's
            unrealized P&L while open (``None`` if never marked).
        max_loss: dollars at risk at entry (:func:`max_loss`), ``None`` when
            unbounded or unknown.
        return_on_risk: ``pnl / max_loss`` (decimal), ``None`` without both.
        irr: :func:`irr` of ``return_on_risk`` over ``days_held`` (decimal).
        exit_rule: the rule of the decision whose order closed it
            (``condor_exit``, ``hedge_roll``...), else ``""``.
        exit_reason: that decision's reason, else the journal's close reason.
    """

    id: str
    structure: str
    tag: str | None
    parent_id: str | None
    opened: date
    closed: date | None
    days_held: int
    quantity: int
    open_price: float
    close_price: float | None
    pnl: float | None
    max_loss: float | None
    return_on_risk: float | None
    irr: float | None
    exit_rule: str
    exit_reason: str


@dataclass(frozen=True, slots=True)
class TagTotal:
    """One attribution key's P&L: ``realized`` of closed structures, ``open`` of held
    ones at the last mark, dollars; ``structures`` how many positions carry the key."""

    key: str
    structures: int
    realized: float
    open: float

    @property
    def total(self) -> float:
        return self.realized + self.open


@dataclass(frozen=True, slots=True)
class RuleCount:
    """How many decisions of one rule took one action (``SKIP`` and ``HOLD`` included)."""

    rule: str
    action: str
    count: int


@dataclass(frozen=True, slots=True)
class RunReport:
    """Everything ``alvh report`` draws and tabulates for one run.

    Series are aligned with ``sessions`` (one value per ``daily`` row); NaN
    means no value that session.

    Attributes:
        info: the run.
        summary: :func:`daemon.analytics.summarize_records` of the run.
        sessions: the run's marked sessions, ascending.
        net_liquidation: end-of-session net liquidation, dollars.
        drawdown: decimal share below the running peak (0.05 = 5 % down), >= 0.
        rolling_vol: :func:`rolling_vol` of net liquidation (annualised decimal).
        vix: VIX close per session, VIX points.
        vix_source: where ``vix`` came from (text for the page).
        hedge_pnl: cumulative hedge P&L per attribution key per session,
            dollars (:func:`attribution_by_tag`).
        condor_pnl: the ``daily`` rows' cumulative condor P&L, dollars.
        greeks: per structure kind, per greek, the session sums (:func:`net_greeks`).
        tags: :func:`tag_totals` of the hedge layers.
        structures: :func:`structure_rows`, in opening order.
        rules: :func:`rule_counts`.
    """

    info: RunInfo
    summary: JournalSummary
    sessions: tuple[date, ...]
    net_liquidation: tuple[float, ...]
    drawdown: tuple[float, ...]
    rolling_vol: tuple[float, ...]
    vix: tuple[float, ...]
    vix_source: str
    hedge_pnl: dict[str, tuple[float, ...]]
    condor_pnl: tuple[float, ...]
    greeks: dict[str, dict[str, tuple[float, ...]]]
    tags: tuple[TagTotal, ...]
    structures: tuple[StructureRow, ...]
    rules: tuple[RuleCount, ...]


# --------------------------------------------------------------------------- series


def drawdown_share(net_liquidation: Iterable[float], start: float | None = None) -> list[float]:
    """Decimal share below the running peak per session (0.0 at a new high).

    ``start`` (dollars) is the peak before the first session (a replay's
    starting cash), ``None`` to start from the first value; NaN values give
    NaN and leave the peak alone.
    """
    peak = start
    out: list[float] = []
    for nl in net_liquidation:
        if math.isnan(nl):
            out.append(math.nan)
            continue
        peak = nl if peak is None else max(peak, nl)
        out.append((peak - nl) / peak if peak > 0 else math.nan)
    return out


def rolling_vol(
    net_liquidation: Sequence[float],
    start: float | None = None,
    window: int = ROLLING_WINDOW,
    periods_per_year: int = TRADING_DAYS_PER_YEAR,
) -> list[float]:
    """Annualised rolling volatility of the daily returns of net liquidation.

    The return of session ``i`` is ``nl[i] / nl[i-1] - 1`` (the first one
    against ``start``, the run's starting net liquidation, when given); the
    value at ``i`` is the sample standard deviation (ddof 1) of the
    ``window`` returns ending at ``i``, times ``sqrt(periods_per_year)``;
    NaN until ``window`` returns exist or when one of them is NaN.

    Raises:
        ValueError: ``window`` below 2.
    """
    if window < 2:
        raise ValueError(f"window must be at least 2 sessions, got {window}")
    if not net_liquidation:
        return []
    previous = [start if start is not None else math.nan, *net_liquidation[:-1]]
    returns = [
        nl / prev - 1.0 if prev and not math.isnan(prev) else math.nan
        for nl, prev in zip(net_liquidation, previous, strict=True)
    ]
    scale = math.sqrt(periods_per_year)
    out: list[float] = []
    for i in range(len(returns)):
        chunk = returns[i + 1 - window : i + 1] if i + 1 >= window else []
        if not chunk or any(math.isnan(r) for r in chunk):
            out.append(math.nan)
            continue
        mean = sum(chunk) / window
        var = sum((r - mean) ** 2 for r in chunk) / (window - 1)
        out.append(math.sqrt(var) * scale)
    return out


def _tag_key(p: PositionRecord) -> str:
    return p.tag or UNTAGGED


def attribution_by_tag(
    positions: Iterable[PositionRecord],
    marks: Iterable[MarkRecord],
    sessions: Sequence[date],
    structure: Structure = Structure.HEDGE_LAYER,
) -> dict[str, list[float]]:
    """Cumulative P&L of the ``structure`` positions per tag, per session, dollars.

    On each session a tag's value is the realized P&L of its positions
    closed on or before that session plus the unrealized P&L of its
    positions marked that session (the same split as ``daily.hedge_pnl``,
    which the values sum to). Keys sorted; positions without a tag go under
    :data:`UNTAGGED`.
    """
    chosen = {p.id: p for p in positions if p.structure is structure}
    keys = sorted({_tag_key(p) for p in chosen.values()})
    index = {s: i for i, s in enumerate(sessions)}
    out = {k: [0.0] * len(sessions) for k in keys}
    for p in chosen.values():
        if p.closed_session is None or not p.realized_pnl:
            continue
        series = out[_tag_key(p)]
        for i, s in enumerate(sessions):
            if s >= p.closed_session:
                series[i] += p.realized_pnl
    for m in marks:
        held = chosen.get(m.position_id)
        at = index.get(m.session)
        if held is None or at is None or math.isnan(_num(m.unrealized_pnl)):
            continue
        if held.closed_session is not None and m.session >= held.closed_session:
            continue  # closed that day: its realized P&L counts, not a mark
        out[_tag_key(held)][at] += m.unrealized_pnl
    return out


def tag_totals(
    positions: Iterable[PositionRecord],
    marks: Iterable[MarkRecord],
    structure: Structure = Structure.HEDGE_LAYER,
) -> list[TagTotal]:
    """Realized and open P&L per tag of the ``structure`` positions, sorted by key.

    ``open`` is each open position's unrealized P&L at its last mark.
    """
    last_mark: dict[str, MarkRecord] = {}
    for m in marks:
        if m.position_id not in last_mark or m.session >= last_mark[m.position_id].session:
            last_mark[m.position_id] = m
    acc: dict[str, list[float]] = {}
    for p in positions:
        if p.structure is not structure:
            continue
        row = acc.setdefault(_tag_key(p), [0, 0.0, 0.0])
        row[0] += 1
        if p.closed_session is not None:
            row[1] += p.realized_pnl or 0.0
        elif p.id in last_mark and not math.isnan(_num(last_mark[p.id].unrealized_pnl)):
            row[2] += last_mark[p.id].unrealized_pnl
    return [TagTotal(k, int(v[0]), v[1], v[2]) for k, v in sorted(acc.items())]


def net_greeks(
    positions: Iterable[PositionRecord], marks: Iterable[MarkRecord], sessions: Sequence[date]
) -> dict[str, dict[str, list[float]]]:
    """Per structure kind (``"condor"``, ``"hedge_layer"``), per greek, the sum of
    the kind's marked greeks on each session (units in the module docstring).

    A mark whose greek is NaN (a structure the mark job could not price)
    adds nothing; a session with no mark of a kind is 0 for that kind.
    Kinds without any position are absent.
    """
    kind_of = {p.id: p.structure.value for p in positions}
    index = {s: i for i, s in enumerate(sessions)}
    out = {
        kind: {g: [0.0] * len(sessions) for g in GREEKS} for kind in sorted(set(kind_of.values()))
    }
    for m in marks:
        kind = kind_of.get(m.position_id)
        i = index.get(m.session)
        if kind is None or i is None:
            continue
        for g in GREEKS:
            value = _num(getattr(m, g))
            if not math.isnan(value):
                out[kind][g][i] += value
    return out


def rule_counts(decisions: Iterable[DecisionRecord]) -> list[RuleCount]:
    """How many decisions each ``(rule, action)`` journaled, sorted by rule then action."""
    counts = Counter((d.decision.rule, d.decision.action.value) for d in decisions)
    return [RuleCount(rule, action, n) for (rule, action), n in sorted(counts.items())]


# --------------------------------------------------------------------------- structures


def max_loss(legs: Sequence[Leg], quantity: int, open_price: float) -> float | None:
    """The most a structure can lose held to expiry, dollars (positive), from its entry.

    The payoff at expiry is piecewise linear in the underlying's settlement
    ``S``: it is evaluated at ``S = 0`` and at every strike, and its slope
    above the highest strike gives the limit. Loss = price paid
    (``open_price`` x multiplier x ``quantity``; a credit is negative)
    minus the payoff. This treats every leg as expiring together (true of
    the condors and hedge layers alvh opens) and ignores costs.

    Returns:
        ``None`` when the loss is unbounded (net short calls), nothing is
        held, or no value of ``S`` loses money.
    """
    if not legs or quantity <= 0:
        return None
    multiplier = legs[0].contract.multiplier

    def payoff(s: float) -> float:  # dollars per combo unit
        total = 0.0
        for leg in legs:
            k = leg.contract.strike
            value = max(s - k, 0.0) if leg.contract.right is Right.CALL else max(k - s, 0.0)
            total += leg.ratio * value * leg.contract.multiplier
        return total

    slope = sum(leg.ratio for leg in legs if leg.contract.right is Right.CALL)
    if slope < 0:
        return None
    points = [0.0, *(leg.contract.strike for leg in legs)]
    worst = min(payoff(s) for s in points) - open_price * multiplier
    loss = -worst * quantity
    return loss if loss > 0 else None


def irr(return_on_risk: float | None, days_held: int) -> float | None:
    """Annualised internal rate of return of one structure, decimal.

    A structure is one outlay (its capital at risk, :func:`max_loss`) and
    one return (that capital plus its P&L) ``days_held`` calendar days
    later, so its IRR is ``(1 + r) ** (365 / days) - 1`` with ``r`` the
    return on risk. ``-1.0`` when the whole risk (or more) was lost;
    ``None`` without a return. Short holdings magnify it: 2 % in 7 days is
    about 181 % a year.
    """
    if return_on_risk is None or days_held <= 0:
        return None
    if return_on_risk <= -1.0:
        return -1.0
    try:
        return float((1.0 + return_on_risk) ** (365.0 / days_held) - 1.0)
    except OverflowError:
        return math.inf


def exit_of(position: PositionRecord, decisions: Mapping[str, DecisionRecord]) -> tuple[str, str]:
    """``(rule, reason)`` of what closed ``position``.

    A position closed by an order names it (``"closed by order r1-39"``);
    the order's decision (same id) gives the rule and its reason. Anything
    else (settled, not filled, reconciled) is ``("", close_reason)``.
    """
    reason = position.close_reason or ""
    if reason.startswith(_CLOSED_BY):
        record = decisions.get(reason.removeprefix(_CLOSED_BY).strip())
        if record is not None:
            return record.decision.rule, record.decision.reason
    return "", reason


def structure_rows(
    positions: Iterable[PositionRecord],
    marks: Iterable[MarkRecord],
    decisions: Iterable[DecisionRecord],
    as_of: date | None,
) -> list[StructureRow]:
    """One :class:`StructureRow` per position, in the order given.

    Args:
        positions: the run's positions.
        marks: its marks (the last one gives an open position's P&L).
        decisions: its decisions (to name the rule that closed each one).
        as_of: the run's last session (days held by open positions);
            ``None`` counts them to their opening session.
    """
    last_mark: dict[str, MarkRecord] = {}
    for m in marks:
        if m.position_id not in last_mark or m.session >= last_mark[m.position_id].session:
            last_mark[m.position_id] = m
    by_id = {d.id: d for d in decisions}
    rows = []
    for p in positions:
        end = p.closed_session or as_of or p.opened_session
        days = max(1, (end - p.opened_session).days)
        if p.closed_session is not None:
            pnl = p.realized_pnl
        else:
            mark = last_mark.get(p.id)
            value = math.nan if mark is None else _num(mark.unrealized_pnl)
            pnl = None if math.isnan(value) else value
        risk = max_loss(p.legs, p.quantity, p.open_price)
        ror = pnl / risk if pnl is not None and risk else None
        rule, reason = exit_of(p, by_id) if p.closed_session is not None else ("", "")
        rows.append(
            StructureRow(
                id=p.id,
                structure=p.structure.value,
                tag=p.tag,
                parent_id=p.parent_id,
                opened=p.opened_session,
                closed=p.closed_session,
                days_held=days,
                quantity=p.quantity,
                open_price=p.open_price,
                close_price=p.close_price,
                pnl=pnl,
                max_loss=risk,
                return_on_risk=ror,
                irr=irr(ror, days),
                exit_rule=rule,
                exit_reason=reason,
            )
        )
    return rows


# --------------------------------------------------------------------------- gathering


#: VIX closes by session for the sessions asked (``None`` = none known).
VixSource = Callable[[Sequence[date]], tuple[dict[date, float], str] | None]


def gather(journal: Journal, run_id: int | None = None, vix: VixSource | None = None) -> RunReport:
    """Read run ``run_id`` (``None`` = the last) of an open journal into a :class:`RunReport`.

    VIX comes from the journal's ``market_daily`` rows of the run's
    sessions when any has a VIX close (live and paper runs record them),
    else from ``vix(sessions)`` (``alvh report`` passes the bundled
    history); NaN everywhere when neither knows.

    Raises:
        JournalError: no such run, or no runs.
        Whatever :data:`daemon.journal.DAMAGED_JOURNAL_ERRORS` lists, for a
        damaged file.
    """
    info = journal.run(run_id)
    rid = info.id
    daily: list[DailyRecord] = journal.daily(rid)
    positions = journal.positions(rid)
    marks = journal.marks(rid)
    decisions = journal.decisions(rid)
    summary = summarize_records(info, journal.tally(rid), positions, daily)
    sessions = [d.session for d in daily]
    nl = [_num(d.net_liquidation) for d in daily]
    start = starting_net_liquidation(info, daily)

    vix_by_session: dict[date, float] = {}
    vix_source = "none"
    if sessions:
        rows = journal.market_days(sessions[0], sessions[-1])
        vix_by_session = {r.session: _num(r.vix) for r in rows if not math.isnan(_num(r.vix))}
        if vix_by_session:
            vix_source = "journal market_daily"
        elif vix is not None:
            found = vix(sessions)
            if found is not None:
                vix_by_session, vix_source = found

    return RunReport(
        info=info,
        summary=summary,
        sessions=tuple(sessions),
        net_liquidation=tuple(nl),
        drawdown=tuple(drawdown_share(nl, start)),
        rolling_vol=tuple(rolling_vol(nl, start)),
        vix=tuple(vix_by_session.get(s, math.nan) for s in sessions),
        vix_source=vix_source,
        hedge_pnl={k: tuple(v) for k, v in attribution_by_tag(positions, marks, sessions).items()},
        condor_pnl=tuple(_num(d.condor_pnl) for d in daily),
        greeks={
            kind: {g: tuple(v) for g, v in by_greek.items()}
            for kind, by_greek in net_greeks(positions, marks, sessions).items()
        },
        tags=tuple(tag_totals(positions, marks)),
        structures=tuple(
            structure_rows(positions, marks, decisions, sessions[-1] if sessions else None)
        ),
        rules=tuple(rule_counts(decisions)),
    )
