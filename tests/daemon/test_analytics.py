"""Tests for daemon.analytics: counts, win rate, P&L per structure and drawdown over read models."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from daemon.analytics import (
    OTHER,
    JournalSummary,
    count_activity,
    max_drawdown,
    realized_by_structure,
    starting_net_liquidation,
    summarize,
    summarize_records,
    win_rate,
)
from daemon.journal import DailyRecord, Journal, PositionRecord, RunInfo, TallyRecord
from strategies.domain import Action, Decision, Leg, OptionContract, Right, Structure
from strategies.execution import Fill, OrderIntent, OrderState
from strategies.positions import OpenStructure

DAY = date(2020, 2, 3)
NOW = datetime(2020, 2, 3, 20, 30, tzinfo=UTC)
LEGS = (Leg(OptionContract("SPX", "SPXW", date(2020, 2, 14), 3150.0, Right.PUT), -1),)


def _position(
    pid: str, structure: Structure, closed: date | None, pnl: float | None
) -> PositionRecord:
    return PositionRecord(pid, 1, structure, DAY, closed, 1, LEGS, -2.0, None, pnl, None)


def _daily(day: int, nl: float, realized: float = 0.0, unrealized: float = 0.0) -> DailyRecord:
    return DailyRecord(
        1, DAY + timedelta(days=day), nl, nl, realized, unrealized, realized, unrealized, 0.0
    )


def _run(mode: str = "replay", config: dict[str, object] | None = None) -> RunInfo:
    return RunInfo(1, mode, "2024-05-01T12:00:00+00:00", None, None, None, config or {}, None)


# --------------------------------------------------------------------------- pure functions


def test_max_drawdown_in_dollars_and_percent_of_peak() -> None:
    assert max_drawdown([]) == (0.0, 0.0)
    assert max_drawdown([100.0, 110.0, 120.0]) == (0.0, 0.0)
    dd, pct = max_drawdown([100.0, None, 80.0, 120.0, 108.0], start=100.0)
    assert dd == pytest.approx(20.0) and pct == pytest.approx(20.0)
    # the largest dollar fall and the largest percent fall may differ
    dd, pct = max_drawdown([50.0, 40.0, 200.0, 170.0])
    assert (dd, pct) == (pytest.approx(30.0), pytest.approx(20.0))
    # the start is the first peak: a fall right away counts
    assert max_drawdown([90.0], start=100.0) == (pytest.approx(10.0), pytest.approx(10.0))


def test_win_rate_counts_closed_positions_only() -> None:
    positions = [
        _position("a", Structure.CONDOR, DAY, 120.0),
        _position("b", Structure.CONDOR, DAY, -80.0),
        _position("c", Structure.HEDGE_LAYER, DAY, 0.0),  # flat is not a win
        _position("d", Structure.HEDGE_LAYER, DAY, None),  # closed, P&L unknown
        _position("e", Structure.CONDOR, None, None),  # still open
    ]
    assert win_rate(positions) == (4, 1, 0.25)
    assert win_rate(positions[-1:]) == (0, 0, None)


def test_realized_by_structure_sums_closed_positions() -> None:
    positions = [
        _position("a", Structure.CONDOR, DAY + timedelta(days=2), 120.0),
        _position("b", Structure.CONDOR, DAY, -80.0),
        _position("c", Structure.HEDGE_LAYER, DAY, -30.0),
        _position("d", Structure.HEDGE_LAYER, None, 500.0),  # open: not realized
    ]
    assert realized_by_structure(positions) == {"condor": 40.0, "hedge_layer": -30.0}
    assert realized_by_structure([]) == {}


def test_count_activity_keys_by_structure_and_other() -> None:
    tallies = [
        TallyRecord("decision", "hedge_layer", 7),
        TallyRecord("decision", "condor", 5),
        TallyRecord("order", "condor", 3, filled=2),
        TallyRecord("fill", None, 1, commission=1.0),
        TallyRecord("fill", "condor", 8, commission=10.5),
    ]
    counts = count_activity(tallies)
    assert list(counts.decisions.items()) == [("condor", 5), ("hedge_layer", 7)]
    assert counts.orders == {"condor": 3}
    assert counts.orders_filled == 2
    assert counts.fills == {"condor": 8, OTHER: 1}
    assert counts.commissions == 11.5
    empty = count_activity([])
    assert (empty.decisions, empty.orders, empty.fills, empty.commissions) == ({}, {}, {}, 0.0)


def test_starting_net_liquidation() -> None:
    days = [_daily(0, 99_000.0)]
    assert starting_net_liquidation(_run("replay", {"replay": {"starting_cash": 5e4}}), days) == 5e4
    assert starting_net_liquidation(_run("replay"), days) == 99_000.0
    assert starting_net_liquidation(_run("paper", {"replay": {"starting_cash": 5e4}}), days) == 99e3
    assert starting_net_liquidation(_run("paper"), []) is None


def test_summarize_records() -> None:
    info = _run("replay", {"replay": {"starting_cash": 100_000.0}})
    tallies = [TallyRecord("decision", "condor", 2), TallyRecord("order", None, 1, 1)]
    positions = [
        _position("a", Structure.CONDOR, DAY, 150.0),
        _position("b", Structure.HEDGE_LAYER, None, None),
    ]
    daily = [_daily(0, 99_500.0, 0.0, -500.0), _daily(1, 100_100.0, 150.0, -50.0)]
    summary = summarize_records(info, tallies, positions, daily)
    assert summary == JournalSummary(
        run_id=1,
        mode="replay",
        started_at=info.started_at,
        finished_at=None,
        replay_start=None,
        replay_end=None,
        sessions=2,
        first_session=DAY,
        last_session=DAY + timedelta(days=1),
        decisions={"condor": 2},
        orders={OTHER: 1},
        orders_filled=1,
        fills={},
        trades_closed=1,
        wins=1,
        win_rate=1.0,
        total_pnl=100.0,
        realized_pnl=150.0,
        unrealized_pnl=-50.0,
        condor_pnl=150.0,
        hedge_pnl=-50.0,
        commissions=0.0,
        starting_net_liquidation=100_000.0,
        final_net_liquidation=100_100.0,
        max_drawdown=500.0,
        max_drawdown_pct=0.5,
    )
    assert "win rate 100.0%" in summary.render()
    # no marked session: P&L from the closed positions
    bare = summarize_records(_run("paper"), [], positions, [])
    assert (bare.total_pnl, bare.condor_pnl, bare.hedge_pnl, bare.sessions) == (150.0, 150.0, 0, 0)
    assert bare.starting_net_liquidation is None and bare.final_net_liquidation is None
    assert "not finished" in bare.render() and "net liquidation" not in bare.render()


# --------------------------------------------------------------------------- over a journal


def test_summarize_a_journal_across_restarts(tmp_path: Path) -> None:
    """A fill journaled by a later run counts under the structure of the earlier run's decision."""
    with Journal.open(tmp_path / "j.sqlite", min_commit_interval_s=0) as j:
        run1 = j.start_run("paper")
        entry = Decision("condor_entry", Action.OPEN, Structure.CONDOR, "in", {}, LEGS, 2, -2.0)
        j.record_decision("r1-1", run1, DAY, NOW, entry)
        j.record_order_intent(OrderIntent("r1-1", "r1-1", "r1-1", LEGS, 2, -2.0, -1.9), run1, NOW)
        run2 = j.start_run("paper")
        j.transition_order("r1-1", run2, OrderState.FILLED, NOW, filled_quantity=2)
        j.record_fill(Fill("x1", "r1-1", LEGS[0].contract, -2, 2.0, 2.62, NOW), run2)
        j.record_fill(Fill("x2", "tws-1", LEGS[0].contract, 1, 1.0, 1.31, NOW), run2)
        j.open_position(run2, OpenStructure("r1-1", Structure.CONDOR, LEGS, 2, -2.0, DAY))
        j.close_position("r1-1", DAY, 0.5, 290.0, "target")
        first, second = summarize(j, run1), summarize(j)
        assert (first.decisions, first.orders, first.fills) == ({"condor": 1}, {"condor": 1}, {})
        assert first.orders_filled == 1  # the order's state, whichever run saw the fill
        assert second.run_id == run2 and second.decisions == {}
        assert second.fills == {"condor": 1, OTHER: 1}
        assert second.commissions == pytest.approx(3.93)
        assert (second.trades_closed, second.win_rate, second.total_pnl) == (1, 1.0, 290.0)
        assert dataclasses.asdict(j.summary()) == dataclasses.asdict(second)
        tallies = j.tally(run2)
        assert [(t.kind, t.structure) for t in tallies] == [
            ("fill", None),
            ("fill", "condor"),
        ]
