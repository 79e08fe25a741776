"""Render an ``alvh status`` report as terminal text or one short ``STATUS=`` line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from daemon.clock import NEW_YORK
from strategies.domain import Structure

__all__ = ["render_status", "status_line"]


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
    ]
    if report.get("last_watchdog_beat"):
        lines.append(f"last systemd watchdog beat {report['last_watchdog_beat']}")
    lines.append("")

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

    replay = report.get("replay")
    if replay is not None:
        state = "finished" if replay["finished"] else "not finished"
        lines.append(
            f"Replay {replay['start']} .. {replay['end']} ({state}): {replay['sessions']} "
            f"sessions replayed, last {replay['last_session'] or 'none'}"
        )
        lines.append("")
    replay_end = report.get("context", {}).get("source") == "replay end"
    after = f", after the replay's end {report['as_of']}" if replay_end else ""
    lines.append(f"Next jobs (America/New_York; times from {report['schedule_source']}{after})")
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
        when = "at the replay's end" if replay_end else "now"
        lines.append(f"Condor entry {when}: {'blocked: ' + block if block else 'allowed'}")
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
