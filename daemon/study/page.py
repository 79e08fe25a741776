"""The study's self-contained HTML page: tables and the PNGs embedded as data URIs.

No script, no stylesheet or font from a network: the page opens offline
from any folder (the PNGs are also written beside it).
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daemon.study.metrics import METRIC_NAMES, REGIMES

if TYPE_CHECKING:
    from daemon.study.run import StudyResult

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;
max-width:1200px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f3f3f3}
img{max-width:100%;border:1px solid #ddd;margin:0.5em 0}
.verdict{font-size:1.1em;background:#fff8e0;border-left:4px solid #e0a000;padding:0.6em 1em}
.note{color:#555;font-size:0.9em}
"""

_LABELS = {
    "cagr": "CAGR",
    "vol": "Vol",
    "sharpe": "Sharpe",
    "sortino": "Sortino",
    "calmar": "Calmar",
    "max_drawdown": "Max DD",
    "cvar95": "CVaR95 (daily)",
    "worst_month": "Worst month",
}
_PERCENT = {"cagr", "vol", "max_drawdown", "cvar95", "worst_month"}


def _fmt(name: str, value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.1%}" if name in _PERCENT else f"{value:.2f}"


def _img(out_dir: Path, name: str | None, alt: str) -> str:
    if name is None:
        return ""
    data = base64.b64encode((out_dir / name).read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def metrics_table(result: StudyResult, regime: str, names: Sequence[str] | None = None) -> str:
    """HTML table of every variant's metrics in one regime."""
    rows = []
    for name in names or list(result.metrics):
        m = result.metrics[name].regimes[regime].as_dict()
        cells = "".join(f"<td>{_fmt(k, m[k])}</td>" for k in METRIC_NAMES)
        rows.append(f"<tr><td>{html.escape(name)}</td>{cells}<td>{m['n_returns']}</td></tr>")
    head = "".join(f"<th>{_LABELS[k]}</th>" for k in METRIC_NAMES)
    return f"<table><tr><th>variant</th>{head}<th>days</th></tr>{''.join(rows)}</table>"


def _differences_table(diff: dict[str, Any]) -> str:
    rows = []
    for regime, stats in diff.get("alvh_minus_unhedged", {}).items():
        for name, iv in stats.items():
            rows.append(
                f"<tr><td>{html.escape(regime)}</td><td>{_LABELS.get(name, name)}</td>"
                f"<td>{_fmt(name, iv['estimate'])}</td>"
                f"<td>{_fmt(name, iv['ci_low'])} to {_fmt(name, iv['ci_high'])}</td></tr>"
            )
    if not rows:
        return "<p>No hedged-vs-unhedged pair to compare.</p>"
    return (
        "<table><tr><th>regime</th><th>metric</th><th>ALVH − unhedged</th><th>95% CI</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _ablation_table(diff: dict[str, Any]) -> str:
    rows = []
    for name, stats in diff.get("variant_minus_alvh", {}).items():
        s, v = stats["sharpe"], stats["vol"]
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{_fmt('sharpe', s['estimate'])}</td>"
            f"<td>{_fmt('sharpe', s['ci_low'])} to {_fmt('sharpe', s['ci_high'])}</td>"
            f"<td>{_fmt('vol', v['estimate'])}</td>"
            f"<td>{_fmt('vol', v['ci_low'])} to {_fmt('vol', v['ci_high'])}</td></tr>"
        )
    return (
        "<table><tr><th>variant</th><th>Sharpe − ALVH</th><th>95% CI</th>"
        "<th>Vol − ALVH</th><th>95% CI</th></tr>" + "".join(rows) + "</table>"
    )


def _years_table(result: StudyResult) -> str:
    names = [n for n in ("alvh", "unhedged", "cndr_replica", "cndr_index", "sp500tr")
             if n in result.metrics]  # fmt: skip
    years = sorted({y for n in names for y in result.metrics[n].years})
    head = "".join(f"<th>{html.escape(n)} CAGR</th><th>{html.escape(n)} vol</th>" for n in names)
    rows = []
    for year in years:
        cells = ""
        for n in names:
            m = result.metrics[n].years.get(year)
            cells += (
                f"<td>{_fmt('cagr', m.cagr)}</td><td>{_fmt('vol', m.vol)}</td>"
                if m is not None
                else "<td>–</td><td>–</td>"
            )
        rows.append(f"<tr><td>{year}</td>{cells}</tr>")
    return f"<table><tr><th>year</th>{head}</tr>{''.join(rows)}</table>"


def _cndr_section(result: StudyResult, images: dict[str, str], out_dir: Path) -> str:
    cmp = result.cndr
    if cmp is None:
        return "<p>The CNDR index file was not given (<code>--cndr PATH</code>): no comparison.</p>"
    j = cmp.as_json()
    ok = "meets" if j["meets_acceptance"] else "does not meet"
    return (
        f"<p>Monthly returns {j['first_month']} to {j['last_month']} ({j['months']} months): "
        f"correlation <b>{_fmt('sharpe', cmp.correlation)}</b> (acceptance ≥ "
        f"{j['acceptance_correlation']}: {ok}), tracking error <b>{_fmt('vol', cmp.tracking_error)}"
        f"</b> a year; replica/index monthly vol ratio {_fmt('sharpe', cmp.vol_ratio)}, "
        f"tracking error of the vol-matched replica {_fmt('vol', cmp.tracking_error_vol_matched)}."
        "</p>"
        + _img(out_dir, images.get("cndr"), "CNDR replica vs index")
        + "<p class='note'>Where the replica and the index can differ: the replica's option "
        "prices come from the replay's SPX model (fitted surface scaled by VIX), not Cboe's "
        "quotes; Cboe trades at about 11:00 ET on roll day from real bid/ask and settles at "
        "the real SOQ, the replica enters at the 15:30 job and settles at the SPX open "
        "(SOQ proxy); its strikes are the model's 20/5-delta strikes; its size (max loss as "
        "a share of net liquidation) is a documented choice that scales returns (tracking "
        "error) but not correlation; Cboe's T-bill account vs the replay's cash rate. "
        "The bundle's SPX open equals the previous close on many sessions of 2006-07 and "
        "2011-13 (a stale first print), so on those roll days the SOQ proxy is stale: "
        "study.json's <code>cndr.largest_gaps</code> lists the months that differ most.</p>"
    )


def _report_link(result: StudyResult, name: str, out_dir: Path) -> str:
    """The variant's name, linked to its ``alvh report`` page when one was written."""
    report = result.runs[name].report
    if report is None:
        return html.escape(name)
    try:
        target = report.relative_to(out_dir).as_posix()
    except ValueError:
        return html.escape(name)
    return f'<a href="{html.escape(target)}">{html.escape(name)}</a>'


def write_page(result: StudyResult, images: dict[str, str], path: Path) -> None:
    """Write the study page to ``path`` (PNGs from ``images`` embedded)."""
    out_dir = path.parent
    o = result.options
    claim = result.claim
    main = [n for n in ("alvh", "unhedged", "cndr_replica", "cndr_index", "sp500tr",
                        "fill_mid", "fill_natural") if n in result.metrics]  # fmt: skip
    missing = "".join(f"<li>{html.escape(m)}</li>" for m in result.missing)
    described = "".join(
        f"<tr><td>{_report_link(result, v.name, out_dir)}</td><td style='text-align:left'>"
        f"{html.escape(v.description)}</td><td>{result.runs[v.name].seconds:.1f} s</td></tr>"
        for v in result.variants
        if v.name in result.runs
    )
    regimes = "".join(
        f"<h3>VIX {html.escape(r)}</h3>" + metrics_table(result, r, main) for r in REGIMES[1:]
    )
    body = f"""
<h1>ALVH study {o.start} to {o.end}</h1>
<p class="note">One engine (<code>alvh replay</code>) for every variant; wall time
{result.wall_seconds:.0f} s ({len(result.runs)} replays, {o.jobs} at a time). Metrics are
decimals shown as percent; annualised over 252 sessions; Sharpe and Sortino over the
T-bill rate when given. A day's VIX regime is the previous session's VIX close.</p>
{f"<p><b>Missing inputs</b></p><ul>{missing}</ul>" if missing else ""}
<h2>The claim: 18–25% lower volatility in high-VIX regimes than unhedged condors</h2>
<p class="verdict">{html.escape(claim.sentence()) if claim else "Not tested (no pair)."}</p>
<h2>Main table (whole range)</h2>
{metrics_table(result, "all", main)}
{_img(out_dir, images.get("equity"), "equity curves")}
{_img(out_dir, images.get("drawdown"), "drawdowns")}
<h2>By VIX regime</h2>
{_img(out_dir, images.get("regime_vol"), "volatility by regime")}
{regimes}
<h2>ALVH minus unhedged, with block-bootstrap intervals</h2>
<p class="note">{html.escape(result.differences.get("method", ""))}</p>
{_differences_table(result.differences)}
<h2>CNDR replica beside the real CNDR index</h2>
{_cndr_section(result, images, out_dir)}
<h2>Every variant</h2>
{metrics_table(result, "all")}
{_img(out_dir, images.get("variants"), "variants")}
<h3>Each variant minus ALVH (whole range)</h3>
{_ablation_table(result.differences)}
<h3>What each variant is</h3>
<table><tr><th>variant</th><th>configuration</th><th>replay</th></tr>{described}</table>
<h2>By year</h2>
{_years_table(result)}
"""
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>ALVH study {o.start} to {o.end}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )
    path.write_text(page, encoding="utf-8")
