"""Hedged against unhedged: the README's figures for the layered VIX hedge.

Runs the replay twice over the same range, once at the defaults (or
``--config FILE``) and once with the hedge switched off (``--off
hedge.enabled=false`` by default), and prints for each: CAGR, annualised
volatility of daily net-liquidation returns, maximum drawdown, annualised
volatility on sessions after a VIX close above 30, Sharpe ratio (mean daily
return over its standard deviation, annualised by sqrt(252), no risk-free
rate subtracted), final net liquidation and the slopes of the daily condor
and hedge P&L regressed on the daily change of the VIX close (dollars per
VIX point, ordinary least squares with an intercept) with the ratio
``hedge slope / -condor slope`` the hedge is sized to (issue 9).

Usage::

    .venv/bin/python scripts/hedge_figures.py --start 2007-01-03 --end 2024-12-31

Sources: daily net liquidation and cumulative condor/hedge P&L from the
journal's ``daily`` table; VIX closes from the bundled history.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

SESSIONS_PER_YEAR = 252
VIX_HIGH = 30.0


@dataclass(frozen=True)
class Figures:
    label: str
    cagr_pct: float
    vol_pct: float
    max_drawdown_pct: float
    vol_after_vix_above_30_pct: float
    sharpe: float
    final_net_liq: float
    condor_slope: float
    hedge_slope: float

    @property
    def hedge_ratio(self) -> float:
        return self.hedge_slope / -self.condor_slope if self.condor_slope else math.nan


def _slope(y: np.ndarray, x: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return math.nan
    return float(np.polyfit(x[ok], y[ok], 1)[0])


def figures_from_journal(
    label: str, journal_path: Path, vix_by_session: dict[date, float]
) -> Figures:
    """The figures of the last run in ``journal_path`` (see the module docstring)."""
    from daemon.journal import Journal

    journal = Journal.open(journal_path)
    try:
        run_id = journal.runs()[-1].id
        rows = journal.daily(run_id)
    finally:
        journal.close()
    nl = np.array([r.net_liquidation for r in rows])
    sessions = [r.session for r in rows]
    returns = nl[1:] / nl[:-1] - 1.0
    years = (sessions[-1] - sessions[0]).days / 365.25
    cagr = (nl[-1] / nl[0]) ** (1.0 / years) - 1.0 if nl[-1] > 0 and years > 0 else math.nan
    peak = np.maximum.accumulate(nl)
    max_dd = float(np.max((peak - nl) / peak)) * 100.0
    vix = np.array([vix_by_session.get(s, math.nan) for s in sessions])
    after_high = vix[:-1] > VIX_HIGH  # the return of the session after a high close
    ann = math.sqrt(SESSIONS_PER_YEAR)
    condor = np.diff([r.condor_pnl for r in rows])
    hedge = np.diff([r.hedge_pnl for r in rows])
    dvix = np.diff(vix)
    return Figures(
        label=label,
        cagr_pct=cagr * 100.0,
        vol_pct=float(np.std(returns, ddof=1)) * ann * 100.0,
        max_drawdown_pct=max_dd,
        vol_after_vix_above_30_pct=float(np.std(returns[after_high], ddof=1)) * ann * 100.0
        if after_high.sum() > 2
        else math.nan,
        sharpe=float(np.mean(returns) / np.std(returns, ddof=1)) * ann,
        final_net_liq=float(nl[-1]),
        condor_slope=_slope(condor, dvix),
        hedge_slope=_slope(hedge, dvix),
    )


def _override(data: dict[str, Any], dotted: str) -> None:
    key, _, raw = dotted.partition("=")
    if not raw:
        raise SystemExit(f"--off/--set expects KEY=VALUE, got {dotted!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    *path, leaf = key.split(".")
    node = data
    for part in path:
        node = node.setdefault(part, {})
    node[leaf] = value


def _config(base: Path | None, overrides: list[str]) -> Any:
    import tomllib

    from daemon.config import AlvhConfig, load_config

    if not overrides:
        return load_config(base)
    data = tomllib.loads(base.read_text(encoding="utf-8")) if base else {}
    for item in overrides:
        _override(data, item)
    return AlvhConfig(**data)


def _run(config: Any, start: date, end: date, journal: Path, history: Any) -> None:
    from daemon.logs import configure_logging, get_logger
    from daemon.replay import run_replay

    with open(journal.with_suffix(".log"), "w", encoding="utf-8") as stream:
        configure_logging("warning", "json", stream)
        asyncio.run(
            run_replay(config, start, end, journal, get_logger("alvh.figures"), history=history)
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--start", type=date.fromisoformat, default=date(2007, 1, 3))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2024, 12, 31))
    parser.add_argument(
        "--config", type=Path, default=None, help="base config (default: built-in defaults)"
    )
    parser.add_argument(
        "--off", action="append", default=None, help="override for the unhedged run (repeatable)"
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep the two journals in this folder"
    )
    args = parser.parse_args(argv)
    off = args.off or ["hedge.enabled=false"]

    from daemon.marketdata.loader import load_history

    history = load_history()
    vix = {s: float(v) for s, v in zip(history.sessions, history.vix_close, strict=True)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        results = []
        for label, overrides in (("hedged (defaults)", []), ("hedge off", off)):
            path = folder / f"{label.split()[0]}.sqlite"
            path.unlink(missing_ok=True)
            _run(_config(args.config, overrides), args.start, args.end, path, history)
            results.append(figures_from_journal(label, path, vix))
    print(f"range {args.start} .. {args.end}; unhedged: {', '.join(off)}")
    header = f"{'':32s}" + "".join(f"{f.label:>20s}" for f in results)
    print(header)
    rows = [
        ("CAGR %", "cagr_pct", "{:.2f}"),
        ("annualised vol %", "vol_pct", "{:.2f}"),
        ("max drawdown %", "max_drawdown_pct", "{:.2f}"),
        ("vol after VIX close > 30 %", "vol_after_vix_above_30_pct", "{:.2f}"),
        ("Sharpe (rf = 0)", "sharpe", "{:.2f}"),
        ("final net liquidation $", "final_net_liq", "{:,.0f}"),
        ("condor $ per VIX point", "condor_slope", "{:,.1f}"),
        ("hedge $ per VIX point", "hedge_slope", "{:,.1f}"),
        ("hedge / -condor", "hedge_ratio", "{:.3f}"),
    ]
    for name, attr, fmt in rows:
        print(f"{name:32s}" + "".join(f"{fmt.format(getattr(f, attr)):>20s}" for f in results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
