"""Where the measured hedge ratio comes from, on a replay journal (issue 9 diagnosis).

Usage::

    .venv/bin/python scripts/hedge_diagnosis.py JOURNAL [--run RUN_ID]

``scripts/hedge_regression.py`` prints one number, ``ratio = hedge slope /
-condor slope`` (OLS of each structure kind's daily P&L, dollars, on the daily
change of the VIX close, VIX points, over every session of the run). This
script splits it. Everything is read from the journal (``daily``,
``positions``, ``decisions``, ``marks``) and the bundle's VIX and SPX closes.

1. **Contributions to the pooled slopes.** With ``x`` the centred VIX change
   over all sessions, the pooled slope is ``sum_i x_i y_i / sum_i x_i^2``, so
   it is the exact sum of ``sum_{i in G} x_i y_i / sum_i x_i^2`` over a
   partition of the sessions into groups ``G`` (dollars per VIX point each).
   Groups, first match wins: a condor closed that session by a **stop**;
   closed otherwise (**other exit**: target, DTE floor, roll); **entry** (a
   condor opened that session, none held at the previous close); **held all
   day** (held at the previous close and at this close); **no condor** at
   any time of the session. The same split by the VIX regime of the
   previous close (with each regime's share of ``sum_i x_i^2``, the
   regression's weight) and by what was held at the previous close (both,
   hedge only, condor only, neither). Contributions, unlike subset slopes,
   are not biased by choosing sessions on their outcome: a session whose
   move reached a stop or target is an exit session, so the held-all-day
   subset lacks the large moves and its own slope is attenuated.
2. **Slopes inside subsets** (each subset's own OLS): condor held at the
   previous close or not, VIX regime of the previous close (calm < 20,
   elevated 20-30, stressed > 30, VIX points), stop session or not.
3. **Predicted against realised.** The hedge rules journal, in each hedge
   decision, the condors' predicted dollar loss and the hedges' predicted
   dollar gain per 1-point VIX rise (``condor_loss_per_vix_point``,
   ``hedge_gain_per_vix_point``: :mod:`strategies.hedge.sizing`; a ladder
   OPEN adds the rung it buys). The last such decision of session ``i - 1``
   predicts session ``i``; *efficiency* is the OLS slope of the realised
   daily P&L on ``predicted * dVIX`` (1.0: the sizing model is right on
   average), for all condor sessions, VIX up / down, held all day.
4. **Taylor terms of the condor's daily P&L** on held-all-day sessions,
   from the condors' dollar greeks marked at the previous close
   (``marks``: delta dollars per SPX point, gamma per point squared, vega
   per vol point): ``delta * dSPX``, ``0.5 * gamma * dSPX^2``,
   ``vega * condor_iv_beta * dVIX``; each term's OLS slope on the VIX change
   beside the realised slope, by the condor's DTE at the previous close.
5. **A stop/target cap**: the predicted loss clipped to the dollars left to
   the stop and to the profit target (from the previous session's
   ``condor_exit`` hold decision: ``stop_debit``, ``profit_target_debit``,
   ``debit``, ``quantity``), ``-clip(pred * dVIX, -to_target, to_stop)``,
   against the linear prediction and the realised slope.
6. **Per hedge tag** (rung-1..N, recycle), the slope over all sessions,
   condor sessions and no-condor sessions (from the per-position marks, as
   in ``hedge_regression.py``).

Sessions are the run's ``daily`` rows; the first has no change and is left out.
"""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
import sys
from collections import defaultdict
from collections.abc import Mapping
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from daemon.marketdata.loader import load_history

#: Group names of the partition, in the order they are printed.
GROUPS = ("held all day", "entry", "stop", "other exit", "no condor")


def ols_slope(y: np.ndarray, x: np.ndarray) -> float:
    """Least-squares slope of ``y`` on ``x`` with an intercept (NaN without variance)."""
    if len(x) < 3:
        return math.nan
    xc = x - x.mean()
    denom = float(xc @ xc)
    return float(xc @ (y - y.mean()) / denom) if denom > 0 else math.nan


def contributions(y: np.ndarray, x: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """Each group's share of the pooled OLS slope of ``y`` on ``x`` (they sum to it).

    ``sum_{i in G} xc_i y_i / sum_i xc_i^2`` with ``xc = x - mean(x)``; the
    intercept makes ``sum_i xc_i * mean(y) = 0``, so the shares add up to
    :func:`ols_slope` exactly. Units of ``y`` per unit of ``x``.
    """
    xc = x - x.mean()
    denom = float(xc @ xc)
    return {str(g): float(xc[groups == g] @ y[groups == g]) / denom for g in np.unique(groups)}


def partition(
    held_prev: np.ndarray, any_today: np.ndarray, entry: np.ndarray, exit_: np.ndarray,
    stopped: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Group of each session (module docstring, first match wins), as strings."""
    out = np.full(held_prev.shape, "held all day", dtype=object)
    out[entry & ~held_prev] = "entry"
    out[exit_ & ~stopped] = "other exit"
    out[exit_ & stopped] = "stop"
    out[~any_today] = "no condor"
    return out


def _series(
    db: sqlite3.Connection, run: int
) -> tuple[list[date], np.ndarray, np.ndarray, dict[date, int]]:
    rows = db.execute(
        "SELECT session, condor_pnl, hedge_pnl FROM daily WHERE run_id = ? ORDER BY session",
        (run,),
    ).fetchall()
    if len(rows) < 3:
        raise SystemExit(f"run {run} has fewer than 3 marked sessions")
    sessions = [date.fromisoformat(r[0]) for r in rows]
    condor = np.diff(np.array([r[1] or 0.0 for r in rows], dtype=float), prepend=0.0)
    hedge = np.diff(np.array([r[2] or 0.0 for r in rows], dtype=float), prepend=0.0)
    return sessions, condor, hedge, {s: i for i, s in enumerate(sessions)}


def _predicted(
    db: sqlite3.Connection, run: int, index: Mapping[date, int], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Predicted condor loss and hedge gain per VIX point for each session (from the day before)."""
    loss, gain = np.full(n, math.nan), np.full(n, math.nan)
    for session, rule, action, raw in db.execute(
        "SELECT session, rule, action, inputs_json FROM decisions "
        "WHERE run_id = ? AND structure = 'hedge_layer' ORDER BY session, time",
        (run,),
    ):
        d = json.loads(raw or "{}")
        if "condor_loss_per_vix_point" not in d:
            continue
        i = index[date.fromisoformat(session)]
        g = d["hedge_gain_per_vix_point"]
        if rule == "hedge_ladder" and action == "open":
            g += d["contracts"] * d["per_contract_dollars_per_vix_point"]
        loss[i], gain[i] = d["condor_loss_per_vix_point"], g
    return np.concatenate([[math.nan], loss[:-1]]), np.concatenate([[math.nan], gain[:-1]])


def report(journal: Path, run_id: int | None) -> None:
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    run = (
        run_id if run_id is not None else int(db.execute("SELECT max(id) FROM runs").fetchone()[0])
    )
    sessions, condor, hedge, index = _series(db, run)
    n = len(sessions)
    history = load_history()
    vix_of = dict(zip(history.sessions, history.vix_close.tolist(), strict=True))
    spx_of = dict(zip(history.sessions, history.spx_close.tolist(), strict=True))
    vix = np.array([vix_of[s] for s in sessions])
    spx = np.array([spx_of[s] for s in sessions])
    dvix, dspx = np.diff(vix, prepend=vix[0]), np.diff(spx, prepend=spx[0])

    held_prev, any_today = np.zeros(n, bool), np.zeros(n, bool)
    entry, exit_, stopped = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, bool)
    hedge_prev = np.zeros(n, bool)
    positions = db.execute(
        "SELECT id, structure, opened_session, closed_session, tag FROM positions WHERE run_id = ?",
        (run,),
    ).fetchall()
    tags: dict[str, str] = {}
    condors: set[str] = set()
    for pid, kind, opened, closed, tag in positions:
        o = index.get(date.fromisoformat(opened))
        c = index.get(date.fromisoformat(closed)) if closed else n
        if o is None or c is None:
            continue
        if kind == "condor":
            condors.add(pid)
            held_prev[o + 1 : c + 1] = True
            any_today[o : c + 1] = True
            entry[o] = True
            if c < n:
                exit_[c] = True
        else:
            tags[pid] = tag or "untagged"
            hedge_prev[o + 1 : c + 1] = True
    for (session,) in db.execute(
        "SELECT session FROM decisions WHERE run_id = ? AND structure = 'condor' "
        "AND action = 'close' AND (json_extract(inputs_json, '$.path_trigger') = 'stop' "
        "OR reason LIKE '%on stop%')",
        (run,),
    ):
        if (i := index.get(date.fromisoformat(session))) is not None:
            stopped[i] = True

    m = np.arange(n) > 0
    x, c, h = dvix[m], condor[m], hedge[m]
    cs, hs = ols_slope(c, x), ols_slope(h, x)
    print(f"journal {journal}, run {run}: {sessions[0]} .. {sessions[-1]} ({n} sessions)")
    print(f"pooled: condor {cs:+.1f}, hedge {hs:+.1f} $ per VIX point, ratio {hs / -cs:.3f}")

    groups = partition(held_prev, any_today, entry, exit_, stopped)[m]
    cc, hc = contributions(c, x, groups), contributions(h, x, groups)
    print("\n1. contributions to the pooled slopes ($ per VIX point; they sum to the pooled)")
    for g in GROUPS:
        k = int((groups == g).sum())
        print(
            f"  {g:<14} {k:5d} sessions  condor {cc.get(g, 0.0):+8.1f}  "
            f"hedge {hc.get(g, 0.0):+8.1f}"
        )

    def line(name: str, mask: np.ndarray) -> None:
        a, b = ols_slope(condor[mask], dvix[mask]), ols_slope(hedge[mask], dvix[mask])
        ratio = f"{b / -a:6.3f}" if a < 0 else "   n/a"
        print(
            f"  {name:<30} {int(mask.sum()):5d}  condor {a:+8.1f}  hedge {b:+8.1f}  ratio {ratio}"
        )

    prev_vix = np.concatenate([[vix[0]], vix[:-1]])
    regime = np.where(prev_vix < 20.0, "calm", np.where(prev_vix < 30.0, "elevated", "stressed"))
    held = np.where(
        held_prev & hedge_prev,
        "both",
        np.where(held_prev, "condor only", np.where(hedge_prev, "hedge only", "neither")),
    )
    xc = x - x.mean()
    for title, labels, order in (
        (
            "VIX regime at the previous close",
            regime.astype(object),
            ("calm", "elevated", "stressed"),
        ),
        (
            "held at the previous close",
            held.astype(object),
            ("both", "hedge only", "condor only", "neither"),
        ),
    ):
        cc, hc = contributions(c, x, labels[m]), contributions(h, x, labels[m])
        print(f"  by {title}:")
        for g in order:
            sel = labels[m] == g
            share = float(xc[sel] @ xc[sel]) / float(xc @ xc)
            print(
                f"    {g:<12} {int(sel.sum()):5d} sessions ({share:4.0%} of the VIX variance)  "
                f"condor {cc.get(g, 0.0):+8.1f}  hedge {hc.get(g, 0.0):+8.1f}"
            )

    print("\n2. slopes inside subsets (a subset chosen by an exit is truncated on the outcome)")
    line("condor held at previous close", m & held_prev)
    line("no condor at previous close", m & ~held_prev)
    line("  of which a hedge held", m & ~held_prev & hedge_prev)
    for lo, hi, name in (
        (0.0, 20.0, "calm"),
        (20.0, 30.0, "elevated"),
        (30.0, math.inf, "stressed"),
    ):
        line(f"VIX {name} at previous close", m & (prev_vix >= lo) & (prev_vix < hi))
    line("stop session", m & stopped)
    line("no stop session", m & ~stopped)

    loss, gain = _predicted(db, run, index, n)

    def efficiency(y: np.ndarray, pred: np.ndarray, mask: np.ndarray, sign: float) -> float:
        return sign * ols_slope(y[mask], pred[mask] * dvix[mask])

    ok = m & held_prev & np.isfinite(loss)
    print("\n3. predicted (sizing model, previous session) against realised")
    print(
        f"  {int(ok.sum())} sessions: mean predicted condor loss {np.mean(loss[ok]):.1f}, hedge "
        f"gain {np.mean(gain[ok]):.1f} $ per VIX point (ratio of means "
        f"{np.mean(gain[ok]) / np.mean(loss[ok]):.3f}); realised slopes condor "
        f"{ols_slope(condor[ok], dvix[ok]):+.1f}, hedge {ols_slope(hedge[ok], dvix[ok]):+.1f}"
    )
    held_all_day = ok & ~exit_
    for name, mask in (
        ("all condor sessions", ok),
        ("VIX up", ok & (dvix > 0)),
        ("VIX down", ok & (dvix < 0)),
        ("held all day", held_all_day),
        ("stop session", ok & stopped),
    ):
        print(
            f"  efficiency {name:<20} {int(mask.sum()):5d}  condor "
            f"{efficiency(condor, loss, mask, -1.0):.3f}  hedge "
            f"{efficiency(hedge, gain, mask, 1.0):.3f}"
        )

    greeks = {k: np.zeros(n) for k in ("delta", "gamma", "vega")}
    for pid, session, delta, gamma, vega in db.execute(
        "SELECT position_id, session, delta, gamma, vega FROM marks WHERE run_id = ?", (run,)
    ):
        i = index.get(date.fromisoformat(session))
        if pid in condors and i is not None and i + 1 < n:
            greeks["delta"][i + 1] += delta or 0.0
            greeks["gamma"][i + 1] += gamma or 0.0
            greeks["vega"][i + 1] += vega or 0.0
    beta = _configured_iv_beta(db, run)
    terms = {
        "delta*dSPX": greeks["delta"] * dspx,
        "0.5*gamma*dSPX^2": 0.5 * greeks["gamma"] * dspx**2,
        f"vega*{beta:g}*dVIX": greeks["vega"] * beta * dvix,
    }
    dte, to_stop, to_target = (np.full(n, math.nan) for _ in range(3))
    for session, raw in db.execute(
        "SELECT session, inputs_json FROM decisions WHERE run_id = ? AND rule = 'condor_exit' "
        "AND action = 'hold'",
        (run,),
    ):
        d = json.loads(raw or "{}")
        i = index[date.fromisoformat(session)]
        if i + 1 < n and d.get("stop_debit") is not None and d.get("debit") is not None:
            units = d["quantity"] * 100.0
            dte[i + 1] = d["dte"]
            to_stop[i + 1] = max(d["stop_debit"] - d["debit"], 0.0) * units
            to_target[i + 1] = max(d["debit"] - d["profit_target_debit"], 0.0) * units
    print("\n4. Taylor terms of the condors' daily P&L, held all day (slope on dVIX, $ per point)")
    for name, mask in (
        ("all", held_all_day),
        ("DTE 4-7", held_all_day & (dte >= 4) & (dte < 8)),
        ("DTE 8-11", held_all_day & (dte >= 8) & (dte < 12)),
        ("DTE 12+", held_all_day & (dte >= 12)),
    ):
        parts = "  ".join(f"{k} {ols_slope(v[mask], dvix[mask]):+7.1f}" for k, v in terms.items())
        print(
            f"  {name:<9} {int(mask.sum()):5d}  {parts}  realised "
            f"{ols_slope(condor[mask], dvix[mask]):+7.1f}"
        )
    capped_ok = ok & np.isfinite(to_stop)
    linear = -loss * dvix
    capped = -np.clip(loss * dvix, -to_target, to_stop)
    print("\n5. the stop and target as a cap on the predicted loss")
    k = capped_ok
    print(
        f"  {int(k.sum())} sessions: linear {ols_slope(linear[k], dvix[k]):+.1f}, "
        f"capped {ols_slope(capped[capped_ok], dvix[capped_ok]):+.1f}, realised "
        f"{ols_slope(condor[capped_ok], dvix[capped_ok]):+.1f} $ per VIX point; mean dollars "
        f"to the stop {np.mean(to_stop[capped_ok]):,.0f}, to the target "
        f"{np.mean(to_target[capped_ok]):,.0f}"
    )

    print("\n6. hedge slope per tag: all sessions / condor at previous close / none")
    for tag, series in sorted(_tag_daily(db, run, index, tags, n).items()):
        print(
            f"  {tag:<10} {ols_slope(series[m], dvix[m]):+8.1f} "
            f"{ols_slope(series[m & held_prev], dvix[m & held_prev]):+8.1f} "
            f"{ols_slope(series[m & ~held_prev], dvix[m & ~held_prev]):+8.1f}  "
            f"P&L {series.sum():+12,.0f}"
        )


def _configured_iv_beta(db: sqlite3.Connection, run: int) -> float:
    row = db.execute("SELECT config_json FROM runs WHERE id = ?", (run,)).fetchone()
    hedge = json.loads(row[0]).get("hedge", {}) if row and row[0] else {}
    return float(hedge.get("condor_iv_beta", 0.576))


def _tag_daily(
    db: sqlite3.Connection, run: int, index: Mapping[date, int], tags: Mapping[str, str], n: int
) -> dict[str, np.ndarray]:
    """Daily P&L per hedge tag from the per-position marks (realised on the closing session)."""
    cumulative: dict[str, dict[int, float]] = defaultdict(dict)
    for pid, session, pnl in db.execute(
        "SELECT position_id, session, unrealized_pnl FROM marks WHERE run_id = ?", (run,)
    ):
        i = index.get(date.fromisoformat(session))
        if pid in tags and pnl is not None and i is not None:
            cumulative[pid][i] = float(pnl)
    for pid, closed, realized in db.execute(
        "SELECT id, closed_session, realized_pnl FROM positions "
        "WHERE run_id = ? AND structure = 'hedge_layer'",
        (run,),
    ):
        i = index.get(date.fromisoformat(closed)) if closed else None
        if i is not None and realized is not None:
            cumulative[pid][i] = float(realized)
    out: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(n))
    for pid, cum in cumulative.items():
        previous = 0.0
        for i in sorted(cum):
            out[tags[pid]][i] += cum[i] - previous
            previous = cum[i]
    return dict(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("journal", type=Path, help="replay journal (SQLite)")
    parser.add_argument("--run", type=int, help="run id (default: the latest)")
    args = parser.parse_args(argv)
    report(args.journal, args.run)


if __name__ == "__main__":
    main()
