"""A replay only trades what was listed on each session (issue 9, deliverable 7).

Chosen behaviour: a range before a product's listing date runs, trades
nothing it could not have traded, and journals one SKIP per blocked job whose
reason names the product and its first listing date; ``alvh replay`` then
prints a one-line note per such product after its summary.
"""

from __future__ import annotations

import contextlib
import io
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.cli import main
from daemon.logs import bind_clock, configure_logging


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.upper().startswith("ALVH_"):
            monkeypatch.delenv(name)
    yield
    bind_clock(None)
    configure_logging("info", "json", io.StringIO())


def _replay(tmp_path: Path, start: str, end: str) -> tuple[Path, str]:
    journal = tmp_path / "j.sqlite"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(
            [
                "replay", "--start", start, "--end", end, "--journal", str(journal),
                "--log-file", str(tmp_path / "events.log"), "--no-progress",
            ]
        )  # fmt: skip
    assert rc == 0
    return journal, out.getvalue()


def _rows(journal: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(journal) as db:
        return db.execute(sql).fetchall()


def test_range_before_any_listing_trades_nothing_and_says_why(tmp_path: Path) -> None:
    journal, out = _replay(tmp_path, "2003-04-28", "2003-05-09")
    assert _rows(journal, "SELECT COUNT(*) FROM orders") == [(0,)]
    skips = _rows(journal, "SELECT rule, action, reason, time FROM decisions")
    assert len(skips) == 10  # one condor entry per session, nothing else to do
    assert {(rule, action) for rule, action, _, _ in skips} == {("condor_entry", "skip")}
    reasons = {str(time)[:10]: reason for _, _, reason, time in skips}
    assert reasons["2003-05-02"] == (
        "no SPXW expiry listed in 7-21 DTE on 2003-05-02: SPX Weeklys (SPXW) began "
        "2005-10-28; monthly SPX (AM-settled) is a different trading class"
    )
    assert "note: SPX SPXW options were first listed 2005-10-28" in out
    assert "note: VIX VIX options were first listed 2006-02-24" in out


def test_range_spanning_the_listing_dates(tmp_path: Path) -> None:
    journal, out = _replay(tmp_path, "2005-10-20", "2006-03-10")
    first_fill = _rows(journal, "SELECT MIN(time) FROM fills")[0][0]
    assert str(first_fill)[:10] == "2005-10-28"  # the first SPXW session
    spxw = _rows(journal, "SELECT MIN(expiry) FROM fills WHERE trading_class = 'SPXW'")
    assert str(spxw[0][0]) >= "2005-10-28"
    # Condors were held before VIX options existed: the hedge check says so.
    vix_skips = _rows(
        journal,
        "SELECT reason FROM decisions WHERE rule = 'hedge_ladder' AND action = 'skip' "
        "AND reason LIKE '%VIX options first traded 2006-02-24%'",
    )
    assert vix_skips
    vix = _rows(journal, "SELECT MIN(time), COUNT(*) FROM fills WHERE symbol = 'VIX'")
    assert vix[0][1] > 0 and str(vix[0][0])[:10] >= "2006-02-24"
    assert "note: SPX SPXW options were first listed 2005-10-28" in out
