"""Invariants of a real replay over the Feb-Mar 2020 crash (bundled market data).

One replay of 2020-01-02..2020-04-30 is shared by every test in this module;
the tests read its journal back and check the bookkeeping holds together.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

import pytest

from daemon.analytics import JournalSummary
from daemon.brokers.base import Fill, Settlement
from daemon.calendars.exchange import default_calendar
from daemon.clock import NEW_YORK
from daemon.config import load_config
from daemon.journal import (
    DailyRecord,
    DecisionRecord,
    InterestRecord,
    Journal,
    PositionRecord,
)
from daemon.logs import configure_logging, get_logger
from daemon.replay import ReplayResult, run_replay
from strategies.domain import Action, Leg, OptionContract, Right, Structure
from strategies.risk import condor_strikes

START, END = date(2020, 1, 2), date(2020, 4, 30)
CALENDAR = default_calendar()


@dataclass(frozen=True)
class OrderRow:
    order_ref: str
    legs: tuple[Leg, ...]
    quantity: int
    limit_price: float
    worst_price: float | None
    status: str
    filled_quantity: int
    avg_price: float | None
    time: datetime


@dataclass(frozen=True)
class Replay:
    result: ReplayResult
    path: Path
    starting_cash: float
    summary: JournalSummary
    decisions: list[DecisionRecord]
    orders: list[OrderRow]
    fills: list[Fill]
    settlements: list[Settlement]
    positions: list[PositionRecord]
    daily: list[DailyRecord]
    marks_last: dict[str, float]
    raw_inputs: dict[str, str]
    interest: list[InterestRecord]


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replay]:
    from daemon.journal import legs_from_json

    path = tmp_path_factory.mktemp("replay") / "journal.sqlite"
    config = load_config(None)
    configure_logging("info", "json", stream=io.StringIO())
    log = get_logger("test.replay")
    result = asyncio.run(run_replay(config, START, END, path, log))
    journal = Journal.open(path, read_only=True)
    try:
        rid = result.run_id
        daily = journal.daily(rid)
        last = daily[-1].session
        marks_last = {m.position_id: m.mark_price for m in journal.marks(rid) if m.session == last}
        with sqlite3.connect(path) as db:
            db.row_factory = sqlite3.Row
            orders = [
                OrderRow(
                    r["order_ref"],
                    legs_from_json(r["legs_json"]),
                    r["quantity"],
                    r["limit_price"],
                    r["worst_price"],
                    r["status"],
                    r["filled_quantity"] or 0,
                    r["avg_price"],
                    datetime.fromisoformat(r["time"]),
                )
                for r in db.execute(
                    "SELECT * FROM orders WHERE run_id = ? ORDER BY rowid", [rid]
                ).fetchall()
            ]
            raw_inputs = {
                r["id"]: r["inputs_json"]
                for r in db.execute("SELECT id, inputs_json FROM decisions WHERE run_id = ?", [rid])
            }
        yield Replay(
            result=result,
            path=path,
            starting_cash=config.replay.starting_cash,
            summary=journal.summary(rid),
            decisions=journal.decisions(rid),
            orders=orders,
            fills=journal.fills(rid),
            settlements=journal.settlements(rid),
            positions=journal.positions(rid),
            daily=daily,
            marks_last=marks_last,
            raw_inputs=raw_inputs,
            interest=journal.interest(rid),
        )
    finally:
        journal.close()


def _structure_of(replay: Replay) -> dict[str, Structure]:
    return {d.id: d.decision.structure for d in replay.decisions}


def _cash_flow(fill: Fill) -> float:
    return -fill.quantity * fill.price * fill.contract.multiplier - fill.commission


# -- what the journal holds --------------------------------------------------------------------


def test_sessions_replayed(replay: Replay) -> None:
    sessions = CALENDAR.sessions(START, END)
    assert replay.result.sessions == len(sessions) == 83
    assert [d.session for d in replay.daily] == sessions
    assert replay.summary.sessions == len(sessions)
    assert replay.summary.first_session == START
    assert replay.summary.last_session == END
    assert replay.summary.finished_at is not None


def test_journal_holds_both_structures(replay: Replay) -> None:
    kinds = _structure_of(replay)
    for structure in Structure:
        assert any(d.decision.structure is structure for d in replay.decisions), structure
        assert any(kinds[o.order_ref] is structure for o in replay.orders), structure
        assert any(kinds[f.order_ref] is structure for f in replay.fills), structure
        assert any(p.structure is structure for p in replay.positions), structure
    assert set(replay.summary.fills) == {"condor", "hedge_layer"}
    assert sum(replay.summary.fills.values()) == len(replay.fills)
    assert sum(replay.summary.orders.values()) == len(replay.orders)


def test_decisions_are_explained(replay: Replay) -> None:
    assert len(replay.raw_inputs) == len(replay.decisions)
    for record in replay.decisions:
        inputs = json.loads(replay.raw_inputs[record.id])
        assert isinstance(inputs, dict)
        assert inputs, record.id
        assert record.decision.reason.strip(), record.id
        assert record.decision.rule
        assert CALENDAR.is_session(record.session)


def test_every_session_runs_every_job(replay: Replay) -> None:
    per_session: dict[date, int] = defaultdict(int)
    for record in replay.decisions:
        per_session[record.session] += 1
    # The entry job journals a decision every session.
    assert set(per_session) == set(CALENDAR.sessions(START, END))
    assert min(per_session.values()) >= 1


def test_orders_reference_existing_decisions(replay: Replay) -> None:
    decisions = {d.id: d.decision for d in replay.decisions}
    assert len({o.order_ref for o in replay.orders}) == len(replay.orders)
    for order in replay.orders:
        decision = decisions.get(order.order_ref)
        assert decision is not None, order.order_ref
        assert decision.places_order
        assert order.legs == decision.legs
        assert order.quantity == decision.quantity
        assert order.limit_price == pytest.approx(decision.limit_price)
        assert order.worst_price is not None and order.worst_price >= order.limit_price
        if decision.action is Action.CLOSE:
            assert decision.position_id in {p.id for p in replay.positions}
    decision_orders = {d.id for d in replay.decisions if d.decision.places_order}
    assert decision_orders == {o.order_ref for o in replay.orders}
    order_refs = {o.order_ref for o in replay.orders}
    assert all(f.order_ref in order_refs for f in replay.fills)


# -- structure shapes ----------------------------------------------------------------------


def test_condor_positions_are_iron_condors(replay: Replay) -> None:
    condors = [p for p in replay.positions if p.structure is Structure.CONDOR]
    assert len(condors) >= 10
    for position in condors:
        assert len(position.legs) == 4
        strikes = condor_strikes(position.legs)
        assert strikes.long_put < strikes.short_put < strikes.short_call < strikes.long_call
        assert len({leg.contract.expiry for leg in position.legs}) == 1
        assert {(leg.contract.symbol, leg.contract.trading_class) for leg in position.legs} == {
            ("SPX", "SPXW")
        }
        assert position.open_price < 0  # opened for a credit
        assert position.quantity > 0
        expiry = position.legs[0].contract.expiry
        assert expiry > position.opened_session
        assert CALENDAR.is_session(expiry)


def test_hedge_layers_are_long_vix_calls(replay: Replay) -> None:
    layers = [p for p in replay.positions if p.structure is Structure.HEDGE_LAYER]
    assert layers
    for layer in layers:
        (leg,) = layer.legs
        assert leg.ratio == 1
        assert leg.contract.symbol == "VIX" and leg.contract.right is Right.CALL
        assert layer.open_price > 0  # a debit


def test_condor_order_fills_cover_all_four_legs(replay: Replay) -> None:
    kinds = _structure_of(replay)
    by_ref: dict[str, list[Fill]] = defaultdict(list)
    for fill in replay.fills:
        by_ref[fill.order_ref].append(fill)
    condor_orders = [o for o in replay.orders if kinds[o.order_ref] is Structure.CONDOR]
    assert condor_orders
    resting = {d.id for d in replay.decisions if d.decision.inputs.get("resting")}
    for order in condor_orders:
        fills = by_ref.get(order.order_ref, [])
        if order.status != "filled":
            assert order.filled_quantity == 0 and not fills
            continue
        assert order.filled_quantity == order.quantity
        assert len(fills) == 4
        got: dict[OptionContract, int] = defaultdict(int)
        for fill in fills:
            got[fill.contract] += fill.quantity
            assert fill.price >= 0
            assert fill.commission > 0
        assert dict(got) == {leg.contract: leg.ratio * order.quantity for leg in order.legs}
        net = sum(f.quantity * f.price for f in fills) / order.quantity
        assert order.avg_price == pytest.approx(net)
        if order.order_ref in resting:
            # a stop or target the day's range reached: it fills at its trigger level
            # plus the fill model's slippage, like a stop order, whatever the limit band
            assert net >= order.limit_price - 0.05 - 1e-9
        else:
            assert order.worst_price is not None and net <= order.worst_price + 1e-9


def test_hedge_order_fills(replay: Replay) -> None:
    kinds = _structure_of(replay)
    for order in (o for o in replay.orders if kinds[o.order_ref] is Structure.HEDGE_LAYER):
        fills = [f for f in replay.fills if f.order_ref == order.order_ref]
        if order.status == "filled":
            (fill,) = fills
            assert fill.quantity == order.legs[0].ratio * order.quantity


def _uncovered(holdings: dict[OptionContract, int]) -> list[str]:
    """Short options without a long wing further out, per (class, expiry), count-wise.

    Shorts at the most exposed strikes need distinct longs beyond them: for every
    short put strike K, shorts at strikes <= K must not outnumber longs below K;
    for every short call strike K, shorts at strikes >= K must not outnumber
    longs above K.
    """
    problems: list[str] = []
    groups: dict[tuple[str, date, Right], dict[float, int]] = defaultdict(dict)
    for contract, qty in holdings.items():
        if qty:
            key = (contract.trading_class, contract.expiry, contract.right)
            groups[key][contract.strike] = qty
    for (cls, expiry, right), book in groups.items():
        for strike, qty in book.items():
            if qty >= 0:
                continue
            if right is Right.PUT:
                shorts = -sum(q for k, q in book.items() if q < 0 and k <= strike)
                longs = sum(q for k, q in book.items() if q > 0 and k < strike)
            else:
                shorts = -sum(q for k, q in book.items() if q < 0 and k >= strike)
                longs = sum(q for k, q in book.items() if q > 0 and k > strike)
            if shorts > longs:
                problems.append(f"{cls} {expiry} {right.value} {strike:g}: {shorts} > {longs}")
    return problems


def test_uncovered_helper_catches_naked_shorts() -> None:
    e = date(2020, 2, 14)

    def c(k: float, r: Right) -> OptionContract:
        return OptionContract("SPX", "SPXW", e, k, r)

    ok = {c(3100, Right.PUT): 1, c(3150, Right.PUT): -1, c(3400, Right.CALL): -1}
    ok[c(3450, Right.CALL)] = 1
    assert _uncovered(ok) == []
    assert _uncovered({**ok, c(3450, Right.CALL): 0})
    assert _uncovered({**ok, c(3100, Right.PUT): 1, c(3150, Right.PUT): -2})
    # A long put above the short is no wing.
    assert _uncovered({c(3200, Right.PUT): 1, c(3150, Right.PUT): -1})


def test_no_short_option_is_ever_naked(replay: Replay) -> None:
    events: list[tuple[datetime, int, str, list[tuple[OptionContract, int]]]] = []
    groups: dict[str, list[Fill]] = defaultdict(list)
    for fill in replay.fills:
        groups[fill.order_ref].append(fill)
    for ref, fills in groups.items():
        when = max(f.time for f in fills)
        events.append((when, 0, ref, [(f.contract, f.quantity) for f in fills]))
    for i, s in enumerate(replay.settlements):
        events.append((s.time, 1, f"settlement-{i}", [(s.contract, -s.quantity)]))
    events.sort(key=lambda e: (e[0], e[1]))
    holdings: dict[OptionContract, int] = defaultdict(int)
    for when, _, label, changes in events:
        for contract, qty in changes:
            holdings[contract] += qty
        problems = _uncovered(holdings)
        assert not problems, f"after {label} at {when}: {problems}"
    # Everything still held is in an open position.
    open_legs = {
        leg.contract: leg.ratio * p.quantity
        for p in replay.positions
        if p.is_open
        for leg in p.legs
    }
    assert {c: q for c, q in holdings.items() if q} == open_legs


# -- dates ---------------------------------------------------------------------------------


def test_fills_happen_on_sessions_during_jobs(replay: Replay) -> None:
    assert replay.fills
    for fill in replay.fills:
        local = fill.time.astimezone(NEW_YORK)
        assert fill.time.tzinfo is not None
        assert local.weekday() < 5
        assert CALENDAR.is_session(local.date())
        assert START <= local.date() <= END
        assert time(9, 30) <= local.time() <= time(16, 15)
        assert fill.contract.expiry >= local.date()
    times = [f.time for f in replay.fills]
    assert times == sorted(times)


def test_settlements_happen_on_sessions(replay: Replay) -> None:
    for s in replay.settlements:
        local = s.time.astimezone(NEW_YORK)
        assert CALENDAR.is_session(local.date())
        assert local.date() == s.contract.expiry
        assert local.weekday() < 5


def test_open_positions_expire_on_sessions(replay: Replay) -> None:
    for position in replay.positions:
        assert CALENDAR.is_session(position.opened_session)
        if position.closed_session is not None:
            assert CALENDAR.is_session(position.closed_session)
            assert position.closed_session >= position.opened_session
        for leg in position.legs:
            assert CALENDAR.is_session(leg.contract.expiry)


# -- money ---------------------------------------------------------------------------------


def test_pnl_total_matches_net_liquidation(replay: Replay) -> None:
    final = replay.daily[-1]
    assert replay.summary.final_net_liquidation == pytest.approx(final.net_liquidation)
    assert replay.summary.starting_net_liquidation == replay.starting_cash
    pnl = final.net_liquidation - replay.starting_cash
    assert abs(pnl - replay.summary.total_pnl) <= 0.01
    interest = replay.summary.interest
    assert replay.summary.total_pnl == pytest.approx(
        replay.summary.realized_pnl + replay.summary.unrealized_pnl + interest, abs=0.01
    )
    assert replay.summary.total_pnl == pytest.approx(
        replay.summary.condor_pnl + replay.summary.hedge_pnl + interest, abs=0.01
    )
    # A crash run: the account must have moved.
    assert abs(pnl) > 100.0


def test_pnl_equals_cash_flows_plus_open_marks(replay: Replay) -> None:
    final = replay.daily[-1]
    fills_cash = sum(_cash_flow(f) for f in replay.fills)
    settled = sum(s.cash for s in replay.settlements)
    interest = sum(r.amount for r in replay.interest)
    assert final.cash == pytest.approx(
        replay.starting_cash + fills_cash + settled + interest, abs=0.01
    )

    open_positions = [p for p in replay.positions if p.is_open]
    assert all(p.id in replay.marks_last for p in open_positions)
    marks = sum(replay.marks_last[p.id] * p.quantity * 100 for p in open_positions)
    assert final.net_liquidation - final.cash == pytest.approx(marks, abs=0.01)
    total = fills_cash + settled + interest + marks
    assert abs(total - replay.summary.total_pnl) <= 0.01


def test_cash_earns_the_tbill_rate_every_session(replay: Replay) -> None:
    sessions = [d.session for d in replay.daily]
    # one credit per session after the first, covering the calendar days since the previous
    assert [(r.accrued_from, r.session) for r in replay.interest] == list(
        itertools.pairwise(sessions)
    )
    for r in replay.interest:
        assert r.days == (r.session - r.accrued_from).days
        assert r.amount == pytest.approx(r.balance * r.rate * r.days / 365)
    # 2020 Q1: DTB3 fell from about 1.5% to -0.05% (2020-03-26): negative rates charge
    assert all(-0.001 < r.rate < 0.02 for r in replay.interest)
    assert min(r.rate for r in replay.interest) < 0.0 < max(r.rate for r in replay.interest)
    total = sum(r.amount for r in replay.interest)
    assert total > 0.0
    assert replay.daily[-1].interest == pytest.approx(total)
    assert replay.summary.interest == pytest.approx(total)


def test_commissions_sum(replay: Replay) -> None:
    assert replay.summary.commissions == pytest.approx(sum(f.commission for f in replay.fills))


def test_realized_pnl_per_position_equals_its_cash_flows(replay: Replay) -> None:
    position_of: dict[str, str] = {}
    for record in replay.decisions:
        if record.decision.places_order:
            d = record.decision
            if d.action in (Action.CLOSE, Action.ADJUST):  # orders on an existing structure
                assert d.position_id is not None
                position_of[record.id] = d.position_id
            else:
                position_of[record.id] = record.id
    flows: dict[str, float] = defaultdict(float)
    for fill in replay.fills:
        flows[position_of[fill.order_ref]] += _cash_flow(fill)
    settled_contracts = {s.contract for s in replay.settlements}
    closed = [p for p in replay.positions if not p.is_open]
    assert closed
    for position in closed:
        assert position.realized_pnl is not None
        if any(leg.contract in settled_contracts for leg in position.legs):
            continue
        assert position.realized_pnl == pytest.approx(flows[position.id], abs=0.01), position.id
    realized = sum(p.realized_pnl or 0.0 for p in closed)
    assert replay.summary.realized_pnl == pytest.approx(realized, abs=0.01)
    assert replay.summary.trades_closed == len(closed)
    assert replay.summary.wins == sum(1 for p in closed if (p.realized_pnl or 0) > 0)


def test_daily_rows_are_consistent(replay: Replay) -> None:
    peak = replay.starting_cash
    for row in replay.daily:
        assert row.realized_pnl + row.unrealized_pnl == pytest.approx(
            row.condor_pnl + row.hedge_pnl, abs=0.01
        )
        assert row.net_liquidation - replay.starting_cash == pytest.approx(
            row.realized_pnl + row.unrealized_pnl + row.interest, abs=0.01
        ), row.session
        peak = max(peak, row.net_liquidation)
        assert row.drawdown >= -1e-9
        assert row.drawdown <= peak - row.net_liquidation + 0.01
    assert replay.summary.max_drawdown >= max(r.drawdown for r in replay.daily) - 0.01
