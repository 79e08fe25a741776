"""One vectorised pass over an expiry's puts and calls quotes each option as its slice does.

The simulated broker prices held legs with :meth:`MarketModel.leg_quotes`
(speed work, issue 11); the replay's results must not move, so each number
must be bit for bit the one :meth:`MarketModel.slice` gives.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pytest

from strategies.domain import MarketContext, Right
from strategies.planner import ChainQuotes, chain_quotes
from strategies.pricing.market_model import MarketCalendar, MarketModel, UnknownProductError

CTX = MarketContext(
    session=date(2023, 2, 3), spx=4136.48, vix=18.33, vix9d=17.76, vix3m=20.78,
    vvix=83.49, skew=123.08, vix_futures={date(2023, 3, 22): 20.548},
)  # fmt: skip
CALENDAR = MarketCalendar(
    holidays=frozenset({date(2023, 2, 20), date(2023, 4, 7)}),
    events={date(2023, 2, 14): ("CPI",), date(2023, 3, 22): ("FOMC",)},
)
FIELDS = ("bid", "ask", "iv", "delta", "gamma", "vega", "theta")


SPXW = {
    date(2023, 2, 17): [3800.0, 4000.0, 4135.0, 4140.0, 4300.0, 4500.0],
    date(2023, 2, 3): [4100.0, 4140.0],  # expiry day
    date(2023, 5, 31): [3600.0, 4150.0, 4700.0],  # past the clock's 93-day knot
}
SPX = {date(2023, 3, 17): [3500.0, 4100.0, 4150.0, 4800.0]}
VIX = {
    date(2023, 3, 22): [12.0, 18.0, 20.5, 30.0, 45.0],  # settlement known
    date(2023, 4, 19): [15.0, 22.0, 40.0],  # modelled curve
}


@pytest.mark.parametrize(
    ("symbol", "trading_class", "chains"),
    [("SPX", "SPXW", SPXW), ("SPX", "SPX", SPX), ("VIX", "VIX", VIX)],
)
@pytest.mark.parametrize("rate", [0.0, 0.045])
def test_leg_quotes_equal_the_slices_bit_for_bit(
    symbol: str, trading_class: str, chains: dict[date, list[float]], rate: float
) -> None:
    model = MarketModel.from_config(rate=rate, calendar=CALENDAR)
    # every strike of every expiry as a put and as a call, interleaved and unsorted
    triples = [
        (expiry, k, right)
        for expiry, strikes in reversed(list(chains.items()))
        for k in reversed(strikes)
        for right in (Right.CALL, Right.PUT)
    ]
    triples = triples[::2] + triples[1::2]  # calls first, expiries mixed
    legs = model.leg_quotes(
        CTX,
        symbol,
        trading_class,
        [e for e, _, _ in triples],
        [k for _, k, _ in triples],
        [r is Right.CALL for _, _, r in triples],
    )
    for j, (expiry, k, right) in enumerate(triples):
        strikes = np.array(chains[expiry])
        sl = model.slice(CTX, symbol, trading_class, expiry, right, strikes=strikes)
        i = int(np.searchsorted(sl.strikes, k))
        for name in FIELDS:
            assert getattr(legs, name)[j] == getattr(sl, name)[i], (name, expiry, k, right)


def test_leg_quotes_refuse_an_expired_contract() -> None:
    with pytest.raises(ValueError, match="expired"):
        MarketModel().leg_quotes(CTX, "SPX", "SPXW", [date(2023, 2, 2)], [4000.0], [True])


def test_calendar_window_is_the_scan_of_the_whole_calendar() -> None:
    # the window is cut by bisection (speed work); it must hold what a scan finds
    cal = MarketCalendar(
        holidays=frozenset(date(2020, 1, 1) + timedelta(days=13 * i) for i in range(60)),
        events={
            date(2020, 1, 1) + timedelta(days=9 * i): (("CPI",), ("FOMC", "CPI"), ("NFP",))[i % 3]
            for i in range(90)
        },
    )
    for session in (date(2019, 12, 31), date(2020, 3, 5), date(2021, 2, 1), date(2023, 1, 1)):
        for days in (1, 30, 200, 400):
            end = session + timedelta(days=days)
            hol, ev = cal.window(session, days)
            assert hol == frozenset(d for d in cal.holidays if session < d <= end)
            assert ev == tuple(
                sorted(
                    (d, tuple(k for k in kinds if k in ("CPI", "FOMC")))
                    for d, kinds in cal.events.items()
                    if session < d <= end and any(k in ("CPI", "FOMC") for k in kinds)
                )
            )


@pytest.mark.parametrize(
    ("symbol", "trading_class", "chains"),
    [("SPX", "SPXW", SPXW), ("VIX", "VIX", VIX)],
)
def test_several_market_states_in_one_pass_equal_each_alone(
    symbol: str, trading_class: str, chains: dict[date, list[float]]
) -> None:
    # the replay prices a session's open, range extremes and close in one pass (speed work)
    model = MarketModel.from_config(rate=0.045, calendar=CALENDAR)
    low = replace(CTX, spx=4020.5, vix=21.7, vix9d=21.0, vix3m=24.6)
    high = replace(CTX, spx=4180.0, vix=21.7)
    pairs = [(e, k) for e, strikes in chains.items() for k in strikes]
    requests = [
        (ctx, [e for e, _ in pairs[:n]], [k for _, k in pairs[:n]], [n % 2 == 0] * n)
        for ctx, n in ((CTX, len(pairs)), (low, 3), (high, len(pairs) - 1))
    ]
    together = model.leg_quotes_many(symbol, trading_class, requests)
    for request, legs in zip(requests, together, strict=True):
        alone = model.leg_quotes(request[0], symbol, trading_class, *request[1:])
        for name in FIELDS:
            assert getattr(legs, name).tolist() == getattr(alone, name).tolist(), name


def test_chain_quotes_looked_up_lazily_equal_the_whole_mapping() -> None:
    model = MarketModel.from_config(rate=0.045, calendar=CALENDAR)
    slices = [
        model.slice(CTX, "VIX", "VIX", expiry, Right.CALL, strikes=np.array(strikes))
        for expiry, strikes in VIX.items()
    ]
    first = chain_quotes(slices)
    held = next(iter(first))
    own = {held: replace(first[held], bid=0.0)}  # the job's own quotes win over the chain's
    whole = {**first, **own}
    lazy = ChainQuotes(slices, own)
    for contract, quote in whole.items():
        assert lazy[contract] == quote
    assert lazy.get(replace(held, strike=999.0)) is None
    assert lazy.get(replace(held, multiplier=10)) is None
    assert list(lazy) == list(whole) and len(lazy) == len(whole)


@pytest.mark.parametrize(
    ("symbol", "trading_class", "expiry"),
    [("SPX", "SPXW", date(2023, 2, 17)), ("SPX", "SPX", date(2023, 3, 17)),
     ("VIX", "VIX", date(2023, 3, 22))],
)  # fmt: skip
def test_slices_of_both_rights_equal_one_slice_per_right(
    symbol: str, trading_class: str, expiry: date
) -> None:
    # the listed strikes are found once per expiry (speed work)
    model = MarketModel.from_config(rate=0.045, calendar=CALENDAR)
    both = model.slices(CTX, symbol, trading_class, expiry, (Right.PUT, Right.CALL))
    for right, got in zip((Right.PUT, Right.CALL), both, strict=True):
        one = model.slice(CTX, symbol, trading_class, expiry, right)
        assert got.right is right and got.strikes.tolist() == one.strikes.tolist()
        for name in FIELDS:
            assert getattr(got, name).tolist() == getattr(one, name).tolist(), name


def test_classes_and_states_mixed_in_one_batch_equal_each_alone() -> None:
    # the simulated broker prices a state's SPXW and VIX legs, and a session's path
    # states with the close's hedges, in one pass (speed work): each number must
    # be the one of its class and state priced alone
    model = MarketModel.from_config(rate=0.045, calendar=CALENDAR)
    low = replace(CTX, spx=4020.5, vix=21.7, vix9d=21.0, vix3m=24.6, vvix=None)
    expiry_day = [(date(2023, 2, 3), 4140.0)]  # a flat smile among the others
    requests = []
    for ctx in (CTX, low):
        for (symbol, trading_class), chains in (
            (("SPX", "SPXW"), SPXW),
            (("VIX", "VIX"), VIX),
            (("SPX", "SPX"), SPX),
        ):
            pairs = [(e, k) for e, strikes in chains.items() for k in strikes]
            if ctx is low and trading_class == "SPXW":
                pairs = expiry_day + pairs[:2]
            calls = [i % 3 != 0 for i in range(len(pairs))]
            requests.append(
                (symbol, trading_class, ctx, [e for e, _ in pairs], [k for _, k in pairs], calls)
            )
    together = model.leg_quotes_batch(requests)
    flat = model.leg_quotes_flat(requests)
    at = 0
    for request, legs in zip(requests, together, strict=True):
        symbol, trading_class, ctx, *rest = request
        alone = model.leg_quotes(ctx, symbol, trading_class, *rest)
        n = len(rest[0])
        for name in FIELDS:
            assert getattr(legs, name).tolist() == getattr(alone, name).tolist(), name
            assert getattr(flat, name)[at : at + n].tolist() == getattr(alone, name).tolist()
        at += n
    assert at == len(flat.bid)
    empty = model.leg_quotes_flat([])
    assert all(len(getattr(empty, name)) == 0 for name in FIELDS)


def test_a_batch_refuses_an_expired_contract_and_an_unknown_product() -> None:
    model = MarketModel()
    with pytest.raises(ValueError, match="expired"):
        model.leg_quotes_flat([("SPX", "SPXW", CTX, [date(2023, 2, 2)], [4000.0], [True])])
    with pytest.raises(UnknownProductError):
        model.leg_quotes_flat([("NDX", "NDXP", CTX, [date(2023, 2, 17)], [12000.0], [True])])


@pytest.mark.parametrize("first", ["VIX", "SPXW"])
def test_a_batch_of_vix_and_expiring_spx_options_carries_each_class_its_own_rate(
    first: str,
) -> None:
    # SPX options on their expiry day (a flat smile) with VIX options, at a nonzero rate:
    # each class must keep its carry (the rate for SPX, 0 for VIX options on the future)
    model = MarketModel.from_config(rate=0.045, calendar=CALENDAR)
    vix = ("VIX", "VIX", CTX, [date(2023, 3, 22)] * 2, [18.0, 30.0], [True, False])
    spxw = ("SPX", "SPXW", CTX, [date(2023, 2, 3)] * 2, [4100.0, 4140.0], [False, True])
    requests = [vix, spxw] if first == "VIX" else [spxw, vix]
    for request, legs in zip(requests, model.leg_quotes_batch(requests), strict=True):
        symbol, trading_class, ctx, *rest = request
        alone = model.leg_quotes(ctx, symbol, trading_class, *rest)
        for name in FIELDS:
            assert getattr(legs, name).tolist() == getattr(alone, name).tolist(), name
