"""TWS API wire layer of the fake TWS: framing, message ids and the data it carries.

The TWS socket protocol, after the handshake, is a stream of messages, each a
4-byte big-endian length followed by that many bytes of NUL-terminated text
fields. The first field is the message id.

Handshake: the client sends ``b"API\\0"`` then one length-prefixed
``"v{min}..{max}[ options]"``; the server answers with one length-prefixed
message of two fields, its server version and the connection time.

Only the layout for server version 178 is implemented (see :mod:`.parsing`
for requests and :mod:`.encoders` for what the server sends).
"""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from zoneinfo import ZoneInfo

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
    REQ_HISTORICAL_DATA = 20
    CANCEL_HISTORICAL_DATA = 25
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
    HISTORICAL_DATA = 17
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
class HistoricalRequest:
    """A parsed reqHistoricalData message."""

    req_id: int
    contract: ContractSpec
    include_expired: bool
    end: str  # "" = now, else "yyyymmdd hh:mm:ss[ tz]" or "yyyymmdd-hh:mm:ss" (UTC)
    bar_size: str  # e.g. "1 day"
    duration: str  # e.g. "30 D", "2 W", "1 M", "1 Y"
    use_rth: bool
    what_to_show: str
    format_date: int
    keep_up_to_date: bool


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


@dataclass(slots=True)
class OrderStateSpec:
    """The order-state part of openOrder (status plus what-if margin figures)."""

    status: str
    init_margin_change: float | None = None
    maint_margin_change: float | None = None
    equity_with_loan_change: float | None = None
    init_margin_before: float | None = None
    maint_margin_before: float | None = None
    equity_with_loan_before: float | None = None
    init_margin_after: float | None = None
    maint_margin_after: float | None = None
    equity_with_loan_after: float | None = None
    commission: float | None = None
    warning_text: str = ""
