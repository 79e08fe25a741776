"""Parsers for the client messages the fake TWS acts upon (server version 178).

Every parser reads the exact field order that ib_async 2.1.0's ``Client``
sends at :data:`~.wire.SERVER_VERSION`.
"""

from __future__ import annotations

from collections.abc import Sequence

from .wire import (
    UNSET_DOUBLE,
    ComboLegSpec,
    ContractSpec,
    ExecFilter,
    HistoricalRequest,
    In,
    MktDataRequest,
    OrderRequest,
)


class FieldReader:
    """Sequential reader over a client message's text fields."""

    def __init__(self, fields: Sequence[str], start: int = 1) -> None:
        """Read ``fields`` from index ``start`` (after the message id by default)."""
        self.fields = list(fields)
        self.pos = start

    def text(self) -> str:
        """Next field as text (empty when the message is exhausted)."""
        value = self.fields[self.pos] if self.pos < len(self.fields) else ""
        self.pos += 1
        return value

    def integer(self, default: int = 0) -> int:
        """Next field as an int ("" gives ``default``)."""
        value = self.text()
        return int(value) if value else default

    def number(self) -> float | None:
        """Next field as a float, None for "" or IB's unset value."""
        value = self.text()
        if not value:
            return None
        number = float(value)
        return None if number >= UNSET_DOUBLE else number

    def flag(self) -> bool:
        """Next field as a bool ("1"/"0"/"")."""
        value = self.text()
        return bool(int(value)) if value else False

    def skip(self, count: int = 1) -> None:
        """Skip ``count`` fields."""
        self.pos += count

    def contract(self) -> ContractSpec:
        """The 12 contract fields ib_async's ``Client.send`` writes for a Contract."""
        return ContractSpec(
            con_id=self.integer(),
            symbol=self.text(),
            sec_type=self.text(),
            last_trade_date=self.text(),
            strike=self.number() or 0.0,
            right=self.text(),
            multiplier=self.text(),
            exchange=self.text(),
            primary_exchange=self.text(),
            currency=self.text(),
            local_symbol=self.text(),
            trading_class=self.text(),
        )

    def tag_values(self) -> list[tuple[str, str]]:
        """A count followed by that many tag/value pairs."""
        count = self.integer()
        return [(self.text(), self.text()) for _ in range(count)]


def parse_place_order(fields: Sequence[str]) -> OrderRequest:
    """Parse ib_async's placeOrder (msg 3) at server version 178, up to ``whatIf``."""
    r = FieldReader(fields)
    order_id = r.integer()
    contract = r.contract()
    r.skip(2)  # secIdType, secId
    req = OrderRequest(
        order_id=order_id,
        contract=contract,
        action=r.text(),
        total_quantity=r.number() or 0.0,
        order_type=r.text(),
        lmt_price=r.number(),
        aux_price=r.number(),
        tif=r.text(),
        oca_group=r.text(),
        account=r.text(),
        open_close=r.text(),
        origin=r.integer(),
        order_ref=r.text(),
        transmit=r.flag(),
        parent_id=r.integer(),
        raw=list(fields),
    )
    r.skip(4)  # blockOrder, sweepToFill, displaySize, triggerMethod
    req.outside_rth = r.flag()
    req.hidden = r.flag()
    if contract.sec_type == "BAG":
        for _ in range(r.integer()):
            req.combo_legs.append(
                ComboLegSpec(
                    con_id=r.integer(),
                    ratio=r.integer(),
                    action=r.text(),
                    exchange=r.text(),
                    open_close=r.integer(),
                    short_sale_slot=r.integer(),
                    designated_location=r.text(),
                    exempt_code=r.integer(-1),
                )
            )
        req.order_combo_leg_prices = [r.number() for _ in range(r.integer())]
        req.smart_combo_routing_params = r.tag_values()
    r.skip(2)  # deprecated sharesAllocation, discretionaryAmt
    req.good_after_time = r.text()
    req.good_till_date = r.text()
    r.skip(3)  # faGroup, faMethod, faPercentage (no faProfile at >= 177)
    # modelCode .. deltaNeutralOrderType (23 fields), then deltaNeutralAuxPrice
    r.skip(22)
    delta_neutral_order_type = r.text()
    r.skip(1)  # deltaNeutralAuxPrice
    if delta_neutral_order_type:
        r.skip(8)
    r.skip(6)  # continuousUpdate .. scaleSubsLevelSize
    increment = r.number()
    if increment is not None and increment > 0:
        r.skip(7)
    r.skip(3)  # scaleTable, activeStartTime, activeStopTime
    if r.text():  # hedgeType
        r.skip(1)
    r.skip(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if r.flag():  # deltaNeutralContract present
        r.skip(3)
    req.algo_strategy = r.text()
    if req.algo_strategy:
        req.algo_params = r.tag_values()
    r.skip(1)  # algoId
    req.what_if = r.flag()
    return req


def parse_mkt_data(fields: Sequence[str]) -> MktDataRequest:
    """Parse reqMktData (msg 1, version 11)."""
    r = FieldReader(fields, start=2)
    req_id = r.integer()
    contract = r.contract()
    legs: list[ComboLegSpec] = []
    if contract.sec_type == "BAG":
        for _ in range(r.integer()):
            legs.append(ComboLegSpec(r.integer(), r.integer(), r.text(), r.text()))
    if r.flag():
        r.skip(3)
    return MktDataRequest(
        req_id=req_id,
        contract=contract,
        combo_legs=legs,
        generic_ticks=r.text(),
        snapshot=r.flag(),
        regulatory_snapshot=r.flag(),
    )


def parse_contract_details(fields: Sequence[str]) -> tuple[int, ContractSpec, bool]:
    """Parse reqContractDetails (msg 9, version 8): (reqId, contract, includeExpired)."""
    r = FieldReader(fields, start=2)
    req_id = r.integer()
    contract = r.contract()
    return req_id, contract, r.flag()


def parse_exec_filter(fields: Sequence[str]) -> ExecFilter:
    """Parse reqExecutions (msg 7, version 3)."""
    r = FieldReader(fields, start=2)
    return ExecFilter(
        req_id=r.integer(),
        client_id=r.integer(),
        account=r.text(),
        time=r.text(),
        symbol=r.text(),
        sec_type=r.text(),
        exchange=r.text(),
        side=r.text(),
    )


def parse_historical_data(fields: Sequence[str]) -> HistoricalRequest:
    """Parse reqHistoricalData (msg 20, no version field at 178)."""
    r = FieldReader(fields)
    req_id = r.integer()
    contract = r.contract()
    include_expired = r.flag()
    end, bar_size, duration = r.text(), r.text(), r.text()
    use_rth = r.flag()
    what_to_show = r.text()
    format_date = r.integer(1)
    if contract.sec_type == "BAG":
        r.skip(4 * r.integer())
    return HistoricalRequest(
        req_id=req_id,
        contract=contract,
        include_expired=include_expired,
        end=end,
        bar_size=bar_size,
        duration=duration,
        use_rth=use_rth,
        what_to_show=what_to_show,
        format_date=format_date,
        keep_up_to_date=r.flag(),
    )


#: Where the request id sits in request messages that carry one (index into fields).
REQ_ID_POSITION: dict[int, int] = {
    In.REQ_MKT_DATA: 2,
    In.CANCEL_MKT_DATA: 2,
    In.PLACE_ORDER: 1,
    In.CANCEL_ORDER: 2,
    In.REQ_EXECUTIONS: 2,
    In.REQ_CONTRACT_DETAILS: 2,
    In.REQ_ACCOUNT_SUMMARY: 2,
    In.REQ_ACCOUNT_UPDATES_MULTI: 2,
    In.REQ_SEC_DEF_OPT_PARAMS: 1,
    In.REQ_HISTORICAL_DATA: 1,
    In.CANCEL_HISTORICAL_DATA: 2,
}


def request_id(fields: Sequence[str]) -> int:
    """The request (or order) id of a client message, -1 if it has none."""
    try:
        position = REQ_ID_POSITION[int(fields[0])]
        return int(fields[position])
    except (KeyError, IndexError, ValueError):
        return -1
