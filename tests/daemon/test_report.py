"""``alvh report``: the page and charts of a real replay, the numbers in its tables,
the pure data functions on hand-made records, and the command's errors.

One replay of 2019-01-02..2019-03-29 (bundled data, about a second) is shared by
the module; the tests read its journal with plain SQL and check the report's
numbers against it.
"""

from __future__ import annotations

import asyncio
import html
import io
import math
import re
import shutil
import sqlite3
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from daemon.cli import main
from daemon.config import load_config
from daemon.journal import Journal, MarkRecord, PositionRecord
from daemon.logs import bind_clock, configure_logging, get_logger
from daemon.replay import run_replay
from daemon.report import ReportError, render_run_report
from daemon.report.charts import CHART_FILES
from daemon.report.data import (
    UNTAGGED,
    attribution_by_tag,
    drawdown_share,
    gather,
    irr,
    max_loss,
    net_greeks,
    rolling_vol,
    tag_totals,
)
from daemon.report.render import PAGE_FILE
from strategies.domain import Leg, OptionContract, Right, Structure

START, END = date(2019, 1, 2), date(2019, 3, 29)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def journal_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "replay.sqlite"
    configure_logging("warning", "json", io.StringIO())
    result = asyncio.run(run_replay(load_config(None), START, END, path, get_logger("t")))
    bind_clock(None)
    assert result.sessions > 55
    return path


@pytest.fixture(scope="module")
def page(journal_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_run_report(journal_path, None, tmp_path_factory.mktemp("out") / "r", "Q1 2019")


def _sql(path: Path, query: str, *params: object) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(query, params).fetchall()
    finally:
        conn.close()


def _cells(page_html: str, table_start: str) -> list[list[str]]:
    """The text of every row's cells of the first table after ``table_start``."""
    chunk = page_html[page_html.rindex("<table", 0, page_html.index(table_start)) :]
    chunk = chunk[: chunk.index("</table>")]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", chunk, flags=re.S)
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", c))
            for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r)
        ]
        for r in rows
    ]


def _money(text: str) -> float:
    return float(text.replace("$", "").replace(",", ""))


# --------------------------------------------------------------------------- the files


def test_the_page_and_every_chart_are_written_and_open_offline(page: Path) -> None:
    assert page.name == PAGE_FILE
    text = page.read_text(encoding="utf-8")
    assert "<h1>Q1 2019</h1>" in text
    for name in CHART_FILES.values():
        png = page.parent / name
        assert png.read_bytes()[:8] == PNG_MAGIC
        assert png.stat().st_size > 10_000  # a drawn chart, not an empty canvas
        assert f'src="{name}"' in text
    # nothing is fetched from elsewhere: every src/href is a file beside the page
    for ref in re.findall(r'(?:src|href)="([^"]+)"', text):
        assert (page.parent / ref).is_file(), ref
    assert "http://" not in text and "https://" not in text and "<script" not in text


def test_the_journal_is_left_unchanged(journal_path: Path, tmp_path: Path) -> None:
    before = journal_path.read_bytes()
    render_run_report(journal_path, 1, tmp_path / "again")
    assert journal_path.read_bytes() == before


# --------------------------------------------------------------------------- the numbers


def test_structure_pnl_sums_to_the_summary_realized_pnl(journal_path: Path, page: Path) -> None:
    with Journal.open(journal_path, read_only=True) as journal:
        report = gather(journal)
    closed = [s for s in report.structures if s.closed is not None]
    assert len(closed) >= 5
    assert len(report.structures) == _sql(journal_path, "SELECT COUNT(*) FROM positions")[0][0]
    total = sum(s.pnl or 0.0 for s in closed)
    assert total == pytest.approx(report.summary.realized_pnl, abs=0.01)
    (daily_realized,) = _sql(
        journal_path, "SELECT realized_pnl FROM daily ORDER BY session DESC LIMIT 1"
    )[0]
    assert total == pytest.approx(daily_realized, abs=0.01)
    # the page's table says the same: one row per structure, the sum row matches
    rows = _cells(page.read_text(encoding="utf-8"), '<th class="l">id</th>')
    body, sum_row = rows[1:-1], rows[-1]
    assert len(body) == len(report.structures)
    assert sum_row[0] == "closed, sum"
    assert _money(sum_row[9]) == pytest.approx(total, abs=0.006)
    assert sum(_money(r[9]) for r in body if r[4] != "open") == pytest.approx(total, abs=0.05)
    # every closed structure names the rule that closed it
    assert all(s.exit_rule for s in closed), [s.exit_reason for s in closed if not s.exit_rule]


def test_fired_rule_counts_equal_the_decisions_table(journal_path: Path, page: Path) -> None:
    expected = {
        (rule, action): n
        for rule, action, n in _sql(
            journal_path, "SELECT rule, action, COUNT(*) FROM decisions GROUP BY rule, action"
        )
    }
    rows = _cells(page.read_text(encoding="utf-8"), '<th class="l">rule</th>')
    shown = {(r[0], r[1]): int(r[2]) for r in rows[1:-1]}
    assert shown == expected
    assert int(rows[-1][2]) == sum(expected.values())  # type: ignore[arg-type]


def test_hedge_attribution_sums_to_the_daily_hedge_pnl(journal_path: Path) -> None:
    with Journal.open(journal_path, read_only=True) as journal:
        report = gather(journal)
    daily = dict(_sql(journal_path, "SELECT session, hedge_pnl FROM daily"))
    assert report.hedge_pnl, "the replay opened hedge layers"
    assert all(k.startswith("rung-") or k in ("recycle", UNTAGGED) for k in report.hedge_pnl)
    for i, session in enumerate(report.sessions):
        total = sum(series[i] for series in report.hedge_pnl.values())
        assert total == pytest.approx(daily[session.isoformat()], abs=0.01), session
    assert sum(t.total for t in report.tags) == pytest.approx(report.summary.hedge_pnl, abs=0.01)


def test_net_greeks_are_the_sums_of_the_marks(journal_path: Path) -> None:
    with Journal.open(journal_path, read_only=True) as journal:
        report = gather(journal)
    rows = _sql(
        journal_path,
        "SELECT m.session, p.structure, SUM(m.delta), SUM(m.vega), SUM(m.theta) FROM marks m "
        "JOIN positions p ON p.id = m.position_id GROUP BY 1, 2",
    )
    assert rows
    index = {s.isoformat(): i for i, s in enumerate(report.sessions)}
    for session, kind, delta, vega, theta in rows:
        i = index[str(session)]
        greeks = report.greeks[str(kind)]
        assert greeks["delta"][i] == pytest.approx(delta)
        assert greeks["vega"][i] == pytest.approx(vega)
        assert greeks["theta"][i] == pytest.approx(theta)


def test_equity_drawdown_and_vix_follow_the_journal(journal_path: Path) -> None:
    with Journal.open(journal_path, read_only=True) as journal:
        report = gather(journal, vix=lambda s: ({d: 20.0 for d in s}, "stub"))
    nl = [r[0] for r in _sql(journal_path, "SELECT net_liquidation FROM daily ORDER BY session")]
    assert list(report.net_liquidation) == nl
    assert max(report.drawdown) * 100 == pytest.approx(report.summary.max_drawdown_pct)
    assert report.vix_source == "stub" and set(report.vix) == {20.0}


def test_vix_comes_from_the_journal_market_rows_when_it_has_them(
    journal_path: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "with-market.sqlite"
    shutil.copy(journal_path, copy)
    with Journal.open(copy) as journal:
        first = journal.daily(1)[0].session
    conn = sqlite3.connect(copy)
    with conn:
        conn.execute(
            "INSERT INTO market_daily (session, vix, source, recorded_at) VALUES (?, ?, ?, ?)",
            (first.isoformat(), 33.3, "manual", "2019-01-02T16:30:00-05:00"),
        )
    conn.close()
    with Journal.open(copy, read_only=True) as journal:
        report = gather(journal, vix=lambda s: pytest.fail("the bundle must not be read"))
    assert report.vix_source == "journal market_daily"
    assert report.vix[0] == 33.3 and math.isnan(report.vix[1])


def test_the_bundled_history_gives_vix_by_default(page: Path) -> None:
    assert "VIX closes from the bundled daily history" in page.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- pure functions


def _leg(strike: float, right: Right, ratio: int, symbol: str = "SPX") -> Leg:
    return Leg(OptionContract(symbol, symbol, date(2019, 2, 15), strike, right, 100), ratio)


CONDOR = (
    _leg(2345, Right.PUT, 1),
    _leg(2395, Right.PUT, -1),
    _leg(2620, Right.CALL, -1),
    _leg(2680, Right.CALL, 1),
)


def test_max_loss_of_a_condor_is_the_widest_wing_minus_the_credit() -> None:
    # 60-point call wing, 4.20 credit, 10 units: (60 - 4.2) * 100 * 10
    assert max_loss(CONDOR, 10, -4.2) == pytest.approx(55_800.0)


def test_max_loss_of_a_long_call_is_its_debit_and_a_naked_short_call_is_unbounded() -> None:
    assert max_loss((_leg(24, Right.CALL, 1, "VIX"),), 5, 1.8) == pytest.approx(900.0)
    assert max_loss((_leg(24, Right.CALL, -1, "VIX"),), 5, -1.8) is None
    assert max_loss((), 1, 1.0) is None


def test_irr_annualises_the_return_on_risk_over_calendar_days() -> None:
    assert irr(0.10, 365) == pytest.approx(0.10)
    assert irr(0.02, 7) == pytest.approx(1.02 ** (365 / 7) - 1)
    assert irr(-1.5, 10) == -1.0
    assert irr(None, 10) is None


def test_rolling_vol_is_the_annualised_sample_std_of_daily_returns() -> None:
    rng = np.random.default_rng(7)
    nl = list(1e6 * np.cumprod(1 + rng.normal(0, 0.01, 40)))
    vol = rolling_vol(nl, start=1e6, window=21)
    returns = np.diff(np.array([1e6, *nl])) / np.array([1e6, *nl[:-1]])
    assert all(math.isnan(v) for v in vol[:20])
    assert vol[20] == pytest.approx(np.std(returns[:21], ddof=1) * math.sqrt(252))
    assert vol[-1] == pytest.approx(np.std(returns[-21:], ddof=1) * math.sqrt(252))
    with pytest.raises(ValueError, match="window"):
        rolling_vol(nl, window=1)


def test_drawdown_share_is_measured_from_the_running_peak() -> None:
    assert drawdown_share([110.0, 99.0, 120.0, 90.0], start=100.0) == pytest.approx(
        [0.0, 0.1, 0.0, 0.25]
    )


def _position(
    pid: str, tag: str | None, opened: int, closed: int | None, pnl: float | None
) -> PositionRecord:
    return PositionRecord(
        id=pid,
        run_id=1,
        structure=Structure.HEDGE_LAYER,
        opened_session=date(2019, 1, opened),
        closed_session=None if closed is None else date(2019, 1, closed),
        quantity=1,
        legs=(_leg(24, Right.CALL, 1, "VIX"),),
        open_price=1.0,
        close_price=None,
        realized_pnl=pnl,
        close_reason=None,
        tag=tag,
    )


def _mark(pid: str, day: int, pnl: float, delta: float = 1.0) -> MarkRecord:
    return MarkRecord(1, date(2019, 1, day), pid, 1.0, pnl, delta, 0.1, math.nan, -2.0)


def test_attribution_counts_marks_while_open_and_realized_from_the_close() -> None:
    sessions: Sequence[date] = [date(2019, 1, d) for d in (2, 3, 4)]
    positions = [_position("a", "rung-1", 2, 3, -50.0), _position("b", None, 3, None, None)]
    marks = [_mark("a", 2, -20.0), _mark("b", 3, 5.0), _mark("b", 4, 7.0)]
    assert attribution_by_tag(positions, marks, sessions) == {
        "rung-1": [-20.0, -50.0, -50.0],
        UNTAGGED: [0.0, 5.0, 7.0],
    }
    totals = {t.key: (t.structures, t.realized, t.open) for t in tag_totals(positions, marks)}
    assert totals == {"rung-1": (1, -50.0, 0.0), UNTAGGED: (1, 0.0, 7.0)}
    greeks = net_greeks(positions, marks, sessions)
    assert greeks["hedge_layer"]["delta"] == [1.0, 1.0, 1.0]
    assert greeks["hedge_layer"]["vega"] == [0.0, 0.0, 0.0]  # NaN marks add nothing


# --------------------------------------------------------------------------- the command


def test_cli_writes_the_report_of_the_last_run(
    journal_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(journal_path), "--out", str(tmp_path / "cli")]) == 0
    assert capsys.readouterr().out.strip() == f"report: {tmp_path / 'cli' / PAGE_FILE}"
    assert (tmp_path / "cli" / "equity.png").is_file()


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("missing", [], "no such journal file"),
        ("garbage", [], "not an alvh journal"),
        ("journal", ["--run", "99"], "no run 99"),
    ],
)
def test_cli_bad_input_is_one_line_and_status_2(
    journal_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    setup: str,
    args: list[str],
    message: str,
) -> None:
    path = {"missing": tmp_path / "nope.sqlite", "journal": journal_path}.get(
        setup, tmp_path / "garbage.sqlite"
    )
    if setup == "garbage":
        path.write_bytes(b"not a database at all" * 100)
    assert main(["report", str(path), "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("alvh report: ") and message in err and err.count("\n") == 1


def test_render_raises_report_error_for_an_unwritable_output(
    journal_path: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ReportError, match="cannot write the report"):
        render_run_report(journal_path, None, blocker / "sub")


def test_a_run_with_nothing_journaled_still_gets_a_page(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    with Journal.open(path) as journal:
        journal.start_run("paper")
    page = render_run_report(path, None, tmp_path / "out", vix=lambda s: None)
    text = page.read_text(encoding="utf-8")
    assert "No structure was opened." in text and "No decision was journaled." in text
    assert all((page.parent / name).read_bytes()[:8] == PNG_MAGIC for name in CHART_FILES.values())


def test_marks_the_job_could_not_price_add_nothing(journal_path: Path, tmp_path: Path) -> None:
    """SQLite stores a NaN greek as NULL; the report reads it back as "no value"."""
    copy = tmp_path / "nan-marks.sqlite"
    shutil.copy(journal_path, copy)
    conn = sqlite3.connect(copy)
    with conn:
        conn.execute("UPDATE marks SET delta = ?, unrealized_pnl = ? WHERE rowid % 3 = 0",
                     (math.nan, math.nan))  # fmt: skip
    conn.close()
    with Journal.open(copy, read_only=True) as journal:
        report = gather(journal, vix=lambda s: None)
    rows = _sql(
        copy,
        "SELECT m.session, SUM(m.delta) FROM marks m JOIN positions p ON p.id = m.position_id "
        "WHERE p.structure = 'condor' GROUP BY 1",
    )
    index = {s.isoformat(): i for i, s in enumerate(report.sessions)}
    for session, delta in rows:
        expected = 0.0 if delta is None else delta
        assert report.greeks["condor"]["delta"][index[str(session)]] == pytest.approx(expected)
    assert render_run_report(copy, None, tmp_path / "out", vix=lambda s: None).is_file()


def test_the_tables_are_written_as_csv_too(journal_path: Path, page: Path) -> None:
    import csv

    with (page.parent / "structures.csv").open(newline="") as f:
        structures = list(csv.DictReader(f))
    assert len(structures) == _sql(journal_path, "SELECT COUNT(*) FROM positions")[0][0]
    realized = sum(float(r["pnl"]) for r in structures if r["closed"])
    (expected,) = _sql(journal_path, "SELECT SUM(realized_pnl) FROM positions")[0]
    assert realized == pytest.approx(expected, abs=0.01)
    with (page.parent / "fired_rules.csv").open(newline="") as f:
        rules = {(r["rule"], r["action"]): int(r["count"]) for r in csv.DictReader(f)}
    counts = _sql(journal_path, "SELECT rule, action, COUNT(*) FROM decisions GROUP BY 1, 2")
    assert rules == {(rule, action): n for rule, action, n in counts}
    with (page.parent / "hedge_by_rung.csv").open(newline="") as f:
        tags = list(csv.DictReader(f))
    assert {r["key"] for r in tags} >= {"rung-1"}
