"""TradingEngine.settle_expired (live): held options past their expiry are settled by the engine."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import pytest

from daemon.brokers.base import BrokerError
from daemon.clock import NEW_YORK
from daemon.scheduling.jobs import JobName
from tests.daemon.rig import (
    EXPIRY,
    LC,
    LP,
    OPEN_PRICES,
    SC,
    SP,
    decisions,
    position_row,
    rows,
    start,
)
from tests.daemon.scripted_broker import COMMISSION, leg_quote

AFTER = date(2023, 2, 21)  # the first session after the 2023-02-17 expiry (20th: a holiday)
SPX_CLOSE = 3880.0  # 20 points into the 3900 short put, every other leg worthless


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "alvh.sqlite"


def _settlements(path: Path) -> list[dict[str, object]]:
    return rows(path, "SELECT * FROM settlements ORDER BY id")


async def test_expired_condors_are_settled_once_per_structure_and_closed(path: Path) -> None:
    rig = await start(path, settle_expired=True)
    a = await rig.open(6)
    b = await rig.open(2)  # the same contracts: each structure settles its own holding
    rig.broker.gateway.settlement_prices.update({c: SPX_CLOSE for c in (LP, SP, SC, LC)})
    rig.clock.set(AFTER)

    await rig.engine.run_job(JobName.MANAGE)

    got = _settlements(path)
    assert len(got) == 8
    by = {(s["structure_id"], s["local_symbol"]): s for s in got}
    assert set(by) == {(sid, c.local_symbol) for sid in (a, b) for c in (LP, SP, SC, LC)}
    for sid, units in ((a, 6), (b, 2)):
        short_put = by[(sid, SP.local_symbol)]
        assert short_put["quantity"] == -units
        assert short_put["settlement_price"] == SPX_CLOSE
        assert short_put["cash"] == pytest.approx(-units * 20.0 * 100)
        assert by[(sid, LP.local_symbol)]["cash"] == 0.0
        assert by[(sid, LP.local_symbol)]["quantity"] == units
        position = rig.position(sid)
        assert position.is_flat and position.is_closed
        expected = units * (2.90 * 100 - 20.0 * 100) - units * 4 * COMMISSION
        assert position.cash_flow == pytest.approx(expected)
        row = position_row(path, sid)
        assert row["closed_session"] == AFTER.isoformat()
        assert row["realized_pnl"] == pytest.approx(expected)
        assert row["close_reason"] == f"expired: settled at {SPX_CLOSE:.2f}"
    assert rig.portfolio.open_positions() == []
    assert len(rig.broker.placed) == 2  # the two openings; nothing is traded to settle

    # Later jobs settle nothing again.
    await rig.engine.run_job(JobName.MANAGE)
    await rig.engine.run_job(JobName.MARK)
    assert len(_settlements(path)) == 8


async def test_nothing_settles_before_the_close_of_the_expiry_session(path: Path) -> None:
    rig = await start(path, settle_expired=True)
    sid = await rig.open(1)
    rig.broker.gateway.settlement_prices.update({c: SPX_CLOSE for c in (LP, SP, SC, LC)})
    rig.clock.current = datetime.combine(EXPIRY, time(15, 45), NEW_YORK)
    assert await rig.engine.settle_expired() == 0
    assert rig.broker.settlement_requests == []
    rig.clock.current = datetime.combine(EXPIRY, time(16, 15), NEW_YORK)
    assert await rig.engine.settle_expired() == 4
    assert rig.position(sid).is_closed


async def test_unknown_settlement_price_waits_and_is_retried_next_job(path: Path) -> None:
    rig = await start(path, settle_expired=True)
    sid = await rig.open(3)
    rig.clock.set(AFTER)

    await rig.engine.run_job(JobName.MANAGE)
    assert _settlements(path) == []
    pending = rig.log.of("settlement_pending", "warning")
    assert {w["contract"] for w in pending} == {c.local_symbol for c in (LP, SP, SC, LC)}
    assert all(w["position_id"] == sid for w in pending)
    position = rig.position(sid)
    assert position.held_units == 3 and not position.is_closed
    assert position_row(path, sid)["closed_session"] is None
    # the exit rule holds it for its settlement; nothing is traded
    last = decisions(path, rig.run_id)[-1]
    assert (last["rule"], last["action"], last["position_id"]) == ("await_settlement", "hold", sid)
    assert len(rig.broker.placed) == 1

    rig.broker.gateway.settlement_prices.update({c: SPX_CLOSE for c in (LP, SP, SC, LC)})
    await rig.engine.run_job(JobName.MARK)
    assert len(_settlements(path)) == 4
    assert position.is_closed
    assert position_row(path, sid)["realized_pnl"] == pytest.approx(
        3 * (290.0 - 2000.0) - 12 * COMMISSION
    )


async def test_a_broker_error_for_a_settlement_price_does_not_fail_the_job(path: Path) -> None:
    rig = await start(path, settle_expired=True)
    expired = await rig.open(1)
    rig.clock.set(AFTER)
    rig.broker.errors["settlement_price"] = BrokerError("reqHistoricalData timed out")
    rig.broker.quotes.update({c: leg_quote(c, p - 0.05, p + 0.05) for c, p in OPEN_PRICES.items()})

    await rig.engine.run_job(JobName.MANAGE)  # must not raise

    pending = rig.log.of("settlement_pending", "warning")
    assert len(pending) == 4
    assert all(w["reason"] == "broker error: reqHistoricalData timed out" for w in pending)
    assert not rig.position(expired).is_closed
    last = decisions(path, rig.run_id)[-1]
    assert (last["rule"], last["position_id"]) == ("await_settlement", expired)

    del rig.broker.errors["settlement_price"]
    rig.broker.gateway.settlement_prices.update({c: SPX_CLOSE for c in (LP, SP, SC, LC)})
    await rig.engine.run_job(JobName.MANAGE)
    assert rig.position(expired).is_closed


async def test_a_restart_after_the_expiry_is_not_halted_once_a_job_settled_it(path: Path) -> None:
    rig = await start(path, settle_expired=True)
    sid = await rig.open(1)
    rig.close()
    # down over the expiry: the gateway no longer holds the options, the journal does
    rig.clock.set(AFTER, time(15, 30))
    again = await start(path, gateway=rig.broker.gateway, clock=rig.clock, settle_expired=True)
    assert again.engine.entry_halt is not None
    assert "gateway positions differ" in again.engine.entry_halt

    rig.broker.gateway.settlement_prices.update({c: SPX_CLOSE for c in (LP, SP, SC, LC)})
    await again.engine.run_job(JobName.ENTRY)  # the first job of the day settles them

    assert again.position(sid).is_closed
    assert again.engine.entry_halt is None
    entry = [d for d in decisions(path, again.run_id) if d["rule"] == "condor_entry"]
    assert entry and "new risk halted" not in entry[-1]["reason"]
