"""How much the hedge offsets the condors per VIX point, measured on a replay journal.

Usage::

    .venv/bin/python scripts/hedge_regression.py JOURNAL [--run RUN_ID] [--share 0.35]
    .venv/bin/python scripts/hedge_regression.py --replay 2007-01-03 2024-12-31 \
        [--config FILE] [--journal /tmp/x.sqlite]

For each session of the run, each structure kind's daily P&L is the change of
its cumulative P&L (realised plus unrealised: the journal's ``daily`` rows
``condor_pnl`` and ``hedge_pnl``, which sum every position's cash flows and
its mark at mid), dollars. Each series is regressed by ordinary least squares
(with an intercept) on the daily change of the VIX close from the bundle
(VIX points), over every session of the run (a session with nothing open adds
a zero P&L). It prints

* the condor slope and the hedge slope, dollars per VIX point;
* ``ratio = hedge slope / -condor slope``, the share of the condors'
  VIX exposure the hedge offsets (the issue-9 acceptance: within +-0.10 of
  ``[hedge] share``);
* the hedge slope split by tag (the rungs and the recycled calls), from the
  per-position marks (``marks.unrealized_pnl`` is a position's cumulative
  P&L; its closed session counts the position's realised P&L);
* the correlation of daily condor and hedge P&L, and from net liquidation
  the CAGR, annualised vol, max drawdown and the vol on sessions after a VIX
  close above 30.

``--replay`` first runs ``alvh replay`` over the range (deterministic) into
``--journal`` (default a temporary file).
"""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
import subprocess
import sys
import tempfile
from collections import defaultdict
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from daemon.marketdata.loader import load_history


def ols_slope(y: np.ndarray, x: np.ndarray) -> float:
    """Least-squares slope of ``y`` on ``x`` with an intercept (NaN without variance)."""
    xc = x - x.mean()
    denom = float(xc @ xc)
    return float(xc @ (y - y.mean()) / denom) if denom > 0 else math.nan


def _vix_closes() -> dict[date, float]:
    history = load_history()
    return {s: float(v) for s, v in zip(history.sessions, history.vix_close, strict=True)}


def _latest_run(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT max(id) FROM runs").fetchone()
    if row is None or row[0] is None:
        raise SystemExit("the journal holds no run")
    return int(row[0])


def _configured_share(db: sqlite3.Connection, run_id: int) -> float | None:
    row = db.execute("SELECT config_json FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None or not row[0]:
        return None
    hedge = json.loads(row[0]).get("hedge", {})
    value = hedge.get("share", hedge.get("vega_share"))
    return float(value) if value is not None else None


def _tag_daily(db: sqlite3.Connection, run_id: int, sessions: list[date]) -> dict[str, np.ndarray]:
    """Daily P&L per hedge tag (``"rung"`` for rung-N, ``"recycle"``, ``"untagged"``)."""
    index = {s: i for i, s in enumerate(sessions)}
    kinds = {}
    closed: dict[str, tuple[date, float]] = {}
    for pid, tag, closed_session, realized in db.execute(
        "SELECT id, tag, closed_session, realized_pnl FROM positions "
        "WHERE run_id = ? AND structure = 'hedge_layer'",
        (run_id,),
    ):
        group = "untagged" if not tag else ("rung" if tag.startswith("rung") else tag)
        kinds[pid] = group
        if closed_session and realized is not None:
            closed[pid] = (date.fromisoformat(closed_session), float(realized))
    cumulative: dict[str, dict[int, float]] = defaultdict(dict)
    for pid, session, pnl in db.execute(
        "SELECT position_id, session, unrealized_pnl FROM marks WHERE run_id = ?", (run_id,)
    ):
        if pid in kinds and pnl is not None and date.fromisoformat(session) in index:
            cumulative[pid][index[date.fromisoformat(session)]] = float(pnl)
    for pid, (session, realized) in closed.items():
        if session in index:
            cumulative[pid][index[session]] = realized
    out: dict[str, np.ndarray] = {}
    for pid, cum in cumulative.items():
        series = out.setdefault(kinds[pid], np.zeros(len(sessions)))
        previous = 0.0
        for i in sorted(cum):
            series[i] += cum[i] - previous
            previous = cum[i]
    return out


def report(journal: Path, run_id: int | None, share: float | None) -> None:
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    run = run_id if run_id is not None else _latest_run(db)
    rows = db.execute(
        "SELECT session, net_liquidation, condor_pnl, hedge_pnl FROM daily "
        "WHERE run_id = ? ORDER BY session",
        (run,),
    ).fetchall()
    if len(rows) < 3:
        raise SystemExit(f"run {run} has fewer than 3 marked sessions")
    sessions = [date.fromisoformat(r[0]) for r in rows]
    closes = _vix_closes()
    missing = [s for s in sessions if s not in closes or not math.isfinite(closes[s])]
    if missing:
        raise SystemExit(f"no VIX close for {len(missing)} session(s), first {missing[0]}")
    vix = np.array([closes[s] for s in sessions])
    net_liq = np.array([r[1] for r in rows], dtype=float)
    condor = np.diff(np.array([r[2] or 0.0 for r in rows], dtype=float), prepend=0.0)
    hedge = np.diff(np.array([r[3] or 0.0 for r in rows], dtype=float), prepend=0.0)
    dvix = np.diff(vix, prepend=vix[0])
    x, c, h = dvix[1:], condor[1:], hedge[1:]
    condor_slope, hedge_slope = ols_slope(c, x), ols_slope(h, x)
    ratio = hedge_slope / -condor_slope if condor_slope < 0 else math.nan
    configured = share if share is not None else _configured_share(db, run)
    print(
        f"journal {journal}, run {run}: {sessions[0]} .. {sessions[-1]} ({len(sessions)} sessions)"
    )
    print(f"condor slope  {condor_slope:+10.2f} $ per VIX point")
    print(f"hedge slope   {hedge_slope:+10.2f} $ per VIX point")
    for tag, series in sorted(_tag_daily(db, run, sessions).items()):
        print(f"  {tag:<10}  {ols_slope(series[1:], x):+10.2f} $ per VIX point")
    print(f"ratio hedge / -condor = {ratio:.3f}", end="")
    if configured is not None:
        verdict = "within" if abs(ratio - configured) <= 0.10 else "OUTSIDE"
        print(f"  (configured share {configured:.2f}: {verdict} +-0.10)")
    else:
        print()
    corr = np.corrcoef(c, h)[0, 1] if c.std() > 0 and h.std() > 0 else math.nan
    print(f"corr(daily condor P&L, daily hedge P&L) = {corr:.3f}")
    returns = net_liq[1:] / net_liq[:-1] - 1.0
    years = (sessions[-1] - sessions[0]).days / 365.25
    cagr = (net_liq[-1] / net_liq[0]) ** (1 / years) - 1 if net_liq[-1] > 0 else math.nan
    peak = np.maximum.accumulate(net_liq)
    max_dd = float(np.max(1.0 - net_liq / peak))
    stressed = vix[:-1] > 30.0
    print(
        f"net liquidation {net_liq[0]:,.0f} -> {net_liq[-1]:,.0f}: CAGR {cagr:.2%}, "
        f"vol {returns.std() * math.sqrt(252):.1%}, max drawdown {max_dd:.1%}, "
        f"vol after VIX > 30 {returns[stressed].std() * math.sqrt(252):.1%} "
        f"({int(stressed.sum())} sessions)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("journal", nargs="?", type=Path, help="replay journal (SQLite)")
    parser.add_argument(
        "--journal", dest="journal_out", type=Path, help="journal --replay writes (default: temp)"
    )
    parser.add_argument("--run", type=int, help="run id (default: the latest)")
    parser.add_argument("--share", type=float, help="configured share (default: the run's)")
    parser.add_argument("--replay", nargs=2, metavar=("START", "END"), help="run a replay first")
    parser.add_argument("--config", type=Path, help="TOML config for --replay")
    args = parser.parse_args(argv)
    journal = args.journal or args.journal_out
    if args.replay:
        if journal is None:
            journal = Path(tempfile.mkdtemp()) / "hedge_regression.sqlite"
        cmd = [str(Path(sys.executable).with_name("alvh")), "replay", "--start", args.replay[0]]
        cmd += ["--end", args.replay[1], "--journal", str(journal), "--no-progress"]
        cmd += ["--log-file", str(journal) + ".log"]
        if args.config:
            cmd += ["--config", str(args.config)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    if journal is None:
        parser.error("give a JOURNAL or --replay START END")
    report(journal, args.run, args.share)


if __name__ == "__main__":
    main()
