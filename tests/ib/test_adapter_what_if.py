"""IBBroker.what_if through the fake gateway: a what-if order over the real protocol.

The fake answers a ``whatIf`` placeOrder with an openOrder whose order state
carries IB's margin figures (before, change, after) and places nothing.
"""

from __future__ import annotations

import pytest

from daemon.brokers.base import ComboOrder
from daemon.brokers.ib.what_if import parse_money
from strategies.domain import Leg, Right
from strategies.gates import margin_gate
from strategies.rules import RiskRules
from tests.fake_tws import In, Scenario
from tests.fake_tws import protocol as p
from tests.ib.test_adapter_helpers import option, running_broker, short_iron_condor


async def test_what_if_returns_ibs_margin_and_places_nothing() -> None:
    scenario = Scenario(what_if_margin_per_unit=5_000.0)
    legs = short_iron_condor(scenario)
    async with running_broker(scenario) as (tws, broker, _log, fills):
        impact = await broker.what_if(ComboOrder("what-if", legs, 3, -2.35, -2.10))

        assert impact is not None
        # 3 units x 2 (four legs) x 5,000 on top of the 25,000 in use
        assert impact.init_margin_before == pytest.approx(25_000.0)
        assert impact.init_margin_after == pytest.approx(55_000.0)
        assert impact.equity_with_loan_after == pytest.approx(250_000.0 - 7.80)
        assert impact.commission == pytest.approx(7.80)  # 0.65 x 12 contracts
        assert impact.source == "ib-what-if"
        [request] = [p.parse_place_order(m.fields) for m in tws.messages(In.PLACE_ORDER)]
        assert request.what_if is True
        assert request.contract.sec_type == "BAG" and request.lmt_price == -2.35
        assert (request.order_ref, request.account) == ("what-if", "DU1234567")
        assert not tws.orders and not fills  # nothing placed, nothing filled
        assert broker.request_counts["what_if"] == 1
        assert margin_gate(impact, RiskRules()).status == "pass"


async def test_what_if_beyond_equity_with_loan_blocks_the_margin_gate() -> None:
    scenario = Scenario(what_if_margin_per_unit=150_000.0)
    call = option(scenario, "VIX", 2, 20.0, Right.CALL)
    async with running_broker(scenario) as (tws, broker, _log, _fills):
        impact = await broker.what_if(ComboOrder("what-if", (Leg(call, 1),), 2, 1.20))
        assert impact is not None
        assert impact.init_margin_after == pytest.approx(25_000.0 + 300_000.0)
        request = p.parse_place_order(tws.messages(In.PLACE_ORDER)[0].fields)
        assert request.contract.sec_type == "OPT" and request.action == "BUY"
        gate = margin_gate(impact, RiskRules())
        assert gate.blocked and "$325,000 exceeds the equity with loan value" in gate.reason
        assert not tws.orders


def test_parse_money_reads_ibs_strings_and_unset_values() -> None:
    assert parse_money("25000.5") == 25_000.5
    assert parse_money("1,234.00") == 1_234.0
    assert parse_money("") is None
    assert parse_money("1.7976931348623157E308") is None
    assert parse_money(float("nan")) is None
