"""Gather the ``alvh status`` report from a journal: positions, marks, greeks, P&L, decisions.

:func:`collect_status` builds the JSON-ready dict described in
:mod:`daemon.status` from a read-only journal, the run's stored (or a given)
schedule configuration and the exchange and macro calendars (the upcoming
jobs and events come from :mod:`daemon.status.upcoming`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from daemon.calendars.exchange import ExchangeCalendar, default_calendar
from daemon.clock import NEW_YORK
from daemon.config import ScheduleConfig
from daemon.journal import Journal, MarkRecord, PositionRecord, RunInfo
from daemon.status.upcoming import macro_status, next_job_fires
from strategies.domain import Structure
from strategies.risk import condor_strikes

__all__ = ["DEFAULT_DECISIONS", "collect_status", "utc_now"]

#: Decisions shown by default.
DEFAULT_DECISIONS = 10

_GREEKS = ("delta", "gamma", "vega", "theta")


def utc_now() -> datetime:
    """The wall clock (UTC) the report is made at; one place for tests to pin it."""
    return datetime.now(UTC)


def collect_status(
    journal: Journal,
    run_id: int | None = None,
    *,
    now: datetime | None = None,
    decisions: int = DEFAULT_DECISIONS,
    schedule: ScheduleConfig | None = None,
    calendar: ExchangeCalendar | None = None,
    macro: bool = True,
) -> dict[str, Any]:
    """The status report of one run as a JSON-ready dict (keys in :mod:`daemon.status`).

    Args:
        journal: an open journal (read-only is enough).
        run_id: the run; ``None`` = the latest.
        now: the moment "next jobs" and macro events are computed from
            (timezone-aware). Default: the wall clock for paper/live/dry-run
            runs; for a replay run the replay's own context, 00:00 ET after
            its last marked session (else its last session), so next jobs,
            macro events and the entry block are those that followed the
            replay, not today's.
        decisions: how many recent decisions to include.
        schedule: job times; ``None`` = the run's stored ``schedule`` config,
            else the defaults.
        calendar: XNYS sessions (default :func:`default_calendar`).
        macro: include macro events and event jobs when the macro module exists.

    Raises:
        JournalError: no such run / the journal has no runs.
        ValueError: ``now`` is naive.
    """
    generated_at = utc_now()
    if now is not None and now.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    info = journal.run(run_id)
    notes: list[str] = []

    open_positions = journal.positions(info.id, open_only=True)
    latest = {p.id: _latest_mark(journal, info.id, p.id) for p in open_positions}
    last_mark_session = _last_mark_session(journal, info.id)
    replay_day = (last_mark_session or info.replay_end) if info.mode == "replay" else None
    context = "given" if now is not None else "wall clock"
    if now is None:
        now = generated_at
        if replay_day is not None:
            # the replay's own context: the night after its last session
            now = datetime.combine(replay_day + timedelta(days=1), time(0), NEW_YORK)
            context = "replay end"
    if info.mode == "replay":
        as_of = replay_day or now.astimezone(NEW_YORK).date()
    else:
        as_of = now.astimezone(NEW_YORK).date()

    positions = [_position(p, latest[p.id], as_of) for p in open_positions]
    greeks = _greeks(open_positions, latest)
    pnl = _pnl(journal, info.id, greeks["total"]["unrealized_pnl"])

    # a replay's own range and progress (its jobs and events are computed at its end above)
    replay = _replay_context(journal, info) if info.mode == "replay" else None

    schedule_source = "config file"
    if schedule is None:
        schedule, schedule_source = _run_schedule(info, notes)
    cal = calendar or default_calendar()
    next_jobs = next_job_fires(schedule, now, cal, notes=notes)

    macro_events: list[dict[str, Any]] | None = None
    entry_block: str | None = None
    if macro:
        macro_events, entry_block, event_fires = macro_status(info, now, cal, notes)
        next_jobs = sorted(next_jobs + event_fires, key=lambda j: (j["_utc"], j["kind"] != "daily"))
    for job in next_jobs:
        job.pop("_utc", None)

    return {
        "journal": str(journal.path),
        "generated_at": generated_at.astimezone(UTC).replace(microsecond=0).isoformat(),
        "context": {"time": now.astimezone(NEW_YORK).isoformat(), "source": context},
        "run": {
            "id": info.id,
            "mode": info.mode,
            "started_at": info.started_at,
            "finished_at": info.finished_at,
            "replay_start": _iso(info.replay_start),
            "replay_end": _iso(info.replay_end),
        },
        "replay": replay,
        "last_watchdog_beat": journal.watchdog_beat(),
        "as_of": as_of.isoformat(),
        "last_mark_session": _iso(last_mark_session),
        "positions": positions,
        "greeks": greeks,
        "pnl": pnl,
        "decisions": _decisions(journal, info.id, decisions),
        "schedule_source": schedule_source,
        "next_jobs": next_jobs,
        "macro_events": macro_events,
        "entry_block": entry_block,
        "notes": notes,
    }


def _replay_context(journal: Journal, info: RunInfo) -> dict[str, Any]:
    """A replay run's range, its last replayed session and how many sessions it replayed."""
    row = journal.db.execute(
        "SELECT COUNT(*), MIN(session), MAX(session) FROM daily WHERE run_id = ?", [info.id]
    ).fetchone()
    return {
        "start": _iso(info.replay_start),
        "end": _iso(info.replay_end),
        "sessions": int(row[0]) if row else 0,
        "first_session": row[1] if row else None,
        "last_session": row[2] if row else None,
        "finished": info.finished_at is not None,
    }


def _cents(value: float | None) -> float | None:
    """Dollars rounded to cents (sums of floats carry binary noise)."""
    return None if value is None else round(float(value), 2)


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _latest_mark(journal: Journal, run_id: int, position_id: str) -> MarkRecord | None:
    marks = journal.marks(run_id, position_id)
    return marks[-1] if marks else None


def _last_mark_session(journal: Journal, run_id: int) -> date | None:
    row = journal.db.execute("SELECT MAX(session) FROM marks WHERE run_id = ?", [run_id]).fetchone()
    return date.fromisoformat(row[0]) if row and row[0] else None


def _position(p: PositionRecord, mark: MarkRecord | None, as_of: date) -> dict[str, Any]:
    expiries = sorted({leg.contract.expiry for leg in p.legs})
    expiry = expiries[0] if expiries else None
    strikes: dict[str, float] | None = None
    if p.structure is Structure.CONDOR:
        try:
            s = condor_strikes(p.legs)
            strikes = {
                "long_put": s.long_put,
                "short_put": s.short_put,
                "short_call": s.short_call,
                "long_call": s.long_call,
            }
        except ValueError:
            strikes = None
    return {
        "id": p.id,
        "structure": p.structure.value,
        "opened_session": p.opened_session.isoformat(),
        "quantity": p.quantity,
        "open_price": p.open_price,
        "expiry": _iso(expiry),
        "dte": (expiry - as_of).days if expiry is not None else None,
        "strikes": strikes,
        "legs": [
            {
                "local_symbol": leg.contract.local_symbol,
                "symbol": leg.contract.symbol,
                "trading_class": leg.contract.trading_class,
                "expiry": leg.contract.expiry.isoformat(),
                "strike": leg.contract.strike,
                "right": leg.contract.right.value,
                "ratio": leg.ratio,
            }
            for leg in p.legs
        ],
        "mark": None
        if mark is None
        else {
            "session": mark.session.isoformat(),
            "mark_price": mark.mark_price,
            "unrealized_pnl": mark.unrealized_pnl,
            **{g: getattr(mark, g) for g in _GREEKS},
        },
    }


def _greeks(
    positions: Sequence[PositionRecord], latest: Mapping[str, MarkRecord | None]
) -> dict[str, dict[str, float | int]]:
    def empty() -> dict[str, float | int]:
        return {"positions": 0, "marked": 0, **dict.fromkeys(_GREEKS, 0.0), "unrealized_pnl": 0.0}

    out = {Structure.CONDOR.value: empty(), Structure.HEDGE_LAYER.value: empty(), "total": empty()}
    for p in positions:
        mark = latest.get(p.id)
        for key in (p.structure.value, "total"):
            bucket = out[key]
            bucket["positions"] += 1
            if mark is None:
                continue
            bucket["marked"] += 1
            for g in _GREEKS:
                bucket[g] += getattr(mark, g) or 0.0  # NULL: the gateway's greeks were NaN
            bucket["unrealized_pnl"] += mark.unrealized_pnl
    return out


def _pnl(journal: Journal, run_id: int, unrealized: float) -> dict[str, Any]:
    by_structure = {s.value: 0.0 for s in Structure}
    for structure, pnl in journal.db.execute(
        "SELECT structure, COALESCE(SUM(realized_pnl), 0) FROM positions"
        " WHERE run_id = ? AND closed_session IS NOT NULL GROUP BY structure",
        [run_id],
    ).fetchall():
        by_structure[str(structure)] = float(pnl)
    realized = sum(by_structure.values())
    row = journal.db.execute(
        "SELECT session, net_liquidation, drawdown FROM daily WHERE run_id = ?"
        " ORDER BY session DESC LIMIT 1",
        [run_id],
    ).fetchone()
    return {
        "realized": _cents(realized),
        "realized_by_structure": {k: _cents(v) for k, v in by_structure.items()},
        "unrealized": _cents(unrealized),
        "total": _cents(realized + unrealized),
        "net_liquidation": None if row is None else _cents(row[1]),
        "drawdown": None if row is None else _cents(row[2]),
        "daily_session": None if row is None else row[0],
    }


def _decisions(journal: Journal, run_id: int, n: int) -> list[dict[str, Any]]:
    if n <= 0:
        return []
    records = journal.decisions(run_id)[-n:]
    return [
        {
            "id": r.id,
            "session": r.session.isoformat(),
            "time": r.time,
            "rule": r.decision.rule,
            "action": r.decision.action.value,
            "structure": r.decision.structure.value,
            "quantity": r.decision.quantity,
            "limit_price": r.decision.limit_price,
            "position_id": r.decision.position_id,
            "reason": r.decision.reason,
        }
        for r in reversed(records)
    ]


def _run_schedule(info: RunInfo, notes: list[str]) -> tuple[ScheduleConfig, str]:
    stored = info.config.get("schedule")
    if isinstance(stored, Mapping):
        try:
            return ScheduleConfig(**stored), "run config"
        except (TypeError, ValueError) as exc:
            notes.append(f"run {info.id} schedule config unusable ({exc}); using defaults")
    return ScheduleConfig(), "defaults"
