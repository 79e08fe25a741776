"""The contracts the fake TWS lists: indices, VIX futures and lazily generated option chains.

Option contracts are generated from :class:`OptionChainSpec` (conIds are
arithmetic on the chain's ``con_id_base``), so a wide chain costs nothing until
a test asks for a contract.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from .wire import ContractSpec

#: Real IB conIds for the two indices the daemon trades around.
SPX_CON_ID = 416904
VIX_CON_ID = 13455763

_FUTURE_MONTH_CODES = "FGHJKMNQUVXZ"


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
        right = norm_right(query.right)
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


def norm_right(right: str) -> str:
    """IB's spellings of an option right as "C", "P" or "" (any)."""
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


def vix_future_spec(con_id: int, year: int, month: int) -> ContractSpec:
    """The VIX future (CFE, trading class VX) of contract month ``year``-``month``."""
    expiry = vix_expiry(year, month)
    code = _FUTURE_MONTH_CODES[month - 1]
    return ContractSpec(
        con_id=con_id,
        symbol="VIX",
        sec_type="FUT",
        last_trade_date=expiry.strftime("%Y%m%d"),
        multiplier="1000",
        exchange="CFE",
        currency="USD",
        local_symbol=f"VX{code}{year % 10}",
        trading_class="VX",
        long_name="CBOE Volatility Index",
        market_name="VX",
        valid_exchanges="CFE",
        min_tick=0.05,
        under_con_id=VIX_CON_ID,
        under_symbol="VIX",
        under_sec_type="IND",
        contract_month=f"{year}{month:02d}",
        last_trade_time="08:00",
    )


def default_catalogue(
    today: date, spx_spot: float, spxw_days: int
) -> tuple[list[ContractSpec], list[OptionChainSpec]]:
    """Indices, six VIX futures and SPXW (daily), SPX (monthly) and VIX option chains."""
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
    year, month = today.year, today.month
    while len(vix_months) < 6:
        expiry = vix_expiry(year, month)
        if expiry >= today:
            vix_months.append((date(year, month, 1), expiry))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    vix_dates = [expiry for _, expiry in vix_months]
    for i, (contract_month, _) in enumerate(vix_months):
        contracts.append(
            vix_future_spec(600_000_000 + i, contract_month.year, contract_month.month)
        )

    spxw_dates = [
        today + timedelta(days=d)
        for d in range(spxw_days + 1)
        if (today + timedelta(days=d)).weekday() < 5
    ]
    monthly: list[date] = []
    year, month = today.year, today.month
    while len(monthly) < 3:
        friday = third_friday(year, month)
        if friday >= today:
            monthly.append(friday)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    spot = spx_spot
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


def matches(c: ContractSpec, q: ContractSpec) -> bool:
    """Whether ``c`` matches the non-empty fields of query ``q`` (as reqContractDetails does)."""
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
    right = norm_right(q.right)
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


def chain_may_match(chain: OptionChainSpec, q: ContractSpec) -> bool:
    """Whether any contract of ``chain`` can match query ``q``."""
    if q.sec_type and q.sec_type != "OPT":
        return False
    if q.symbol and q.symbol.upper() != chain.symbol:
        return False
    return not (q.trading_class and q.trading_class != chain.trading_class)
