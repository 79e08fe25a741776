"""One vectorised pass over an expiry's puts and calls quotes each option as its slice does.

The simulated broker prices held legs with :meth:`MarketModel.leg_quotes`
(speed work, issue 11); the replay's results must not move, so each number
must be bit for bit the one :meth:`MarketModel.slice` gives.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from strategies.domain import MarketContext, Right
from strategies.pricing.market_model import MarketCalendar, MarketModel

CTX = MarketContext(
    session=date(2023, 2, 3), spx=4136.48, vix=18.33, vix9d=17.76, vix3m=20.78,
    vvix=83.49, skew=123.08, vix_futures={date(2023, 3, 22): 20.548},
)  # fmt: skip
CALENDAR = MarketCalendar(
    holidays=frozenset({date(2023, 2, 20), date(2023, 4, 7)}),
    events={date(2023, 2, 14): ("CPI",), date(2023, 3, 22): ("FOMC",)},
)
FIELDS = ("bid", "ask", "iv", "delta", "gamma", "vega", "theta")


@pytest.mark.parametrize(
    ("symbol", "trading_class", "expiry", "strikes"),
    [
        ("SPX", "SPXW", date(2023, 2, 17), [3800.0, 4000.0, 4135.0, 4140.0, 4300.0, 4500.0]),
        ("SPX", "SPX", date(2023, 3, 17), [3500.0, 4100.0, 4150.0, 4800.0]),
        ("SPX", "SPXW", date(2023, 2, 3), [4100.0, 4140.0]),  # expiry day
        ("VIX", "VIX", date(2023, 3, 22), [12.0, 18.0, 20.5, 30.0, 45.0]),
    ],
)
@pytest.mark.parametrize("rate", [0.0, 0.045])
def test_leg_quotes_equal_the_slices_bit_for_bit(
    symbol: str, trading_class: str, expiry: date, strikes: list[float], rate: float
) -> None:
    model = MarketModel.from_config(rate=rate, calendar=CALENDAR)
    # every strike as a put and as a call, interleaved and unsorted
    pairs = [(k, right) for k in reversed(strikes) for right in (Right.CALL, Right.PUT)]
    legs = model.leg_quotes(
        CTX,
        symbol,
        trading_class,
        expiry,
        [k for k, _ in pairs],
        [right is Right.CALL for _, right in pairs],
    )
    for right in (Right.PUT, Right.CALL):
        sl = model.slice(CTX, symbol, trading_class, expiry, right, strikes=np.array(strikes))
        for j, (k, r) in enumerate(pairs):
            if r is not right:
                continue
            i = int(np.searchsorted(sl.strikes, k))
            for name in FIELDS:
                assert getattr(legs, name)[j] == getattr(sl, name)[i], (name, k, right)


def test_leg_quotes_refuse_an_expired_contract() -> None:
    with pytest.raises(ValueError, match="expired"):
        MarketModel().leg_quotes(CTX, "SPX", "SPXW", date(2023, 2, 2), [4000.0], [True])
