"""The simulated broker used by replay: quotes from the option models, fills at mid plus slippage.

It implements :class:`daemon.brokers.base.Broker` over real daily history:
the market a decision sees is the close of the session the clock is in (a
daily-bar replay), so the shipped schedule places every job in the last
half hour of the session. Fills, commissions and cash settlement follow
:class:`~daemon.brokers.fill_model.SimulationCosts` through
:func:`~daemon.brokers.fill_model.simulate_fill` (the model ``alvh run
--dry-run`` shares), and the settlement rules below.

Interest: with a ``cash_rate`` the cash balance earns it,
credited by :meth:`SimulatedBroker.accrue_interest` at the first job of each
session (:mod:`daemon.brokers.interest`).

Settlement (cash, at expiry):

* SPXW (PM-settled): the SPX close of the expiry session, at that session's
  close (16:00 ET, 13:00 ET on early closes).
* SPX (AM-settled standard monthlies, :mod:`daemon.brokers.monthly`): the
  SOQ of the expiry morning, for which the bundle has no series; the proxy
  is the SPX *open* of the expiry session, at 09:30 ET.
* VIX options: the special opening quotation (SOQ) of expiry morning, for
  which the bundled data has no series; the proxy is the VIX *open* of the
  expiry session (the previous close when the open is missing), at 09:30 ET.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Protocol

import numpy as np

from daemon.brokers.base import (
    AccountSnapshot,
    BrokerError,
    BrokerOrder,
    ComboOrder,
    Fill,
    FillListener,
    MarginImpact,
    NotListedError,
    OrderResult,
    OrderStatus,
    Position,
    Settlement,
    SettlementListener,
    closest_expiry,
)
from daemon.brokers.fill_model import SimulationCosts, simulate_fill
from daemon.brokers.interest import CashRate, InterestCredit, accrued_interest
from daemon.brokers.listings import not_listed_reason, spxw_expiries, vix_listed
from daemon.brokers.monthly import spx_monthly_expiries
from daemon.clock import NEW_YORK
from strategies.domain import (
    ChainSlice,
    LegQuote,
    MarketContext,
    OptionContract,
    Right,
)
from strategies.margin import margin_impact, margin_requirement
from strategies.pricing.market_model import MarketModel

SPX_SETTLEMENT_TIME = time(16, 0)
VIX_SETTLEMENT_TIME = time(9, 30)
#: AM-settled SPX monthlies settle to the SOQ: the open is its proxy.
SPX_AM_SETTLEMENT_TIME = time(9, 30)


class History(Protocol):
    """What the simulated broker needs from the market-data bundle."""

    def index_of(self, session: date) -> int: ...

    def context(self, index: int) -> MarketContext: ...

    def spx_settlement(self, session: date) -> float: ...

    def spx_am_settlement(self, session: date) -> float: ...

    def vix_settlement(self, session: date) -> float: ...

    def vix_expiries(self, session: date, min_dte: int, max_dte: int) -> list[date]: ...


@dataclass(slots=True)
class _Holding:
    quantity: int
    avg_cost: float


class SimulatedBroker:
    """Replay broker over :class:`History`, priced by a :class:`MarketModel`.

    The clock decides the session: every call looks at the session containing
    ``clock()`` in New York time. ``expiry_targets`` (trading class -> target
    DTE) limits :meth:`option_chain` to the expiry closest to the target, as
    the IB adapter's setting of the same name does.
    """

    name = "simulated"

    def __init__(
        self,
        history: History,
        model: MarketModel,
        clock: Callable[[], datetime],
        is_session: Callable[[date], bool],
        costs: SimulationCosts,
        starting_cash: float,
        account_id: str = "SIM",
        session_close: Callable[[date], datetime] | None = None,
        expiry_targets: Mapping[str, int] | None = None,
        cash_rate: CashRate | None = None,
    ) -> None:
        self._history = history
        self._model = model
        self._clock = clock
        self._is_session = is_session
        self._costs = costs
        self._cash = starting_cash
        self._account_id = account_id
        self._session_close = session_close
        self._expiry_targets = dict(expiry_targets or {})
        self._holdings: dict[OptionContract, _Holding] = {}
        self._fill_listeners: list[FillListener] = []
        self._settlement_listeners: list[SettlementListener] = []
        self._exec_ids = itertools.count(1)
        #: Execution ids are ``<prefix><n>``; replay sets ``sim-r<run>-`` so two runs
        #: into one journal never share an id (the journal keeps fills exactly once by id).
        self.exec_id_prefix = "sim-"
        self._seen_refs: set[str] = set()
        self._ctx_cache: tuple[date, MarketContext] | None = None
        # One daily close per session: quotes cannot change within it, so cache them.
        self._quote_cache: dict[OptionContract, LegQuote] = {}
        #: Bumped by every fill and settlement (see :meth:`account`).
        self._book_version = 0
        self._account_cache: tuple[tuple[date, int], AccountSnapshot] | None = None
        #: Annual rate cash earns (None: none); see :meth:`accrue_interest`.
        self._cash_rate = cash_rate
        self._interest_through: date | None = None

    # -- connection -------------------------------------------------------
    async def connect(self) -> None:
        return None

    async def disconnect(self) -> None:
        return None

    def add_fill_listener(self, listener: FillListener) -> None:
        self._fill_listeners.append(listener)

    def add_settlement_listener(self, listener: SettlementListener) -> None:
        self._settlement_listeners.append(listener)

    # -- market data ------------------------------------------------------
    def _session(self) -> date:
        return self._clock().astimezone(NEW_YORK).date()

    def _context(self) -> MarketContext:
        session = self._session()
        if self._ctx_cache is None or self._ctx_cache[0] != session:
            try:
                index = self._history.index_of(session)
            except (KeyError, ValueError) as exc:
                raise BrokerError(f"no market data for session {session}") from exc
            self._ctx_cache = (session, self._history.context(index))
            self._quote_cache = {}
        return self._ctx_cache[1]

    async def market_context(self) -> MarketContext:
        return self._context()

    async def option_chain(
        self,
        symbol: str,
        trading_class: str,
        min_dte: int,
        max_dte: int,
        rights: Sequence[Right] = (Right.PUT, Right.CALL),
    ) -> list[ChainSlice]:
        ctx = self._context()
        unlisted = not_listed_reason(symbol, trading_class, ctx.session, min_dte, max_dte)
        if unlisted is not None:
            raise NotListedError(unlisted)
        if symbol == "SPX" and trading_class == "SPXW":
            expiries = spxw_expiries(ctx.session, min_dte, max_dte, self._is_session)
        elif symbol == "SPX" and trading_class == "SPX":
            expiries = spx_monthly_expiries(ctx.session, min_dte, max_dte, self._is_session)
        elif symbol == "VIX" and trading_class == "VIX":
            expiries = vix_listed(
                ctx.session, self._history.vix_expiries(ctx.session, min_dte, max_dte)
            )
        else:
            raise BrokerError(f"simulated broker lists no {symbol} {trading_class} options")
        target = self._expiry_targets.get(trading_class)
        if target is not None:
            # Like the IB adapter: quote only the expiry the entry rule would pick.
            expiries = closest_expiry(expiries, ctx.session, target)
        return [
            self._model.slice(ctx, symbol, trading_class, expiry, right, strikes=None)
            for expiry in expiries
            for right in rights
        ]

    async def quote(self, contracts: Sequence[OptionContract]) -> list[LegQuote]:
        """Model quotes; a contract not held must be listed that session.

        Raises:
            BrokerError: a contract not held whose strike the listing model
                (:meth:`MarketModel.listed_strikes`) does not list on the
                session, as IB refuses a contract that does not exist.
        """
        self._check_listed([c for c in contracts if c not in self._holdings])
        return self._quotes(contracts)

    def _check_listed(self, contracts: Sequence[OptionContract]) -> None:
        if not contracts:
            return
        ctx = self._context()
        listed: dict[tuple[str, str, date], np.ndarray] = {}
        for c in contracts:
            key = (c.symbol, c.trading_class, c.expiry)
            if key not in listed:
                if c.expiry < ctx.session:
                    continue  # _quotes reports the expired contract
                listed[key] = self._model.listed_strikes(ctx, *key)
            if not np.any(np.abs(listed[key] - c.strike) < 1e-6):
                raise BrokerError(f"{c.local_symbol} is not listed on {ctx.session.isoformat()}")

    def _quotes(self, contracts: Sequence[OptionContract]) -> list[LegQuote]:
        """Model quotes, one model slice per (class, expiry, right) group."""
        ctx = self._context()
        cache = self._quote_cache
        quotes: list[LegQuote | None] = [cache.get(c) for c in contracts]
        groups: dict[tuple[str, str, date, Right], list[int]] = {}
        for i, contract in enumerate(contracts):
            if quotes[i] is not None:
                continue
            if contract.expiry < ctx.session:
                raise BrokerError(f"{contract.local_symbol} expired before {ctx.session}")
            key = (contract.symbol, contract.trading_class, contract.expiry, contract.right)
            groups.setdefault(key, []).append(i)
        for (symbol, trading_class, expiry, right), members in groups.items():
            strikes = np.array([contracts[i].strike for i in members])
            sl = self._model.slice(ctx, symbol, trading_class, expiry, right, strikes=strikes)
            positions = np.searchsorted(sl.strikes, strikes).tolist()
            # tolist(): the same Python floats as float(array[j]), one conversion per array
            bid, ask, iv = sl.bid.tolist(), sl.ask.tolist(), sl.iv.tolist()
            delta, gamma, vega, theta = (
                sl.delta.tolist(),
                sl.gamma.tolist(),
                sl.vega.tolist(),
                sl.theta.tolist(),
            )
            for i, j in zip(members, positions, strict=True):
                quote = LegQuote(
                    contracts[i], bid[j], ask[j], iv[j], delta[j], gamma[j], vega[j], theta[j]
                )
                quotes[i] = cache[contracts[i]] = quote
        return [q for q in quotes if q is not None]

    # -- account ----------------------------------------------------------
    async def account(self) -> AccountSnapshot:
        # Cash, holdings and (within a session) quotes change only through fills,
        # settlements and the session: reuse the snapshot until one of them moves.
        key = (self._session(), self._book_version)
        if self._account_cache is not None and self._account_cache[0] == key:
            return self._account_cache[1]
        snapshot = self._account()
        self._account_cache = (key, snapshot)
        return snapshot

    def _account(self) -> AccountSnapshot:
        value = 0.0
        if self._holdings:
            contracts = list(self._holdings)
            for contract, quote in zip(contracts, self._quotes(contracts), strict=True):
                value += self._holdings[contract].quantity * quote.mid * contract.multiplier
        margin = margin_requirement(self._held())
        return AccountSnapshot(self._account_id, self._cash, self._cash + value, margin)

    def _held(self) -> dict[OptionContract, int]:
        return {c: h.quantity for c, h in self._holdings.items()}

    async def what_if(self, order: ComboOrder) -> MarginImpact | None:
        """The Reg-T model's margin for ``order`` filled at its limit (:mod:`strategies.margin`).

        Equity with loan is the cash balance (US options have no loan value);
        commissions as :class:`SimulationCosts` charges them.
        """
        commission = sum(
            abs(leg.ratio) * order.quantity * self._costs.per_contract(leg.contract)
            for leg in order.legs
        )
        return margin_impact(
            self._held(), self._cash, order.legs, order.quantity, order.limit_price, commission
        )

    async def positions(self) -> list[Position]:
        return [Position(c, h.quantity, h.avg_cost) for c, h in self._holdings.items()]

    # -- orders -----------------------------------------------------------
    async def place_order(self, order: ComboOrder) -> OrderResult:
        if order.order_ref in self._seen_refs:
            return OrderResult(
                order.order_ref, OrderStatus.REJECTED, 0, None, (), "duplicate order_ref"
            )
        self._seen_refs.add(order.order_ref)
        if order.quantity <= 0 or not order.legs:  # simulate_fill rejects it, unquoted
            return simulate_fill(order, (), self._costs, self._next_exec_id, self._clock())
        quotes = self._quotes([leg.contract for leg in order.legs])
        result = simulate_fill(order, quotes, self._costs, self._next_exec_id, self._clock())
        for fill in result.fills:
            self._apply_fill(fill)
        for fill in result.fills:
            for listener in self._fill_listeners:
                listener(fill)
        return result

    def _next_exec_id(self) -> str:
        return f"{self.exec_id_prefix}{next(self._exec_ids)}"

    def _apply_fill(self, fill: Fill) -> None:
        self._book_version += 1
        contract = fill.contract
        self._cash -= fill.quantity * fill.price * contract.multiplier + fill.commission
        holding = self._holdings.get(contract)
        if holding is None:
            self._holdings[contract] = _Holding(fill.quantity, fill.price)
            return
        new_qty = holding.quantity + fill.quantity
        if new_qty == 0:
            del self._holdings[contract]
        elif (holding.quantity > 0) == (fill.quantity > 0):
            total = holding.quantity + fill.quantity
            holding.avg_cost = (
                holding.avg_cost * holding.quantity + fill.price * fill.quantity
            ) / total
            holding.quantity = new_qty
        else:
            if (new_qty > 0) != (holding.quantity > 0):
                # The fill went through zero: what remains was opened at this fill's price.
                holding.avg_cost = fill.price
            holding.quantity = new_qty

    async def open_orders(self) -> list[BrokerOrder]:
        """None: a simulated order ends inside :meth:`place_order`."""
        return []

    async def resync_executions(self) -> None:
        """Nothing to resync: every simulated fill is delivered as it happens."""

    async def cancel_order(self, order_ref: str) -> OrderStatus:
        """Nothing is ever left working, so there is nothing to cancel."""
        return OrderStatus.CANCELLED

    async def settlement_price(self, contract: OptionContract) -> float | None:
        """The expiry session's SPX close (SPXW), SPX open (SPX monthlies) or VIX open."""
        if contract.expiry > self._session():
            return None
        return self._settlement_value(contract)

    def _settlement_value(self, contract: OptionContract) -> float:
        if contract.symbol == "VIX":
            return self._history.vix_settlement(contract.expiry)
        if contract.trading_class == "SPX":
            return self._history.spx_am_settlement(contract.expiry)
        return self._history.spx_settlement(contract.expiry)

    def _settlement_time(self, contract: OptionContract) -> time:
        if contract.symbol == "VIX":
            return VIX_SETTLEMENT_TIME
        if contract.trading_class == "SPX":
            return SPX_AM_SETTLEMENT_TIME
        return self._pm_settlement_time(contract)

    # -- interest ---------------------------------------------------------
    def accrue_interest(self) -> InterestCredit | None:
        """Credit the cash balance's interest since the previous session (:mod:`.interest`).

        Call once before the first job of every session (replay does). The
        first call only starts the clock; later calls credit
        ``balance * rate(previous session) * calendar days / 365`` and return
        it for the journal, ``None`` when nothing accrued (no rate, same session).
        """
        session = self._session()
        since, self._interest_through = self._interest_through, session
        if self._cash_rate is None or since is None or session <= since:
            return None
        days = (session - since).days
        rate = self._cash_rate(since)
        amount = accrued_interest(self._cash, rate, days)
        self._cash += amount
        self._book_version += 1
        return InterestCredit(
            session, self._clock(), since, days, self._cash - amount, rate, amount
        )

    # -- settlement -------------------------------------------------------
    def _pm_settlement_time(self, contract: OptionContract) -> time:
        """The close of the expiry session (13:00 ET on early closes), else 16:00 ET."""
        if self._session_close is None:
            return SPX_SETTLEMENT_TIME
        return self._session_close(contract.expiry).astimezone(NEW_YORK).time()

    def process_settlements(self) -> list[Settlement]:
        """Cash-settle every held option whose settlement time has passed.

        Returns the settlements made (also sent to the settlement listeners).
        """
        now = self._clock().astimezone(NEW_YORK)
        today = now.date()
        done: list[Settlement] = []
        # Runs before every replay job: sort only what has expired, in the same order.
        due = [c for c in self._holdings if c.expiry <= today]
        for contract in sorted(due, key=lambda c: (c.expiry, c.local_symbol)):
            settle_time = self._settlement_time(contract)
            if contract.expiry == today and now.time() < settle_time:
                continue
            value = self._settlement_value(contract)
            holding = self._holdings.pop(contract)
            self._book_version += 1
            cash = holding.quantity * contract.intrinsic(value) * contract.multiplier
            self._cash += cash
            when = datetime.combine(contract.expiry, settle_time, NEW_YORK)
            done.append(Settlement(contract, holding.quantity, value, cash, when))
        for settlement in done:
            for listener in self._settlement_listeners:
                listener(settlement)
        return done
