"""CLI of ``alvh model-check``: chain files (:mod:`daemon.modelcheck`) and plain
quotes files (:mod:`daemon.modelcheck_quotes`), text or JSON, optional plot.

A file whose first non-blank line is a header naming ``quote_date`` is read
as a quotes file (:mod:`daemon.quotes_file`), anything else as a Cboe chain.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from daemon.chains import ChainFormatError, read_chain
from daemon.modelcheck import (
    ChainCheck,
    ModelCheckError,
    check_chain,
    context_for,
    holidays_between,
    load_events,
    summarize,
)
from daemon.quotes_file import QuotesFormatError, is_quotes_file, read_quotes


def add_parser(subparsers: Any) -> None:
    """Add the ``model-check`` subcommand to an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "model-check",
        help="compare the SPX/VIX option models with Cboe chain snapshots",
        description=(
            "Compare model IVs with a Cboe delayed-quote chain (SPX: 5-45 DTE, "
            "|delta| 0.05-0.50, two-sided OTM quotes; VIX: 30-120 DTE calls up to "
            "40%% OTM) and with the flat-VIX baseline."
        ),
    )
    p.add_argument("chains", nargs="+", type=Path, metavar="CHAIN.csv", help="chain file(s)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", type=Path, metavar="FILE.png", help="draw market vs model IV")
    p.add_argument("--bundle", type=Path, default=None, help="daily data bundle directory")
    p.set_defaults(func=run)


def _fmt(x: float | None) -> str:
    return "   n/a" if x is None or not math.isfinite(x) else f"{x:6.2f}"


def _print_quotes_text(s: dict[str, Any]) -> None:
    print(
        f"{s['file']} ({s['symbol']} quotes {s['quote_date']}..{s['last_quote_date']}): "
        f"{s['n_quotes']} quotes in the universe ({s['n_excluded']} of {s['n_rows']} rows "
        f"excluded); |IV error| vol pts median {_fmt(s['median_abs_iv_error_vol_pts'])} "
        f"p90 {_fmt(s['p90_abs_iv_error_vol_pts'])}; |price error| median "
        f"{_fmt(s['median_abs_price_error_pct'])} %; flat baseline median "
        f"{_fmt(s['baseline_median_abs_iv_error_vol_pts'])}"
    )
    for group in ("by_vix_regime", "by_year"):
        for label, b in s[group].items():
            if not b["n_quotes"]:
                continue
            print(
                f"    {'VIX ' if group == 'by_vix_regime' else ''}{label:>6}  n={b['n_quotes']:5d}"
                f"  median {_fmt(b['median_abs_iv_error_vol_pts'])}"
                f"  p90 {_fmt(b['p90_abs_iv_error_vol_pts'])}"
                f"  price {_fmt(b['median_abs_price_error_pct'])} %"
            )


def _print_text(summaries: list[dict[str, Any]], pooled: dict[str, Any] | None) -> None:
    for s in summaries:
        if "by_vix_regime" in s:
            _print_quotes_text(s)
            continue
        if s["n_quotes"] == 0:
            print(f"{s['file']} ({s['symbol']} {s['quote_date']}): no quote in the check universe")
            continue
        ratio = s["baseline_median_abs_iv_error_vol_pts"] / max(
            s["median_abs_iv_error_vol_pts"], 1e-9
        )
        print(
            f"{s['file']} ({s['symbol']} {s['quote_date']}): {s['n_quotes']} quotes; "
            f"|IV error| vol pts median {_fmt(s['median_abs_iv_error_vol_pts'])} "
            f"p90 {_fmt(s['p90_abs_iv_error_vol_pts'])}; flat baseline median "
            f"{_fmt(s['baseline_median_abs_iv_error_vol_pts'])} "
            f"p90 {_fmt(s['baseline_p90_abs_iv_error_vol_pts'])} ({ratio:.1f}x)"
        )
        for b in s.get("buckets", []):
            key = "otm" if "otm" in b else "abs_delta"
            lab = "K/F-1" if key == "otm" else "|delta|"
            print(
                f"    DTE {b['dte'][0]:3d}-{b['dte'][1]:<3d} {lab} {b[key][0]:.2f}-{b[key][1]:.2f}"
                f"  n={b['n_quotes']:4d}  median {_fmt(b['median_abs_iv_error_vol_pts'])}"
                f"  p90 {_fmt(b['p90_abs_iv_error_vol_pts'])}"
                f"  baseline median {_fmt(b['baseline_median_abs_iv_error_vol_pts'])}"
            )
    if pooled is not None:
        for sym, s in pooled.items():
            print(
                f"pooled {sym} ({s['n_quotes']} quotes): median "
                f"{_fmt(s['median_abs_iv_error_vol_pts'])} p90 "
                f"{_fmt(s['p90_abs_iv_error_vol_pts'])}; baseline median "
                f"{_fmt(s['baseline_median_abs_iv_error_vol_pts'])} p90 "
                f"{_fmt(s['baseline_p90_abs_iv_error_vol_pts'])}"
            )


def plot_checks(checks: Sequence[ChainCheck], path: Path, max_expiries: int = 4) -> None:
    """Draw market (dots) and model (line) IV by strike for a few expiries of each chain."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(checks), 1, figsize=(10, 4.5 * len(checks)), squeeze=False)
    for ax, chk in zip(axes[:, 0], checks, strict=True):
        q = chk.quotes
        expiries = np.unique(q.expiry)
        if len(expiries) > max_expiries:
            pick = np.linspace(0, len(expiries) - 1, max_expiries).round().astype(int)
            expiries = expiries[pick]
        for n, e in enumerate(expiries):
            m = q.expiry == e
            o = np.argsort(q.strike[m])
            color = f"C{n}"
            dte = int(q.dte[m][0])
            ax.scatter(q.strike[m][o], q.iv[m][o] * 100, s=8, color=color,
                       label=f"market {e} ({dte} d)")  # fmt: skip
            ax.plot(q.strike[m][o], chk.model[m][o] * 100, color=color, lw=1.5,
                    label=f"model {e}")  # fmt: skip
        base = float(chk.baseline[0]) * 100 if len(chk.baseline) else math.nan
        ax.axhline(base, color="grey", ls=":", lw=1, label="flat baseline")
        c = q.chain
        me, _ = chk.errors()
        ax.set_title(
            f"{c.path.name}: {c.symbol} {c.quote_date}, median |error| "
            f"{np.median(me) if len(me) else math.nan:.2f} vol pts"
        )
        ax.set_xlabel("strike")
        ax.set_ylabel("implied vol (vol points)")
        ax.legend(fontsize=7, ncol=2)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def check_quotes_file(path: Path, history: Any) -> dict[str, Any]:
    """Figures of one plain quotes file (:func:`daemon.modelcheck_quotes.quotes_summary`).

    Raises:
        QuotesFormatError: unreadable file, or a quote date outside the bundled data.
    """
    from daemon.modelcheck_quotes import (
        price_quotes,
        quotes_model_iv,
        quotes_summary,
        quotes_universe,
    )

    rows = read_quotes(path)
    contexts = {}
    for i, d64 in enumerate(rows.quote_date):
        d: date = d64.astype(object)
        if d in contexts:
            continue
        try:
            contexts[d] = context_for(history, d)
        except ModelCheckError as exc:
            raise QuotesFormatError(f"{path}: line {int(rows.line[i])}: {exc}") from None
    q = price_quotes(rows, contexts)
    return quotes_summary(q, quotes_model_iv(q), quotes_universe(q))


def run(args: argparse.Namespace) -> int:
    """Run the check for ``args.chains``; returns the process exit code.

    Exit codes: 0 ok, 2 a file could not be read or its date is outside the
    bundled data (message on stderr).
    """
    from daemon.marketdata.loader import load_history

    history = load_history(getattr(args, "bundle", None))
    events = load_events()
    checks: list[ChainCheck] = []
    quote_summaries: list[dict[str, Any]] = []
    try:
        for path in args.chains:
            if is_quotes_file(path):
                quote_summaries.append(check_quotes_file(path, history))
                continue
            chain = read_chain(path)
            ctx = context_for(history, chain.quote_date, chain)
            end = chain.quote_date + timedelta(days=130)
            hol = holidays_between(history, chain.quote_date, end)
            checks.append(check_chain(chain, ctx, holidays=hol, events=events))
    except (ChainFormatError, ModelCheckError, QuotesFormatError) as exc:
        print(f"alvh model-check: error: {exc}", file=sys.stderr)
        return 2
    summaries = [c.summary() for c in checks] + quote_summaries
    pooled: dict[str, Any] | None = None
    if len(checks) > 1:
        pooled = {}
        for sym in ("SPX", "VIX"):
            sel = [c for c in checks if c.quotes.chain.symbol == sym]
            if not sel:
                continue
            me = np.concatenate([c.errors()[0] for c in sel])
            be = np.concatenate([c.errors()[1] for c in sel])
            pooled[sym] = summarize(me, be)
    if args.json:
        if len(summaries) == 1:
            obj: dict[str, Any] = dict(summaries[0])
        else:
            first = "SPX" if pooled and "SPX" in pooled else next(iter(pooled or {"": {}}))
            obj = dict((pooled or {}).get(first, {}))
            obj["chains"] = summaries
            obj["pooled"] = (pooled or {}).get(first, {})
            obj["pooled_by_symbol"] = pooled
        print(json.dumps(_finite(obj), allow_nan=False, default=_json_default))
    else:
        _print_text(summaries, pooled)
    if getattr(args, "plot", None) is not None:
        plot_checks(checks, args.plot)
        if not args.json:
            print(f"plot written to {args.plot}")
    return 0


def _finite(x: Any) -> Any:
    """``x`` with NaN/inf floats replaced by None (JSON has no NaN)."""
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _json_default(x: object) -> object:
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"not JSON serialisable: {type(x)}")
