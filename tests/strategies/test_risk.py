"""Risk arithmetic (break-evens, max loss, greeks) and the OpenStructure view."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from strategies.domain import Leg, LegQuote, OptionContract, Right, Structure
from strategies.positions import OpenStructure
from strategies.risk import (
    CondorStrikes,
    Greeks,
    break_evens,
    condor_max_loss_points,
    condor_strikes,
    max_loss_dollars,
    portfolio_greeks,
    structure_greeks,
)

EXPIRY = date(2023, 2, 17)
OPENED = date(2023, 2, 3)


def spx(strike: float, right: Right, expiry: date = EXPIRY) -> OptionContract:
    return OptionContract("SPX", "SPXW", expiry, strike, right)


def condor(
    long_put: float = 3850.0,
    short_put: float = 3900.0,
    short_call: float = 4100.0,
    long_call: float = 4150.0,
    quantity: int = 5,
    open_price: float = -2.90,
) -> OpenStructure:
    legs = (
        Leg(spx(long_put, Right.PUT), 1),
        Leg(spx(short_put, Right.PUT), -1),
        Leg(spx(short_call, Right.CALL), -1),
        Leg(spx(long_call, Right.CALL), 1),
    )
    return OpenStructure("c-1", Structure.CONDOR, legs, quantity, open_price, OPENED)


def test_break_evens() -> None:
    assert break_evens(3900.0, 4100.0, 2.90) == pytest.approx((3897.10, 4102.90))
    with pytest.raises(ValueError):
        break_evens(3900.0, 4100.0, -0.5)
    with pytest.raises(ValueError):
        break_evens(4100.0, 4100.0, 1.0)


def test_max_loss_uses_the_wider_wing() -> None:
    assert max_loss_dollars(condor()) == pytest.approx((50 - 2.90) * 100 * 5)
    wide_put = condor(long_put=3825.0, quantity=2, open_price=-3.40)
    assert max_loss_dollars(wide_put) == pytest.approx((75 - 3.40) * 100 * 2)
    strikes = CondorStrikes(3850.0, 3900.0, 4100.0, 4200.0)
    assert condor_max_loss_points(strikes, 3.0) == pytest.approx(97.0)
    with pytest.raises(ValueError):
        max_loss_dollars(replace(condor(), structure=Structure.HEDGE_LAYER))


def test_condor_strikes_accepts_any_leg_order_and_rejects_malformed_condors() -> None:
    legs = condor().legs
    assert condor_strikes(reversed(legs)) == CondorStrikes(3850.0, 3900.0, 4100.0, 4150.0)
    with pytest.raises(ValueError, match="4 distinct"):
        condor_strikes(legs[:3])
    naked = (*legs[:3], Leg(spx(4150.0, Right.CALL), -1))  # two short calls, no wing
    with pytest.raises(ValueError):
        condor_strikes(naked)
    inverted = (
        Leg(spx(3950.0, Right.PUT), 1),  # "wing" inside the short: not protective
        Leg(spx(3900.0, Right.PUT), -1),
        legs[2],
        legs[3],
    )
    with pytest.raises(ValueError, match="long put < short put"):
        condor_strikes(inverted)
    with pytest.raises(ValueError):
        condor_strikes((*legs[:3], Leg(spx(4150.0, Right.CALL), 2)))


def _quote(
    contract: OptionContract, delta: float, gamma: float, vega: float, theta: float
) -> LegQuote:
    return LegQuote(contract, 1.0, 1.2, 0.2, delta, gamma, vega, theta)


def test_portfolio_greeks_sum_per_underlying() -> None:
    c = condor(quantity=2)
    lp, sp, sc, lc = (leg.contract for leg in c.legs)
    quotes = [
        _quote(lp, -0.10, 0.001, 120.0, -0.8),
        _quote(sp, -0.16, 0.002, 190.0, -1.2),
        _quote(sc, 0.16, 0.002, 170.0, -1.1),
        _quote(lc, 0.10, 0.001, 100.0, -0.7),
    ]
    vix_call = OptionContract("VIX", "VIX", date(2023, 4, 19), 22.0, Right.CALL)
    layer = OpenStructure("h-1", Structure.HEDGE_LAYER, (Leg(vix_call, 1),), 10, 1.25, OPENED)
    quotes.append(_quote(vix_call, 0.35, 0.05, 2.0, -0.02))

    g = portfolio_greeks([c, layer], quotes, symbol="SPX")
    # per unit: delta -0.10 + 0.16 - 0.16 + 0.10 = 0; gamma 0.001 - 0.002 - 0.002 + 0.001 = -0.002
    # vega 120 - 190 - 170 + 100 = -140; theta -0.8 + 1.2 + 1.1 - 0.7 = 0.8
    assert g.delta == pytest.approx(0.0, abs=1e-9)
    assert g.gamma == pytest.approx(-0.002 * 100 * 2)
    assert g.vega == pytest.approx(-140.0 * 2)
    assert g.theta == pytest.approx(0.8 * 100 * 2)

    v = portfolio_greeks([c, layer], quotes, symbol="VIX")
    # 10 long VIX calls: delta 0.35 * 100 * 10 = 350 $/VIX-future point, vega 2.0 * 10
    assert (v.delta, v.gamma, v.vega, v.theta) == pytest.approx((350.0, 50.0, 20.0, -20.0))
    assert structure_greeks(layer, quotes) == v
    total = g + v
    assert (total.delta, total.gamma, total.vega, total.theta) == pytest.approx(
        (g.delta + 350.0, g.gamma + 50.0, g.vega + 20.0, g.theta - 20.0)
    )
    assert portfolio_greeks([], quotes) == Greeks()
    with pytest.raises(ValueError, match="no quote"):
        portfolio_greeks([c], quotes[1:])


def test_open_structure_view() -> None:
    early = spx(3850.0, Right.PUT, date(2023, 2, 10))
    legs = (Leg(early, 1), Leg(spx(3900.0, Right.PUT), -1), Leg(spx(3900.0, Right.PUT), 1))
    s = OpenStructure("x", Structure.CONDOR, legs, 3, -1.0, OPENED)
    assert s.expiry == date(2023, 2, 10)
    assert s.dte(date(2023, 2, 3)) == 7
    assert s.dte(date(2023, 2, 13)) == -3
    assert s.contracts() == {early: 3, spx(3900.0, Right.PUT): 0}
    assert [leg.ratio for leg in s.closing_legs()] == [-1, 1, -1]
    with pytest.raises(ValueError):
        OpenStructure("x", Structure.CONDOR, (), 1, 0.0, OPENED)
    with pytest.raises(ValueError):
        OpenStructure("x", Structure.CONDOR, legs, 0, 0.0, OPENED)
    with pytest.raises(ValueError):
        OpenStructure("x", Structure.CONDOR, (Leg(early, 0),), 1, 0.0, OPENED)


def test_greeks_accept_quotes_keyed_by_contract() -> None:
    c = condor(quantity=1)
    quotes = {leg.contract: _quote(leg.contract, 0.1, 0.0, 10.0 * leg.ratio, 0.0) for leg in c.legs}
    # ratio * vega = ratio * 10 * ratio = 10 per leg, 4 legs
    assert structure_greeks(c, quotes).vega == pytest.approx(40.0)
    assert portfolio_greeks([c], quotes).vega == pytest.approx(40.0)
