"""What the fake TWS serves: accounts, contracts, option chains, quotes, fill behaviour.

A :class:`Scenario` is plain configuration, built per test. The default one has
one paper account, the SPX and VIX indices, VIX futures, SPXW/SPX/VIX option
chains around ``today`` with Black-76 theoretical quotes and greeks, and a
"fill immediately at the limit" policy.

Option contracts are generated lazily from :class:`OptionChainSpec` (conIds are
arithmetic on the chain's ``con_id_base``), so a wide chain costs nothing until
a test asks for a contract.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from .protocol import ComboLegSpec, ContractSpec

#: Real IB conIds for the two indices the daemon trades around.
SPX_CON_ID = 416904
VIX_CON_ID = 13455763

_FUTURE_MONTH_CODES = "FGHJKMNQUVXZ"


# ------------------------------------------------------------------------ quotes


@dataclass(slots=True)
class Greeks:
    """Model option computation (tickOptionComputation fields)."""

    implied_vol: float
    delta: float
    gamma: float
    vega: float
    theta: float
    opt_price: float
    und_price: float
    pv_dividend: float = 0.0


@dataclass(slots=True)
class Quote:
    """Top-of-book quote for one contract; None fields are not sent."""

    bid: float | None = None
    ask: float | None = None
    last: float | None = None
    close: float | None = None
    bid_size: float = 10.0
    ask_size: float = 10.0
    last_size: float = 1.0
    greeks: Greeks | None = None

    @property
    def mid(self) -> float | None:
        """Midpoint of bid and ask, else last, else None."""
        if self.bid is not None and self.ask is not None:
            return (self.bid + self.ask) / 2
        return self.last


def _norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _norm_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def black76(
    forward: float, strike: float, years: float, vol: float, rate: float, right: str
) -> tuple[float, float, float, float, float]:
    """Black-76 price and greeks: (price, delta, gamma, vega per vol point, theta per day)."""
    years = max(years, 1e-6)
    sq = vol * math.sqrt(years)
    d1 = (math.log(forward / strike) + 0.5 * sq * sq) / sq
    d2 = d1 - sq
    df = math.exp(-rate * years)
    if right == "C":
        price = df * (forward * _norm_cdf(d1) - strike * _norm_cdf(d2))
        delta = _norm_cdf(d1)
    else:
        price = df * (strike * _norm_cdf(-d2) - forward * _norm_cdf(-d1))
        delta = _norm_cdf(d1) - 1.0
    gamma = df * _norm_pdf(d1) / (forward * sq)
    vega = df * forward * _norm_pdf(d1) * math.sqrt(years) / 100.0
    theta = -(df * forward * _norm_pdf(d1) * vol / (2.0 * math.sqrt(years))) / 365.0
    return price, delta, gamma, vega, theta


def _to_tick(value: float, tick: float, mode: str = "nearest") -> float:
    """Round ``value`` to a multiple of ``tick`` (``mode``: nearest, down or up)."""
    units = value / tick
    if mode == "down":
        n = math.floor(units + 1e-9)
    elif mode == "up":
        n = math.ceil(units - 1e-9)
    else:
        n = round(units)
    return round(n * tick, 4)


def option_tick(price: float) -> float:
    """Cboe index option minimum tick: 0.05 below $3, 0.10 at or above."""
    return 0.05 if price < 3.0 else 0.10


# ------------------------------------------------------------------------ chains


@dataclass(slots=True)
class OptionChainSpec:
    """An option chain served by reqSecDefOptParams and reqContractDetails.

    ConIds: ``con_id_base + (expiry_index * len(strikes) + strike_index) * 2 + (P ? 1 : 0)``.
    """

    symbol: str
    trading_class: str
    underlying_con_id: int
    underlying_sec_type: str
    expirations: list[str]
    strikes: list[float]
    con_id_base: int
    multiplier: str = "100"
    exchanges: tuple[str, ...] = ("SMART", "CBOE")
    currency: str = "USD"
    last_trade_time: str = "16:00"

    def size(self) -> int:
        """Number of option contracts in the chain."""
        return len(self.expirations) * len(self.strikes) * 2

    def contains(self, con_id: int) -> bool:
        """Whether ``con_id`` belongs to this chain."""
        return 0 <= con_id - self.con_id_base < self.size()

    def con_id(self, expiry: str, strike: float, right: str) -> int:
        """ConId of one option (raises ValueError if it is not listed)."""
        e = self.expirations.index(expiry)
        s = self.strikes.index(float(strike))
        return self.con_id_base + (e * len(self.strikes) + s) * 2 + (1 if right == "P" else 0)

    def contract(self, con_id: int) -> ContractSpec:
        """Build the ContractSpec for ``con_id`` (which must be in the chain)."""
        offset = con_id - self.con_id_base
        right = "P" if offset % 2 else "C"
        e, s = divmod(offset // 2, len(self.strikes))
        expiry, strike = self.expirations[e], self.strikes[s]
        occ_strike = round(strike * 1000)
        local = f"{self.trading_class:<6}{expiry[2:]}{right}{occ_strike:08d}"
        return ContractSpec(
            con_id=con_id,
            symbol=self.symbol,
            sec_type="OPT",
            last_trade_date=expiry,
            strike=strike,
            right=right,
            multiplier=self.multiplier,
            exchange="SMART",
            currency=self.currency,
            local_symbol=local,
            trading_class=self.trading_class,
            long_name=f"{self.symbol} {expiry} {strike:g} {right}",
            market_name=self.trading_class,
            min_tick=0.05,
            valid_exchanges=",".join(self.exchanges),
            under_con_id=self.underlying_con_id,
            under_symbol=self.symbol,
            under_sec_type=self.underlying_sec_type,
            last_trade_time=self.last_trade_time,
            contract_month=expiry[:6],
        )

    def iter_matching(self, query: ContractSpec) -> Iterator[ContractSpec]:
        """Contracts of this chain matching the non-empty fields of ``query``."""
        right = _norm_right(query.right)
        for e, expiry in enumerate(self.expirations):
            if query.last_trade_date and not expiry.startswith(query.last_trade_date):
                continue
            for s, strike in enumerate(self.strikes):
                if query.strike and abs(query.strike - strike) > 1e-9:
                    continue
                for bit, r in enumerate("CP"):
                    if right and right != r:
                        continue
                    yield self.contract(self.con_id_base + (e * len(self.strikes) + s) * 2 + bit)


def _norm_right(right: str) -> str:
    right = right.upper()
    return {"CALL": "C", "PUT": "P", "?": "", "0": ""}.get(right, right)


def third_friday(year: int, month: int) -> date:
    """Third Friday of a month."""
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def vix_expiry(year: int, month: int) -> date:
    """VIX expiry for contract month (year, month): 30 days before next month's 3rd Friday."""
    ny, nm = (year + 1, 1) if month == 12 else (year, month + 1)
    return third_friday(ny, nm) - timedelta(days=30)


# ----------------------------------------------------------------- fill behaviour


class FillMode(StrEnum):
    """How the fake exchange treats a new (or modified) order."""

    IMMEDIATE = "immediate"  # fill everything at the limit price
    CROSS = "cross"  # fill once the limit crosses ``price`` (BUY: lmt >= price)
    MARKETABLE = "marketable"  # fill once the limit crosses the current quote
    PARTIAL = "partial"  # fill ``quantity`` at the limit, then rest
    REJECT = "reject"  # error 201 with ``reason``
    NEVER = "never"  # rest forever (Submitted)


@dataclass(frozen=True, slots=True)
class FillPolicy:
    """Fill behaviour for orders; build with the class methods."""

    mode: FillMode
    price: float | None = None
    quantity: float = 0.0
    reason: str = ""
    status: str = "Submitted"

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
        """Fill ``quantity`` at the limit, leave the rest working."""
        return cls(FillMode.PARTIAL, quantity=quantity)

    @classmethod
    def reject(cls, reason: str = "Insufficient margin") -> FillPolicy:
        """Reject with error 201 ``Order rejected - reason:<reason>``."""
        return cls(FillMode.REJECT, reason=reason)

    @classmethod
    def never(cls, status: str = "Submitted") -> FillPolicy:
        """Accept and rest forever with ``status`` (Submitted or PreSubmitted)."""
        return cls(FillMode.NEVER, status=status)


@dataclass(slots=True)
class ErrorRule:
    """Answer a client message id with an error (instead of, or besides, serving it).

    The error's reqId is the request/order id of the triggering message.
    """

    msg_id: int
    code: int
    message: str
    times: int | None = 1  # None: every time
    suppress_response: bool = True


@dataclass(slots=True)
class DropRule:
    """Close the client's socket when message ``msg_id`` arrives for the ``nth`` time.

    With ``handle_first`` the message is still processed (e.g. the order is placed
    and fills per policy) but nothing more reaches that client: the fills happen
    "while the client is away" and are only seen via reqExecutions on reconnect.
    """

    msg_id: int
    nth: int = 1
    handle_first: bool = False


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
    commission_per_contract: float = 0.65
    what_if_margin_per_unit: float = 5000.0
    error_rules: list[ErrorRule] = field(default_factory=list)
    drop_rules: list[DropRule] = field(default_factory=list)
    #: Info errors (reqId -1) sent right after the API starts, like TWS's farm messages.
    startup_messages: list[tuple[int, str]] = field(default_factory=lambda: list(FARM_OK_MESSAGES))
    #: Market data type served when the client has not asked for one (1 = live).
    market_data_type: int = 1
    #: Clock for execution timestamps.
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    spxw_days: int = 60
    contracts: list[ContractSpec] = field(default_factory=list)
    chains: list[OptionChainSpec] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Build the default catalogue unless contracts/chains were given."""
        if not self.contracts and not self.chains:
            self.contracts, self.chains = self._default_catalogue()

    # -- catalogue ---------------------------------------------------------------

    def _default_catalogue(self) -> tuple[list[ContractSpec], list[OptionChainSpec]]:
        spx = ContractSpec(
            con_id=SPX_CON_ID,
            symbol="SPX",
            sec_type="IND",
            exchange="CBOE",
            currency="USD",
            local_symbol="SPX",
            long_name="S&P 500 Stock Index",
            market_name="SPX",
            valid_exchanges="CBOE",
            order_types="",
            min_tick=0.01,
        )
        vix = ContractSpec(
            con_id=VIX_CON_ID,
            symbol="VIX",
            sec_type="IND",
            exchange="CBOE",
            currency="USD",
            local_symbol="VIX",
            long_name="CBOE Volatility Index",
            market_name="VIX",
            valid_exchanges="CBOE",
            order_types="",
            min_tick=0.01,
        )
        contracts = [spx, vix]

        vix_months: list[tuple[date, date]] = []  # (contract month, expiry)
        year, month = self.today.year, self.today.month
        while len(vix_months) < 6:
            expiry = vix_expiry(year, month)
            if expiry >= self.today:
                vix_months.append((date(year, month, 1), expiry))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        vix_dates = [expiry for _, expiry in vix_months]
        for i, (contract_month, expiry) in enumerate(vix_months):
            code = _FUTURE_MONTH_CODES[contract_month.month - 1]
            contracts.append(
                ContractSpec(
                    con_id=600_000_000 + i,
                    symbol="VIX",
                    sec_type="FUT",
                    last_trade_date=expiry.strftime("%Y%m%d"),
                    multiplier="1000",
                    exchange="CFE",
                    currency="USD",
                    local_symbol=f"VX{code}{contract_month.year % 10}",
                    trading_class="VX",
                    long_name="CBOE Volatility Index",
                    market_name="VX",
                    valid_exchanges="CFE",
                    min_tick=0.05,
                    under_con_id=VIX_CON_ID,
                    under_symbol="VIX",
                    under_sec_type="IND",
                    contract_month=contract_month.strftime("%Y%m"),
                    last_trade_time="08:00",
                )
            )

        spxw_dates = [
            self.today + timedelta(days=d)
            for d in range(self.spxw_days + 1)
            if (self.today + timedelta(days=d)).weekday() < 5
        ]
        monthly: list[date] = []
        year, month = self.today.year, self.today.month
        while len(monthly) < 3:
            friday = third_friday(year, month)
            if friday >= self.today:
                monthly.append(friday)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        spot = self.spots["SPX"]
        low, high = int(spot * 0.7) // 5 * 5, int(spot * 1.3) // 5 * 5
        spx_strikes = [float(k) for k in range(low, high + 5, 5)]

        def ymd(days: Sequence[date]) -> list[str]:
            return [d.strftime("%Y%m%d") for d in days]

        chains = [
            OptionChainSpec(
                symbol="SPX",
                trading_class="SPXW",
                underlying_con_id=SPX_CON_ID,
                underlying_sec_type="IND",
                expirations=ymd(spxw_dates),
                strikes=spx_strikes,
                con_id_base=700_000_000,
            ),
            OptionChainSpec(
                symbol="SPX",
                trading_class="SPX",
                underlying_con_id=SPX_CON_ID,
                underlying_sec_type="IND",
                expirations=ymd(monthly),
                strikes=spx_strikes,
                con_id_base=710_000_000,
                last_trade_time="09:30",
            ),
            OptionChainSpec(
                symbol="VIX",
                trading_class="VIX",
                underlying_con_id=VIX_CON_ID,
                underlying_sec_type="IND",
                expirations=ymd(vix_dates),
                strikes=[float(k) for k in range(9, 81)],
                con_id_base=720_000_000,
                last_trade_time="08:00",
            ),
        ]
        return contracts, chains

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
        for c in self.contracts:
            if c.con_id == con_id:
                return c
        for chain in self.chains:
            if chain.contains(con_id):
                return chain.contract(con_id)
        return None

    def find_contracts(self, query: ContractSpec, limit: int = 5000) -> list[ContractSpec]:
        """Contracts matching the non-empty fields of ``query`` (as reqContractDetails does)."""
        if query.con_id:
            found = self.contract_by_id(query.con_id)
            return [found] if found and _matches(found, query) else []
        results = [c for c in self.contracts if _matches(c, query)]
        for chain in self.chains:
            if not _chain_may_match(chain, query):
                continue
            for c in chain.iter_matching(query):
                if _matches(c, query):
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
        """Quote of ``c``: the explicit one if configured, else a synthetic one."""
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
        half = max(tick, _to_tick(theo * 0.03, tick))
        bid = max(0.0, _to_tick(theo - half, tick, "down"))
        ask = max(tick, _to_tick(theo + half, tick, "up"))
        greeks = Greeks(
            implied_vol=round(vol, 6),
            delta=round(delta, 6),
            gamma=round(gamma, 8),
            vega=round(vega, 6),
            theta=round(theta, 6),
            opt_price=round(theo, 4),
            und_price=forward,
        )
        last = _to_tick(theo, tick)
        return Quote(
            bid=bid,
            ask=ask,
            last=last,
            close=last,
            bid_size=10.0 if bid > 0 else 0.0,
            greeks=greeks,
        )

    def combo_quote(self, legs: Sequence[ComboLegSpec]) -> Quote | None:
        """Natural bid/ask of a combo: buy legs at ask / sell legs at bid, and vice versa."""
        bid = ask = 0.0
        for leg in legs:
            c = self.contract_by_id(leg.con_id)
            q = self.quote_for(c) if c else None
            if q is None or q.bid is None or q.ask is None:
                return None
            if leg.action == "BUY":
                bid += leg.ratio * q.bid
                ask += leg.ratio * q.ask
            else:
                bid -= leg.ratio * q.ask
                ask -= leg.ratio * q.bid
        return Quote(bid=round(bid, 2), ask=round(ask, 2), bid_size=1.0, ask_size=1.0)

    def next_policy(self) -> FillPolicy:
        """The fill policy for the next new order."""
        return self.order_policies.pop(0) if self.order_policies else self.fill_policy


def _matches(c: ContractSpec, q: ContractSpec) -> bool:
    if q.symbol and q.symbol.upper() != c.symbol.upper():
        return False
    if q.sec_type and q.sec_type != c.sec_type:
        return False
    # futures may be asked for by contract month
    if (
        q.last_trade_date
        and not c.last_trade_date.startswith(q.last_trade_date)
        and c.contract_month != q.last_trade_date
    ):
        return False
    if q.strike and abs(q.strike - c.strike) > 1e-9:
        return False
    right = _norm_right(q.right)
    if right and right != c.right:
        return False
    if q.multiplier and float(q.multiplier) != float(c.multiplier or 0):
        return False
    if q.exchange and q.exchange not in (c.exchange, "SMART", *c.valid_exchanges.split(",")):
        return False
    if q.currency and q.currency != c.currency:
        return False
    if q.local_symbol and q.local_symbol.replace(" ", "") != c.local_symbol.replace(" ", ""):
        return False
    return not (q.trading_class and q.trading_class != c.trading_class)


def _chain_may_match(chain: OptionChainSpec, q: ContractSpec) -> bool:
    if q.sec_type and q.sec_type != "OPT":
        return False
    if q.symbol and q.symbol.upper() != chain.symbol:
        return False
    return not (q.trading_class and q.trading_class != chain.trading_class)
