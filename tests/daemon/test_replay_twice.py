"""Two replays of one range into one journal: two runs, the same results, every fill kept."""

from __future__ import annotations

import asyncio
import io
from datetime import date
from pathlib import Path

import pytest

from daemon.config import load_config
from daemon.logs import configure_logging, get_logger
from daemon.replay import ReplayResult, run_replay
from tests.daemon.rig import rows

START, END = date(2019, 1, 2), date(2019, 3, 29)


@pytest.fixture(scope="module")
def replays(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ReplayResult, ReplayResult]:
    path = tmp_path_factory.mktemp("twice") / "journal.sqlite"
    configure_logging("info", "json", stream=io.StringIO())
    config = load_config(None)
    first = asyncio.run(run_replay(config, START, END, path, get_logger("t")))
    second = asyncio.run(run_replay(config, START, END, path, get_logger("t")))
    return path, first, second


def test_second_replay_is_a_new_run_with_the_same_results(
    replays: tuple[Path, ReplayResult, ReplayResult],
) -> None:
    _, first, second = replays
    assert second.run_id == first.run_id + 1
    assert second.sessions == first.sessions == 61
    a, b = first.summary, second.summary
    assert a.trades_closed > 0 and a.total_pnl != 0.0  # the range trades
    assert b.total_pnl == pytest.approx(a.total_pnl, abs=1e-6)
    assert b.realized_pnl == pytest.approx(a.realized_pnl, abs=1e-6)
    assert b.condor_pnl == pytest.approx(a.condor_pnl, abs=1e-6)
    assert b.hedge_pnl == pytest.approx(a.hedge_pnl, abs=1e-6)
    assert b.commissions == pytest.approx(a.commissions, abs=1e-6)
    assert (b.trades_closed, b.wins, b.orders, b.fills) == (
        a.trades_closed,
        a.wins,
        a.orders,
        a.fills,
    )


def test_every_fill_of_both_runs_is_journaled_under_its_own_exec_id(
    replays: tuple[Path, ReplayResult, ReplayResult],
) -> None:
    path, first, second = replays
    per_run = {
        r["run_id"]: r
        for r in rows(
            path,
            "SELECT run_id, COUNT(*) AS n, COUNT(DISTINCT exec_id) AS ids,"
            " SUM(quantity * price) AS premium, SUM(commission) AS commission"
            " FROM fills GROUP BY run_id",
        )
    }
    assert set(per_run) == {first.run_id, second.run_id}
    one, two = per_run[first.run_id], per_run[second.run_id]
    assert one["n"] == two["n"] > 0
    assert one["ids"] == one["n"] and two["ids"] == two["n"]
    assert one["premium"] == pytest.approx(two["premium"])
    assert one["commission"] == pytest.approx(two["commission"])
    assert (
        sum(per_run[r]["n"] for r in per_run)
        == rows(path, "SELECT COUNT(*) AS n FROM fills")[0]["n"]
    )
    # each run's execution ids carry its run, and every filled order has its fills in its run
    for run_id in per_run:
        ids = rows(path, "SELECT exec_id FROM fills WHERE run_id = ?", run_id)
        assert all(r["exec_id"].startswith(f"sim-r{run_id}-") for r in ids)
    orphans = rows(
        path,
        "SELECT COUNT(*) AS n FROM orders o WHERE o.filled_quantity > 0 AND NOT EXISTS"
        " (SELECT 1 FROM fills f WHERE f.order_ref = o.order_ref AND f.run_id = o.run_id)",
    )
    assert orphans[0]["n"] == 0


def test_replay_never_writes_market_days(
    replays: tuple[Path, ReplayResult, ReplayResult],
) -> None:
    # replay's signals read the bundle; the live source's table stays empty
    path, _, _ = replays
    assert rows(path, "SELECT COUNT(*) AS n FROM market_daily") == [{"n": 0}]
