"""First ALVH layer: expiry and strike band choice, sizing arithmetic, exits."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pytest

import strategies.hedge as hedge
from strategies.domain import (
    Action,
    ChainSlice,
    Leg,
    LegQuote,
    MarketContext,
    OptionContract,
    Right,
    Structure,
)
from strategies.hedge import (
    condor_short_vega_dollars,
    plan_hedge_exit,
    plan_hedge_layer,
    round_vix_price,
    vix_tick,
)
from strategies.positions import OpenStructure
from strategies.pricing.vix_model import future_spot_beta
from strategies.rules import HedgeRules

SESSION = date(2023, 2, 3)
CTX = MarketContext(session=SESSION, spx=4100.0, vix=18.5)
STRIKES = [float(k) for k in range(15, 31)]


def vix_calls(
    dte: int,
    forward: float = 20.0,
    strikes: list[float] | None = None,
    delta_at: dict[float, float] | None = None,
    mid_at: dict[float, float] | None = None,
) -> ChainSlice:
    """A VIX call slice; delta falls linearly with strike unless overridden."""
    k = np.asarray(strikes or STRIKES, dtype=np.float64)
    delta = np.clip(0.5 - (k - forward) * 0.05, 0.01, 0.99)
    mid = np.maximum(forward - k, 0.0) + 1.5 * np.exp(-(k - forward) / 4.0)
    for strike, value in (delta_at or {}).items():
        delta[k == strike] = value
    for strike, value in (mid_at or {}).items():
        mid[k == strike] = value
    n = len(k)
    return ChainSlice(
        symbol="VIX",
        trading_class="VIX",
        expiry=SESSION + timedelta(days=dte),
        right=Right.CALL,
        dte=dte,
        t_years=dte / 365.0,
        forward=forward,
        strikes=k,
        bid=mid - 0.05,
        ask=mid + 0.05,
        iv=np.full(n, 0.9),
        delta=delta,
        gamma=np.zeros(n),
        vega=np.zeros(n),
        theta=np.zeros(n),
    )


@pytest.fixture
def beta_half(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin beta(T) to 0.5 so the sizing arithmetic is exact."""
    monkeypatch.setattr(hedge, "future_spot_beta", lambda t_years: 0.5)


def test_condor_short_vega_dollars_sums_ratio_vega_quantity() -> None:
    expiry = date(2023, 2, 17)
    vegas = {3850.0: 120.0, 3900.0: 190.0, 4100.0: 170.0, 4150.0: 100.0}
    legs = (
        Leg(OptionContract("SPX", "SPXW", expiry, 3850.0, Right.PUT), 1),
        Leg(OptionContract("SPX", "SPXW", expiry, 3900.0, Right.PUT), -1),
        Leg(OptionContract("SPX", "SPXW", expiry, 4100.0, Right.CALL), -1),
        Leg(OptionContract("SPX", "SPXW", expiry, 4150.0, Right.CALL), 1),
    )
    condor = OpenStructure("c", Structure.CONDOR, legs, 5, -2.9, SESSION)
    quotes = [
        LegQuote(leg.contract, 1.0, 1.1, 0.2, 0.0, 0.0, vegas[leg.contract.strike], 0.0)
        for leg in legs
    ]
    # per unit: 120 - 190 - 170 + 100 = -140 per 1.00 vol per share
    # = -140 * 100 / 100 dollars per vol point per condor; x 5 condors
    assert condor_short_vega_dollars(condor, quotes) == pytest.approx(-700.0)
    with pytest.raises(ValueError):
        condor_short_vega_dollars(condor, quotes[1:])


@pytest.mark.usefixtures("beta_half")
def test_layer_chooses_expiry_nearest_window_middle_and_strike_nearest_band_middle() -> None:
    chains = [vix_calls(d) for d in (30, 50, 70, 100)]
    d = plan_hedge_layer(CTX, chains, -700.0, 0, HedgeRules(), SESSION)
    assert d.action is Action.OPEN
    assert d.structure is Structure.HEDGE_LAYER
    assert d.inputs["dte"] == 70  # window 45-90, middle 67.5
    # F = 20: band 21.6-22.4, middle 22
    assert d.inputs["strike"] == 22.0
    assert d.inputs["otm_pct"] == pytest.approx(10.0)
    (leg,) = d.legs
    assert leg.ratio == 1
    assert leg.contract.symbol == "VIX" and leg.contract.right is Right.CALL
    assert leg.contract.strike == 22.0
    assert leg.contract.expiry == SESSION + timedelta(days=70)


@pytest.mark.usefixtures("beta_half")
def test_layer_sizing_arithmetic() -> None:
    chain = vix_calls(60, delta_at={22.0: 0.35}, mid_at={22.0: 1.25})
    d = plan_hedge_layer(CTX, [chain], -700.0, 0, HedgeRules(vega_share=0.35), SESSION)
    # target = 0.35 * 700 = 245 $/VIX pt; per contract = 0.35 * 0.5 * 100 = 17.5 $/VIX pt
    # contracts = ceil(245 / 17.5) = ceil(14.0) = 14 (not 15: exact multiples stay exact)
    assert d.inputs["target_offset_dollars_per_vix_point"] == pytest.approx(245.0)
    assert d.inputs["per_contract_dollars_per_vix_point"] == pytest.approx(17.5)
    assert d.inputs["beta"] == 0.5
    assert d.quantity == 14
    assert d.inputs["contracts_cap"] == math.floor(5000 / 130)  # ask 1.30
    assert d.limit_price == pytest.approx(1.25)
    assert "capped" not in d.reason

    d = plan_hedge_layer(CTX, [chain], -710.0, 0, HedgeRules(vega_share=0.35), SESSION)
    assert d.quantity == 15  # 248.5 / 17.5 = 14.2 -> 15


@pytest.mark.usefixtures("beta_half")
def test_layer_is_capped_by_the_debit_budget() -> None:
    chain = vix_calls(60, delta_at={22.0: 0.35}, mid_at={22.0: 1.25})
    rules = HedgeRules(max_debit_dollars=1000.0)
    d = plan_hedge_layer(CTX, [chain], -700.0, 0, rules, SESSION)
    assert d.action is Action.OPEN
    assert d.inputs["contracts_wanted"] == 14
    assert d.quantity == 7  # floor(1000 / (1.30 * 100))
    assert d.quantity * 1.30 * 100 <= rules.max_debit_dollars
    assert "capped from 14" in d.reason

    too_small = plan_hedge_layer(
        CTX, [chain], -700.0, 0, HedgeRules(max_debit_dollars=100.0), SESSION
    )
    assert too_small.action is Action.SKIP
    assert "layer budget" in too_small.reason


def test_layer_uses_the_real_beta() -> None:
    chain = vix_calls(60)
    d = plan_hedge_layer(CTX, [chain], -700.0, 0, HedgeRules(), SESSION)
    beta = future_spot_beta(60 / 365.0)
    assert 0.0 < beta < 1.0
    assert d.inputs["beta"] == pytest.approx(beta)
    delta = float(chain.delta[chain.strikes == 22.0][0])
    per_contract = delta * beta * 100
    expected = min(
        math.ceil(0.35 * 700 / per_contract),
        math.floor(5000 / (float(chain.ask[chain.strikes == 22.0][0]) * 100)),
    )
    assert d.quantity == expected


def test_layer_skip_reasons() -> None:
    chains = [vix_calls(60)]
    no_vega = plan_hedge_layer(CTX, chains, 0.0, 0, HedgeRules(), SESSION)
    assert no_vega.action is Action.SKIP and "No short vega" in no_vega.reason
    long_vega = plan_hedge_layer(CTX, chains, 50.0, 0, HedgeRules(), SESSION)
    assert long_vega.action is Action.SKIP
    unknown = plan_hedge_layer(CTX, chains, math.nan, 0, HedgeRules(), SESSION)
    assert unknown.action is Action.SKIP and "vega is not known" in unknown.reason
    assert "No short vega" not in unknown.reason

    full = plan_hedge_layer(CTX, chains, -700.0, 1, HedgeRules(max_layers=1), SESSION)
    assert full.action is Action.SKIP and "already open" in full.reason

    no_expiry = plan_hedge_layer(
        CTX, [vix_calls(30), vix_calls(120)], -700.0, 0, HedgeRules(), SESSION
    )
    assert no_expiry.action is Action.SKIP and "No VIX call expiry" in no_expiry.reason
    assert no_expiry.legs == () and no_expiry.quantity == 0


def test_layer_takes_nearest_strike_when_band_holds_none() -> None:
    # F = 15: band 16.2-16.8 holds no whole-point strike; 17 is nearest above the band's middle.
    chain = vix_calls(60, forward=15.0)
    d = plan_hedge_layer(CTX, [chain], -700.0, 0, HedgeRules(), SESSION)
    assert d.action is Action.OPEN
    assert d.inputs["strike"] == 17.0
    assert d.inputs["strike_in_band"] == 0
    assert "nearest listed strike to the band" in d.reason
    assert d.inputs["band_low"] == pytest.approx(16.2)
    assert d.inputs["band_high"] == pytest.approx(16.8)


def test_layer_skips_when_no_listed_strike_near_band() -> None:
    # Strikes 5 points apart: nothing within one band width (0.6) of 16.2-16.8.
    chain = vix_calls(60, forward=15.0, strikes=[10.0, 15.0, 20.0, 25.0])
    d = plan_hedge_layer(CTX, [chain], -700.0, 0, HedgeRules(), SESSION)
    assert d.action is Action.SKIP
    assert "OTM band" in d.reason


def test_layer_falls_back_to_next_expiry_when_preferred_has_no_strike_in_band() -> None:
    preferred = vix_calls(65, forward=15.0)  # nearest the middle, but no strike in band
    other = vix_calls(50, forward=20.0)
    d = plan_hedge_layer(CTX, [preferred, other], -700.0, 0, HedgeRules(), SESSION)
    assert d.action is Action.OPEN
    assert d.inputs["dte"] == 50
    assert d.inputs["strike"] == 22.0


def test_strike_ties_go_to_the_lower_strike_and_band_edges_count() -> None:
    # F = 25: band 27.0-28.0, middle 27.5: 27 and 28 tie.
    d = plan_hedge_layer(CTX, [vix_calls(60, forward=25.0)], -700.0, 0, HedgeRules(), SESSION)
    assert d.inputs["strike"] == 27.0


def test_vix_tick_rounding() -> None:
    assert vix_tick(2.95) == 0.05
    assert vix_tick(3.00) == 0.10
    assert round_vix_price(1.27) == 1.25
    assert round_vix_price(1.28) == 1.30
    assert round_vix_price(3.27) == 3.30
    assert round_vix_price(3.24) == 3.20
    assert round_vix_price(0.01) == 0.05


# ---------------------------------------------------------------- exit

LAYER_CONTRACT = OptionContract("VIX", "VIX", date(2023, 4, 19), 22.0, Right.CALL)
LAYER = OpenStructure("h-1", Structure.HEDGE_LAYER, (Leg(LAYER_CONTRACT, 1),), 14, 1.25, SESSION)


def quote(mid: float) -> LegQuote:
    return LegQuote(LAYER_CONTRACT, mid - 0.05, mid + 0.05, 0.9, 0.3, 0.0, 0.02, -0.01)


def test_hedge_exit_holds_before_close_dte() -> None:
    d = plan_hedge_exit(LAYER, quote(2.0), date(2023, 4, 11), HedgeRules(), condor_open=True)
    assert d.action is Action.HOLD
    assert d.inputs["dte"] == 8
    assert d.inputs["pnl_dollars"] == pytest.approx((2.0 - 1.25) * 100 * 14)
    assert d.position_id == "h-1"
    assert not d.places_order


def test_hedge_exit_closes_at_close_dte_selling_at_mid() -> None:
    d = plan_hedge_exit(LAYER, quote(0.42), date(2023, 4, 12), HedgeRules(), condor_open=False)
    assert d.action is Action.CLOSE
    assert d.inputs["dte"] == 7
    assert d.limit_price == pytest.approx(-0.40)  # a credit: selling the calls
    assert d.quantity == 14
    assert d.legs == (Leg(LAYER_CONTRACT, -1),)
    assert d.position_id == "h-1"
    assert d.inputs["condor_open"] == 0
    assert "closed" in d.reason


def test_hedge_exit_validates_inputs() -> None:
    other = replace(quote(1.0), contract=replace(LAYER_CONTRACT, strike=23.0))
    with pytest.raises(ValueError):
        plan_hedge_exit(LAYER, other, SESSION, HedgeRules(), True)
    with pytest.raises(ValueError):
        plan_hedge_exit(
            replace(LAYER, structure=Structure.CONDOR), quote(1.0), SESSION, HedgeRules(), True
        )
    nan = plan_hedge_exit(LAYER, quote(float("nan")), date(2023, 4, 15), HedgeRules(), True)
    assert nan.action is Action.HOLD and "no usable quote" in nan.reason
