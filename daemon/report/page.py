"""The report's HTML page: one self-contained file beside its PNG charts.

The page has no script, no web font and no link off the machine; its
stylesheet is inline and its images are the PNG files next to it, named
relatively (``<img src="equity.png">``), so the directory opens offline and
can be moved or zipped as a whole. Tables: the run's summary, hedge P&L by
rung, fired-rule counts and every structure with its IRR
(:func:`daemon.report.data.irr`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from html import escape

from daemon.report.data import RunReport, StructureRow

__all__ = ["CSV_FILES", "render_page"]

#: File names of the tables written as CSV beside the page (the page links them).
CSV_FILES = {
    "structures": "structures.csv",
    "rules": "fired_rules.csv",
    "tags": "hedge_by_rung.csv",
}

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 72em;
       color: #1b1f23; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { font-size: 1.15em; margin-top: 1.8em; }
p.meta { color: #586069; margin-top: 0; }
img { max-width: 100%; height: auto; display: block; margin: .5em 0; }
table { border-collapse: collapse; margin: .5em 0; font-size: 13px; }
th, td { border-bottom: 1px solid #e1e4e8; padding: .25em .6em; text-align: right; }
th { background: #f6f8fa; position: sticky; top: 0; }
td.l, th.l { text-align: left; }
td.neg { color: #b31d28; } td.pos { color: #22863a; }
td.reason { max-width: 32em; text-align: left; color: #586069; font-size: 12px; }
tr.total td { font-weight: 600; border-top: 2px solid #959da5; }
.note { color: #586069; font-size: 12px; max-width: 60em; }
"""


def _money(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    whole = round(value, 2)
    return f"{whole if whole else 0.0:,.2f}"


def _usd(value: float | None) -> str:
    text = _money(value)
    return text if text == "n/a" else ("-$" + text[1:] if text.startswith("-") else "$" + text)


def _pct(value: float | None, decimals: int = 1) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    if math.isinf(value) or abs(value) >= 100.0:  # an IRR of 10,000 % says nothing more
        return ">10,000%" if value > 0 else "<-10,000%"
    return f"{value * 100:,.{decimals}f}%"


def _signed(value: float | None, text: str, cls: str = "") -> str:
    sign = (
        ""
        if value is None or not math.isfinite(value) or value == 0
        else (" neg" if value < 0 else " pos")
    )
    classes = (cls + sign).strip()
    return f'<td class="{classes}">{escape(text)}</td>' if classes else f"<td>{escape(text)}</td>"


def _table(head: Sequence[str], rows: Iterable[str], left: int = 1) -> str:
    cells = "".join(
        f'<th class="l">{escape(h)}</th>' if i < left else f"<th>{escape(h)}</th>"
        for i, h in enumerate(head)
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _summary_table(report: RunReport) -> str:
    s = report.summary
    items: list[tuple[str, str]] = [
        ("sessions", f"{s.sessions} ({s.first_session} .. {s.last_session})"),
        ("starting net liquidation", _usd(s.starting_net_liquidation)),
        ("final net liquidation", _usd(s.final_net_liquidation)),
        ("total P&L", _usd(s.total_pnl)),
        ("realized P&L", _usd(s.realized_pnl)),
        ("open P&L", _usd(s.unrealized_pnl)),
        ("condor P&L", _usd(s.condor_pnl)),
        ("hedge P&L", _usd(s.hedge_pnl)),
        ("commissions and fees", _usd(s.commissions)),
        ("max drawdown", f"{_usd(s.max_drawdown)} ({s.max_drawdown_pct:.2f}%)"),
        (
            "structures closed / won",
            f"{s.trades_closed} / {s.wins}"
            + ("" if s.win_rate is None else f" ({s.win_rate * 100:.1f}%)"),
        ),
    ]
    rows = (f'<tr><td class="l">{escape(k)}</td><td>{escape(v)}</td></tr>' for k, v in items)
    return f'<table id="summary"><tbody>{"".join(rows)}</tbody></table>'


def _tags_table(report: RunReport) -> str:
    if not report.tags:
        return '<p class="note">No hedge layer was opened.</p>'
    rows = [
        "<tr>"
        f'<td class="l">{escape(t.key)}</td><td>{t.structures}</td>'
        + _signed(t.realized, _money(t.realized))
        + _signed(t.open, _money(t.open))
        + _signed(t.total, _money(t.total))
        + "</tr>"
        for t in report.tags
    ]
    realized = sum(t.realized for t in report.tags)
    open_ = sum(t.open for t in report.tags)
    rows.append(
        '<tr class="total"><td class="l">all hedge layers</td>'
        f"<td>{sum(t.structures for t in report.tags)}</td>"
        f"<td>{_money(realized)}</td><td>{_money(open_)}</td><td>{_money(realized + open_)}</td>"
        "</tr>"
    )
    return _table(("rung (tag)", "structures", "realized $", "open $", "total $"), rows)


def _rules_table(report: RunReport) -> str:
    if not report.rules:
        return '<p class="note">No decision was journaled.</p>'
    rows = [
        f'<tr><td class="l">{escape(r.rule)}</td><td class="l">{escape(r.action)}</td>'
        f"<td>{r.count}</td></tr>"
        for r in report.rules
    ]
    rows.append(
        f'<tr class="total"><td class="l">all</td><td></td>'
        f"<td>{sum(r.count for r in report.rules)}</td></tr>"
    )
    return _table(("rule", "action", "decisions"), rows, left=2)


def _structure_row(r: StructureRow) -> str:
    closed = r.closed.isoformat() if r.closed else "open"
    reason = r.exit_reason if len(r.exit_reason) <= 160 else r.exit_reason[:157] + "..."
    return (
        "<tr>"
        f'<td class="l">{escape(r.id)}</td>'
        f'<td class="l">{escape(r.structure)}</td>'
        f'<td class="l">{escape(r.tag or "")}</td>'
        f"<td>{r.opened.isoformat()}</td><td>{closed}</td><td>{r.days_held}</td>"
        f"<td>{r.quantity}</td><td>{r.open_price:+.2f}</td>"
        f"<td>{'' if r.close_price is None else f'{r.close_price:+.2f}'}</td>"
        + _signed(r.pnl, _money(r.pnl))
        + f"<td>{_money(r.max_loss)}</td>"
        + _signed(r.return_on_risk, _pct(r.return_on_risk))
        + _signed(r.irr, _pct(r.irr, 0))
        + f'<td class="l">{escape(r.exit_rule)}</td>'
        f'<td class="reason" title="{escape(r.exit_reason)}">{escape(reason)}</td>'
        "</tr>"
    )


def _structures_table(report: RunReport) -> str:
    if not report.structures:
        return '<p class="note">No structure was opened.</p>'
    head = (
        "id", "structure", "tag", "entry", "exit", "days", "qty", "open px", "close px",
        "P&L $", "max loss $", "P&L / risk", "IRR", "exit rule", "reason",
    )  # fmt: skip
    total = sum(r.pnl for r in report.structures if r.pnl is not None and r.closed is not None)
    rows = [_structure_row(r) for r in report.structures]
    rows.append(
        '<tr class="total"><td class="l">closed, sum</td>' + "<td></td>" * 8
        + f"<td>{_money(total)}</td>" + "<td></td>" * 5 + "</tr>"
    )  # fmt: skip
    return _table(head, rows, left=3)


def _csv_link(name: str) -> str:
    file = escape(CSV_FILES[name])
    return f'<p class="note">As CSV: <a href="{file}">{file}</a>.</p>'


def render_page(report: RunReport, images: Mapping[str, str], title: str) -> str:
    """The page's HTML.

    Args:
        report: the gathered run.
        images: chart name (``equity``, ``vol_vix``, ``hedge_attribution``,
            ``greeks``) -> the image's ``src`` (a relative file name); a
            missing name leaves its chart out.
        title: the page's heading.
    """
    info = report.info
    period = (
        f"replay {info.replay_start} .. {info.replay_end}"
        if info.replay_start
        else f"started {info.started_at}"
    )

    def img(name: str, alt: str) -> str:
        src = images.get(name)
        return "" if src is None else f'<img src="{escape(src)}" alt="{escape(alt)}">'

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">run {info.id} [{escape(info.mode)}], {escape(period)};'
        f" finished {escape(info.finished_at or 'no')}. Money in dollars net of commissions"
        " and fees; prices in index points per combo unit (+ debit / - credit).</p>",
        "<h2>Summary</h2>",
        _summary_table(report),
        "<h2>Equity and drawdown</h2>",
        img("equity", "net liquidation and drawdown"),
        "<h2>Rolling volatility and VIX</h2>",
        img("vol_vix", "rolling volatility and VIX"),
        '<p class="note">Sample standard deviation of the daily returns of net liquidation'
        " over the last 21 sessions, times sqrt(252). VIX closes from "
        f"{escape(report.vix_source)}.</p>",
        "<h2>Hedge P&amp;L by rung</h2>",
        img("hedge_attribution", "hedge P&L by rung"),
        _tags_table(report),
        _csv_link("tags"),
        '<p class="note">Realized P&amp;L of the closed hedge layers plus the open ones at'
        " their last mark, by the tag the ladder gave them (rung-1, rung-2, recycle...).</p>",
        "<h2>Net greeks</h2>",
        img("greeks", "net greeks"),
        '<p class="note">Sum of the marks\' greeks per session per kind. Condors are SPX'
        " options (delta $ per SPX point, vega $ per SPX implied-vol point); hedge layers are"
        " VIX options (delta $ per VIX-future point, vega $ per VIX-option implied-vol point),"
        " so the two do not add except theta ($ per calendar day).</p>",
        "<h2>Fired rules</h2>",
        _rules_table(report),
        _csv_link("rules"),
        "<h2>Structures</h2>",
        '<p class="note">Max loss: the most the structure can lose held to expiry at its'
        " entry price (condor: widest wing minus the credit; long options: the debit), dollars."
        " P&amp;L / risk divides the realized P&amp;L (open ones: the last mark) by it."
        " IRR annualises that over the calendar days held: (1 + P&amp;L/risk)^(365/days) - 1."
        " Exit rule and reason come from the decision whose order closed the structure.</p>",
        _csv_link("structures"),
        _structures_table(report),
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)
