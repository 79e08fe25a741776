"""Iron-condor entry and exit rules on synthetic chains (no pricing model, no network)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.condor import SPX_COMBO_TICK, plan_condor_entry, plan_condor_exit, round_to_tick
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
from strategies.positions import OpenStructure
from strategies.risk import condor_strikes
from strategies.rules import CondorRules

SESSION = date(2023, 2, 3)
CTX = MarketContext(session=SESSION, spx=4000.0, vix=18.0)
#: Net liquidation of the tests' account: 5% of it is a $25,000 max-loss budget.
NET_LIQ = 500_000.0


def make_slice(
    right: Right,
    strikes: list[float],
    delta: list[float],
    mid: list[float],
    dte: int = 14,
    trading_class: str = "SPXW",
    spread: float = 0.10,
) -> ChainSlice:
    """A chain slice with the given deltas and mids (bid/ask = mid -/+ spread/2)."""
    k = np.asarray(strikes, dtype=np.float64)
    m = np.asarray(mid, dtype=np.float64)
    bid = np.maximum(m - spread / 2, 0.0)
    ask = m + (m - bid)
    n = len(k)
    return ChainSlice(
        symbol="SPX",
        trading_class=trading_class,
        expiry=SESSION + timedelta(days=dte),
        right=right,
        dte=dte,
        t_years=dte / 365.0,
        forward=4000.0,
        strikes=k,
        bid=bid,
        ask=ask,
        iv=np.full(n, 0.18),
        delta=np.asarray(delta, dtype=np.float64),
        gamma=np.zeros(n),
        vega=np.zeros(n),
        theta=np.zeros(n),
    )


PUT_STRIKES = [3800.0, 3850.0, 3900.0, 3950.0, 4000.0]
PUT_DELTAS = [-0.05, -0.10, -0.16, -0.27, -0.50]
PUT_MIDS = [1.0, 2.0, 3.5, 7.0, 40.0]
CALL_STRIKES = [4000.0, 4050.0, 4100.0, 4150.0, 4200.0]
CALL_DELTAS = [0.50, 0.30, 0.16, 0.10, 0.04]
CALL_MIDS = [40.0, 9.0, 3.0, 1.6, 0.5]


def chains(dte: int = 14) -> tuple[ChainSlice, ChainSlice]:
    return (
        make_slice(Right.PUT, PUT_STRIKES, PUT_DELTAS, PUT_MIDS, dte=dte),
        make_slice(Right.CALL, CALL_STRIKES, CALL_DELTAS, CALL_MIDS, dte=dte),
    )


# ---------------------------------------------------------------- entry


def test_entry_picks_16_delta_shorts_wings_and_sizes_from_the_risk_budget() -> None:
    put, call = chains()
    decision = plan_condor_entry(
        CTX, [put], [call], open_condors=0, rules=CondorRules(), net_liq=NET_LIQ
    )

    assert decision.action is Action.OPEN
    assert decision.structure is Structure.CONDOR
    strikes = [(leg.contract.right, leg.contract.strike, leg.ratio) for leg in decision.legs]
    assert strikes == [
        (Right.PUT, 3850.0, 1),
        (Right.PUT, 3900.0, -1),
        (Right.CALL, 4100.0, -1),
        (Right.CALL, 4150.0, 1),
    ]
    # credit = (3.5 - 2.0) + (3.0 - 1.6) = 2.90; max loss = (50 - 2.90) * 100 = 4710 dollars
    # contracts = min(10, floor(25000 / 4710)) = min(10, 5) = 5
    assert decision.limit_price == pytest.approx(-2.90)
    assert decision.quantity == 5
    inputs = decision.inputs
    assert inputs["credit"] == pytest.approx(2.90)
    assert inputs["max_loss_dollars_per_condor"] == pytest.approx(4710.0)
    assert inputs["contracts_by_risk"] == 5
    assert inputs["break_even_lower"] == pytest.approx(3897.10)
    assert inputs["break_even_upper"] == pytest.approx(4102.90)
    assert inputs["short_put_delta"] == pytest.approx(-0.16)
    assert inputs["short_call_delta"] == pytest.approx(0.16)
    assert inputs["dte"] == 14
    assert all(leg.contract.trading_class == "SPXW" for leg in decision.legs)
    assert "2.90 credit" in decision.reason
    assert decision.places_order


def test_entry_contract_cap_binds_when_budget_is_large() -> None:
    put, call = chains()
    rules = CondorRules(max_loss_pct_of_net_liq=200.0, max_contracts=7)
    decision = plan_condor_entry(CTX, [put], [call], 0, rules, net_liq=NET_LIQ)
    assert decision.action is Action.OPEN
    assert decision.quantity == 7
    assert decision.inputs["contracts_by_risk"] == 212  # floor(1e6 / 4710)


def test_entry_exact_budget_multiple_is_not_floored_away() -> None:
    put, call = chains()
    rules = CondorRules(max_loss_pct_of_net_liq=3 * 4710.0 / NET_LIQ * 100.0)
    decision = plan_condor_entry(CTX, [put], [call], 0, rules, net_liq=NET_LIQ)
    assert decision.quantity == 3


def test_entry_sizes_from_current_net_liquidation() -> None:
    put, call = chains()
    rules = CondorRules(max_loss_pct_of_net_liq=5.0, max_contracts=10)
    sizes = {
        nl: plan_condor_entry(CTX, [put], [call], 0, rules, net_liq=nl).quantity
        for nl in (500_000.0, 200_000.0, 94_200.0, 94_199.0)
    }
    # floor(5% x NL / $4,710 per condor): 25,000 -> 5, 10,000 -> 2, 4,710 -> 1, 4,709.95 -> 0
    assert sizes == {500_000.0: 5, 200_000.0: 2, 94_200.0: 1, 94_199.0: 0}
    decision = plan_condor_entry(CTX, [put], [call], 0, rules, net_liq=200_000.0)
    assert decision.inputs["risk_budget_dollars"] == pytest.approx(10_000.0)
    assert decision.inputs["net_liq"] == 200_000.0
    assert decision.quantity * 4710.0 <= 0.05 * 200_000.0
    assert "5% of net liq $200,000" in decision.reason


def test_entry_skips_below_one_contract_and_without_net_liquidation() -> None:
    put, call = chains()
    small = plan_condor_entry(CTX, [put], [call], 0, CondorRules(), net_liq=94_199.0)
    assert small.action is Action.SKIP
    assert "fewer than one contract fits" in small.reason
    assert "5% of net liquidation $94,199" in small.reason
    broke = plan_condor_entry(CTX, [put], [call], 0, CondorRules(), net_liq=-1_000.0)
    assert broke.action is Action.SKIP
    assert "no risk budget" in broke.reason


def test_entry_skips_when_one_condor_exceeds_the_budget() -> None:
    put, call = chains()
    decision = plan_condor_entry(
        CTX, [put], [call], 0, CondorRules(max_loss_pct_of_net_liq=0.8), net_liq=NET_LIQ
    )
    assert decision.action is Action.SKIP
    assert decision.quantity == 0 and decision.legs == ()
    assert "risk budget" in decision.reason
    assert decision.inputs["contracts"] == 0


def test_entry_skips_below_min_credit() -> None:
    put, call = chains()
    decision = plan_condor_entry(
        CTX, [put], [call], 0, CondorRules(min_credit=3.0), net_liq=NET_LIQ
    )
    assert decision.action is Action.SKIP
    assert "below the minimum 3.00" in decision.reason
    assert decision.inputs["credit"] == pytest.approx(2.90)


def test_entry_skips_when_blocked_or_at_the_position_limit() -> None:
    put, call = chains()
    blocked = plan_condor_entry(
        CTX, [put], [call], 0, CondorRules(), blocked_reason="FOMC day", net_liq=NET_LIQ
    )
    assert blocked.action is Action.SKIP
    assert "FOMC day" in blocked.reason
    assert blocked.inputs["blocked_reason"] == "FOMC day"

    full = plan_condor_entry(
        CTX, [put], [call], 1, CondorRules(max_open_condors=1), net_liq=NET_LIQ
    )
    assert full.action is Action.SKIP
    assert "already open" in full.reason
    assert full.inputs["open_condors"] == 1


def test_entry_expiry_closest_to_target_ties_to_shorter() -> None:
    slices = [chains(d) for d in (5, 12, 16, 25)]
    puts = [p for p, _ in slices]
    calls = [c for _, c in slices]
    decision = plan_condor_entry(CTX, puts, calls, 0, CondorRules(target_dte=14), net_liq=NET_LIQ)
    assert decision.inputs["dte"] == 12  # 12 and 16 are both 2 days away: shorter wins
    assert decision.legs[0].contract.expiry == SESSION + timedelta(days=12)

    decision = plan_condor_entry(CTX, puts, calls, 0, CondorRules(target_dte=15), net_liq=NET_LIQ)
    assert decision.inputs["dte"] == 16


def test_entry_needs_both_rights_and_the_trading_class_in_the_window() -> None:
    put, call = chains(30)
    decision = plan_condor_entry(CTX, [put], [call], 0, CondorRules(), net_liq=NET_LIQ)
    assert decision.action is Action.SKIP
    assert "No SPXW expiry" in decision.reason
    assert decision.inputs["listed_dtes"] == "30"

    put14, _ = chains(14)
    _, call10 = chains(10)
    assert (
        plan_condor_entry(CTX, [put14], [call10], 0, CondorRules(), net_liq=NET_LIQ).action
        is Action.SKIP
    )

    am_put = replace(put14, trading_class="SPX")
    am_call = replace(chains(14)[1], trading_class="SPX")
    assert (
        plan_condor_entry(CTX, [am_put], [am_call], 0, CondorRules(), net_liq=NET_LIQ).action
        is Action.SKIP
    )


def test_short_strike_is_closest_absolute_delta_and_ties_go_further_otm() -> None:
    # |delta| 0.14 and 0.18 are equally far from 0.16: the smaller (further OTM) wins.
    put = make_slice(
        Right.PUT,
        [3800.0, 3850.0, 3875.0, 3900.0, 3950.0],
        [-0.04, -0.09, -0.14, -0.18, -0.30],
        [1.0, 2.0, 3.0, 4.0, 8.0],
    )
    call = make_slice(
        Right.CALL,
        [4050.0, 4100.0, 4125.0, 4150.0, 4175.0],
        [0.30, 0.17, 0.12, 0.08, 0.05],
        [9.0, 3.5, 2.5, 1.5, 1.0],
    )
    decision = plan_condor_entry(
        CTX, [put], [call], 0, CondorRules(wing_width=25.0), net_liq=NET_LIQ
    )
    assert decision.action is Action.OPEN
    assert decision.inputs["short_put_strike"] == 3875.0
    assert decision.inputs["short_call_strike"] == 4100.0
    assert decision.inputs["long_put_strike"] == 3850.0
    assert decision.inputs["long_call_strike"] == 4125.0


def test_wing_between_listed_strikes_takes_the_one_inside_the_width() -> None:
    # 3850 is not listed: the put wing moves in to 3860 (40 points), never out to 3825.
    put = make_slice(
        Right.PUT,
        [3800.0, 3825.0, 3860.0, 3880.0, 3900.0, 3950.0],
        [-0.05, -0.08, -0.11, -0.13, -0.16, -0.27],
        [1.0, 1.5, 2.2, 2.8, 3.5, 7.0],
    )
    _, call = chains()
    decision = plan_condor_entry(CTX, [put], [call], 0, CondorRules(), net_liq=NET_LIQ)
    assert decision.action is Action.OPEN
    assert decision.inputs["long_put_strike"] == 3860.0
    assert decision.inputs["put_width"] == 40.0
    assert decision.inputs["call_width"] == 50.0
    # credit = (3.5 - 2.2) + (3.0 - 1.6) = 2.70; max loss = (50 - 2.70) * 100, the wider wing
    assert decision.inputs["credit"] == pytest.approx(2.70)
    assert decision.inputs["max_loss_dollars_per_condor"] == pytest.approx(4730.0)
    assert decision.quantity == 5  # floor(25000 / 4730)


def test_entry_skips_when_no_listed_strike_lies_within_the_width() -> None:
    put = make_slice(
        Right.PUT, [3800.0, 3825.0, 3900.0, 3950.0], [-0.05, -0.08, -0.16, -0.27], [1, 1.5, 3.5, 7]
    )
    _, call = chains()
    decision = plan_condor_entry(CTX, [put], [call], 0, CondorRules(), net_liq=NET_LIQ)
    assert decision.action is Action.SKIP
    assert "No quoted put wing between the short put and 3850" in decision.reason


def test_entry_skips_without_a_long_wing() -> None:
    put = make_slice(Right.PUT, [3900.0, 3950.0], [-0.16, -0.27], [3.5, 7.0])
    _, call = chains()
    decision = plan_condor_entry(CTX, [put], [call], 0, CondorRules(), net_liq=NET_LIQ)
    assert decision.action is Action.SKIP
    assert "never selling a short without its long wing" in decision.reason
    assert decision.legs == ()


def test_unquoted_strikes_are_ignored() -> None:
    put, call = chains()
    bid = put.bid.copy()
    bid[2] = np.nan  # the 16-delta put has no quote
    decision = plan_condor_entry(
        CTX, [replace(put, bid=bid)], [call], 0, CondorRules(), net_liq=NET_LIQ
    )
    assert decision.action is Action.OPEN
    assert decision.inputs["short_put_strike"] == 3850.0  # -0.10 is the next closest
    assert decision.inputs["long_put_strike"] == 3800.0


def _black_delta_and_price(
    right: Right, forward: float, strikes: np.ndarray, vol: float, t: float
) -> tuple[np.ndarray, np.ndarray]:
    sd = vol * math.sqrt(t)
    d1 = (np.log(forward / strikes) + 0.5 * sd * sd) / sd
    d2 = d1 - sd
    cdf = np.vectorize(lambda x: 0.5 * (1.0 + math.erf(x / math.sqrt(2.0))))
    call = forward * cdf(d1) - strikes * cdf(d2)
    if right is Right.CALL:
        return cdf(d1), call
    return cdf(d1) - 1.0, call - forward + strikes


@settings(max_examples=200, deadline=None)
@given(
    grid=st.lists(st.integers(min_value=700, max_value=900), min_size=4, max_size=60, unique=True),
    vol=st.floats(min_value=0.08, max_value=0.8),
    width=st.sampled_from([5.0, 10.0, 25.0, 50.0, 100.0]),
    holes=st.lists(st.booleans(), min_size=60, max_size=60),
    min_credit=st.floats(min_value=0.0, max_value=3.0),
)
def test_property_never_a_short_without_its_long_wing(
    grid: list[int], vol: float, width: float, holes: list[bool], min_credit: float
) -> None:
    strikes = np.array(sorted(5.0 * g for g in grid))  # 3500-4500 on a 5-point grid
    t = 14 / 365.0
    slices = []
    for right in (Right.PUT, Right.CALL):
        delta, price = _black_delta_and_price(right, 4000.0, strikes, vol, t)
        s = make_slice(right, list(strikes), list(delta), list(np.maximum(price, 0.05)))
        mask = np.array(holes[: len(strikes)]) if right is Right.PUT else np.zeros(len(strikes))
        s = replace(s, bid=np.where(mask.astype(bool), np.nan, s.bid))
        slices.append(s)
    rules = CondorRules(wing_width=width, min_credit=min_credit)
    decision = plan_condor_entry(CTX, [slices[0]], [slices[1]], 0, rules, net_liq=NET_LIQ)

    if decision.action is not Action.OPEN:
        assert decision.action is Action.SKIP
        assert decision.legs == () and decision.quantity == 0 and decision.reason
        return
    ratios = [leg.ratio for leg in decision.legs]
    rights = [leg.contract.right for leg in decision.legs]
    assert ratios == [1, -1, -1, 1]
    assert rights == [Right.PUT, Right.PUT, Right.CALL, Right.CALL]
    cs = condor_strikes(decision.legs)  # raises unless every short has its wing
    assert 0 < cs.put_width <= width + 1e-9
    assert 0 < cs.call_width <= width + 1e-9
    quoted_puts = strikes[np.isfinite(slices[0].bid)]
    # the wing is the farthest quoted strike within the width: nothing between it and the width
    between = quoted_puts[(quoted_puts < cs.long_put) & (quoted_puts >= cs.short_put - width)]
    assert between.size == 0
    between = strikes[(strikes > cs.long_call) & (strikes <= cs.short_call + width)]
    assert between.size == 0
    assert 1 <= decision.quantity <= rules.max_contracts
    assert decision.limit_price is not None
    credit = -decision.limit_price
    assert credit >= min_credit
    max_loss = (max(cs.put_width, cs.call_width) - credit) * 100
    assert decision.quantity * max_loss <= rules.max_loss_pct_of_net_liq / 100.0 * NET_LIQ + 1e-6
    assert abs(credit / SPX_COMBO_TICK - round(credit / SPX_COMBO_TICK)) < 1e-9


def test_round_to_tick() -> None:
    assert round_to_tick(2.93, 0.05) == 2.95
    assert round_to_tick(2.92, 0.05) == 2.90
    assert round_to_tick(-1.01, 0.05) == -1.0
    with pytest.raises(ValueError):
        round_to_tick(1.0, 0.0)
    with pytest.raises(ValueError):
        round_to_tick(float("nan"), 0.05)


# ---------------------------------------------------------------- exit

EXPIRY = date(2023, 2, 17)


def _contract(right: Right, strike: float) -> OptionContract:
    return OptionContract("SPX", "SPXW", EXPIRY, strike, right)


LEGS = (
    Leg(_contract(Right.PUT, 3850.0), 1),
    Leg(_contract(Right.PUT, 3900.0), -1),
    Leg(_contract(Right.CALL, 4100.0), -1),
    Leg(_contract(Right.CALL, 4150.0), 1),
)
CONDOR = OpenStructure("c-1", Structure.CONDOR, LEGS, 5, -2.90, date(2023, 2, 3))


def quotes_for_debit(debit: float) -> list[LegQuote]:
    """Quotes whose mids make the debit to close exactly ``debit``.

    debit = -(lp - sp - sc + lc) = sp + sc - lp - lc with lp=0.2, sc=0.5, lc=0.3.
    """
    mids = {3850.0: 0.2, 3900.0: debit, 4100.0: 0.5, 4150.0: 0.3}
    return [
        LegQuote(
            leg.contract, mids[leg.contract.strike], mids[leg.contract.strike], 0.2, 0, 0, 0, 0
        )
        for leg in LEGS
    ]


def test_exit_holds_between_target_and_stop() -> None:
    d = plan_condor_exit(CONDOR, quotes_for_debit(2.0), date(2023, 2, 7), CondorRules())
    assert d.action is Action.HOLD
    assert d.position_id == "c-1"
    assert d.inputs["debit"] == pytest.approx(2.0)
    assert d.inputs["pnl_dollars"] == pytest.approx((2.90 - 2.0) * 100 * 5)
    assert d.inputs["dte"] == 10
    assert d.inputs["profit_target_debit"] == pytest.approx(1.45)
    assert d.inputs["stop_debit"] == pytest.approx(5.80)
    assert not d.places_order


def test_exit_profit_target_closes_at_half_the_credit() -> None:
    d = plan_condor_exit(CONDOR, quotes_for_debit(1.40), date(2023, 2, 7), CondorRules())
    assert d.action is Action.CLOSE
    assert d.inputs["trigger"] == "profit target"
    assert d.limit_price == pytest.approx(1.40)  # + debit
    assert d.quantity == 5
    assert d.position_id == "c-1"
    assert [leg.ratio for leg in d.legs] == [-1, 1, 1, -1]
    assert [leg.contract for leg in d.legs] == [leg.contract for leg in LEGS]
    assert d.inputs["pnl_dollars"] == pytest.approx(750.0)
    assert "profit target" in d.reason


def test_exit_stop_at_twice_the_credit() -> None:
    d = plan_condor_exit(CONDOR, quotes_for_debit(5.85), date(2023, 2, 7), CondorRules())
    assert d.action is Action.CLOSE
    assert d.inputs["trigger"] == "stop"
    assert d.limit_price == pytest.approx(5.85)
    assert d.inputs["pnl_dollars"] == pytest.approx((2.90 - 5.85) * 500)

    just_below = plan_condor_exit(CONDOR, quotes_for_debit(5.75), date(2023, 2, 7), CondorRules())
    assert just_below.action is Action.HOLD


def test_exit_dte_floor_wins_over_everything() -> None:
    d = plan_condor_exit(CONDOR, quotes_for_debit(2.0), date(2023, 2, 15), CondorRules())
    assert d.action is Action.CLOSE
    assert d.inputs["trigger"] == "DTE floor"
    assert d.inputs["dte"] == 2
    stop_and_floor = plan_condor_exit(
        CONDOR, quotes_for_debit(7.0), date(2023, 2, 16), CondorRules()
    )
    assert stop_and_floor.inputs["trigger"] == "DTE floor"
    assert plan_condor_exit(
        CONDOR, quotes_for_debit(2.0), date(2023, 2, 14), CondorRules()
    ).action is (Action.HOLD)


def test_exit_limit_is_rounded_and_at_least_one_tick() -> None:
    d = plan_condor_exit(CONDOR, quotes_for_debit(1.02), date(2023, 2, 7), CondorRules())
    assert d.limit_price == pytest.approx(1.00)
    cheap = plan_condor_exit(CONDOR, quotes_for_debit(0.01), date(2023, 2, 7), CondorRules())
    assert cheap.limit_price == pytest.approx(SPX_COMBO_TICK)


def test_exit_holds_without_quotes_and_rejects_non_condors() -> None:
    d = plan_condor_exit(CONDOR, quotes_for_debit(1.0)[:3], date(2023, 2, 15), CondorRules())
    assert d.action is Action.HOLD
    assert "4150" in d.reason
    layer = replace(CONDOR, structure=Structure.HEDGE_LAYER)
    with pytest.raises(ValueError):
        plan_condor_exit(layer, quotes_for_debit(1.0), date(2023, 2, 7), CondorRules())


def test_exit_accepts_quotes_keyed_by_contract() -> None:
    quotes = {q.contract: q for q in quotes_for_debit(1.40)}
    d = plan_condor_exit(CONDOR, quotes, date(2023, 2, 7), CondorRules())
    assert d.action is Action.CLOSE
    assert d.inputs["debit"] == pytest.approx(1.40)


# --------------------------------------------------------------------- wing modes


def test_points_mode_is_the_default_and_records_its_width() -> None:
    put, call = chains()
    decision = plan_condor_entry(CTX, [put], [call], 0, CondorRules(), net_liq=NET_LIQ)
    assert CondorRules().wing_mode == "points"
    assert decision.action is Action.OPEN
    assert decision.inputs["wing_mode"] == "points"
    assert decision.inputs["wing_target_points"] == 50.0
    assert (decision.inputs["long_put_strike"], decision.inputs["long_call_strike"]) == (
        3850.0,
        4150.0,
    )


def test_percent_wing_points_round_to_the_strike_grid() -> None:
    from strategies.condor import percent_wing_points

    assert percent_wing_points(1450.0, 2.0) == 30.0  # 29 points -> 30
    assert percent_wing_points(5500.0, 2.0) == 110.0
    assert percent_wing_points(4000.0, 2.5) == 100.0
    assert percent_wing_points(100.0, 1.0) == 5.0  # never below one grid step


def test_percent_mode_scales_the_wing_with_spot() -> None:
    put, call = chains()
    rules = CondorRules(wing_mode="percent", wing_pct=2.5, max_loss_pct_of_net_liq=20.0)
    decision = plan_condor_entry(CTX, [put], [call], 0, rules, net_liq=NET_LIQ)
    assert decision.action is Action.OPEN
    assert decision.inputs["wing_mode"] == "percent"
    assert decision.inputs["wing_pct"] == 2.5
    assert decision.inputs["wing_target_points"] == 100.0  # 2.5% of SPX 4,000
    assert (decision.inputs["long_put_strike"], decision.inputs["long_call_strike"]) == (
        3800.0,
        4200.0,
    )
    # Half the index level, half the wing: 1.25% of 4,000 is 50 points.
    half = plan_condor_entry(CTX, [put], [call], 0, replace(rules, wing_pct=1.25), net_liq=NET_LIQ)
    assert half.inputs["long_put_strike"] == 3850.0
    # Wider than the listed strikes: the farthest listed strike within 200 points.
    wide = plan_condor_entry(CTX, [put], [call], 0, replace(rules, wing_pct=5.0), net_liq=NET_LIQ)
    assert wide.inputs["wing_target_points"] == 200.0
    assert wide.inputs["put_width"] <= 200.0 and wide.inputs["call_width"] <= 200.0
    # Narrower than the strike spacing: a skip, never a naked short.
    narrow = plan_condor_entry(
        CTX, [put], [call], 0, replace(rules, wing_pct=0.25), net_liq=NET_LIQ
    )
    assert narrow.action is Action.SKIP
    assert "wing_mode percent" in narrow.reason


def test_delta_mode_picks_the_long_wing_by_delta() -> None:
    put, call = chains()
    rules = CondorRules(wing_mode="delta", wing_delta=0.05, max_loss_pct_of_net_liq=20.0)
    decision = plan_condor_entry(CTX, [put], [call], 0, rules, net_liq=NET_LIQ)
    assert decision.action is Action.OPEN
    assert decision.inputs["wing_mode"] == "delta"
    assert decision.inputs["wing_delta"] == 0.05
    assert "wing_target_points" not in decision.inputs
    # 3800P is -0.05; of 4150C (0.10) and 4200C (0.04), 0.04 is closer to 0.05.
    assert (decision.inputs["long_put_strike"], decision.inputs["long_call_strike"]) == (
        3800.0,
        4200.0,
    )
    ten = plan_condor_entry(CTX, [put], [call], 0, replace(rules, wing_delta=0.10), net_liq=NET_LIQ)
    assert (ten.inputs["long_put_strike"], ten.inputs["long_call_strike"]) == (3850.0, 4150.0)


def test_delta_mode_skips_without_a_strike_beyond_the_short() -> None:
    put = make_slice(Right.PUT, [3900.0, 3950.0], [-0.16, -0.27], [3.5, 7.0])
    _, call = chains()
    rules = CondorRules(wing_mode="delta", wing_delta=0.05)
    decision = plan_condor_entry(CTX, [put], [call], 0, rules, net_liq=NET_LIQ)
    assert decision.action is Action.SKIP
    assert "No quoted put beyond the short put" in decision.reason
