"""Round trips of the fake TWS encoders through ib_async's own Decoder, and of
ib_async's Client encoding through the fake's parsers (no sockets)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from ib_async import Bag, ComboLeg, LimitOrder, TagValue
from ib_async.client import Client
from ib_async.decoder import Decoder
from ib_async.order import OrderComboLeg

from tests.fake_tws import (
    SERVER_VERSION,
    SPX_CON_ID,
    ComboLegSpec,
    ExecutionRecord,
    Out,
    Scenario,
)
from tests.fake_tws import protocol as p
from tests.ib.fake_tws_support import spxw_expiry


class _Recorder:
    """Stands in for ib_async's Wrapper: records every callback the Decoder makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.defaultTimezone = UTC
        self.ib = SimpleNamespace(TimezoneTWS=None)

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name.startswith("__"):
            raise AttributeError(name)

        def record(*args: Any) -> None:
            self.calls.append((name, args))

        return record


def decode(fields: list[object]) -> tuple[str, tuple[Any, ...]]:
    """Frame ``fields`` like the server does, unframe like ib_async, decode; return the call."""
    wire = p.encode_fields(fields)
    length = int.from_bytes(wire[:4], "big")
    assert length == len(wire) - 4
    text_fields = wire[4:].decode().split("\0")
    text_fields.pop()
    recorder = _Recorder()
    Decoder(recorder, SERVER_VERSION).handlers[int(text_fields[0])](text_fields)  # type: ignore[arg-type]
    assert len(recorder.calls) == 1, recorder.calls
    return recorder.calls[0]


def test_decoder_reads_contract_details() -> None:
    scenario = Scenario()
    spec = scenario.option("SPXW", spxw_expiry(scenario), 5000.0, "C")
    name, (req_id, cd) = decode(p.contract_details(42, spec))
    assert (name, req_id) == ("contractDetails", 42)
    c = cd.contract
    assert (c.conId, c.symbol, c.secType, c.strike, c.right, c.multiplier) == (
        spec.con_id,
        "SPX",
        "OPT",
        5000.0,
        "C",
        "100",
    )
    assert c.lastTradeDateOrContractMonth == spec.last_trade_date
    assert (cd.lastTradeTime, cd.timeZoneId, cd.underConId) == ("16:00", "US/Eastern", SPX_CON_ID)
    assert cd.minTick == 0.05 and cd.minSize == 1.0


def test_decoder_reads_bag_open_order_and_what_if_state() -> None:
    legs = [
        ComboLegSpec(700_000_001, 1, "BUY", "SMART"),
        ComboLegSpec(700_000_003, 2, "SELL", "SMART"),
    ]
    req = p.OrderRequest(
        order_id=17,
        contract=p.ContractSpec(symbol="SPX", sec_type="BAG", exchange="SMART", currency="USD"),
        action="SELL",
        total_quantity=3.0,
        order_type="LMT",
        lmt_price=2.35,
        aux_price=None,
        tif="DAY",
        account="DU1234567",
        order_ref="alvh-entry",
        combo_legs=legs,
        algo_strategy="Adaptive",
        algo_params=[("adaptivePriority", "Normal")],
    )
    name, (order_id, contract, order, state) = decode(
        p.open_order(req, 9, 1234, p.OrderStateSpec("Submitted", init_margin_change=5000.0))
    )
    assert (name, order_id) == ("openOrder", 17)
    assert contract.secType == "BAG"
    assert [(leg.conId, leg.ratio, leg.action) for leg in contract.comboLegs] == [
        (700_000_001, 1, "BUY"),
        (700_000_003, 2, "SELL"),
    ]
    assert contract.comboLegsDescrip == "700000001|1,700000003|-2"
    assert (order.action, order.totalQuantity, order.lmtPrice, order.tif) == (
        "SELL",
        3.0,
        2.35,
        "DAY",
    )
    assert (order.clientId, order.permId, order.account, order.orderRef) == (
        9,
        1234,
        "DU1234567",
        "alvh-entry",
    )
    assert order.algoStrategy == "Adaptive"
    assert order.algoParams == [TagValue("adaptivePriority", "Normal")]
    assert state.status == "Submitted"
    assert float(state.initMarginChange) == 5000.0


def test_decoder_reads_exec_details_and_commission_report() -> None:
    when = datetime(2024, 3, 15, 15, 45, 1, tzinfo=UTC)
    spec = Scenario().option("VIX", Scenario().chain("VIX").expirations[0], 20.0, "C")
    rec = ExecutionRecord(
        exec_id="0000f4ce.00000001.01.01",
        order_id=8,
        client_id=3,
        perm_id=1900000009,
        contract=spec,
        time=when,
        account="U7654321",
        exchange="CBOE",
        side="BOT",
        shares=10.0,
        price=1.25,
        cum_qty=10.0,
        avg_price=1.25,
        order_ref="hedge",
        commission=6.5,
    )
    name, (req_id, contract, execution) = decode(p.exec_details(-1, rec))
    assert (name, req_id) == ("execDetails", -1)
    assert (contract.conId, contract.tradingClass, contract.right) == (spec.con_id, "VIX", "C")
    assert execution.time == when
    assert (execution.execId, execution.orderId, execution.clientId, execution.permId) == (
        rec.exec_id,
        8,
        3,
        1900000009,
    )
    assert (execution.side, execution.shares, execution.price, execution.acctNumber) == (
        "BOT",
        10.0,
        1.25,
        "U7654321",
    )
    assert execution.pendingPriceRevision is False
    name, (report,) = decode(p.commission_report(rec))
    assert name == "commissionReport"
    assert (report.execId, report.commission, report.currency) == (rec.exec_id, 6.5, "USD")


def test_decoder_reads_status_ticks_chains_positions_and_errors() -> None:
    assert decode(p.order_status(5, "Filled", 2.0, 0.0, 1.5, 77, 0, 1.5, 1)) == (
        "orderStatus",
        (5, "Filled", 2.0, 0.0, 1.5, 77, 0, 1.5, 1, "", 0.0),
    )
    assert decode(p.tick_price(3, p.TickType.BID, 4.2, 12.0)) == (
        "priceSizeTick",
        (3, 1, 4.2, 12.0),
    )
    assert decode(p.tick_size(3, p.TickType.ASK_SIZE, 7.0)) == ("tickSize", (3, 3, 7.0))
    name, args = decode(
        p.tick_option_computation(
            3, p.TickType.MODEL_OPTION, 0.16, -0.2, 28.7, 0.0, 0.001, 4.4, -0.96, 5000.0
        )
    )
    assert name == "tickOptionComputation"
    assert args == (3, 13, 1, 0.16, -0.2, 28.7, 0.0, 0.001, 4.4, -0.96, 5000.0)
    name, args = decode(
        p.sec_def_opt_params(
            9, "SMART", SPX_CON_ID, "SPXW", "100", ["20240119", "20240126"], [4900.0, 4905.0]
        )
    )
    assert (name, args) == (
        "securityDefinitionOptionParameter",
        (9, "SMART", str(SPX_CON_ID), "SPXW", "100", ["20240119", "20240126"], [4900.0, 4905.0]),
    )
    spec = Scenario().contract_by_id(SPX_CON_ID)
    assert spec is not None
    name, (account, contract, qty, cost) = decode(p.position("DU1", spec, -3.0, 1540.5))
    assert (name, account, contract.conId, qty, cost) == (
        "position",
        "DU1",
        SPX_CON_ID,
        -3.0,
        1540.5,
    )
    assert decode(p.error(12, 201, "Order rejected - reason:X")) == (
        "error",
        (12, 201, "Order rejected - reason:X", ""),
    )
    assert decode(p.account_value("NetLiquidation", "1.00", "USD", "DU1")) == (
        "updateAccountValue",
        ("NetLiquidation", "1.00", "USD", "DU1"),
    )
    assert decode(p.managed_accounts(["U1", "U2"])) == ("managedAccounts", ("U1,U2",))
    assert decode(p.next_valid_id(33)) == ("nextValidId", (33,))
    assert decode(p.exec_details_end(4)) == ("execDetailsEnd", (4,))


async def test_place_order_parser_reads_what_ib_async_sends() -> None:
    """Encode a BAG order with ib_async's own Client and parse it back."""
    sent: list[str] = []
    client = Client(_Recorder())
    client.connState = Client.CONNECTED
    client._serverVersion = SERVER_VERSION
    client.sendMsg = sent.append  # type: ignore[method-assign, assignment]
    bag = Bag(
        symbol="SPX",
        exchange="SMART",
        currency="USD",
        comboLegs=[ComboLeg(11, 1, "BUY", "SMART"), ComboLeg(12, 2, "SELL", "SMART")],
    )
    order = LimitOrder("BUY", 4, -1.25, account="U7654321", orderRef="ic-1", tif="GTC")
    order.orderComboLegs = [OrderComboLeg(price=1.5), OrderComboLeg(price=0.25)]
    order.smartComboRoutingParams = [TagValue("NonGuaranteed", "1")]
    order.algoStrategy = "Adaptive"
    order.algoParams = [TagValue("adaptivePriority", "Patient")]
    order.hedgeType = "D"
    order.hedgeParam = "0.5"
    order.whatIf = True
    client.placeOrder(31, bag, order)
    fields = sent[0].split("\0")[:-1]
    req = p.parse_place_order(fields)
    assert (req.order_id, req.action, req.total_quantity, req.lmt_price, req.tif) == (
        31,
        "BUY",
        4.0,
        -1.25,
        "GTC",
    )
    assert (req.account, req.order_ref, req.transmit) == ("U7654321", "ic-1", True)
    assert [(leg.con_id, leg.ratio, leg.action) for leg in req.combo_legs] == [
        (11, 1, "BUY"),
        (12, 2, "SELL"),
    ]
    assert req.order_combo_leg_prices == [1.5, 0.25]
    assert req.smart_combo_routing_params == [("NonGuaranteed", "1")]
    assert req.algo_strategy == "Adaptive"
    assert req.algo_params == [("adaptivePriority", "Patient")]
    assert req.what_if is True
    assert p.request_id(fields) == 31


def test_protocol_framing_and_version_range() -> None:
    assert p.parse_version_range("v157..178") == (157, 178, "")
    assert p.parse_version_range("v100..178 +PACEAPI") == (100, 178, "+PACEAPI")
    wire = p.encode_fields([Out.NEXT_VALID_ID, 1, 5, True, None, 1.5])
    assert wire[:4] == (len(wire) - 4).to_bytes(4, "big")
    assert p.split_fields(wire[4:]) == ["9", "1", "5", "1", "", "1.5"]
    assert p.fmt(p.UNSET_DOUBLE) == "1.7976931348623157E308"
