"""TWS API wire protocol for the fake TWS server: framing, request parsing, encoders.

The TWS socket protocol, after the handshake, is a stream of messages, each a
4-byte big-endian length followed by that many bytes of NUL-terminated text
fields. The first field is the message id.

Handshake: the client sends ``b"API\\0"`` then one length-prefixed
``"v{min}..{max}[ options]"``; the server answers with one length-prefixed
message of two fields, its server version and the connection time.

Every encoder here produces the exact field order that ib_async's
``Decoder`` (2.1.0) expects at :data:`SERVER_VERSION` (178); every parser
reads the exact field order that ib_async's ``Client`` sends at that version.
Only the layout for server version 178 is implemented.
"""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from zoneinfo import ZoneInfo

#: Server version the fake answers with: ib_async 2.1.0's ``Client.MaxClientVersion``
#: (MIN_SERVER_VER_PENDING_PRICE_REVISION), so the client uses the modern layouts.
SERVER_VERSION = 178

#: What the client sends first, before the length-prefixed version range.
HANDSHAKE_PREFIX = b"API\0"

#: IB's "unset" sentinels (Java ``Double.MAX_VALUE`` and ``Integer.MAX_VALUE``).
UNSET_DOUBLE = 1.7976931348623157e308
UNSET_INTEGER = 2**31 - 1

#: Time zone TWS stamps executions with (the fake uses New York time like a US login).
TWS_TIMEZONE = "US/Eastern"

_LENGTH = struct.Struct(">I")


class In(IntEnum):
    """Message ids the client sends (ibapi ``message.OUT``)."""

    REQ_MKT_DATA = 1
    CANCEL_MKT_DATA = 2
    PLACE_ORDER = 3
    CANCEL_ORDER = 4
    REQ_OPEN_ORDERS = 5
    REQ_ACCOUNT_UPDATES = 6
    REQ_EXECUTIONS = 7
    REQ_IDS = 8
    REQ_CONTRACT_DETAILS = 9
    REQ_AUTO_OPEN_ORDERS = 15
    REQ_ALL_OPEN_ORDERS = 16
    REQ_MANAGED_ACCTS = 17
    REQ_CURRENT_TIME = 49
    REQ_GLOBAL_CANCEL = 58
    REQ_MARKET_DATA_TYPE = 59
    REQ_POSITIONS = 61
    REQ_ACCOUNT_SUMMARY = 62
    CANCEL_ACCOUNT_SUMMARY = 63
    CANCEL_POSITIONS = 64
    START_API = 71
    REQ_ACCOUNT_UPDATES_MULTI = 76
    CANCEL_ACCOUNT_UPDATES_MULTI = 77
    REQ_SEC_DEF_OPT_PARAMS = 78
    REQ_COMPLETED_ORDERS = 99


class Out(IntEnum):
    """Message ids the server sends (ibapi ``message.IN``)."""

    TICK_PRICE = 1
    TICK_SIZE = 2
    ORDER_STATUS = 3
    ERR_MSG = 4
    OPEN_ORDER = 5
    ACCT_VALUE = 6
    PORTFOLIO_VALUE = 7
    ACCT_UPDATE_TIME = 8
    NEXT_VALID_ID = 9
    CONTRACT_DATA = 10
    EXECUTION_DATA = 11
    MANAGED_ACCTS = 15
    TICK_OPTION_COMPUTATION = 21
    CURRENT_TIME = 49
    CONTRACT_DATA_END = 52
    OPEN_ORDER_END = 53
    ACCT_DOWNLOAD_END = 54
    EXECUTION_DATA_END = 55
    TICK_SNAPSHOT_END = 57
    MARKET_DATA_TYPE = 58
    COMMISSION_REPORT = 59
    POSITION_DATA = 61
    POSITION_END = 62
    ACCOUNT_SUMMARY = 63
    ACCOUNT_SUMMARY_END = 64
    ACCOUNT_UPDATE_MULTI = 73
    ACCOUNT_UPDATE_MULTI_END = 74
    SECURITY_DEFINITION_OPTION_PARAMETER = 75
    SECURITY_DEFINITION_OPTION_PARAMETER_END = 76
    TICK_REQ_PARAMS = 81
    COMPLETED_ORDERS_END = 102


class TickType(IntEnum):
    """Tick types used by the fake (live ids; delayed ids are live + 65 / + 70)."""

    BID_SIZE = 0
    BID = 1
    ASK = 2
    ASK_SIZE = 3
    LAST = 4
    LAST_SIZE = 5
    CLOSE = 9
    BID_OPTION = 10
    ASK_OPTION = 11
    LAST_OPTION = 12
    MODEL_OPTION = 13
    DELAYED_BID = 66
    DELAYED_ASK = 67
    DELAYED_LAST = 68
    DELAYED_BID_SIZE = 69
    DELAYED_ASK_SIZE = 70
    DELAYED_LAST_SIZE = 71
    DELAYED_CLOSE = 75
    DELAYED_BID_OPTION = 80
    DELAYED_ASK_OPTION = 81
    DELAYED_LAST_OPTION = 82
    DELAYED_MODEL_OPTION = 83


# --------------------------------------------------------------------------- framing


def fmt(value: object) -> str:
    """Format one field the way TWS does: bools as 1/0, None as empty, floats plainly."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if value == UNSET_DOUBLE:
            return "1.7976931348623157E308"
        if math.isinf(value):
            return "Infinity"
        return repr(value)
    return str(value)


def frame(payload: bytes) -> bytes:
    """Prefix ``payload`` with its 4-byte big-endian length."""
    return _LENGTH.pack(len(payload)) + payload


def encode_fields(fields: Iterable[object]) -> bytes:
    """Encode fields as one framed message (each field NUL-terminated)."""
    return frame("".join(fmt(f) + "\0" for f in fields).encode())


def split_fields(payload: bytes) -> list[str]:
    """Split a message payload into its text fields (dropping the final terminator)."""
    fields = payload.decode(errors="backslashreplace").split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    return fields


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    """Read one length-prefixed frame; raises ``IncompleteReadError`` at EOF."""
    header = await reader.readexactly(_LENGTH.size)
    (length,) = _LENGTH.unpack(header)
    return await reader.readexactly(length)


def parse_version_range(text: str) -> tuple[int, int, str]:
    """Parse the client's ``"v157..178 +OPTS"`` into (min, max, options)."""
    if not text.startswith("v"):
        raise ValueError(f"bad version range {text!r}")
    spec, _, options = text[1:].partition(" ")
    low, sep, high = spec.partition("..")
    return int(low), int(high if sep else low), options


def server_hello(version: int, when: datetime) -> bytes:
    """The server's handshake answer: its version and the connection time."""
    stamp = when.astimezone(ZoneInfo(TWS_TIMEZONE)).strftime("%Y%m%d %H:%M:%S %Z")
    return encode_fields([version, stamp])


def tws_time(when: datetime) -> str:
    """Format a time as TWS does in execution reports: ``YYYYmmdd HH:MM:SS US/Eastern``."""
    return when.astimezone(ZoneInfo(TWS_TIMEZONE)).strftime("%Y%m%d %H:%M:%S ") + TWS_TIMEZONE


# ------------------------------------------------------------------- wire data types


@dataclass(slots=True)
class ContractSpec:
    """A contract: the 12 wire fields of ib_async's contract encoding, plus details.

    Used both for contracts parsed from client requests (details left at their
    defaults) and for the contracts the fake serves.
    """

    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    last_trade_date: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    primary_exchange: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""
    # contract-details fields (served contracts only)
    long_name: str = ""
    market_name: str = ""
    min_tick: float = 0.01
    order_types: str = "LMT,MKT,STP,STPLMT"
    valid_exchanges: str = ""
    under_con_id: int = 0
    under_symbol: str = ""
    under_sec_type: str = ""
    last_trade_time: str = ""
    time_zone_id: str = TWS_TIMEZONE
    trading_hours: str = ""
    liquid_hours: str = ""
    contract_month: str = ""
    market_rule_ids: str = ""

    def wire11(self) -> list[object]:
        """Contract fields as TWS sends them in openOrder/execDetails/position (11)."""
        return [
            self.con_id,
            self.symbol,
            self.sec_type,
            self.last_trade_date,
            self.strike,
            self.right,
            self.multiplier,
            self.exchange,
            self.currency,
            self.local_symbol,
            self.trading_class,
        ]

    def describe(self) -> str:
        """Short human-readable label for logs and error messages."""
        parts = [self.symbol, self.sec_type, self.last_trade_date]
        if self.strike:
            parts.append(f"{self.strike:g}{self.right}")
        if self.trading_class:
            parts.append(self.trading_class)
        return " ".join(p for p in parts if p) or f"conId {self.con_id}"


@dataclass(slots=True)
class ComboLegSpec:
    """One leg of a BAG contract as sent in placeOrder/reqMktData."""

    con_id: int
    ratio: int
    action: str
    exchange: str = ""
    open_close: int = 0
    short_sale_slot: int = 0
    designated_location: str = ""
    exempt_code: int = -1


@dataclass(slots=True)
class OrderRequest:
    """The fields of a placeOrder message that the fake acts upon (plus all raw fields)."""

    order_id: int
    contract: ContractSpec
    action: str
    total_quantity: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    tif: str = ""
    oca_group: str = ""
    account: str = ""
    open_close: str = ""
    origin: int = 0
    order_ref: str = ""
    transmit: bool = True
    parent_id: int = 0
    outside_rth: bool = False
    hidden: bool = False
    combo_legs: list[ComboLegSpec] = field(default_factory=list)
    order_combo_leg_prices: list[float | None] = field(default_factory=list)
    smart_combo_routing_params: list[tuple[str, str]] = field(default_factory=list)
    good_after_time: str = ""
    good_till_date: str = ""
    algo_strategy: str = ""
    algo_params: list[tuple[str, str]] = field(default_factory=list)
    what_if: bool = False
    raw: list[str] = field(default_factory=list)


@dataclass(slots=True)
class MktDataRequest:
    """A parsed reqMktData message."""

    req_id: int
    contract: ContractSpec
    combo_legs: list[ComboLegSpec]
    generic_ticks: str
    snapshot: bool
    regulatory_snapshot: bool


@dataclass(slots=True)
class ExecFilter:
    """A parsed reqExecutions filter (empty/zero fields match anything)."""

    req_id: int
    client_id: int = 0
    account: str = ""
    time: str = ""
    symbol: str = ""
    sec_type: str = ""
    exchange: str = ""
    side: str = ""


@dataclass(slots=True)
class ExecutionRecord:
    """One execution, as reported by execDetails and its commission report."""

    exec_id: str
    order_id: int
    client_id: int
    perm_id: int
    contract: ContractSpec
    time: datetime
    account: str
    exchange: str
    side: str  # "BOT" or "SLD"
    shares: float
    price: float
    cum_qty: float
    avg_price: float
    order_ref: str = ""
    commission: float | None = None  # None: no commission report (e.g. the BAG row)
    commission_currency: str = "USD"
    realized_pnl: float | None = None


# ------------------------------------------------------------------ request parsing


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
}


def request_id(fields: Sequence[str]) -> int:
    """The request (or order) id of a client message, -1 if it has none."""
    try:
        position = REQ_ID_POSITION[int(fields[0])]
        return int(fields[position])
    except (KeyError, IndexError, ValueError):
        return -1


# --------------------------------------------------------------------------- encoders
# Each returns the field list of one server message (frame it with encode_fields).


def managed_accounts(accounts: Sequence[str]) -> list[object]:
    """managedAccounts (15): version 1, comma-separated accounts."""
    return [Out.MANAGED_ACCTS, 1, ",".join(accounts)]


def next_valid_id(order_id: int) -> list[object]:
    """nextValidId (9): version 1, id."""
    return [Out.NEXT_VALID_ID, 1, order_id]


def error(req_id: int, code: int, message: str, advanced_reject_json: str = "") -> list[object]:
    """errMsg (4): version 2, reqId, code, message, advancedOrderRejectJson (>= 166)."""
    return [Out.ERR_MSG, 2, req_id, code, message, advanced_reject_json]


def current_time(epoch_seconds: int) -> list[object]:
    """currentTime (49): version 1, seconds since the epoch."""
    return [Out.CURRENT_TIME, 1, epoch_seconds]


def contract_details(req_id: int, c: ContractSpec) -> list[object]:
    """contractData (10) at >= 164: no version field; min/size increments at the end."""
    last_times = c.last_trade_date
    if c.last_trade_date and c.last_trade_time:
        last_times = f"{c.last_trade_date} {c.last_trade_time} {c.time_zone_id}"
    return [
        Out.CONTRACT_DATA,
        req_id,
        c.symbol,
        c.sec_type,
        last_times,
        c.strike,
        c.right,
        c.exchange,
        c.currency,
        c.local_symbol,
        c.market_name or c.trading_class,
        c.trading_class,
        c.con_id,
        c.min_tick,
        c.multiplier,
        c.order_types,
        c.valid_exchanges or c.exchange,
        1,  # priceMagnifier
        c.under_con_id,
        c.long_name,
        c.primary_exchange,
        c.contract_month,
        "",  # industry
        "",  # category
        "",  # subcategory
        c.time_zone_id,
        c.trading_hours,
        c.liquid_hours,
        "",  # evRule
        "",  # evMultiplier
        0,  # numSecIds
        1,  # aggGroup
        c.under_symbol,
        c.under_sec_type,
        c.market_rule_ids,
        c.last_trade_date if c.sec_type in ("OPT", "FUT", "FOP") else "",  # realExpirationDate
        "",  # stockType
        "1",  # minSize
        "1",  # sizeIncrement
        "1",  # suggestedSizeIncrement
    ]


def contract_details_end(req_id: int) -> list[object]:
    """contractDataEnd (52): version 1, reqId."""
    return [Out.CONTRACT_DATA_END, 1, req_id]


def sec_def_opt_params(
    req_id: int,
    exchange: str,
    underlying_con_id: int,
    trading_class: str,
    multiplier: str,
    expirations: Sequence[str],
    strikes: Sequence[float],
) -> list[object]:
    """securityDefinitionOptionParameter (75): no version field."""
    return [
        Out.SECURITY_DEFINITION_OPTION_PARAMETER,
        req_id,
        exchange,
        underlying_con_id,
        trading_class,
        multiplier,
        len(expirations),
        *expirations,
        len(strikes),
        *[float(s) for s in strikes],
    ]


def sec_def_opt_params_end(req_id: int) -> list[object]:
    """securityDefinitionOptionParameterEnd (76): reqId."""
    return [Out.SECURITY_DEFINITION_OPTION_PARAMETER_END, req_id]


def tick_price(
    req_id: int, tick_type: int, price: float, size: float, attrib_mask: int = 0
) -> list[object]:
    """tickPrice (1): version 6, reqId, tickType, price, size, attribute mask."""
    return [Out.TICK_PRICE, 6, req_id, tick_type, price, size, attrib_mask]


def tick_size(req_id: int, tick_type: int, size: float) -> list[object]:
    """tickSize (2): version 6, reqId, tickType, size."""
    return [Out.TICK_SIZE, 6, req_id, tick_type, size]


def tick_option_computation(
    req_id: int,
    tick_type: int,
    implied_vol: float,
    delta: float,
    opt_price: float,
    pv_dividend: float,
    gamma: float,
    vega: float,
    theta: float,
    und_price: float,
    tick_attrib: int = 1,
) -> list[object]:
    """tickOptionComputation (21) at >= 156: no version, tickAttrib (1 = price based)."""
    return [
        Out.TICK_OPTION_COMPUTATION,
        req_id,
        tick_type,
        tick_attrib,
        implied_vol,
        delta,
        opt_price,
        pv_dividend,
        gamma,
        vega,
        theta,
        und_price,
    ]


def tick_req_params(
    req_id: int, min_tick: float, bbo_exchange: str, snapshot_permissions: int
) -> list[object]:
    """tickReqParams (81): reqId, minTick, bboExchange, snapshotPermissions."""
    return [Out.TICK_REQ_PARAMS, req_id, min_tick, bbo_exchange, snapshot_permissions]


def market_data_type(req_id: int, data_type: int) -> list[object]:
    """marketDataType (58): version 1, reqId, type (1 live, 2 frozen, 3 delayed, 4 both)."""
    return [Out.MARKET_DATA_TYPE, 1, req_id, data_type]


def tick_snapshot_end(req_id: int) -> list[object]:
    """tickSnapshotEnd (57): version 1, reqId."""
    return [Out.TICK_SNAPSHOT_END, 1, req_id]


def order_status(
    order_id: int,
    status: str,
    filled: float,
    remaining: float,
    avg_fill_price: float,
    perm_id: int,
    parent_id: int,
    last_fill_price: float,
    client_id: int,
    why_held: str = "",
    mkt_cap_price: float = 0.0,
) -> list[object]:
    """orderStatus (3) at >= 131: no version field."""
    return [
        Out.ORDER_STATUS,
        order_id,
        status,
        filled,
        remaining,
        avg_fill_price,
        perm_id,
        parent_id,
        last_fill_price,
        client_id,
        why_held,
        mkt_cap_price,
    ]


@dataclass(slots=True)
class OrderStateSpec:
    """The order-state part of openOrder (status plus what-if margin figures)."""

    status: str
    init_margin_change: float | None = None
    maint_margin_change: float | None = None
    equity_with_loan_change: float | None = None
    commission: float | None = None
    warning_text: str = ""


def open_order(
    req: OrderRequest, client_id: int, perm_id: int, state: OrderStateSpec
) -> list[object]:
    """openOrder (5) at 178: no version; no faProfile (>= 177); >= 170 peg fields."""
    c = req.contract

    def margin(value: float | None) -> object:
        return UNSET_DOUBLE if value is None else value

    fields: list[object] = [
        Out.OPEN_ORDER,
        req.order_id,
        *c.wire11(),
        req.action,
        req.total_quantity,
        req.order_type,
        req.lmt_price if req.lmt_price is not None else UNSET_DOUBLE,
        req.aux_price if req.aux_price is not None else UNSET_DOUBLE,
        req.tif,
        req.oca_group,
        req.account,
        req.open_close,
        req.origin,
        req.order_ref,
        client_id,
        perm_id,
        req.outside_rth,
        req.hidden,
        0.0,  # discretionaryAmt
        req.good_after_time,
        "",  # deprecated sharesAllocation
        "",  # faGroup
        "",  # faMethod
        "",  # faPercentage
        "",  # modelCode
        req.good_till_date,
        "",  # rule80A
        "",  # percentOffset
        "",  # settlingFirm
        0,  # shortSaleSlot
        "",  # designatedLocation
        -1,  # exemptCode
        0,  # auctionStrategy
        "",  # startingPrice
        "",  # stockRefPrice
        "",  # delta
        "",  # stockRangeLower
        "",  # stockRangeUpper
        "",  # displaySize
        False,  # blockOrder
        False,  # sweepToFill
        False,  # allOrNone
        "",  # minQty
        3,  # ocaType
        False,  # eTradeOnly
        False,  # firmQuoteOnly
        "",  # nbboPriceCap
        req.parent_id,
        0,  # triggerMethod
        "",  # volatility
        0,  # volatilityType
        "",  # deltaNeutralOrderType (empty: no delta-neutral block)
        "",  # deltaNeutralAuxPrice
        False,  # continuousUpdate
        0,  # referencePriceType
        "",  # trailStopPrice
        "",  # trailingPercent
        "",  # basisPoints
        "",  # basisPointsType
        combo_legs_descrip(req.combo_legs),
        len(req.combo_legs),
    ]
    for leg in req.combo_legs:
        fields += [
            leg.con_id,
            leg.ratio,
            leg.action,
            leg.exchange,
            leg.open_close,
            leg.short_sale_slot,
            leg.designated_location,
            leg.exempt_code,
        ]
    fields.append(len(req.order_combo_leg_prices))
    fields += [UNSET_DOUBLE if p is None else p for p in req.order_combo_leg_prices]
    fields.append(len(req.smart_combo_routing_params))
    for tag, value in req.smart_combo_routing_params:
        fields += [tag, value]
    fields += [
        "",  # scaleInitLevelSize
        "",  # scaleSubsLevelSize
        "",  # scalePriceIncrement (unset: no scale block)
        "",  # hedgeType (empty: no hedgeParam)
        False,  # optOutSmartRouting
        "",  # clearingAccount
        "",  # clearingIntent
        False,  # notHeld
        False,  # deltaNeutralContract present
        req.algo_strategy,
    ]
    if req.algo_strategy:
        fields.append(len(req.algo_params))
        for tag, value in req.algo_params:
            fields += [tag, value]
    fields += [
        False,  # solicited
        req.what_if,
        state.status,
        UNSET_DOUBLE,  # initMarginBefore
        UNSET_DOUBLE,  # maintMarginBefore
        UNSET_DOUBLE,  # equityWithLoanBefore
        margin(state.init_margin_change),
        margin(state.maint_margin_change),
        margin(state.equity_with_loan_change),
        UNSET_DOUBLE,  # initMarginAfter
        UNSET_DOUBLE,  # maintMarginAfter
        UNSET_DOUBLE,  # equityWithLoanAfter
        margin(state.commission),
        UNSET_DOUBLE,  # minCommission
        UNSET_DOUBLE,  # maxCommission
        "USD",  # commissionCurrency
        state.warning_text,
        False,  # randomizeSize
        False,  # randomizePrice
        0,  # numConditions
        "",  # adjustedOrderType
        "",  # triggerPrice
        "",  # trailStopPrice
        "",  # lmtPriceOffset
        "",  # adjustedStopPrice
        "",  # adjustedStopLimitPrice
        "",  # adjustedTrailingAmount
        0,  # adjustableTrailingUnit
        "",  # softDollarTier name
        "",  # softDollarTier value
        "",  # softDollarTier displayName
        "",  # cashQty
        False,  # dontUseAutoPriceForHedge
        False,  # isOmsContainer
        False,  # discretionaryUpToLimitPrice
        False,  # usePriceMgmtAlgo
        "",  # duration (>= 159)
        "",  # postToAts (>= 160)
        False,  # autoCancelParent (>= 162)
        "",  # minTradeQty (>= 170)
        "",  # minCompeteSize
        "",  # competeAgainstBestOffset
        "",  # midOffsetAtWhole
        "",  # midOffsetAtHalf
    ]
    return fields


def combo_legs_descrip(legs: Sequence[ComboLegSpec]) -> str:
    """TWS's ``comboLegsDescrip``: ``conId|ratio,conId|ratio`` (negative ratio = SELL)."""
    parts = [f"{leg.con_id}|{leg.ratio if leg.action == 'BUY' else -leg.ratio}" for leg in legs]
    return ",".join(parts)


def open_order_end() -> list[object]:
    """openOrderEnd (53): version 1."""
    return [Out.OPEN_ORDER_END, 1]


def exec_details(req_id: int, e: ExecutionRecord) -> list[object]:
    """execDetails (11) at 178: no version field, pendingPriceRevision at the end."""
    return [
        Out.EXECUTION_DATA,
        req_id,
        e.order_id,
        *e.contract.wire11(),
        e.exec_id,
        tws_time(e.time),
        e.account,
        e.exchange,
        e.side,
        e.shares,
        e.price,
        e.perm_id,
        e.client_id,
        0,  # liquidation
        e.cum_qty,
        e.avg_price,
        e.order_ref,
        "",  # evRule
        "",  # evMultiplier
        "",  # modelCode
        1,  # lastLiquidity (1 = added liquidity)
        False,  # pendingPriceRevision
    ]


def exec_details_end(req_id: int) -> list[object]:
    """execDetailsEnd (55): version 1, reqId."""
    return [Out.EXECUTION_DATA_END, 1, req_id]


def commission_report(e: ExecutionRecord) -> list[object]:
    """commissionReport (59): version 1, execId, commission, currency, PnL, yield, date."""
    return [
        Out.COMMISSION_REPORT,
        1,
        e.exec_id,
        e.commission if e.commission is not None else 0.0,
        e.commission_currency,
        UNSET_DOUBLE if e.realized_pnl is None else e.realized_pnl,
        UNSET_DOUBLE,  # yield
        "",  # yieldRedemptionDate
    ]


def position(account: str, c: ContractSpec, quantity: float, avg_cost: float) -> list[object]:
    """position (61): version 3, account, contract (11), position, avgCost."""
    return [Out.POSITION_DATA, 3, account, *c.wire11(), quantity, avg_cost]


def position_end() -> list[object]:
    """positionEnd (62): version 1."""
    return [Out.POSITION_END, 1]


def account_value(key: str, value: str, currency: str, account: str) -> list[object]:
    """updateAccountValue (6): version 2, key, value, currency, account."""
    return [Out.ACCT_VALUE, 2, key, value, currency, account]


def portfolio_value(
    c: ContractSpec,
    quantity: float,
    market_price: float,
    market_value: float,
    avg_cost: float,
    unrealized_pnl: float,
    realized_pnl: float,
    account: str,
) -> list[object]:
    """updatePortfolio (7): version 8, contract with primaryExchange instead of exchange."""
    return [
        Out.PORTFOLIO_VALUE,
        8,
        c.con_id,
        c.symbol,
        c.sec_type,
        c.last_trade_date,
        c.strike,
        c.right,
        c.multiplier,
        c.primary_exchange,
        c.currency,
        c.local_symbol,
        c.trading_class,
        quantity,
        market_price,
        market_value,
        avg_cost,
        unrealized_pnl,
        realized_pnl,
        account,
    ]


def account_update_time(hhmm: str) -> list[object]:
    """updateAccountTime (8): version 1, "HH:MM"."""
    return [Out.ACCT_UPDATE_TIME, 1, hhmm]


def account_download_end(account: str) -> list[object]:
    """accountDownloadEnd (54): version 1, account."""
    return [Out.ACCT_DOWNLOAD_END, 1, account]


def account_update_multi(
    req_id: int, account: str, model_code: str, key: str, value: str, currency: str
) -> list[object]:
    """accountUpdateMulti (73): version 1, reqId, account, modelCode, key, value, currency."""
    return [Out.ACCOUNT_UPDATE_MULTI, 1, req_id, account, model_code, key, value, currency]


def account_update_multi_end(req_id: int) -> list[object]:
    """accountUpdateMultiEnd (74): version 1, reqId."""
    return [Out.ACCOUNT_UPDATE_MULTI_END, 1, req_id]


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> list[object]:
    """accountSummary (63): version 1, reqId, account, tag, value, currency."""
    return [Out.ACCOUNT_SUMMARY, 1, req_id, account, tag, value, currency]


def account_summary_end(req_id: int) -> list[object]:
    """accountSummaryEnd (64): version 1, reqId."""
    return [Out.ACCOUNT_SUMMARY_END, 1, req_id]


def completed_orders_end() -> list[object]:
    """completedOrdersEnd (102): no further fields."""
    return [Out.COMPLETED_ORDERS_END]
