"""daemon.reconcile: restore by folding the journal, and reconciliation that acts.

A "crash" is an exception the executor does not handle, raised where the
daemon would have been killed; the test then starts a new daemon (a new run)
on the same journal file and the same scripted gateway, as ``alvh run`` does.
"""

from __future__ import annotations

import contextlib
import json
from datetime import date, datetime, time
from pathlib import Path

import pytest

from daemon import execution as execution_module
from daemon.brokers.base import BrokerError, OrderStatus, Position
from daemon.clock import NEW_YORK
from daemon.scheduling.jobs import JobName
from strategies.domain import Action, Decision, Leg, OptionContract, Right, Structure
from strategies.plan import Plan
from strategies.portfolio import StructurePosition
from tests.daemon.rig import (
    CONDOR,
    LC,
    LP,
    OPEN_PRICES,
    SC,
    SP,
    Rig,
    close_decision,
    decisions,
    events,
    fills,
    held_by_leg,
    open_decision,
    order,
    position_row,
    rows,
    start,
)
from tests.daemon.scripted_broker import (
    Delivery,
    Gateway,
    ManualClock,
    Outcome,
    leg_contracts,
    leg_quote,
)

#: Quotes at which it closes on its profit target (debit 1.00).
PROFIT_QUOTES = {
    LP: leg_quote(LP, 0.05, 0.15),
    SP: leg_quote(SP, 0.55, 0.65),
    SC: leg_quote(SC, 0.55, 0.65),
    LC: leg_quote(LC, 0.05, 0.15),
}


class Crash(BaseException):
    """The daemon was killed here (nothing in the daemon catches it)."""


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "alvh.sqlite"


def _snapshot(rig: Rig) -> dict[str, tuple[object, ...]]:
    return {
        p.id: (
            {c: q for c, q in p.held.items() if q},
            round(p.cash_flow, 6),
            p.open_units,
            round(p.open_price, 6),
            p.is_closed,
            p.parent_id,
            p.tag,
        )
        for p in rig.portfolio.structures.values()
    }


# -- restore ---------------------------------------------------------------------------------


async def test_restore_folds_fills_and_settlements_into_the_same_book(path: Path) -> None:
    rig = await start(path, settle_expired=True)
    gateway = rig.broker.gateway
    # a: 6 condors, a close that filled 2 -> holds 4
    a = await rig.open(6)
    rig.broker.script(Outcome(OrderStatus.PARTIAL, filled=2, prices={c: 0.5 for c in OPEN_PRICES}))
    await rig.executor.execute(Plan.of(close_decision(a, 6)))
    # b: 19 VIX calls as a tagged hedge rung, 9 sold -> holds 10
    call = OptionContract("VIX", "VIX", date(2023, 4, 19), 22.0, Right.CALL)
    rig.broker.script(Outcome(prices={call: 1.5}))
    await rig.executor.execute(
        Plan.of(
            Decision(
                "hedge_layer_entry", Action.OPEN, Structure.HEDGE_LAYER, "rung", {},
                legs=(Leg(call, 1),), quantity=19, limit_price=1.5, tag="rung-1",
            )
        )
    )  # fmt: skip
    b = rig.broker.placed[-1].order_ref
    rig.broker.script(Outcome(OrderStatus.PARTIAL, filled=9, prices={call: 2.0}))
    await rig.executor.execute(
        Plan.of(
            Decision(
                "hedge_layer_exit", Action.CLOSE, Structure.HEDGE_LAYER, "sell", {},
                legs=(Leg(call, -1),), quantity=19, limit_price=-2.0, position_id=b,
            )
        )
    )  # fmt: skip
    # c: a 0-DTE condor that expires and settles (put side 20 points in the money)
    today = rig.clock.now().date()
    legs_c = tuple(
        Leg(
            OptionContract("SPX", "SPXW", today, leg.contract.strike, leg.contract.right), leg.ratio
        )
        for leg in CONDOR
    )
    rig.broker.script(Outcome(prices={leg.contract: 1.0 for leg in legs_c}))
    await rig.executor.execute(
        Plan.of(
            Decision(
                "condor_entry", Action.OPEN, Structure.CONDOR, "0dte", {},
                legs=legs_c, quantity=2, limit_price=-1.0,
            )
        )
    )  # fmt: skip
    c = rig.broker.placed[-1].order_ref
    gateway.settlement_prices.update({leg.contract: 3880.0 for leg in legs_c})
    rig.clock.current = datetime.combine(today, time(16, 30), NEW_YORK)
    assert await rig.engine.settle_expired() == 4
    # d: rejected, never held
    d = await rig.open(1, Outcome(OrderStatus.REJECTED, reason="201"))

    live = _snapshot(rig)
    assert live[a][0] == {LP: 4, SP: -4, SC: -4, LC: 4}
    assert live[b][0] == {call: 10} and live[b][6] == "rung-1"
    assert live[c][0] == {} and live[c][4] is True
    assert live[c][1] == pytest.approx(2 * 100 * (1.0 + 1.0 - 1.0 - 1.0) - 8 * 1.31 - 20 * 200)
    assert live[d][0] == {} and live[d][4] is True
    rig.close()

    again = await start(path, gateway=gateway, clock=rig.clock, reconcile=False)
    assert _snapshot(again) == live
    assert again.portfolio.net_contracts() == rig.portfolio.net_contracts()
    assert again.executor.live_orders == {}


async def test_runs_of_another_mode_or_account_are_not_restored(path: Path) -> None:
    paper = await start(path, mode="paper", account="DU123")
    sid = await paper.open(3)
    unknown = await paper.open(2, Outcome(error=BrokerError("timeout")))
    assert paper.executor.live_orders == {unknown: unknown}
    paper.close()

    for mode, account in (("live", "DU123"), ("paper", "DU999"), ("live", "U777")):
        other = await start(
            path, mode=mode, account=account, gateway=Gateway(account), reconcile=False
        )
        assert other.portfolio.structures == {}, (mode, account)
        assert other.executor.live_orders == {}
        other.close()

    same = await start(
        path, mode="paper", account="DU123", gateway=paper.broker.gateway, reconcile=False
    )
    assert held_by_leg(same.position(sid)) == {"LP": 3, "SP": -3, "SC": -3, "LC": 3}
    assert same.executor.live_orders == {unknown: unknown}


# -- settling orders whose fate is not final ---------------------------------------------------


def _crash_at(monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    real = execution_module.crash_point

    def crash_point(name: str) -> None:
        if name == point:
            raise Crash(name)
        real(name)

    monkeypatch.setattr(execution_module, "crash_point", crash_point)


async def _leave_order(
    path: Path, state: str, filled: int, delivery: Delivery, monkeypatch: pytest.MonkeyPatch
) -> tuple[Rig, str]:
    """A run that leaves a 6-lot opening order in ``state`` with ``filled`` units executed.

    ``delivery="now"``: the fills reached the journal before the crash;
    ``"later"``: only the gateway knows them.
    """
    rig = await start(path)
    rig.broker.script(
        Outcome(
            filled=filled,
            prices=OPEN_PRICES,
            delivery=delivery,
            error=BrokerError("timeout") if state == "unknown" else Crash("killed"),
        )
    )
    with monkeypatch.context() as patch:
        if state == "intent":
            _crash_at(patch, "after_intent")
        with contextlib.suppress(Crash):
            await rig.executor.execute(Plan.of(open_decision(6)))
    ref = f"r{rig.run_id}-1"
    assert order(path, ref)["status"] == state
    assert len(fills(path, ref)) == (4 if filled and delivery == "now" else 0)
    if state == "intent":  # killed before anything was sent
        assert rig.broker.placed == []
    rig.close()
    return rig, ref


@pytest.mark.parametrize(
    ("state", "filled", "delivery"),
    [
        ("intent", 0, "later"),
        ("submitted", 0, "later"),
        ("submitted", 2, "later"),
        ("submitted", 2, "now"),
        ("submitted", 6, "later"),
        ("unknown", 0, "later"),
        ("unknown", 2, "later"),
        ("unknown", 2, "now"),
        ("unknown", 6, "now"),
    ],
)
async def test_an_order_not_at_the_gateway_is_settled_from_its_executions(
    path: Path, state: str, filled: int, delivery: Delivery, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, ref = await _leave_order(path, state, filled, delivery, monkeypatch)

    rig = await start(path, gateway=first.broker.gateway, clock=first.clock)
    expected = "filled" if filled == 6 else "cancelled"
    row = order(path, ref)
    assert row["status"] == expected
    assert row["filled_quantity"] == filled
    assert events(path, ref)[-1] == expected
    assert "reconciled: not working at the gateway" in row["reason"]
    assert len(fills(path, ref)) == (4 if filled else 0)
    assert rig.executor.live_orders == {}
    assert rig.report is not None and rig.report.halt_reason is None
    assert rig.report.settled_orders == [ref]
    position = rig.position(ref)
    if filled:
        assert position.held_units == filled and not position.is_closed
        assert position_row(path, ref)["quantity"] == filled
        assert position_row(path, ref)["closed_session"] is None
        # the order's average net price is what its executions say (a 2.90 credit)
        assert row["avg_price"] == pytest.approx(-2.90)
        assert position_row(path, ref)["open_price"] == pytest.approx(-2.90)
    else:
        assert position.is_flat and position.is_closed
        assert position_row(path, ref)["close_reason"] == "not filled (reconciled)"


async def test_working_order_is_adopted_with_its_order_ref(
    path: Path,
) -> None:
    first = await start(path)
    with pytest.raises(Crash):
        await first.open(
            6, Outcome(filled=1, prices=OPEN_PRICES, working=True, error=Crash("killed"))
        )
    ref = first.broker.placed[-1].order_ref
    assert order(path, ref)["status"] == "submitted"
    assert list(first.broker.gateway.working) == [ref]
    first.close()

    broker_side = first.broker.gateway
    rig = await _start_with_outcome(
        path, broker_side, first.clock, "adopt", Outcome(prices=OPEN_PRICES)
    )
    [adopted] = rig.broker.placed
    assert adopted.order_ref == ref
    assert adopted.legs == CONDOR and adopted.quantity == 6
    assert rig.broker.cancels == []
    assert rig.report is not None and rig.report.adopted_orders == [ref]
    assert events(path, ref) == ["intent", "submitted", "working", "filled"]
    assert order(path, ref)["filled_quantity"] == 6
    position = rig.position(ref)
    assert position.held_units == 6
    assert position_row(path, ref)["quantity"] == 6
    assert len(fills(path, ref)) == 8  # 1 unit before the crash, 5 after adoption
    assert rig.report.position_differences == []


async def test_working_order_is_cancelled_under_policy_cancel(path: Path) -> None:
    first = await start(path)
    with pytest.raises(Crash):
        await first.open(
            6, Outcome(filled=1, prices=OPEN_PRICES, working=True, error=Crash("killed"))
        )
    ref = first.broker.placed[-1].order_ref
    first.close()

    rig = await start(path, gateway=first.broker.gateway, clock=first.clock, policy="cancel")
    assert rig.broker.cancels == [ref]
    assert rig.broker.placed == []
    assert rig.broker.gateway.working == {}
    row = order(path, ref)
    assert row["status"] == "cancelled" and row["filled_quantity"] == 1
    assert events(path, ref)[-1] == "cancelled"
    position = rig.position(ref)
    assert position.held_units == 1 and not position.is_closed
    assert position_row(path, ref)["quantity"] == 1
    assert rig.executor.live_orders == {}


async def test_a_cancel_the_gateway_does_not_confirm_stays_unknown_and_halts(path: Path) -> None:
    first = await start(path)
    with pytest.raises(Crash):
        await first.open(6, Outcome(filled=0, working=True, error=Crash("killed")))
    ref = first.broker.placed[-1].order_ref
    first.close()

    gateway = first.broker.gateway
    rig = await _start_with(path, gateway, first.clock, "cancel", cancel_status=OrderStatus.UNKNOWN)
    assert rig.broker.cancels == [ref]
    assert order(path, ref)["status"] == "unknown"
    assert rig.report is not None and rig.report.unknown_orders == [ref]
    assert rig.engine.entry_halt is not None and ref in rig.engine.entry_halt
    assert not rig.position(ref).is_closed


async def _start_with(
    path: Path, gateway: Gateway, clock: ManualClock, policy: str, cancel_status: OrderStatus
) -> Rig:
    rig = await start(path, gateway=gateway, clock=clock, policy=policy, reconcile=False)
    rig.broker.cancel_status = cancel_status
    rig.report = await rig.reconciler.run()
    rig.engine.before_manage = rig.reconciler.run
    return rig


async def _start_with_outcome(
    path: Path, gateway: Gateway, clock: ManualClock, policy: str, outcome: Outcome
) -> Rig:
    rig = await start(path, gateway=gateway, clock=clock, policy=policy, reconcile=False)
    rig.broker.script(outcome)
    rig.report = await rig.reconciler.run()
    rig.engine.before_manage = rig.reconciler.run
    return rig


# -- halting new risk -------------------------------------------------------------------------


async def test_position_difference_halts_entries_but_not_closes(path: Path) -> None:
    first = await start(path)
    sid = await first.open(2)
    first.close()
    stray = OptionContract("SPX", "SPXW", date(2023, 2, 17), 3700.0, Right.PUT)
    gateway = first.broker.gateway
    gateway.positions = [Position(c, q, 0.0) for c, q in gateway.net().items()] + [
        Position(stray, -1, 0.0)
    ]

    rig = await start(path, gateway=gateway, clock=first.clock)
    assert rig.report is not None
    assert rig.report.position_differences == [(stray, 0, -1)]
    difference = f"{stray.local_symbol} journal +0 gateway -1"
    assert rig.engine.entry_halt is not None and difference in rig.engine.entry_halt
    [reconcile] = decisions(path, rig.run_id)
    assert reconcile["rule"] == "reconcile" and difference in reconcile["reason"]
    assert json.loads(reconcile["inputs_json"])[f"position {stray.local_symbol}"] == (
        "journal +0 gateway -1"
    )
    assert rig.log.of("entry_halted", "error")

    # The next entry job journals a skip that names the difference, and sends nothing.
    await rig.engine.run_job(JobName.ENTRY)
    entry = decisions(path, rig.run_id)[-1]
    assert entry["rule"] == "condor_entry" and entry["action"] == "skip"
    assert difference in entry["reason"]
    assert rig.broker.placed == [] and rig.broker.chain_requests == []

    # Closes are still allowed.
    rig.broker.quotes.update(PROFIT_QUOTES)
    rig.broker.script(Outcome(prices={c: 0.5 for c in OPEN_PRICES}))
    await rig.engine.run_job(JobName.MANAGE)
    [close] = rig.broker.placed
    assert close.quantity == 2
    assert rig.position(sid).is_closed
    assert difference in (rig.engine.entry_halt or "")


async def test_failing_resync_halts_until_reconciliation_succeeds(path: Path) -> None:
    first = await start(path)
    first.close()
    gateway = first.broker.gateway
    rig = await start(path, gateway=gateway, clock=first.clock, reconcile=False)
    rig.broker.errors["resync_executions"] = BrokerError("reqExecutions timed out after 10 s")
    rig.report = await rig.reconciler.run()
    rig.engine.before_manage = rig.reconciler.run
    assert rig.report.error == "reqExecutions timed out after 10 s"
    halt = "reconciliation failed: reqExecutions timed out after 10 s"
    assert rig.engine.entry_halt == halt

    await rig.engine.run_job(JobName.ENTRY)
    entry = decisions(path, rig.run_id)[-1]
    assert entry["action"] == "skip" and halt in entry["reason"]

    # The gateway answers again: the next manage job's reconciliation lifts the halt.
    del rig.broker.errors["resync_executions"]
    await rig.engine.run_job(JobName.MANAGE)
    assert rig.engine.entry_halt is None


async def test_executions_since_the_crash_become_positions_exactly_once(
    path: Path,
) -> None:
    first = await start(path)
    sid = await first.open(6)
    # A close is sent; the daemon is killed while it works; it fills at the gateway.
    first.broker.quotes.update(PROFIT_QUOTES)
    first.broker.script(
        Outcome(
            filled=6, prices={c: 0.5 for c in OPEN_PRICES}, delivery="later", error=Crash("killed")
        )
    )
    with pytest.raises(Crash):
        await first.engine.run_job(JobName.MANAGE)
    close_ref = first.broker.placed[-1].order_ref
    assert order(path, close_ref)["status"] == "submitted"
    assert len(fills(path)) == 4
    first.close()
    gateway = first.broker.gateway

    for restart in range(3):
        rig = await start(path, gateway=gateway, clock=first.clock)
        journaled = fills(path)
        assert len(journaled) == len(gateway.executions) == 8, restart
        assert {f["exec_id"] for f in journaled} == {f.exec_id for f in gateway.executions}
        position = rig.position(sid)
        assert position.is_flat and position.is_closed
        assert rig.portfolio.net_contracts() == gateway.net() == {}
        assert order(path, close_ref)["status"] == "filled"
        assert events(path, close_ref).count("filled") == 1
        assert rig.report is not None and rig.report.halt_reason is None
        await rig.reconciler.run()  # again: nothing new, nothing doubled
        assert len(fills(path)) == 8
        rig.close()
    row = position_row(path, sid)
    assert row["closed_session"] is not None
    # closed at 0.50 a leg: a zero net debit; what is left is the credit less commissions
    assert row["realized_pnl"] == pytest.approx(2.90 * 600 - 48 * 1.31)


async def test_a_crash_between_a_late_fill_and_its_position_keeps_the_journal_open(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from daemon import engine as engine_module

    first = await start(path)
    sid = await first.open(
        6,
        Outcome(
            OrderStatus.CANCELLED, filled=0, contracts=leg_contracts(CONDOR, 2),
            prices=OPEN_PRICES, delivery="later", reason="cancelled",
        ),
    )  # fmt: skip
    assert position_row(path, sid)["closed_session"] is not None
    real = engine_module.crash_point

    def crash_point(name: str) -> None:
        if name == "after_fill_journaled":
            raise Crash(name)
        real(name)

    monkeypatch.setattr(engine_module, "crash_point", crash_point)
    with pytest.raises(Crash):
        first.broker.deliver_pending()
    monkeypatch.setattr(engine_module, "crash_point", real)
    first.close()

    rig = await start(path, gateway=first.broker.gateway, clock=first.clock)
    position = rig.position(sid)
    assert position.held_units == 2 and not position.is_closed
    assert rig.report is not None and rig.report.halt_reason is None
    assert position_row(path, sid)["closed_session"] is None
    # and it can be closed
    rig.broker.quotes.update(PROFIT_QUOTES)
    rig.broker.script(Outcome(prices={c: 0.5 for c in OPEN_PRICES}))
    await rig.engine.run_job(JobName.MANAGE)
    assert position.is_closed
    assert position_row(path, sid)["closed_session"] is not None


async def test_a_structure_killed_before_its_order_intent_is_closed_at_restart(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await start(path)

    def killed(*_: object, **__: object) -> None:
        raise Crash("record_order_intent")

    monkeypatch.setattr(first.journal, "record_order_intent", killed)
    with pytest.raises(Crash):
        await first.open(6)
    assert first.broker.placed == []
    [row] = rows(path, "SELECT id, closed_session FROM positions")
    assert row["closed_session"] is None and rows(path, "SELECT * FROM orders") == []
    first.close()

    rig = await start(path, gateway=first.broker.gateway, clock=first.clock)
    position = rig.position(row["id"])
    assert position.is_flat and position.is_closed
    closed = position_row(path, row["id"])
    assert closed["closed_session"] == first.clock.now().date().isoformat()
    assert closed["close_reason"] == "not filled (reconciled)"
    assert (
        rows(path, "SELECT COUNT(*) AS n FROM positions WHERE closed_session IS NULL")[0]["n"] == 0
    )


async def test_a_structure_killed_before_it_was_marked_closed_is_closed_at_restart(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await start(path)
    sid = await first.open(2)
    first.broker.quotes.update(PROFIT_QUOTES)
    first.broker.script(Outcome(prices={c: 0.5 for c in OPEN_PRICES}))

    real = first.executor.close_if_done

    def close_if_done(position: StructurePosition, *args: object) -> None:
        if position.is_flat and not first.executor.has_live_order(position.id):
            raise Crash("killed just before the structure was marked closed")
        real(position, *args)

    monkeypatch.setattr(first.executor, "close_if_done", close_if_done)
    with pytest.raises(Crash):
        await first.engine.run_job(JobName.MANAGE)
    assert first.position(sid).is_flat
    assert position_row(path, sid)["closed_session"] is None
    first.close()

    rig = await start(path, gateway=first.broker.gateway, clock=first.clock)
    position = rig.position(sid)
    assert position.is_flat and position.is_closed
    row = position_row(path, sid)
    assert row["closed_session"] == first.clock.now().date().isoformat()
    assert row["close_reason"] == "flat (reconciled)"
    assert row["realized_pnl"] == pytest.approx(2.90 * 200 - 16 * 1.31)
