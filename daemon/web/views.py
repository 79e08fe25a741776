"""What each dashboard page shows, read from one read-only journal.

Every function takes an open (read-only) :class:`~daemon.journal.Journal`
and a run id and returns plain JSON-ready values for the templates; none
writes. Sources: the journal's read models (:mod:`daemon.journal.read`),
:func:`daemon.analytics.summarize` for the run's totals, and the journal's
lock file (:mod:`daemon.locking`), which is read, never locked (whether it
is held comes from the kernel's ``/proc/locks``).

Units as in the journal: money in dollars, prices in index points per combo
unit (+ debit / - credit), sessions ISO dates (America/New_York), times ISO
8601 with their offset.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

from daemon.analytics import summarize
from daemon.journal import Journal, RunInfo
from daemon.locking import lock_path
from daemon.service import MARKET_DATA_TYPES
from strategies.domain import Leg

__all__ = [
    "DECISION_LIMIT",
    "daily_rows",
    "decision_rows",
    "health",
    "orders_and_fills",
    "run_choices",
    "summary",
]

#: Most decisions one page lists (newest first).
DECISION_LIMIT = 500

#: Reasons of the skips the engine journals while new risk is halted (daemon.execution).
HALT_PREFIX = "new risk halted"
#: Rule of the decisions reconciliation journals for every difference (daemon.reconcile).
RECONCILE_RULE = "reconcile"


def run_choices(journal: Journal) -> list[dict[str, Any]]:
    """Every run, newest first: ``{id, mode, started_at, finished}``."""
    return [
        {"id": r.id, "mode": r.mode, "started_at": r.started_at, "finished": bool(r.finished_at)}
        for r in reversed(journal.runs())
    ]


def health(journal: Journal, info: RunInfo) -> dict[str, Any]:
    """What the journal says about the daemon's health for run ``info``.

    Keys: ``mode``, ``account``, ``market_data`` (IB's type from the run's
    stored ``[broker]`` config, or the replay's data bundle), ``state`` (text:
    finished / running under a live process holding the journal's lock /
    not finished with no such process), ``lock_holder`` (text or ``None``),
    ``last_decision`` ({time, rule, action, reason} or ``None``: the last job
    that decided anything), ``last_order_event`` ({time, order_ref, state} or
    ``None``), ``last_reconcile`` ({time, reason} or ``None``: the last
    difference reconciliation journaled), ``last_halt`` ({time, reason} or
    ``None``: the last decision refused because new risk was halted).
    The last systemd watchdog beat is in the status report (``last_watchdog_beat``).
    """
    db = journal.db
    run_id = info.id
    last = db.execute(
        "SELECT time, rule, action, reason FROM decisions WHERE run_id = ? ORDER BY rowid DESC"
        " LIMIT 1",
        [run_id],
    ).fetchone()
    event = db.execute(
        "SELECT time, order_ref, state FROM order_events WHERE run_id = ? ORDER BY id DESC LIMIT 1",
        [run_id],
    ).fetchone()
    reconcile = db.execute(
        "SELECT time, reason FROM decisions WHERE run_id = ? AND rule = ? ORDER BY rowid DESC"
        " LIMIT 1",
        [run_id, RECONCILE_RULE],
    ).fetchone()
    halt = db.execute(
        "SELECT time, reason FROM decisions WHERE run_id = ? AND reason LIKE ? ORDER BY rowid DESC"
        " LIMIT 1",
        [run_id, f"%{HALT_PREFIX}%"],
    ).fetchone()
    holder = _lock_holder(journal)
    if info.finished_at:
        state = f"finished {info.finished_at}"
        if info.summary and info.summary.get("interrupted"):
            state += " (interrupted)"
    elif holder is not None and info.mode != "replay":
        state = f"running: {holder}"
    elif holder is not None:
        state = f"replaying: {holder}"
    else:
        state = "not finished, and no live process holds the journal's lock (stopped or killed?)"
    return {
        "mode": info.mode,
        "account": info.account,
        "market_data": _market_data(info),
        "state": state,
        "lock_holder": holder,
        "started_at": info.started_at,
        "finished_at": info.finished_at,
        "last_decision": None
        if last is None
        else {"time": last[0], "rule": last[1], "action": last[2], "reason": last[3] or ""},
        "last_order_event": None
        if event is None
        else {"time": event[0], "order_ref": event[1], "state": event[2]},
        "last_reconcile": None
        if reconcile is None
        else {"time": reconcile[0], "reason": reconcile[1] or ""},
        "last_halt": None if halt is None else {"time": halt[0], "reason": halt[1] or ""},
    }


def _market_data(info: RunInfo) -> str:
    if info.mode == "replay":
        return "historical data bundle (replay)"
    broker = info.config.get("broker")
    code = broker.get("market_data_type") if isinstance(broker, dict) else None
    if not isinstance(code, int):
        return "unknown (not in the run's config)"
    return f"{code} ({MARKET_DATA_TYPES.get(code, 'unknown')})"


def _lock_holder(journal: Journal) -> str | None:
    """The process holding the journal's lock (:mod:`daemon.locking`), found without locking it.

    Taking the lock, even shared, could make a starting daemon fail to get
    it, so the kernel's table of ``flock`` locks (``/proc/locks``) is asked
    whether anyone holds the lock file, and the file's JSON line names the
    holder. Where ``/proc/locks`` cannot be read, a live pid in the file is
    taken as the holder. ``None``: no lock file, or nobody holds it.
    """
    path = lock_path(journal.path)
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
        pid = int(data["pid"])
        stat = path.stat()
    except (OSError, ValueError, TypeError, KeyError):
        return None
    held = _flock_held(stat)
    if held is None:
        held = _alive(pid)
    if not held:
        return None
    command = str(data.get("command") or "a process")
    return f"{command}, pid {pid}, since {data.get('started_at') or '?'}"


def _flock_held(stat: os.stat_result) -> bool | None:
    """Whether a ``flock`` lock is held on the file of ``stat``; ``None``: cannot tell.

    ``/proc/locks`` lines read ``1: FLOCK ADVISORY WRITE <pid> <maj>:<min>:<inode> 0 EOF``
    (major and minor in hex).
    """
    try:
        table = Path("/proc/locks").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    wanted = (os.major(stat.st_dev), os.minor(stat.st_dev), stat.st_ino)
    for line in table.splitlines():
        fields = line.split()
        if len(fields) < 6 or fields[1] != "FLOCK":
            continue
        try:
            major, minor, inode = fields[5].split(":")
            if (int(major, 16), int(minor, 16), int(inode)) == wanted:
                return True
        except ValueError:
            continue
    return False


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


def summary(journal: Journal, info: RunInfo) -> dict[str, Any]:
    """The run's :class:`~daemon.analytics.JournalSummary` as a dict (dates ISO)."""
    out = asdict(summarize(journal, info.id))
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in out.items()}


def daily_rows(journal: Journal, info: RunInfo) -> list[dict[str, Any]]:
    """The run's ``daily`` rows by session, dollars (P&L cumulative since the run started)."""
    return [{**asdict(r), "session": r.session.isoformat()} for r in journal.daily(info.id)]


def decision_rows(
    journal: Journal,
    info: RunInfo,
    *,
    rule: str | None = None,
    action: str | None = None,
    limit: int = DECISION_LIMIT,
) -> tuple[list[dict[str, Any]], int, dict[str, list[str]]]:
    """Decisions of the run, newest first, filtered by ``rule`` and ``action`` (exact).

    Returns:
        ``(rows, matched, choices)``: at most ``limit`` rows ``{id, session,
        time, rule, action, structure, quantity, limit_price, position_id,
        tag, reason, inputs}`` (``inputs`` the decision's inputs, pretty JSON),
        how many matched in all, and the run's distinct ``rule`` and
        ``action`` values for the filter form.
    """
    db = journal.db
    where = "run_id = ?"
    params: list[Any] = [info.id]
    if rule:
        where += " AND rule = ?"
        params.append(rule)
    if action:
        where += " AND action = ?"
        params.append(action)
    matched = int(db.execute(f"SELECT COUNT(*) FROM decisions WHERE {where}", params).fetchone()[0])
    rows = [
        {
            "id": r["id"],
            "session": r["session"],
            "time": r["time"],
            "rule": r["rule"],
            "action": r["action"],
            "structure": r["structure"],
            "quantity": r["quantity"],
            "limit_price": r["limit_price"],
            "position_id": r["position_id"],
            "reason": r["reason"] or "",
            "inputs": _pretty(r["inputs_json"]),
        }
        for r in db.query(
            f"SELECT * FROM decisions WHERE {where} ORDER BY rowid DESC LIMIT ?",
            [*params, max(0, limit)],
        )
    ]
    choices = {
        column: [
            str(v)
            for (v,) in db.execute(
                f"SELECT DISTINCT {column} FROM decisions WHERE run_id = ? ORDER BY 1", [info.id]
            )
        ]
        for column in ("rule", "action")
    }
    return rows, matched, choices


def _pretty(text: str | None) -> str:
    try:
        return json.dumps(json.loads(text or "{}"), indent=1, sort_keys=True)
    except ValueError:
        return text or ""


def orders_and_fills(
    journal: Journal, info: RunInfo
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The run's orders (newest first, with their decision's rule and structure) and fills.

    Orders: ``{order_ref, time, rule, structure, legs, quantity, limit_price,
    worst_price, status, filled_quantity, avg_price, reason, updated_at}``
    (``legs`` text such as ``+1 SPXW 241220P05800 -1 ...``). Fills, newest
    first: ``{time, exec_id, order_ref, local_symbol, quantity, price,
    commission}`` (price per share, commission dollars).
    """
    decided = {
        row[0]: (row[1], row[2])
        for row in journal.db.execute(
            "SELECT d.id, d.rule, d.structure FROM decisions d JOIN orders o ON o.order_ref = d.id"
            " WHERE o.run_id = ?",
            [info.id],
        )
    }
    orders = [
        {
            "order_ref": o.order_ref,
            "time": o.time,
            "rule": decided.get(o.order_ref, ("", ""))[0],
            "structure": decided.get(o.order_ref, ("", ""))[1],
            "legs": _legs_text(o.legs),
            "quantity": o.quantity,
            "limit_price": o.limit_price,
            "worst_price": o.worst_price,
            "status": o.status,
            "filled_quantity": o.filled_quantity,
            "avg_price": o.avg_price,
            "reason": o.reason,
            "updated_at": o.updated_at,
        }
        for o in reversed(journal.orders([info.id]))
    ]
    fills = [
        {
            "time": f.time.isoformat(),
            "exec_id": f.exec_id,
            "order_ref": f.order_ref,
            "local_symbol": f.contract.local_symbol,
            "quantity": f.quantity,
            "price": f.price,
            "commission": f.commission,
        }
        for f in reversed(journal.fills(info.id))
    ]
    return orders, fills


def _legs_text(legs: tuple[Leg, ...]) -> str:
    return "  ".join(f"{leg.ratio:+d} {leg.contract.local_symbol}" for leg in legs)
