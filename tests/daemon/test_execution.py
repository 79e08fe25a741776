"""daemon.execution through the engine, on a journal file and the scripted broker.

Every test asserts what the journal file says (read through a separate
connection: what a crash would leave) and what the portfolio holds.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from daemon import manage as manage_module
from daemon.brokers.base import BrokerError, ComboOrder, OrderStatus
from daemon.engine import HALT_RECHECK_AFTER
from daemon.scheduling.jobs import JobName
from strategies.domain import Action, Decision, Leg, MarketContext, OptionContract, Structure
from strategies.plan import Plan
from strategies.portfolio import StructurePosition
from tests.daemon.rig import (
    CLOSING,
    CONDOR,
    EXPIRY,
    LC,
    LP,
    OPEN_PRICES,
    SC,
    SESSION,
    SP,
    Rig,
    close_decision,
    decisions,
    events,
    fills,
    held_by_leg,
    order,
    position_row,
    rows,
    start,
)
from tests.daemon.scripted_broker import (
    COMMISSION,
    Outcome,
    condor_chain,
    leg_contracts,
    leg_quote,
    vix_call_chain,
)

#: Quotes at which the profit target closes the 2.90-credit condor: debit 1.00.
PROFIT_QUOTES = {
    LP: leg_quote(LP, 0.05, 0.15),
    SP: leg_quote(SP, 0.55, 0.65),
    SC: leg_quote(SC, 0.55, 0.65),
    LC: leg_quote(LC, 0.05, 0.15),
}
CLOSE_PRICES = {LP: 0.1, SP: 0.6, SC: 0.6, LC: 0.1}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "alvh.sqlite"


def _entry_market(rig: Rig) -> None:
    broker = rig.broker
    broker.context = MarketContext(SESSION, 4000.0, 18.0, vix_futures={})
    broker.chains["SPX"] = condor_chain(SESSION, EXPIRY)
    vix_expiry = SESSION + timedelta(days=60)
    broker.chains["VIX"] = vix_call_chain(SESSION, vix_expiry)
    broker.quotes.update(
        {
            LP: leg_quote(LP, 1.95, 2.05, vega=20.0),
            SP: leg_quote(SP, 3.45, 3.55, vega=40.0),
            SC: leg_quote(SC, 2.95, 3.05, vega=40.0),
            LC: leg_quote(LC, 1.55, 1.65, vega=20.0),
        }
    )


# -- the intent is on disk before the order is sent ---------------------------------------


async def test_intent_is_committed_before_place_order(path: Path) -> None:
    rig = await start(path)
    _entry_market(rig)
    seen: dict[str, object] = {}

    def inspect(order_sent: ComboOrder) -> None:
        conn = sqlite3.connect(path)  # another connection: only committed rows are visible
        try:
            seen["order"] = conn.execute(
                "SELECT status, structure_id, quantity, limit_price, worst_price FROM orders"
                " WHERE order_ref = ?",
                (order_sent.order_ref,),
            ).fetchone()
            seen["events"] = [
                r[0]
                for r in conn.execute(
                    "SELECT state FROM order_events WHERE order_ref = ? ORDER BY id",
                    (order_sent.order_ref,),
                )
            ]
            seen["decision"] = conn.execute(
                "SELECT action, quantity FROM decisions WHERE id = ?", (order_sent.order_ref,)
            ).fetchone()
            seen["position"] = conn.execute(
                "SELECT quantity, closed_session FROM positions WHERE id = ?",
                (order_sent.order_ref,),
            ).fetchone()
        finally:
            conn.close()

    rig.broker.script(Outcome(before=inspect, prices=OPEN_PRICES))
    await rig.engine.run_job(JobName.ENTRY)

    [sent] = rig.broker.placed
    ref = sent.order_ref
    assert seen["order"] == ("submitted", ref, 5, -2.90, pytest.approx(-2.61))
    assert seen["events"] == ["intent", "submitted"]
    assert seen["decision"] == ("open", 5)
    assert seen["position"] == (5, None)
    # and after the broker answered
    assert order(path, ref)["status"] == "filled"
    assert order(path, ref)["filled_quantity"] == 5
    assert events(path, ref) == ["intent", "submitted", "filled"]
    assert len(fills(path, ref)) == 4
    position = rig.position(ref)
    assert position.held_units == 5 and position.is_balanced
    assert position.open_price == pytest.approx(-2.90)
    assert position_row(path, ref)["open_price"] == pytest.approx(-2.90)


# -- how far an order may walk ------------------------------------------------------------


async def test_a_close_may_walk_to_the_natural_an_open_keeps_the_band(path: Path) -> None:
    rig = await start(path)
    sid = await rig.open(2)
    opened = rig.broker.placed[-1]
    assert opened.worst_price == pytest.approx(-2.61)  # the band: 10% of the 2.90 credit
    rig.broker.quotes.update(PROFIT_QUOTES)
    rig.broker.script(Outcome(prices=CLOSE_PRICES))
    await rig.engine.run_job(JobName.MANAGE)
    close = rig.broker.placed[-1]
    assert close.legs == CLOSING and close.limit_price == pytest.approx(1.00)
    # natural: buy the shorts at 0.65, sell the wings at 0.05 = 1.20, + 0.10 margin
    # (the band would stop at 1.10)
    assert close.worst_price == pytest.approx(1.30)
    assert order(path, close.order_ref)["worst_price"] == pytest.approx(1.30)
    [decision] = [d for d in decisions(path) if d["id"] == close.order_ref]
    assert json.loads(decision["inputs_json"])["natural_price"] == pytest.approx(1.20)
    assert rig.position(sid).is_closed


# -- partial fills -------------------------------------------------------------------------


async def test_partial_close_then_the_next_manage_closes_only_the_rest(path: Path) -> None:
    rig = await start(path)
    sid = await rig.open(6)
    rig.broker.quotes.update(PROFIT_QUOTES)
    rig.broker.script(
        Outcome(OrderStatus.PARTIAL, filled=3, prices=CLOSE_PRICES, reason="walk ended"),
        Outcome(prices=CLOSE_PRICES),
    )

    await rig.engine.run_job(JobName.MANAGE)
    first = rig.broker.placed[-1]
    assert first.quantity == 6 and first.legs == CLOSING
    assert order(path, first.order_ref)["status"] == "cancelled"
    assert order(path, first.order_ref)["filled_quantity"] == 3
    assert events(path, first.order_ref) == ["intent", "submitted", "cancelled"]
    assert held_by_leg(rig.position(sid)) == {"LP": 3, "SP": -3, "SC": -3, "LC": 3}
    assert position_row(path, sid)["closed_session"] is None

    await rig.engine.run_job(JobName.MANAGE)
    second = rig.broker.placed[-1]
    assert second.order_ref != first.order_ref
    assert second.quantity == 3 and second.legs == CLOSING
    assert order(path, second.order_ref)["status"] == "filled"
    position = rig.position(sid)
    assert position.is_flat and position.is_closed
    row = position_row(path, sid)
    assert row["closed_session"] == SESSION.isoformat()
    expected = (2.90 - 1.00) * 6 * 100 - 2 * 24 * COMMISSION  # 24 contracts each way
    assert row["realized_pnl"] == pytest.approx(expected)
    assert position.cash_flow == pytest.approx(expected)
    # the gateway agrees: nothing left anywhere
    assert rig.broker.gateway.net() == {}
    assert len(rig.broker.placed) == 3  # open, close 6 (3 filled), close 3


async def test_partial_open_holds_what_filled(path: Path) -> None:
    rig = await start(path)
    sid = await rig.open(
        5, Outcome(OrderStatus.PARTIAL, filled=2, prices=OPEN_PRICES, reason="not filled in time")
    )
    assert order(path, sid)["status"] == "cancelled"
    assert order(path, sid)["filled_quantity"] == 2
    position = rig.position(sid)
    assert position.held_units == 2 and position.open_units == 2 and position.is_balanced
    assert position.view().quantity == 2
    row = position_row(path, sid)
    assert row["quantity"] == 2
    assert row["open_price"] == pytest.approx(-2.90)
    assert row["closed_session"] is None
    assert [p.id for p in rig.portfolio.open_positions(Structure.CONDOR)] == [sid]


async def test_reject_closes_the_structure_holding_nothing(path: Path) -> None:
    rig = await start(path)
    sid = await rig.open(5, Outcome(OrderStatus.REJECTED, reason="201 order rejected"))
    assert order(path, sid)["status"] == "rejected"
    assert events(path, sid) == ["intent", "submitted", "rejected"]
    assert fills(path) == []
    position = rig.position(sid)
    assert position.is_flat and position.is_closed
    assert rig.portfolio.open_positions() == []
    assert not rig.executor.live_orders
    row = position_row(path, sid)
    assert row["closed_session"] == SESSION.isoformat()
    assert row["close_reason"] == "not filled: 201 order rejected"
    assert row["realized_pnl"] == 0.0


# -- an order whose fate is unknown ----------------------------------------------------------


async def test_hedge_job_buys_vix_calls_for_a_held_condor(path: Path) -> None:
    # The control for the next test: the market below does make the hedge rule buy.
    rig = await start(path)
    _entry_market(rig)
    rig.broker.script(Outcome(prices=OPEN_PRICES), Outcome())
    await rig.engine.run_job(JobName.ENTRY)
    await rig.engine.run_job(JobName.HEDGE_CHECK)
    assert rig.broker.chain_requests == ["SPX", "VIX"]
    hedge = rig.broker.placed[-1]
    assert [leg.contract.symbol for leg in hedge.legs] == ["VIX"]
    assert [p.kind for p in rig.portfolio.open_positions()] == [
        Structure.CONDOR,
        Structure.HEDGE_LAYER,
    ]


async def test_broker_error_in_place_order_leaves_the_order_unknown(path: Path) -> None:
    rig = await start(path)
    _entry_market(rig)
    rig.broker.script(Outcome(error=BrokerError("placeOrder timed out after 10 s")))
    await rig.engine.run_job(JobName.ENTRY)

    [sent] = rig.broker.placed
    ref = sent.order_ref
    assert order(path, ref)["status"] == "unknown"
    assert events(path, ref) == ["intent", "submitted", "unknown"]
    assert "placeOrder timed out" in order(path, ref)["reason"]
    assert rig.log.of("order_state_unknown", "error")
    # not counted as held, not closed either: its fate is open
    assert rig.portfolio.open_positions() == []
    assert not rig.position(ref).is_closed
    assert position_row(path, ref)["closed_session"] is None
    assert rig.executor.live_orders == {ref: ref}

    # The hedge job does not buy VIX calls for a condor that may not exist.
    await rig.engine.run_job(JobName.HEDGE_CHECK)
    assert "VIX" not in rig.broker.chain_requests
    assert len(rig.broker.placed) == 1
    assert [d["rule"] for d in decisions(path, rig.run_id)] == ["condor_entry"]


async def test_no_new_entry_while_an_order_is_unknown(path: Path) -> None:
    rig = await start(path)
    _entry_market(rig)
    rig.broker.script(Outcome(error=BrokerError("placeOrder timed out after 10 s")))
    await rig.engine.run_job(JobName.ENTRY)
    [sent] = rig.broker.placed

    # Another entry (e.g. ``--run-job entry``) before reconciliation settled it.
    await rig.engine.run_job(JobName.ENTRY)
    assert len(rig.broker.placed) == 1
    last = decisions(path, rig.run_id)[-1]
    assert last["action"] == "skip"
    assert sent.order_ref in last["reason"]


async def test_late_fill_after_unknown_becomes_a_position(path: Path) -> None:
    rig = await start(path)
    # The order reached the gateway and filled; the client timed out first.
    sid = await rig.open(
        6,
        Outcome(filled=6, prices=OPEN_PRICES, delivery="later", error=BrokerError("timeout")),
    )
    assert order(path, sid)["status"] == "unknown"
    assert rig.portfolio.open_positions() == []

    late = rig.broker.deliver_pending()
    assert len(late) == 4
    assert {f["exec_id"] for f in fills(path, sid)} == {f.exec_id for f in late}
    position = rig.position(sid)
    assert held_by_leg(position) == {"LP": 6, "SP": -6, "SC": -6, "LC": 6}
    assert [p.id for p in rig.portfolio.open_positions()] == [sid]

    # The next manage job reconciles the order: filled, from its executions.
    rig.broker.quotes.update(  # debit 2.90: the exit rule holds
        {c: leg_quote(c, p - 0.05, p + 0.05) for c, p in OPEN_PRICES.items()}
    )
    await rig.engine.run_job(JobName.MANAGE)
    assert order(path, sid)["status"] == "filled"
    assert order(path, sid)["filled_quantity"] == 6
    assert events(path, sid)[-1] == "filled"
    assert position_row(path, sid)["quantity"] == 6
    assert rig.engine.entry_halt is None


async def test_late_fill_after_a_cancel_becomes_a_position_and_closes_later(path: Path) -> None:
    rig = await start(path)
    # The broker said cancelled, 0 filled; an execution of 2 arrives afterwards.
    sid = await rig.open(
        6,
        Outcome(
            OrderStatus.CANCELLED,
            filled=0,
            contracts=leg_contracts(CONDOR, 2),
            prices=OPEN_PRICES,
            delivery="later",
            reason="cancelled",
        ),
    )
    assert rig.position(sid).is_closed
    assert position_row(path, sid)["close_reason"] == "not filled: cancelled"

    rig.broker.deliver_pending()
    position = rig.position(sid)
    assert position.held_units == 2 and not position.is_closed
    assert [p.id for p in rig.portfolio.open_positions()] == [sid]
    assert len(fills(path, sid)) == 4
    # the journal says what the book says: open again, holding 2
    row = position_row(path, sid)
    assert row["closed_session"] is None
    assert row["quantity"] == 2
    assert row["open_price"] == pytest.approx(-2.90)

    # ... and the next manage job closes exactly those 2.
    rig.broker.quotes.update(PROFIT_QUOTES)
    rig.broker.script(Outcome(prices=CLOSE_PRICES))
    await rig.engine.run_job(JobName.MANAGE)
    assert rig.broker.placed[-1].quantity == 2
    assert position.is_closed
    row = position_row(path, sid)
    assert row["closed_session"] == SESSION.isoformat()
    assert row["realized_pnl"] == pytest.approx((2.90 - 1.00) * 200 - 16 * COMMISSION)


async def test_a_structure_reopened_by_a_late_fill_counts_its_pnl_once(path: Path) -> None:
    rig = await start(path)
    # The opening order reports 1 of 3 filled and cancelled; 1 more unit executes late.
    sid = await rig.open(
        3,
        Outcome(
            OrderStatus.PARTIAL, filled=1, contracts=leg_contracts(CONDOR, 1), prices=OPEN_PRICES
        ),
    )
    rig.broker.quotes.update(PROFIT_QUOTES)
    rig.broker.script(Outcome(prices=CLOSE_PRICES))
    await rig.engine.run_job(JobName.MANAGE)  # closes the 1 unit: +190 less commissions
    first_pnl = 190.0 - 8 * COMMISSION
    assert position_row(path, sid)["realized_pnl"] == pytest.approx(first_pnl)

    late = rig.broker.gateway.execute(sid, leg_contracts(CONDOR, 1), OPEN_PRICES, rig.clock.now())
    for fill in late:
        rig.engine.on_fill(fill)
    assert position_row(path, sid)["closed_session"] is None
    assert position_row(path, sid)["realized_pnl"] is None
    assert rig.log.of("position_reopened", "warning")
    await rig.engine.run_job(JobName.MARK)
    [daily] = rows(path, "SELECT * FROM daily")
    assert daily["realized_pnl"] == pytest.approx(0.0)  # nothing realized twice

    rig.broker.script(Outcome(prices=CLOSE_PRICES))
    await rig.engine.run_job(JobName.MANAGE)
    assert rig.broker.placed[-1].quantity == 1
    total = 2 * 190.0 - 16 * COMMISSION
    assert position_row(path, sid)["realized_pnl"] == pytest.approx(total)
    await rig.engine.run_job(JobName.MARK)
    [daily] = rows(path, "SELECT * FROM daily")
    assert daily["realized_pnl"] == pytest.approx(total)


# -- rules that raise, plans that stop ----------------------------------------------------


async def test_a_planner_that_raises_is_an_error_decision_and_the_job_goes_on(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = await start(path)
    first = await rig.open(2)
    second = await rig.open(3)
    rig.broker.quotes.update(PROFIT_QUOTES)
    real = manage_module.plan_condor_manage

    def flaky(position: StructurePosition, *args: Any, **kwargs: Any) -> Any:
        if position.id == first:
            raise ZeroDivisionError("credit is zero")
        return real(position, *args, **kwargs)

    monkeypatch.setattr(manage_module, "plan_condor_manage", flaky)
    rig.broker.script(Outcome(prices=CLOSE_PRICES))
    await rig.engine.run_job(JobName.MANAGE)

    made = decisions(path, rig.run_id)[-2:]
    error, close = made
    assert error["action"] == "error"
    assert error["rule"] == "condor_exit"
    assert error["reason"] == "rule condor_exit raised ZeroDivisionError: credit is zero"
    assert json.loads(error["inputs_json"])["exception"] == "ZeroDivisionError"
    assert rig.log.of("rule_failed", "error")
    # the other structure was still managed
    assert close["action"] == "close" and close["position_id"] == second
    assert rig.position(second).is_closed
    assert not rig.position(first).is_closed


async def test_a_plan_whose_first_step_does_not_fill_skips_the_rest(path: Path) -> None:
    rig = await start(path)
    sid = await rig.open(3)
    # A close that left the legs uneven: short put bought back, one long put sold.
    rig.broker.script(Outcome(OrderStatus.PARTIAL, filled=0, contracts={SP: 3, LP: -1}))
    await rig.executor.execute(Plan.of(close_decision(sid, 3)))
    position = rig.position(sid)
    assert not position.is_balanced
    assert held_by_leg(position) == {"LP": 2, "SP": 0, "SC": -3, "LC": 3}

    rig.broker.quotes.update(PROFIT_QUOTES)
    rig.broker.script(Outcome(OrderStatus.CANCELLED, reason="no fill"))
    await rig.engine.run_job(JobName.MANAGE)

    steps = decisions(path, rig.run_id)[-3:]
    assert [d["rule"] for d in steps] == ["flatten_uneven"] * 3
    assert [d["action"] for d in steps] == ["close", "skip", "skip"]
    stopped = f"plan stopped: order {steps[0]['id']} ended cancelled"
    assert all(d["reason"].startswith(stopped) for d in steps[1:])
    assert all(json.loads(d["inputs_json"])["blocked_action"] == "close" for d in steps[1:])
    # one order sent, a single leg; nothing after it
    sent = rig.broker.placed[-1]
    assert sent.order_ref == steps[0]["id"] and len(sent.legs) == 1
    assert len(rig.broker.placed) == 3
    assert rows(path, "SELECT COUNT(*) AS n FROM orders")[0]["n"] == 3

    # When every step fills, the plan runs to the end and the structure closes.
    rig.broker.script(Outcome(), Outcome(), Outcome())
    await rig.engine.run_job(JobName.MANAGE)
    flatten = rig.broker.placed[-3:]
    assert sorted((o.legs[0].contract.strike, o.legs[0].ratio, o.quantity) for o in flatten) == [
        (3850.0, -1, 2),
        (4100.0, 1, 3),
        (4150.0, -1, 3),
    ]
    assert position.is_flat and position.is_closed
    assert position_row(path, sid)["closed_session"] == SESSION.isoformat()


# -- orders left working, linked moves ---------------------------------------------------------


async def test_an_entry_left_working_counts_against_the_condor_limit(path: Path) -> None:
    rig = await start(path)
    _entry_market(rig)
    # e.g. an adopted order that only its own client may cancel
    rig.broker.script(Outcome(OrderStatus.WORKING, filled=0, working=True))
    await rig.engine.run_job(JobName.ENTRY)
    [working] = rig.broker.placed
    assert order(path, working.order_ref)["status"] == "working"
    assert rig.engine.entry_halt is None  # its fate is known: it works

    await rig.engine.run_job(JobName.ENTRY)
    assert len(rig.broker.placed) == 1  # no second condor while the first may still fill
    last = decisions(path, rig.run_id)[-1]
    assert (last["rule"], last["action"]) == ("condor_entry", "skip")
    assert "1 condor(s) already open" in last["reason"]


async def test_a_roll_opens_a_successor_naming_its_parent_only_after_the_close_filled(
    path: Path,
) -> None:
    rig = await start(path)
    sid = await rig.open(2)
    later = tuple(
        Leg(OptionContract("SPX", "SPXW", EXPIRY + timedelta(days=7), leg.contract.strike,
                           leg.contract.right), leg.ratio)
        for leg in CONDOR
    )  # fmt: skip
    roll = Decision(
        "condor_roll", Action.ROLL, Structure.CONDOR, "roll out a week", {},
        legs=later, quantity=2, limit_price=-1.50, position_id=sid, tag="rolled",
    )  # fmt: skip
    plan = Plan.steps("condor_roll", "roll out a week", [close_decision(sid, 2), roll])

    # The close fills only 1 of 2: the successor is not opened.
    rig.broker.script(Outcome(OrderStatus.PARTIAL, filled=1, prices=CLOSE_PRICES))
    await rig.executor.execute(plan)
    assert len(rig.broker.placed) == 2
    skipped = decisions(path, rig.run_id)[-1]
    assert skipped["action"] == "skip" and skipped["reason"].startswith("plan stopped: order")
    assert rows(path, "SELECT COUNT(*) AS n FROM positions")[0]["n"] == 1

    # The close fills: the successor opens, naming its parent, with the plan's tag.
    rig.broker.script(Outcome(prices=CLOSE_PRICES), Outcome())
    await rig.executor.execute(
        Plan.steps("condor_roll", "roll out a week", [close_decision(sid, 1), roll])
    )
    successor = rig.broker.placed[-1].order_ref
    assert rig.position(sid).is_closed
    new = rig.position(successor)
    assert (new.parent_id, new.tag, new.held_units) == (sid, "rolled", 2)
    row = position_row(path, successor)
    assert (row["parent_id"], row["tag"], row["quantity"]) == (sid, "rolled", 2)


async def test_a_stop_while_the_order_is_walked_leaves_it_unknown_for_the_next_start(
    path: Path,
) -> None:
    rig = await start(path)
    walking = asyncio.Event()  # never set: the walk is stopped from outside
    sending = asyncio.create_task(
        rig.open(6, Outcome(filled=2, prices=OPEN_PRICES, working=True, hold=walking))
    )
    while not rig.broker.placed:
        await asyncio.sleep(0)
    ref = rig.broker.placed[0].order_ref
    sending.cancel()  # SIGTERM's grace ran out
    with pytest.raises(asyncio.CancelledError):
        await sending

    row = order(path, ref)
    assert row["status"] == "unknown"
    assert "stopped while the order was working" in row["reason"]
    assert events(path, ref) == ["intent", "submitted", "unknown"]
    assert rig.executor.in_flight == set()
    assert rig.position(ref).held_units == 2  # its fills so far are booked
    rig.close()

    # The next start adopts it and it fills.
    again = await start(path, gateway=rig.broker.gateway, clock=rig.clock, reconcile=False)
    again.broker.script(Outcome(prices=OPEN_PRICES))
    report = await again.reconciler.run()
    assert report.adopted_orders == [ref] and report.halt_reason is None
    assert again.broker.placed[0].order_ref == ref
    assert order(path, ref)["status"] == "filled"
    assert again.position(ref).held_units == 6


async def test_an_old_halt_is_reconciled_again_before_the_next_entry(path: Path) -> None:
    # An order timed out (unknown): the halt stands, and a moment later the entry
    # is still skipped. A quarter of an hour on, the entry reconciles first: the
    # gateway shows the order never executed, the halt lifts and the entry trades.
    rig = await start(path)
    _entry_market(rig)
    rig.broker.script(Outcome(error=BrokerError("placeOrder timed out after 10 s")))
    await rig.engine.run_job(JobName.ENTRY)
    [lost] = rig.broker.placed
    assert rig.engine.entry_halt is not None
    await rig.engine.run_job(JobName.ENTRY)
    assert len(rig.broker.placed) == 1
    assert decisions(path, rig.run_id)[-1]["action"] == "skip"

    rig.clock.current += HALT_RECHECK_AFTER
    rig.broker.script(Outcome(prices=OPEN_PRICES))
    await rig.engine.run_job(JobName.ENTRY)
    assert order(path, lost.order_ref)["status"] == "cancelled"
    assert rig.engine.entry_halt is None
    assert len(rig.broker.placed) == 2
    assert decisions(path, rig.run_id)[-1]["action"] == "open"


async def test_market_data_failure_is_a_journaled_skip_not_a_failed_job(path: Path) -> None:
    rig = await start(path)
    _entry_market(rig)
    rig.broker.errors["market_context"] = BrokerError("IB did not answer reqMktData within 5s")
    await rig.engine.run_job(JobName.ENTRY)  # must not raise
    last = decisions(path, rig.run_id)[-1]
    assert last["rule"] == "condor_entry" and last["action"] == "skip"
    assert "market data unavailable" in last["reason"] and "reqMktData" in last["reason"]
    assert rig.broker.placed == []
    assert any(event == "market_data_unavailable" for _, event, _ in rig.log.events)
