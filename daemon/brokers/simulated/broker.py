"""The replay broker :class:`SimulatedBroker` (overview: :mod:`daemon.brokers.simulated`).

The broker keeps the visible context of the clock's (session, phase), the
quote caches of that session's phases (:mod:`.quotes`), the path states of
the last session asked (:mod:`.session_path`) and the book (:mod:`.book`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta

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
from daemon.brokers.simulated.book import (
    SPX_SETTLEMENT_TIME,
    Holding,
    apply_fill,
    settlement_time,
    settlement_value,
)
from daemon.brokers.simulated.history import History
from daemon.brokers.simulated.quotes import (
    Chains,
    PricingState,
    QuoteCache,
    chain_quote,
    price_states,
)
from daemon.brokers.simulated.session_path import DayStates, day_states, resting_result
from daemon.clock import NEW_YORK
from daemon.marketdata.visibility import Phase, phase_at
from strategies.domain import ChainSlice, LegQuote, MarketContext, OptionContract, Right
from strategies.exit_path import MarketState, SessionPath
from strategies.margin import margin_impact, margin_requirement
from strategies.pricing.market_model import MarketModel


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
        self._holdings: dict[OptionContract, Holding] = {}
        self._fill_listeners: list[FillListener] = []
        self._settlement_listeners: list[SettlementListener] = []
        self._exec_ids = itertools.count(1)
        #: Execution ids are ``<prefix><n>``; replay sets ``sim-r<run>-`` so two runs
        #: into one journal never share an id (the journal keeps fills exactly once by id).
        self.exec_id_prefix = "sim-"
        self._seen_refs: set[str] = set()
        self._ctx_cache: tuple[tuple[date, Phase], MarketContext] | None = None
        self._seen_session: tuple[datetime, date] | None = None
        # the chains handed out in the current (session, phase), by class, expiry and
        # right, with their strike index once asked (see _quotes)
        self._chains: Chains = {}
        self._seen_phase: tuple[datetime, Phase] | None = None
        # the listed strikes of the current (session, phase), by class and expiry
        self._listed: dict[tuple[str, str, date], np.ndarray] = {}
        # One visible state per (session, phase): quotes cannot change within it, so cache them.
        self._quote_cache: QuoteCache = {}
        # the quote caches of the current session's phases: the path of a session
        # (marked at its open and close) reuses what its jobs already priced
        self._phase_caches: dict[tuple[date, Phase], QuoteCache] = {}
        #: Bumped by every fill and settlement (see :meth:`account`).
        self._book_version = 0
        #: Annual rate cash earns (None: none); see :meth:`accrue_interest`.
        self._cash_rate = cash_rate
        self._interest_through: date | None = None
        self._account_cache: tuple[tuple[date, Phase, int], AccountSnapshot] | None = None
        # the states of the last path handed out (what a resting order may fill against)
        self._path_states: list[QuoteCache] = []
        # the path states of the last session asked, with the extremes' quotes (_day_states)
        self._days: tuple[date, DayStates | None] | None = None
        # (session, book version) whose held contracts _states_ahead last priced
        self._ahead_for: tuple[date, int] | None = None

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
        now = self._clock()
        seen = self._seen_session
        if seen is not None and seen[0] is now:
            return seen[1]
        session = now.astimezone(NEW_YORK).date()
        self._seen_session = (now, session)
        return session

    def _phase(self) -> Phase:
        # session and phase are remembered while the clock hands out the same instant
        # (the replay's virtual clock does until it moves: many calls per job)
        now = self._clock()
        seen = self._seen_phase
        if seen is not None and seen[0] is now:
            return seen[1]
        close = self._session_close(self._session()) if self._session_close is not None else None
        phase = phase_at(now, close)
        self._seen_phase = (now, phase)
        return phase

    def _context(self) -> MarketContext:
        key = (self._session(), self._phase())
        if self._ctx_cache is None or self._ctx_cache[0] != key:
            try:
                index = self._history.index_of(key[0])
            except (KeyError, ValueError) as exc:
                raise BrokerError(f"no market data for session {key[0]}") from exc
            self._ctx_cache = (key, self._history.visible_context(index, key[1]))
            self._phase_caches = {k: v for k, v in self._phase_caches.items() if k[0] == key[0]}
            self._quote_cache = self._phase_caches.setdefault(key, {})
            self._chains = {}
            self._listed = {}
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
        slices: list[ChainSlice] = []
        for expiry in expiries:
            # a chain this state already handed out (the manage job asks for the hedge
            # check's VIX calls again) is the same numbers: hand it out again
            handed = [self._chains.get((symbol, trading_class, expiry, r)) for r in rights]
            if all(h is not None for h in handed):
                slices.extend(h[0] for h in handed if h is not None)
                continue
            for chain in self._model.slices(ctx, symbol, trading_class, expiry, rights):
                key = (chain.symbol, chain.trading_class, chain.expiry, chain.right)
                self._chains[key] = (chain, None)
                slices.append(chain)
        return slices

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
        listed = self._listed  # this state's, kept while it lasts (see _context)
        for c in contracts:
            key = (c.symbol, c.trading_class, c.expiry)
            if key not in listed:
                if c.expiry < ctx.session:
                    continue  # _quotes reports the expired contract
                listed[key] = self._model.listed_strikes(ctx, *key)
            if not np.any(np.abs(listed[key] - c.strike) < 1e-6):
                raise BrokerError(f"{c.local_symbol} is not listed on {ctx.session.isoformat()}")

    def _quotes(self, contracts: Sequence[OptionContract]) -> list[LegQuote]:
        """Model quotes in the visible context, cached per (session, phase).

        A contract of a chain this state already handed out (an entry's legs,
        the other right at their strikes) is read from it: the model quotes a
        chain's strike with the numbers :meth:`MarketModel.leg_quotes` gives it
        (tested bit for bit), so it is not priced again.
        """
        ctx = self._context()
        cache = self._quote_cache
        if self._chains:
            for contract in contracts:
                if contract not in cache:
                    quote = chain_quote(self._chains, contract)
                    if quote is not None:
                        cache[contract] = quote
        book = (ctx.session, self._book_version)
        if self._ahead_for != book and self._phase() is Phase.OPEN:
            ahead = self._states_ahead(ctx.session)
            if ahead:
                # the held contracts at the open, on the path and at the close in the same
                # pass (see _states_ahead); done again only when the book has changed
                asked = set(contracts)
                held = [c for c in ahead[-1][2] if c not in asked]
                n = len(contracts)
                states = [(ctx, cache, [*contracts, *held]), *ahead]
                quotes = self._price_states(states)[0][:n]
                self._ahead_for = book
                return quotes
        return self._price(ctx, contracts, cache)

    def _price(
        self,
        ctx: MarketContext,
        contracts: Sequence[OptionContract],
        cache: dict[OptionContract, LegQuote],
    ) -> list[LegQuote]:
        """Model quotes in ``ctx``, through and into ``cache`` (see :meth:`_price_states`).

        Raises:
            BrokerError: a contract expired before ``ctx.session``.
        """
        return self._price_states(((ctx, cache, contracts),))[0]

    def _price_states(self, states: Sequence[PricingState]) -> list[list[LegQuote]]:
        """Model quotes of each ``(ctx, cache, contracts)`` state (:func:`.quotes.price_states`).

        Raises:
            BrokerError: a contract expired before a state's session.
        """
        return price_states(self._model, states)

    async def path_since(
        self, contracts: Sequence[OptionContract], since: datetime
    ) -> list[SessionPath]:
        """The market between ``since`` and now, for exits (:mod:`strategies.exit_path`).

        One :class:`SessionPath` per session whose close lies in ``(since,
        now]`` (its range is visible only from its close), oldest first: the
        contracts marked by the model at the session's open and at the
        extremes of its range: SPX low with the VIX high, SPX high with the
        VIX high, and the close. In the extreme states VIX9D and VIX3M are
        scaled by VIX high / VIX close (the term structure keeps its shape)
        and the rest of the context is the close's. Contracts expired before
        a session are left out of its quotes.
        """
        now = self._clock()
        day = since.astimezone(NEW_YORK).date()
        today = now.astimezone(NEW_YORK).date()
        path: list[SessionPath] = []
        states: list[QuoteCache] = []
        while day <= today:
            if not self._is_session(day):
                day += timedelta(days=1)
                continue
            close = (
                self._session_close(day)
                if self._session_close is not None
                else datetime.combine(day, SPX_SETTLEMENT_TIME, NEW_YORK)
            )
            if since < close <= now:
                found = self._session_path(day, contracts)
                if found is not None:
                    path.append(found)
                    states.extend(dict(st.quotes) for st in (found.open, *found.extremes))
            day += timedelta(days=1)
        self._path_states = states
        return path

    def _day_states(self, day: date) -> DayStates | None:
        """Session ``day``'s path states, kept for the last session asked (None: no range).

        Only built here: when a job may see them is the callers' rule
        (:meth:`path_since` hands out sessions whose close has passed;
        :meth:`_states_ahead` prices into caches read after the close only).
        The extremes' contexts: see :func:`.session_path.day_states`.
        """
        if self._days is not None and self._days[0] == day:
            return self._days[1]
        states = day_states(self._history, day)
        self._days = (day, states)
        return states

    def _states_ahead(self, day: date) -> list[PricingState]:
        """The held contracts in session ``day``'s later path states (extremes, close; [] if none).

        A session's quotes at the open and the marks of its path and close
        need the same contracts: pricing them in one pass costs one set of
        array calls instead of two. The quotes go into the caches of the
        extremes and of the close, which only :meth:`path_since` (after the
        close) and the jobs of the close phase read: no job sees them sooner.
        """
        states = self._day_states(day)
        held = [c for c in self._holdings if c.expiry >= day]
        if states is None or not held:
            return []
        spx = [c for c in held if c.symbol == "SPX"]
        return [
            (states.low, states.low_quotes, spx),
            (states.high, states.high_quotes, spx),
            (states.closing, self._phase_caches.setdefault((day, Phase.CLOSE), {}), held),
        ]

    def _session_path(self, day: date, contracts: Sequence[OptionContract]) -> SessionPath | None:
        states = self._day_states(day)
        if states is None:
            return None
        live = [c for c in contracts if c.expiry >= day]

        def state(label: str, ctx: MarketContext, quotes: Sequence[LegQuote]) -> MarketState:
            return MarketState(label, ctx.spx, ctx.vix, {q.contract: q for q in quotes})

        # the session just closed: every held contract is priced with these, in the same
        # pass (the other condors' paths, then the mark at the close, read them cached)
        ranged, closed = live, live
        if day == self._session():
            wanted = set(live)
            extra = [c for c in self._holdings if c.expiry >= day and c not in wanted]
            closed = live + extra
            ranged = live + [c for c in extra if c.symbol == "SPX"]
        n = len(live)
        opening, low, high, closing = states.opening, states.low, states.high, states.closing
        at_open, low_quotes, high_quotes, close_quotes = self._price_states(
            (
                (opening, self._phase_caches.setdefault((day, Phase.OPEN), {}), ranged),
                (low, states.low_quotes, ranged),
                (high, states.high_quotes, ranged),
                # the close priced here is the mark's (the jobs' cache of that state)
                (closing, self._phase_caches.setdefault((day, Phase.CLOSE), {}), closed),
            )
        )
        return SessionPath(
            day,
            state("open", opening, at_open[:n]),
            (
                state("spx low / vix high", low, low_quotes[:n]),
                state("spx high / vix high", high, high_quotes[:n]),
                state("close", closing, close_quotes[:n]),
            ),
        )

    # -- account ----------------------------------------------------------
    async def account(self) -> AccountSnapshot:
        # Cash, holdings and (within a session) quotes change only through fills,
        # settlements and the session: reuse the snapshot until one of them moves.
        key = (self._session(), self._phase(), self._book_version)
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
        if order.resting:
            result = self._resting_fill(order)
        else:
            quotes = self._quotes([leg.contract for leg in order.legs])
            result = simulate_fill(order, quotes, self._costs, self._next_exec_id, self._clock())
        for fill in result.fills:
            self._apply_fill(fill)
        for fill in result.fills:
            for listener in self._fill_listeners:
                listener(fill)
        return result

    def _resting_fill(self, order: ComboOrder) -> OrderResult:
        """Fill a resting stop/target against the path :meth:`path_since` last returned.

        See :func:`.session_path.resting_result`: at its limit plus slippage if
        the path reached it, else cancelled.
        """
        return resting_result(
            order, self._path_states, self._costs, self._next_exec_id, self._clock
        )

    def _next_exec_id(self) -> str:
        return f"{self.exec_id_prefix}{next(self._exec_ids)}"

    def _apply_fill(self, fill: Fill) -> None:
        self._book_version += 1
        contract = fill.contract
        self._cash -= fill.quantity * fill.price * contract.multiplier + fill.commission
        apply_fill(self._holdings, fill)

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
        return settlement_value(self._history, contract)

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
            settle_time = settlement_time(contract, self._session_close)
            if contract.expiry == today and now.time() < settle_time:
                continue
            value = settlement_value(self._history, contract)
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
