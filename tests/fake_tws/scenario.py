"""What the fake TWS serves: accounts, contracts, quotes, fill behaviour and faults.

A :class:`Scenario` is plain configuration, built per test. The default one has
one paper account, the SPX and VIX indices, VIX futures, SPXW/SPX/VIX option
chains around ``today`` with Black-76 theoretical quotes and greeks, and a
"fill immediately at the limit" policy. The fault fields (see
:mod:`.faults`) are all off by default.

Time: ``clock`` is the gateway's "now" (execution times, reqCurrentTime,
expiry of held options, the last daily bar). Unless given, it runs in real
time on ``today`` (New York date; the time of day is the real one), so a
scenario dated in the past does not see its options expire under it;
:meth:`Scenario.set_now` and :func:`offset_clock` move it. ``today`` also
shapes the catalogue and the theoretical quotes (days to expiry).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

from daemon.clock import NEW_YORK

from .catalogue import (
    SPX_CON_ID,
    VIX_CON_ID,
    OptionChainSpec,
    chain_may_match,
    default_catalogue,
    matches,
)
from .faults import (
    DropRule,
    ErrorRule,
    FillPolicy,
    GreeksFault,
    MuteRule,
    OrderRule,
)
from .pricing import Greeks, Quote, black76, option_tick, to_tick
from .wire import UNSET_DOUBLE, ComboLegSpec, ContractSpec

__all__ = ["SPX_CON_ID", "VIX_CON_ID", "PositionSpec", "Scenario", "offset_clock"]


def _undated_clock() -> datetime:
    """Placeholder default of ``Scenario.clock``, replaced in ``__post_init__``."""
    raise RuntimeError("Scenario.clock used before __post_init__")


@dataclass(slots=True)
class PositionSpec:
    """An initial position (avg_cost includes the multiplier, like TWS)."""

    account: str
    con_id: int
    quantity: float
    avg_cost: float


def _default_account_values() -> dict[str, tuple[str, str]]:
    return {
        "AccountType": ("INDIVIDUAL", ""),
        "NetLiquidation": ("250000.00", "USD"),
        "TotalCashValue": ("240000.00", "USD"),
        "SettledCash": ("240000.00", "USD"),
        "BuyingPower": ("900000.00", "USD"),
        "EquityWithLoanValue": ("250000.00", "USD"),
        "AvailableFunds": ("225000.00", "USD"),
        "ExcessLiquidity": ("230000.00", "USD"),
        "InitMarginReq": ("25000.00", "USD"),
        "MaintMarginReq": ("20000.00", "USD"),
        "GrossPositionValue": ("10000.00", "USD"),
    }


FARM_OK_MESSAGES: list[tuple[int, str]] = [
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefil"),
]


# ----------------------------------------------------------------------- scenario


@dataclass
class Scenario:
    """Per-test configuration of the fake TWS."""

    accounts: list[str] = field(default_factory=lambda: ["DU1234567"])
    today: date = field(default_factory=date.today)
    next_order_id: int = 1
    spots: dict[str, float] = field(default_factory=lambda: {"SPX": 5000.0, "VIX": 15.0})
    vols: dict[str, float] = field(default_factory=lambda: {"SPX": 0.15, "VIX": 0.9})
    rate: float = 0.04
    #: Explicit quotes by conId; they override the synthetic ones.
    quotes: dict[int, Quote] = field(default_factory=dict)
    positions: list[PositionSpec] = field(default_factory=list)
    account_values: dict[str, tuple[str, str]] = field(default_factory=_default_account_values)
    fill_policy: FillPolicy = field(default_factory=FillPolicy.immediate)
    #: Per-order policies, consumed one per new order before ``fill_policy`` applies.
    order_policies: list[FillPolicy] = field(default_factory=list)
    #: Policies by orderRef / secType / client id, checked before ``order_policies``.
    order_rules: list[OrderRule] = field(default_factory=list)
    commission_per_contract: float = 0.65
    what_if_margin_per_unit: float = 5000.0
    error_rules: list[ErrorRule] = field(default_factory=list)
    drop_rules: list[DropRule] = field(default_factory=list)
    #: Requests left unanswered (the client times out).
    mute_rules: list[MuteRule] = field(default_factory=list)
    #: Client ids refused with error 326 at connect as if another session held them:
    #: id -> how many more connects to refuse (None: until removed).
    busy_client_ids: dict[int, int | None] = field(default_factory=dict)
    #: How many times each live execDetails is sent (2 = every execution duplicated).
    exec_details_copies: int = 1
    #: Seconds between an execution and its commission report (reqExecutions sends
    #: no report for it until then).
    commission_delay: float = 0.0
    #: Options quoted with no bid (IB sends price -1, size 0): conIds.
    no_bid: set[int] = field(default_factory=set)
    #: Options whose model greeks are broken: conId -> fault.
    greeks_faults: dict[int, GreeksFault] = field(default_factory=dict)
    #: Daily closes served by reqHistoricalData ("1 day" bars) by symbol; days not
    #: listed close at the current spot. The settlement close of an expiry session.
    daily_closes: dict[str, dict[date, float]] = field(default_factory=dict)
    #: Daily closes by series (index symbol, or a future's local symbol) and day,
    #: None = no bar; when set it serves every daily bar (see ``tests.fake_tws.history``).
    bar_closes: Callable[[str, date], float | None] | None = None
    #: Contracts that have expired: found by reqContractDetails only with
    #: includeExpired, and by conId (historical bars).
    expired_contracts: list[ContractSpec] = field(default_factory=list)
    #: Daily opens by symbol (days not listed open at their close), e.g. the VIX
    #: open the IB adapter uses as the proxy of an AM settlement (SOQ).
    daily_opens: dict[str, dict[date, float]] = field(default_factory=dict)
    #: New York time on its expiry date after which a held option disappears from
    #: positions (its expiry session is over) and orders in it are cancelled.
    expiry_cutoff: time = time(16, 30)
    #: reqExecutions serves executions of the last N days of ``clock`` (1: today's
    #: only, as IB Gateway does); None: all the gateway has.
    execution_days: int | None = None
    #: Info errors (reqId -1) sent right after the API starts, like TWS's farm messages.
    startup_messages: list[tuple[int, str]] = field(default_factory=lambda: list(FARM_OK_MESSAGES))
    #: Market data type served when the client has not asked for one (1 = live).
    market_data_type: int = 1
    #: Market data type served whatever the client asked for (None: as asked), e.g.
    #: 3 to send delayed data to a live session.
    served_market_data_type: int | None = None
    #: The gateway's "now" (execution times, reqCurrentTime, expiries, daily bars);
    #: default: real time on ``today``.
    clock: Callable[[], datetime] = field(default=_undated_clock)
    spxw_days: int = 60
    contracts: list[ContractSpec] = field(default_factory=list)
    chains: list[OptionChainSpec] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Build the default catalogue unless contracts/chains were given; date the clock."""
        if self.clock is _undated_clock:
            now = datetime.now(NEW_YORK)
            if self.today in (now.date(), date.today()):
                self.clock = lambda: datetime.now(UTC)
            else:
                self.clock = offset_clock(datetime.combine(self.today, now.timetz()))
        if not self.contracts and not self.chains:
            self.contracts, self.chains = default_catalogue(
                self.today, self.spots["SPX"], self.spxw_days
            )

    def set_now(self, now: datetime) -> None:
        """Freeze the gateway clock at ``now`` (timezone-aware)."""
        self.clock = lambda: now

    def expires_at(self, c: ContractSpec) -> datetime | None:
        """When a held ``c`` disappears (options and futures), else None."""
        if c.sec_type not in ("OPT", "FOP", "FUT") or len(c.last_trade_date) < 8:
            return None
        day = datetime.strptime(c.last_trade_date[:8], "%Y%m%d").date()
        return datetime.combine(day, self.expiry_cutoff, NEW_YORK)

    # -- catalogue ---------------------------------------------------------------

    def chain(self, trading_class: str) -> OptionChainSpec:
        """The chain with ``trading_class`` (KeyError if absent)."""
        for chain in self.chains:
            if chain.trading_class == trading_class:
                return chain
        raise KeyError(trading_class)

    def option(self, trading_class: str, expiry: str, strike: float, right: str) -> ContractSpec:
        """Convenience: the option contract of a chain."""
        chain = self.chain(trading_class)
        return chain.contract(chain.con_id(expiry, strike, right))

    def contract_by_id(self, con_id: int) -> ContractSpec | None:
        """Contract with ``con_id``, or None."""
        for c in (*self.contracts, *self.expired_contracts):
            if c.con_id == con_id:
                return c
        for chain in self.chains:
            if chain.contains(con_id):
                return chain.contract(con_id)
        return None

    def find_contracts(
        self, query: ContractSpec, limit: int = 5000, include_expired: bool = False
    ) -> list[ContractSpec]:
        """Contracts matching the non-empty fields of ``query`` (as reqContractDetails does)."""
        if query.con_id:
            found = self.contract_by_id(query.con_id)
            return [found] if found and matches(found, query) else []
        results = [c for c in self.contracts if matches(c, query)]
        if include_expired:
            results += [c for c in self.expired_contracts if matches(c, query)]
        for chain in self.chains:
            if not chain_may_match(chain, query):
                continue
            for c in chain.iter_matching(query):
                if matches(c, query):
                    results.append(c)
                if len(results) >= limit:
                    return results
        return results

    # -- prices ------------------------------------------------------------------

    def underlying_price(self, c: ContractSpec) -> float:
        """Forward/underlying price used to value ``c`` (VIX options use the future)."""
        if c.symbol == "VIX" and c.sec_type in ("OPT", "FUT"):
            expiry = datetime.strptime(c.last_trade_date[:8], "%Y%m%d").date()
            months = max((expiry - self.today).days, 0) / 30.0
            return round(self.spots["VIX"] + 1.5 * math.sqrt(months), 2)
        return self.spots.get(c.symbol, 100.0)

    def quote_for(self, c: ContractSpec) -> Quote | None:
        """Quote of ``c``: the explicit one or a synthetic one, with its faults applied."""
        quote = self._base_quote(c)
        if quote is None:
            return None
        if c.con_id in self.no_bid:
            quote = replace(quote, bid=None, bid_size=0.0)
        fault = self.greeks_faults.get(c.con_id)
        if fault is not None and quote.greeks is not None:
            quote = replace(quote, greeks=faulty_greeks(quote.greeks, fault))
        return quote

    def _base_quote(self, c: ContractSpec) -> Quote | None:
        if c.con_id in self.quotes:
            return self.quotes[c.con_id]
        if c.sec_type == "IND":
            spot = self.spots.get(c.symbol)
            return None if spot is None else Quote(last=spot, close=spot, last_size=0.0)
        if c.sec_type == "FUT":
            price = self.underlying_price(c)
            bid, ask = round(price - 0.05, 2), round(price + 0.05, 2)
            return Quote(bid=bid, ask=ask, last=price, close=price)
        if c.sec_type == "OPT":
            return self._option_quote(c)
        return None

    def _option_quote(self, c: ContractSpec) -> Quote:
        expiry = datetime.strptime(c.last_trade_date[:8], "%Y%m%d").date()
        years = (max((expiry - self.today).days, 0) + 0.3) / 365.0
        forward = self.underlying_price(c)
        base_vol = self.vols.get(c.symbol, 0.3)
        moneyness = c.strike / forward
        # simple skew: downside puts richer for SPX, upside calls richer for VIX
        skew = 1.5 * (1 - moneyness) if c.symbol == "SPX" else 0.6 * (moneyness - 1)
        vol = min(max(base_vol * (1 + skew), 0.05), 3.0)
        price, delta, gamma, vega, theta = black76(
            forward, c.strike, years, vol, self.rate, c.right
        )
        theo = max(price, 0.0)
        tick = option_tick(theo)
        half = max(tick, to_tick(theo * 0.03, tick))
        bid = max(0.0, to_tick(theo - half, tick, "down"))
        ask = max(tick, to_tick(theo + half, tick, "up"))
        greeks = Greeks(
            implied_vol=round(vol, 6),
            delta=round(delta, 6),
            gamma=round(gamma, 8),
            vega=round(vega, 6),
            theta=round(theta, 6),
            opt_price=round(theo, 4),
            und_price=forward,
        )
        last = to_tick(theo, tick)
        return Quote(
            bid=bid,
            ask=ask,
            last=last,
            close=last,
            bid_size=10.0 if bid > 0 else 0.0,
            greeks=greeks,
        )

    def combo_quote(self, legs: Sequence[ComboLegSpec]) -> Quote | None:
        """Natural bid/ask of a combo: buy legs at ask / sell legs at bid, and vice versa.

        A leg with no bid counts at 0; a leg with no ask leaves that combo side unset.
        """
        bid: float | None = 0.0
        ask: float | None = 0.0
        for leg in legs:
            c = self.contract_by_id(leg.con_id)
            q = self.quote_for(c) if c else None
            if q is None or (q.bid is None and q.ask is None):
                return None
            leg_bid = q.bid if q.bid is not None and q.bid > 0 else 0.0
            buy = leg.action == "BUY"
            bid = None if bid is None or (not buy and q.ask is None) else bid
            ask = None if ask is None or (buy and q.ask is None) else ask
            if bid is not None:
                bid += leg.ratio * (leg_bid if buy else -(q.ask or 0.0))
            if ask is not None:
                ask += leg.ratio * ((q.ask or 0.0) if buy else -leg_bid)
        return Quote(
            bid=None if bid is None else round(bid, 2),
            ask=None if ask is None else round(ask, 2),
            bid_size=1.0,
            ask_size=1.0,
        )

    def next_policy(
        self, order_ref: str = "", sec_type: str = "", client_id: int = 0
    ) -> FillPolicy:
        """The fill policy for a new order: a matching rule, the queue, else the default."""
        for rule in self.order_rules:
            if rule.matches(order_ref, sec_type, client_id):
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self.order_rules.remove(rule)
                return rule.policy
        return self.order_policies.pop(0) if self.order_policies else self.fill_policy

    # -- history -----------------------------------------------------------------

    def bars_for(self, c: ContractSpec, end: date, days: int) -> list[tuple[date, float]]:
        """(session, close) daily bars of ``c`` in ``(end - days, end]``, oldest first.

        With ``bar_closes`` set, from it (key: the index symbol or the
        future's local symbol; a future has no bar after its last trade
        date); else indexes as :meth:`daily_bars` and nothing for the rest.
        ``AD-NYSE`` never has bars (IB keeps no history of it).
        """
        if c.symbol == "AD-NYSE":
            return []
        if self.bar_closes is None:
            return self.daily_bars(c.symbol, end, days) if c.sec_type == "IND" else []
        key = c.local_symbol if c.sec_type == "FUT" else c.symbol
        last = end
        if c.sec_type == "FUT" and len(c.last_trade_date) >= 8:
            last = min(end, datetime.strptime(c.last_trade_date[:8], "%Y%m%d").date())
        bars: list[tuple[date, float]] = []
        for back in range(days - 1, -1, -1):
            day = end - timedelta(days=back)
            close = self.bar_closes(key, day) if day <= last else None
            if close is not None:
                bars.append((day, close))
        return bars

    def daily_bars(self, symbol: str, end: date, days: int) -> list[tuple[date, float]]:
        """(session, close) for the weekdays in ``(end - days, end]``, oldest first."""
        closes = self.daily_closes.get(symbol, {})
        spot = self.spots.get(symbol)
        bars: list[tuple[date, float]] = []
        for back in range(days - 1, -1, -1):
            day = end - timedelta(days=back)
            close = closes.get(day, spot)
            if day.weekday() < 5 and close is not None:
                bars.append((day, close))
        return bars


def faulty_greeks(g: Greeks, fault: GreeksFault) -> Greeks | None:
    """The greeks a faulty option's ticks carry (None: no greeks ticks at all)."""
    if fault is GreeksFault.MISSING:
        return None
    if fault is GreeksFault.NAN:
        nan = math.nan
        return Greeks(nan, nan, nan, nan, nan, nan, g.und_price)
    if fault is GreeksFault.MAX:
        m = UNSET_DOUBLE
        return Greeks(m, m, m, m, m, m, m)
    return Greeks(-1.0, -2.0, -2.0, -2.0, -2.0, -1.0, -1.0, -1.0)  # UNSET


def offset_clock(start: datetime) -> Callable[[], datetime]:
    """A clock that reads ``start`` now and runs on in real time (like ``alvh --now``)."""
    origin = datetime.now(UTC)
    return lambda: start + (datetime.now(UTC) - origin)
