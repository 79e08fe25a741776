"""``alvh status``: what the daemon holds, how it is marked, what it decided and what comes next.

Reads a journal **read-only** (safe while the daemon writes to it) and reports
one run (the latest, or ``--run N``):

* open positions by structure: each iron condor with its four strikes, expiry
  and DTE, each VIX hedge layer with its leg(s), with the position's latest
  mark (price, unrealized P&L, dollar greeks);
* net dollar greeks and unrealized P&L of the latest marks, summed by
  structure and in total;
* realized P&L by structure, and the last ``daily`` row (net liquidation,
  drawdown);
* the last N decisions (default 10) with their reasons, newest first;
* the next fire time of each scheduled job, computed from now with the job
  definitions of :mod:`daemon.scheduling.jobs` on XNYS sessions (non-sessions
  skipped), plus the one-off jobs around macro events;
* the next macro events and whether a condor entry would be blocked now.

Command line::

    alvh status [--journal FILE] [--config FILE] [--run N] [--decisions N] [--json]

``--journal`` defaults to the config's ``journal.path`` (``ALVH_JOURNAL__PATH``
overrides it). The job times come from ``--config`` when given, else from the
run's own configuration stored in the journal, else the built-in defaults.
A missing file, a file that is not an alvh journal or a journal without runs
prints one line to stderr and exits with status 2.

``--json`` prints one JSON object with these keys (money in dollars, prices
in index points per combo unit, + debit / - credit; times ISO 8601 with
offset; dates ISO)::

    journal         path of the journal file
    generated_at    when the report was made (UTC)
    run             {id, mode, started_at, finished_at, replay_start, replay_end}
    as_of           reference date for DTE: today (ET) for paper/live runs,
                    the last marked session for replay runs
    last_mark_session   latest session with marks, or null
    positions       open positions, opening order: {id, structure, opened_session,
                    quantity, open_price, expiry, dte, strikes, legs, mark}
                    strikes (condor): {long_put, short_put, short_call, long_call}
                    strikes (hedge_layer): null; legs: [{local_symbol, symbol,
                    expiry, strike, right, ratio}]; mark: {session, mark_price,
                    unrealized_pnl, delta, gamma, vega, theta} or null
    greeks          {condor, hedge_layer, total}: each {positions, marked, delta,
                    gamma, vega, theta, unrealized_pnl} summed over the latest
                    marks (total mixes SPX and VIX units except theta and P&L)
    pnl             {realized, realized_by_structure, unrealized, total,
                    net_liquidation, drawdown, daily_session}
    decisions       newest first: {id, session, time, rule, action, structure,
                    quantity, limit_price, position_id, reason}
    schedule_source "config file" | "run config" | "defaults"
    next_jobs       in time order: {job, kind, fire_time, session, early_close,
                    event}; kind "daily" or an event job kind
    macro_events    next events: {kind, date, time_et, at, scheduled, grade, label},
                    or null when the macro calendar is unavailable
    entry_block     why a condor entry would be refused now, or null
    notes           list of strings: anything that could not be computed
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from daemon.calendars.exchange import CalendarError, ExchangeCalendar, default_calendar
from daemon.clock import NEW_YORK
from daemon.config import ConfigError, ScheduleConfig, load_config
from daemon.journal import Journal, JournalError, MarkRecord, PositionRecord, RunInfo
from daemon.scheduling.jobs import job_definitions
from strategies.domain import Structure
from strategies.risk import condor_strikes

__all__ = [
    "DEFAULT_DECISIONS",
    "EXIT_USAGE",
    "StatusError",
    "add_parser",
    "collect_status",
    "next_job_fires",
    "render_status",
    "run",
    "status_line",
]

#: Exit status for a problem the user can fix (missing/foreign journal, bad config).
EXIT_USAGE = 2
#: Decisions shown by default.
DEFAULT_DECISIONS = 10
#: How many macro events are listed.
MACRO_EVENTS = 5
#: How far ahead (calendar days) job fire times are searched.
HORIZON_DAYS = 14

_GREEKS = ("delta", "gamma", "vega", "theta")


class StatusError(Exception):
    """A user-fixable problem; printed as one line, exit status 2."""


# --------------------------------------------------------------------------- CLI


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``status`` to the ``alvh`` sub-command parsers; returns the new parser.

    The parser's default ``func`` is :func:`run`, so a caller may dispatch with
    ``args.func(args)``.
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "status",
        help="open positions, greeks, P&L, recent decisions and next jobs of a journal",
        description="Report a journal's open positions, latest greeks and P&L, recent "
        "decisions, the next scheduled jobs and macro events (read-only).",
    )
    parser.add_argument(
        "--journal", type=Path, help="journal SQLite file (default: config journal.path)"
    )
    parser.add_argument(
        "--config", type=Path, help="TOML config for journal path and job times (default: built-in)"
    )
    parser.add_argument("--run", type=int, help="run id (default: the latest run)")
    parser.add_argument(
        "--decisions",
        type=_non_negative,
        default=DEFAULT_DECISIONS,
        metavar="N",
        help=f"how many recent decisions to show (default {DEFAULT_DECISIONS})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)
    return parser


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    """Run ``alvh status``; returns the exit status (0, or 2 with one line on stderr)."""
    try:
        report = _status_from_args(args)
    except StatusError as exc:
        print(f"alvh status: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(report, sort_keys=True, default=str))
    else:
        print(render_status(report))
    return 0


def _status_from_args(args: argparse.Namespace) -> dict[str, Any]:
    schedule: ScheduleConfig | None = None
    journal_path: Path | None = args.journal
    if args.config is not None or journal_path is None:
        try:
            config = load_config(args.config)
        except ConfigError as exc:
            raise StatusError(f"bad config: {exc}") from None
        journal_path = journal_path or config.journal.path
        if args.config is not None:
            schedule = config.schedule
    assert journal_path is not None
    if not journal_path.exists():
        raise StatusError(f"{journal_path}: no such journal file")
    try:
        journal = Journal.open(journal_path, read_only=True)
    except JournalError as exc:
        raise StatusError(str(exc)) from None
    try:
        return collect_status(
            journal,
            args.run,
            decisions=getattr(args, "decisions", DEFAULT_DECISIONS),
            schedule=schedule,
        )
    except JournalError as exc:
        raise StatusError(str(exc)) from None
    finally:
        journal.close()


# --------------------------------------------------------------------------- collection


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
    """The status report of one run as a JSON-ready dict (keys in the module docstring).

    Args:
        journal: an open journal (read-only is enough).
        run_id: the run; ``None`` = the latest.
        now: the moment "next jobs" and macro events are computed from
            (timezone-aware; default now).
        decisions: how many recent decisions to include.
        schedule: job times; ``None`` = the run's stored ``schedule`` config,
            else the defaults.
        calendar: XNYS sessions (default :func:`default_calendar`).
        macro: include macro events and event jobs when the macro module exists.

    Raises:
        JournalError: no such run / the journal has no runs.
        ValueError: ``now`` is naive.
    """
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    info = journal.run(run_id)
    notes: list[str] = []

    open_positions = journal.positions(info.id, open_only=True)
    latest = {p.id: _latest_mark(journal, info.id, p.id) for p in open_positions}
    last_mark_session = _last_mark_session(journal, info.id)
    if info.mode == "replay":
        as_of = last_mark_session or info.replay_end or now.astimezone(NEW_YORK).date()
    else:
        as_of = now.astimezone(NEW_YORK).date()

    positions = [_position(p, latest[p.id], as_of) for p in open_positions]
    greeks = _greeks(open_positions, latest)
    pnl = _pnl(journal, info.id, greeks["total"]["unrealized_pnl"])

    schedule_source = "config file"
    if schedule is None:
        schedule, schedule_source = _run_schedule(info, notes)
    cal = calendar or default_calendar()
    next_jobs = next_job_fires(schedule, now, cal, notes=notes)

    macro_events: list[dict[str, Any]] | None = None
    entry_block: str | None = None
    if macro:
        macro_events, entry_block, event_fires = _macro(info, now, cal, notes)
        next_jobs = sorted(next_jobs + event_fires, key=lambda j: (j["_utc"], j["kind"] != "daily"))
    for job in next_jobs:
        job.pop("_utc", None)

    return {
        "journal": str(journal.path),
        "generated_at": now.astimezone(UTC).replace(microsecond=0).isoformat(),
        "run": {
            "id": info.id,
            "mode": info.mode,
            "started_at": info.started_at,
            "finished_at": info.finished_at,
            "replay_start": _iso(info.replay_start),
            "replay_end": _iso(info.replay_end),
        },
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
                bucket[g] += getattr(mark, g)
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
        "realized": realized,
        "realized_by_structure": by_structure,
        "unrealized": unrealized,
        "total": realized + unrealized,
        "net_liquidation": None if row is None else row[1],
        "drawdown": None if row is None else row[2],
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


# --------------------------------------------------------------------------- schedule


def next_job_fires(
    schedule: ScheduleConfig,
    now: datetime,
    calendar: ExchangeCalendar | None = None,
    *,
    horizon_days: int = HORIZON_DAYS,
    notes: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The next fire of each daily job after ``now``, on XNYS sessions only, in time order.

    Each job's own APScheduler cron trigger is asked for its next fire time
    from ``max(now, 00:00 ET of the session)`` for each session from today
    on, so weekends and exchange holidays are skipped exactly as the live
    session guard drops them. A job with no fire within ``horizon_days`` (or
    beyond the calendar's range) is left out and a note says so.

    Returns:
        Dicts ``{job, kind: "daily", fire_time, session, early_close, event: None}``
        (plus an internal ``_utc`` sort key removed by :func:`collect_status`).
    """
    cal = calendar or default_calendar()
    local_now = now.astimezone(NEW_YORK)
    today = local_now.date()
    last = min(today + timedelta(days=horizon_days), cal.last_session)
    sessions: list[date] = []
    if today <= last:
        try:
            sessions = cal.sessions(max(today, cal.first_session), last)
        except CalendarError as exc:
            if notes is not None:
                notes.append(f"next jobs unavailable: {exc}")
    times = schedule.times()
    defs = job_definitions(**times, calendar=cal)
    out: list[dict[str, Any]] = []
    for job in defs:
        for session in sessions:
            midnight = datetime.combine(session, datetime.min.time(), NEW_YORK)
            start = max(midnight, local_now)
            fire = job.trigger.get_next_fire_time(None, start)
            if fire is None or fire.astimezone(NEW_YORK).date() != session or fire <= now:
                continue
            local = fire.astimezone(NEW_YORK)
            out.append(
                {
                    "job": job.name.value,
                    "kind": "daily",
                    "fire_time": local.isoformat(),
                    "session": session.isoformat(),
                    "early_close": cal.is_early_close(session),
                    "event": None,
                    "_utc": local.astimezone(UTC),
                }
            )
            break
        else:
            if notes is not None:
                notes.append(
                    f"job {job.name.value}: no fire within {horizon_days} days "
                    f"(calendar ends {cal.last_session})"
                )
    out.sort(key=lambda j: j["_utc"])
    return out


# --------------------------------------------------------------------------- macro


def _macro(
    info: RunInfo, now: datetime, cal: ExchangeCalendar, notes: list[str]
) -> tuple[list[dict[str, Any]] | None, str | None, list[dict[str, Any]]]:
    """Next macro events, the entry block now, and event jobs within the horizon."""
    try:
        from daemon.calendars.event_rules import (
            EventRulesConfig,
            entry_block_reason,
            event_jobs,
        )
    except ImportError as exc:  # pragma: no cover - the module ships with alvh
        notes.append(f"macro events unavailable: {exc}")
        return None, None, []
    try:
        stored = info.config.get("events")
        rules = EventRulesConfig(**stored) if isinstance(stored, Mapping) else EventRulesConfig()
        calendar = rules.load_calendar()
    except Exception as exc:  # a bad stored section or a missing user calendar file
        notes.append(f"macro events unavailable: {exc}")
        return None, None, []
    events = [
        {
            "kind": e.kind,
            "date": e.date.isoformat(),
            "time_et": None if e.time_et is None else e.time_et.strftime("%H:%M"),
            "at": None if e.at is None else e.at.isoformat(),
            "scheduled": e.scheduled,
            "grade": e.grade,
            "label": e.label(),
        }
        for e in calendar.next_events(now, MACRO_EVENTS)
    ]
    if not events:
        notes.append(f"no macro events after {now.date()} in the calendar ({calendar.last_date})")
    block: str | None = None
    fires: list[dict[str, Any]] = []
    try:
        block = entry_block_reason(now, calendar, rules)
        horizon = now + timedelta(days=HORIZON_DAYS)
        end = min(horizon, datetime.combine(cal.last_session, datetime.max.time(), NEW_YORK))
        if end > now:
            for job in event_jobs(now, end, calendar, rules, cal):
                if job.fire_time <= now:
                    continue
                local = job.fire_time.astimezone(NEW_YORK)
                fires.append(
                    {
                        "job": job.kind.value,
                        "kind": job.kind.value,
                        "fire_time": local.isoformat(),
                        "session": local.date().isoformat(),
                        "early_close": cal.is_early_close(local.date()),
                        "event": job.event.label(),
                        "_utc": local.astimezone(UTC),
                    }
                )
    except (CalendarError, ValueError) as exc:
        notes.append(f"event jobs unavailable: {exc}")
    return events, block, fires


# --------------------------------------------------------------------------- rendering


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+,.2f}"


def _price(open_price: float) -> str:
    return f"credit {-open_price:.2f}" if open_price < 0 else f"debit {open_price:.2f}"


def _when(iso: str) -> str:
    moment = datetime.fromisoformat(iso).astimezone(NEW_YORK)
    return f"{moment:%a %Y-%m-%d %H:%M} {moment.tzname()}"


@dataclass(frozen=True, slots=True)
class _Table:
    """Left-aligned first column, right-aligned numbers."""

    header: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]

    def render(self, indent: str = "  ") -> list[str]:
        cols = list(zip(self.header, *self.rows, strict=True))
        widths = [max(len(c) for c in col) for col in cols]
        lines = []
        for row in (self.header, *self.rows):
            cells = [
                row[0].ljust(widths[0]),
                *(cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)),
            ]
            lines.append(indent + "  ".join(cells).rstrip())
        return lines


def render_status(report: Mapping[str, Any]) -> str:
    """The report as terminal text (about 30-50 lines)."""
    run = report["run"]
    state = f"finished {run['finished_at']}" if run["finished_at"] else "running / not finished"
    period = ""
    if run["replay_start"]:
        period = f", replay {run['replay_start']} .. {run['replay_end']}"
    lines = [
        f"alvh status: {report['journal']} run {run['id']} [{run['mode']}] "
        f"started {run['started_at']}, {state}{period}",
        f"as of {report['as_of']}; last mark {report['last_mark_session'] or 'none'}",
        "",
    ]

    positions = report["positions"]
    lines.append(f"Open positions ({len(positions)})")
    if not positions:
        lines.append("  none")
    for p in positions:
        head = (
            f"  {p['structure']:<11} {p['id']:<8} x{p['quantity']:<3} opened {p['opened_session']}"
        )
        if p["strikes"] is not None:
            s = p["strikes"]
            tc = p["legs"][0]["trading_class"] if p["legs"] else ""
            desc = (
                f"{tc} {p['expiry']} ({p['dte']} DTE)  puts {s['long_put']:g}/{s['short_put']:g}"
                f"  calls {s['short_call']:g}/{s['long_call']:g}"
            )
        else:
            legs = ", ".join(
                f"{'+' if leg['ratio'] > 0 else ''}{leg['ratio']} {leg['local_symbol']}"
                for leg in p["legs"]
            )
            desc = f"{legs} ({p['dte']} DTE)"
        lines.append(f"{head}  {desc}  {_price(p['open_price'])}")
        m = p["mark"]
        if m is None:
            lines.append("              not marked yet")
        else:
            lines.append(
                f"              mark {m['mark_price']:+.2f} on {m['session']}  P&L "
                f"{_money(m['unrealized_pnl'])}  delta {m['delta']:+,.1f}  gamma "
                f"{m['gamma']:+,.2f}  vega {m['vega']:+,.1f}  theta {m['theta']:+,.1f}"
            )
    lines.append("")

    g = report["greeks"]
    rows = []
    for key in (Structure.CONDOR.value, Structure.HEDGE_LAYER.value, "total"):
        b = g[key]
        rows.append(
            (
                f"{key} ({b['marked']}/{b['positions']})",
                f"{b['delta']:+,.1f}",
                f"{b['gamma']:+,.2f}",
                f"{b['vega']:+,.1f}",
                f"{b['theta']:+,.1f}",
                _money(b["unrealized_pnl"]),
            )
        )
    lines.append("Net greeks of the latest marks (USD; total mixes SPX and VIX except theta)")
    lines.extend(
        _Table(
            ("structure (marked)", "delta", "gamma", "vega", "theta", "unrealized"), rows
        ).render()
    )
    lines.append("")

    pnl = report["pnl"]
    by = pnl["realized_by_structure"]
    lines.append(
        f"P&L realized {_money(pnl['realized'])} (condor {_money(by.get('condor'))}, hedge "
        f"{_money(by.get('hedge_layer'))}); unrealized {_money(pnl['unrealized'])}; "
        f"total {_money(pnl['total'])} USD"
    )
    if pnl["net_liquidation"] is not None:
        lines.append(
            f"net liquidation {pnl['net_liquidation']:,.2f} USD, drawdown "
            f"{pnl['drawdown']:,.2f} USD (session {pnl['daily_session']})"
        )
    lines.append("")

    decisions = report["decisions"]
    lines.append(f"Last {len(decisions)} decisions (newest first)")
    if not decisions:
        lines.append("  none")
    decision_rows: list[tuple[str, ...]] = []
    for d in decisions:
        qty = f"x{d['quantity']}" if d["quantity"] else ""
        limit = f"{d['limit_price']:+.2f}" if d["limit_price"] is not None else ""
        at = datetime.fromisoformat(d["time"]).astimezone(NEW_YORK)
        decision_rows.append(
            (f"{at:%Y-%m-%d %H:%M}", d["id"], d["rule"], d["action"], d["structure"], qty, limit)
        )
    if decision_rows:
        widths = [max(len(r[i]) for r in decision_rows) for i in range(len(decision_rows[0]))]
        for row, d in zip(decision_rows, decisions, strict=True):
            cells = [c.ljust(w) for c, w in zip(row[:5], widths, strict=False)]
            cells += [c.rjust(w) for c, w in zip(row[5:], widths[5:], strict=True)]
            lines.append("  " + " ".join(cells) + "  " + d["reason"])
    lines.append("")

    lines.append(f"Next jobs (America/New_York; times from {report['schedule_source']})")
    if not report["next_jobs"]:
        lines.append("  none within the horizon")
    for j in report["next_jobs"]:
        extra = "  (early close)" if j["early_close"] else ""
        if j["event"]:
            extra += f"  for {j['event']}"
        lines.append(f"  {j['job']:<24} {_when(j['fire_time'])}{extra}")

    if report["macro_events"] is not None:
        lines.append("")
        lines.append("Next macro events")
        if not report["macro_events"]:
            lines.append("  none in the calendar")
        for e in report["macro_events"]:
            lines.append(f"  {e['label']}")
        block = report["entry_block"]
        lines.append(f"Condor entry now: {'blocked: ' + block if block else 'allowed'}")
    if report["notes"]:
        lines.append("")
        lines.extend(f"note: {n}" for n in report["notes"])
    return "\n".join(lines)


def status_line(report: Mapping[str, Any]) -> str:
    """One short line (for ``systemctl status`` via ``STATUS=``), e.g.

    ``run 3 paper: 1 condor, 1 hedge open; P&L +1,234.00; next entry Mon 15:30 EDT``.
    """
    greeks = report["greeks"]
    text = (
        f"run {report['run']['id']} {report['run']['mode']}: "
        f"{greeks['condor']['positions']} condor, {greeks['hedge_layer']['positions']} hedge open; "
        f"P&L {_money(report['pnl']['total'])}"
    )
    if report["next_jobs"]:
        j = report["next_jobs"][0]
        moment = datetime.fromisoformat(j["fire_time"]).astimezone(NEW_YORK)
        text += f"; next {j['job']} {moment:%a %H:%M} {moment.tzname()}"
    return text
