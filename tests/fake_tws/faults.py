"""Fault controls of the fake TWS: how orders fill and cancel, which requests misbehave.

Everything here is plain data. Put it on the :class:`~.scenario.Scenario` before
the test starts, or change it while the test runs through the
:class:`~.server.FakeTWS` methods (or the runner's control channel, which takes
the same shapes as JSON; see ``to_dict``/``from_dict``).

Which order gets which :class:`FillPolicy`: the first matching
:class:`OrderRule` in ``Scenario.order_rules``, else the next policy queued in
``Scenario.order_policies`` (one per new order), else ``Scenario.fill_policy``.
A policy carries its :class:`CancelPolicy` (how a cancel request is answered).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

# --------------------------------------------------------------------- messages
# (code, text) pairs TWS sends; the fake uses the same texts.

NO_SECURITY = (200, "No security definition has been found for the request")
MAX_TICKERS = (101, "Max number of tickers has been reached")
ORDER_REJECTED = (201, "Order rejected - reason:{reason}")
ORDER_CANCELLED = (202, "Order Canceled - reason:")
CANCEL_NOT_FOUND = (10147, "OrderId {order_id} that needs to be cancelled is not found.")
CANNOT_MODIFY_FILLED = (104, "Cannot modify a filled order.")
HMDS_NO_DATA = (162, "Historical Market Data Service error message:HMDS query returned no data")
CLIENT_ID_IN_USE = (
    326,
    "Unable to connect as the client id is already in use. Retry with a unique client id.",
)
CONNECTIVITY_LOST = (1100, "Connectivity between IB and Trader Workstation has been lost.")
RESTORED_DATA_LOST = (
    1101,
    "Connectivity between IB and Trader Workstation has been restored - data lost.",
)
RESTORED_DATA_KEPT = (
    1102,
    "Connectivity between IB and Trader Workstation has been restored - data maintained.",
)
COMPETING_SESSION = (10197, "No market data during competing live session")


# ------------------------------------------------------------------ order fills


class FillMode(StrEnum):
    """How the fake exchange treats a new (or modified) order."""

    IMMEDIATE = "immediate"  # fill everything at the limit price
    CROSS = "cross"  # fill once the limit crosses ``price`` (BUY: lmt >= price)
    MARKETABLE = "marketable"  # fill once the limit crosses the current quote
    PARTIAL = "partial"  # fill ``quantity`` at the limit, then rest (never fill more)
    AFTER_MODIFICATIONS = "after_modifications"  # fill once modified ``modifications`` times
    REJECT = "reject"  # error ``code`` (201) with ``reason``
    NEVER = "never"  # rest forever (``status``)


class CancelMode(StrEnum):
    """How the fake answers a cancelOrder for a working order."""

    CONFIRM = "confirm"  # Cancelled + error 202 (after ``delay`` seconds)
    NEVER = "never"  # no answer; the order keeps working under its fill policy
    FILL_LATER = "fill_later"  # no answer; ``delay`` seconds later the order fills


@dataclass(frozen=True, slots=True)
class CancelPolicy:
    """Cancel behaviour of an order; build with the class methods."""

    mode: CancelMode = CancelMode.CONFIRM
    delay: float = 0.0
    quantity: float | None = None  # FILL_LATER: how much fills (None: all that remains)
    price: float | None = None  # FILL_LATER: at what price (None: the order's limit)

    @classmethod
    def confirm(cls, delay: float = 0.0) -> CancelPolicy:
        """Confirm (status Cancelled, error 202) after ``delay`` seconds; the order can
        still fill under its fill policy until then."""
        return cls(CancelMode.CONFIRM, delay=delay)

    @classmethod
    def never(cls) -> CancelPolicy:
        """Never answer: no status, no error; the order keeps working."""
        return cls(CancelMode.NEVER)

    @classmethod
    def fill_later(
        cls, delay: float, quantity: float | None = None, price: float | None = None
    ) -> CancelPolicy:
        """Never confirm; ``delay`` seconds later fill ``quantity`` (default: the rest),
        whether or not the client is connected. A rest left over is then cancelled."""
        return cls(CancelMode.FILL_LATER, delay=delay, quantity=quantity, price=price)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (see :meth:`from_dict`)."""
        return {
            "mode": str(self.mode),
            "delay": self.delay,
            "quantity": self.quantity,
            "price": self.price,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CancelPolicy:
        """Build from ``{"mode": "fill_later", "delay": 2.0, ...}`` (missing keys: defaults)."""
        return cls(
            CancelMode(data.get("mode", "confirm")),
            delay=float(data.get("delay", 0.0)),
            quantity=data.get("quantity"),
            price=data.get("price"),
        )


@dataclass(frozen=True, slots=True)
class FillPolicy:
    """Fill (and cancel) behaviour of one order; build with the class methods."""

    mode: FillMode
    price: float | None = None
    quantity: float = 0.0
    reason: str = ""
    status: str = "Submitted"
    modifications: int = 0
    code: int = 201
    cancel: CancelPolicy = field(default_factory=CancelPolicy)

    @classmethod
    def immediate(cls) -> FillPolicy:
        """Fill the whole order at its limit price as soon as it is placed."""
        return cls(FillMode.IMMEDIATE)

    @classmethod
    def when_crosses(cls, price: float) -> FillPolicy:
        """Fill at the limit once BUY limit >= ``price`` / SELL limit <= ``price``."""
        return cls(FillMode.CROSS, price=price)

    @classmethod
    def marketable(cls) -> FillPolicy:
        """Fill at the limit once BUY limit >= ask / SELL limit <= bid (combo quote for BAG)."""
        return cls(FillMode.MARKETABLE)

    @classmethod
    def partial(cls, quantity: float) -> FillPolicy:
        """Fill ``quantity`` (N of the order's M) at the limit, then rest without filling
        more (price modifications do not help; ``FakeTWS.fill_order`` does)."""
        return cls(FillMode.PARTIAL, quantity=quantity)

    @classmethod
    def after_modifications(cls, count: int, quantity: float = 0.0) -> FillPolicy:
        """Rest until the order has been modified ``count`` times (the ``count``-th price
        change of a walk), then fill at that limit: everything, or ``quantity`` only."""
        return cls(FillMode.AFTER_MODIFICATIONS, modifications=count, quantity=quantity)

    @classmethod
    def reject(cls, reason: str = "Insufficient margin", code: int = 201) -> FillPolicy:
        """Reject with error ``code``: 201 reads ``Order rejected - reason:<reason>``,
        any other code reads ``reason`` as is. The order ends Inactive at the gateway."""
        return cls(FillMode.REJECT, reason=reason, code=code)

    @classmethod
    def never(cls, status: str = "Submitted") -> FillPolicy:
        """Accept and rest forever with ``status`` (Submitted or PreSubmitted)."""
        return cls(FillMode.NEVER, status=status)

    def with_cancel(self, cancel: CancelPolicy) -> FillPolicy:
        """The same policy with another cancel behaviour."""
        return replace(self, cancel=cancel)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (see :meth:`from_dict`)."""
        return {
            "mode": str(self.mode),
            "price": self.price,
            "quantity": self.quantity,
            "reason": self.reason,
            "status": self.status,
            "modifications": self.modifications,
            "code": self.code,
            "cancel": self.cancel.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FillPolicy:
        """Build from ``{"mode": "partial", "quantity": 1, "cancel": {...}}``."""
        return cls(
            FillMode(data["mode"]),
            price=data.get("price"),
            quantity=float(data.get("quantity") or 0.0),
            reason=data.get("reason", ""),
            status=data.get("status", "Submitted"),
            modifications=int(data.get("modifications", 0)),
            code=int(data.get("code", 201)),
            cancel=CancelPolicy.from_dict(data.get("cancel") or {}),
        )


@dataclass(slots=True)
class OrderRule:
    """Give new orders that match a policy (checked before the ``order_policies`` queue).

    Every given criterion must hold: ``order_ref`` is a substring of the
    orderRef, ``sec_type`` the contract's (``"BAG"``, ``"OPT"``), ``client_id``
    the placing client's. ``times``: how many orders it applies to (None: all).
    """

    policy: FillPolicy
    order_ref: str = ""
    sec_type: str = ""
    client_id: int | None = None
    times: int | None = None

    def matches(self, order_ref: str, sec_type: str, client_id: int) -> bool:
        """Whether a new order with these attributes matches."""
        return (
            self.order_ref in order_ref
            and (not self.sec_type or self.sec_type == sec_type)
            and self.client_id in (None, client_id)
        )


# -------------------------------------------------------------- request faults


@dataclass(slots=True)
class ErrorRule:
    """Answer a client message id with an error (instead of, or besides, serving it).

    The error's reqId is the request/order id of the triggering message. With
    ``con_ids``, only requests whose contract (or a BAG leg) has one of those
    conIds trigger it (reqMktData, reqContractDetails, placeOrder,
    reqHistoricalData).
    """

    msg_id: int
    code: int
    message: str
    times: int | None = 1  # None: every time
    suppress_response: bool = True
    con_ids: frozenset[int] | None = None

    @classmethod
    def competing_session(
        cls, con_ids: frozenset[int] | None = None, times: int | None = None
    ) -> ErrorRule:
        """Error 10197 (no market data during a competing live session) on reqMktData."""
        code, message = COMPETING_SESSION
        return cls(1, code, message, times=times, con_ids=con_ids)  # 1 = REQ_MKT_DATA

    @classmethod
    def historical_data(cls, message: str = HMDS_NO_DATA[1], times: int | None = 1) -> ErrorRule:
        """Error 162 (historical data service error) on reqHistoricalData."""
        return cls(20, 162, message, times=times)  # 20 = REQ_HISTORICAL_DATA


@dataclass(slots=True)
class DropRule:
    """Close the client's socket when message ``msg_id`` arrives for the ``nth`` time.

    With ``handle_first`` the message is still processed (e.g. the order is placed
    and fills per policy) but nothing more reaches that client: the fills happen
    "while the client is away" and are only seen via reqExecutions on reconnect.
    ``outage``: refuse new connections for that many seconds after the drop.
    ``fill_after``: that many seconds after the drop, fill the order the message
    was about (placeOrder / cancelOrder) at its limit, whoever is connected.
    """

    msg_id: int
    nth: int = 1
    handle_first: bool = False
    outage: float = 0.0
    fill_after: float | None = None


@dataclass(slots=True)
class MuteRule:
    """Leave requests of ``msg_id`` unanswered, so the client's request times out.

    ``nth``: only the nth such message since the server started (None: the
    next ones). ``times``: how many messages it mutes (None: all from then on).
    ``handle``: still act on the request (a placeOrder is placed and may fill;
    later updates about it are sent as usual) but reply nothing to it.
    """

    msg_id: int
    nth: int | None = None
    times: int | None = 1
    handle: bool = True


class GreeksFault(StrEnum):
    """What the model-greeks ticks of a faulty option carry."""

    NAN = "nan"  # every greek is NaN
    UNSET = "unset"  # IB's "not computed" sentinels (-1 / -2): ib_async reads None
    MAX = "max"  # Double.MAX_VALUE in every field, as TWS sends for "no value"
    MISSING = "missing"  # no tickOptionComputation at all
