"""Daily history the fake TWS serves for the hedge signals (``reqHistoricalData``, "1 day").

:func:`add_signal_history` extends a scenario with what the live signal source
asks IB for: the VVIX index, IB's ``AD-NYSE`` breadth line (advancing issues
as its bid, declining as its ask, no last, no history: 162 on
``reqHistoricalData`` as IB answers), and expired monthly VIX futures
(served by ``reqContractDetails`` only with ``includeExpired``), and makes
every daily bar deterministic through :func:`synthetic_close` (or a function
the test gives). A function returning ``None`` for a day leaves a gap (no bar).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date

from .catalogue import _FUTURE_MONTH_CODES, vix_future_spec
from .pricing import Quote
from .scenario import Scenario
from .wire import ContractSpec

VVIX_CON_ID = 136_155_102
AD_NYSE_CON_ID = 26_718_743
#: conIds of expired VIX futures: base + months back.
EXPIRED_FUTURE_BASE = 610_000_000
#: (advancing, declining, unchanged) NYSE issues AD-NYSE quotes by default.
DEFAULT_BREADTH = (1800.0, 1100.0, 120.0)

BarCloses = Callable[[str, date], float | None]


def synthetic_close(key: str, day: date) -> float | None:
    """A deterministic close per series and day (weekends: None).

    ``key`` is the index symbol (``"VIX"``, ``"VVIX"``, ``"SPX"``) or a VIX
    future's local symbol (``"VXF6"``). Values move every day so windows
    built from them can be compared row by row.
    """
    if day.weekday() >= 5:
        return None
    n = day.toordinal()
    vix = 16.0 + 4.0 * math.sin(n / 9.0)
    if key == "VIX":
        return round(vix, 2)
    if key == "VVIX":
        return round(95.0 + 12.0 * math.sin(n / 6.0), 2)
    if key == "SPX":
        return round(5000.0 + 60.0 * math.sin(n / 17.0) + (n % 11), 2)
    if key.startswith("VX"):
        month = _FUTURE_MONTH_CODES.index(key[2]) + 1
        return round(vix + 0.8 + 0.35 * month + 0.01 * (n % 7), 2)
    return None


def _index(con_id: int, symbol: str, exchange: str, name: str) -> ContractSpec:
    return ContractSpec(
        con_id=con_id,
        symbol=symbol,
        sec_type="IND",
        exchange=exchange,
        currency="USD",
        local_symbol=symbol,
        long_name=name,
        market_name=symbol,
        valid_exchanges=exchange,
        order_types="",
        min_tick=0.01,
    )


def add_signal_history(
    scenario: Scenario,
    *,
    closes: BarCloses | None = synthetic_close,
    months_back: int = 14,
    breadth: tuple[float, float, float] | None = DEFAULT_BREADTH,
    vvix: bool = True,
) -> Scenario:
    """Add VVIX, ``AD-NYSE``, expired VIX futures and deterministic daily bars to ``scenario``.

    Args:
        closes: daily close per series key and day (None: no bar that day);
            ``None`` keeps the scenario's own bars (``daily_closes`` / spot).
        months_back: expired monthly VIX futures listed (contract months
            before the scenario's first live one).
        breadth: ``(advancing, declining, unchanged)`` AD-NYSE quotes; None
            leaves it out of the catalogue.
        vvix: list the VVIX index.
    """
    if vvix:
        scenario.contracts.append(_index(VVIX_CON_ID, "VVIX", "CBOE", "CBOE VIX of VIX Index"))
        scenario.spots.setdefault("VVIX", 95.0)
    if breadth is not None:
        scenario.contracts.append(
            _index(AD_NYSE_CON_ID, "AD-NYSE", "NYSE", "NYSE Advancing/Declining Issues")
        )
        adv, dec, unch = breadth
        # sizes must be > 0: ib_async blanks a bid/ask that comes with size 0
        scenario.quotes[AD_NYSE_CON_ID] = Quote(bid=adv, ask=dec, bid_size=unch, ask_size=unch)
    live = sorted(
        c.contract_month for c in scenario.contracts if c.sec_type == "FUT" and c.symbol == "VIX"
    )
    year, month = (int(live[0][:4]), int(live[0][4:])) if live else (2026, 1)
    for back in range(1, months_back + 1):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        scenario.expired_contracts.append(vix_future_spec(EXPIRED_FUTURE_BASE + back, year, month))
    if closes is not None:
        scenario.bar_closes = closes
    return scenario


def expected_bars(closes: BarCloses, key: str, days: list[date]) -> dict[date, float]:
    """What the fake serves for ``key`` on ``days`` (for assertions)."""
    out: dict[date, float] = {}
    for day in days:
        value = closes(key, day)
        if value is not None:
            out[day] = value
    return out


def future_key(expiry: date) -> str:
    """The local symbol (``VXF6``) of the monthly VIX future expiring ``expiry``."""
    return f"VX{_FUTURE_MONTH_CODES[expiry.month - 1]}{expiry.year % 10}"
