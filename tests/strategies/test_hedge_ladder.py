"""The ALVH ladder: sizing arithmetic, triggers and their combination, rung choice, manage rules.

Numbers are hand-checked; ``beta(T)`` is pinned to 0.5 where it matters, so a
VIX call with delta ``d`` and no vega gains ``100 * d * 0.5`` per VIX point.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pytest

import strategies.hedge.sizing as sizing
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
    Exposure,
    HeldHedge,
    call_vix_dollars,
    condor_vix_loss,
    evaluate_triggers,
    hedge_vix_dollars,
    pick_call,
    plan_hedge_manage,
    plan_ladder_entry,
    round_vix_price,
    vix_tick,
)
from strategies.positions import OpenStructure
from strategies.rules import HedgeRules
from strategies.signals import HedgeSignals

SESSION = date(2023, 2, 3)
CTX = MarketContext(session=SESSION, spx=4100.0, vix=18.5)
STRIKES = [float(k) for k in range(15, 31)]


def vix_calls(dte: int, forward: float = 20.0) -> ChainSlice:
    """A VIX call slice: delta 0.5 - 0.05 per point over the future, mid decaying, no vega."""
    k = np.asarray(STRIKES, dtype=np.float64)
    delta = np.clip(0.5 - (k - forward) * 0.05, 0.01, 0.99)
    mid = np.maximum(forward - k, 0.0) + 1.5 * np.exp(-(k - forward) / 4.0)
    n = len(k)
    return ChainSlice(
        "VIX", "VIX", SESSION + timedelta(days=dte), Right.CALL, dte, dte / 365.0, forward, k,
        mid - 0.05, mid + 0.05, np.full(n, 0.9), delta, np.zeros(n), np.zeros(n), np.zeros(n),
    )  # fmt: skip


def signals(**overrides: object) -> HedgeSignals:
    base = HedgeSignals(
        session=SESSION, as_of=SESSION, vix=18.5, vix_rsi=50.0, vvix_macd=0.0,
        vvix_macd_signal=0.0, vvix_macd_hist=0.0, vvix_hist_turning_up=False, ad_line=0.0,
        ad_gap=0.0, spx_at_high=False, ad_divergence=False, m1_m2_spread=1.0,
        backwardation=False, front_second_above=False, spread_change=0.0, vix_regime="calm",
    )  # fmt: skip
    return replace(base, **overrides)  # type: ignore[arg-type]


@pytest.fixture
def beta_half(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sizing, "future_spot_beta", lambda t_years: 0.5)


# -- price grid ------------------------------------------------------------------------


def test_vix_tick_and_rounding() -> None:
    assert vix_tick(2.95) == 0.05 and vix_tick(3.0) == 0.10
    assert round_vix_price(0.91) == pytest.approx(0.90)
    assert round_vix_price(0.01) == pytest.approx(0.05)
    assert round_vix_price(3.37) == pytest.approx(3.40)


# -- sizing ----------------------------------------------------------------------------


def test_condor_loss_is_vega_times_iv_beta_plus_delta_term() -> None:
    rules = HedgeRules(condor_iv_beta=0.6, spx_return_per_vix=-0.005)
    # -(-500 * 0.6 + 20 * 4000 * -0.005) = -(-300 - 400) = 700
    assert condor_vix_loss(-500.0, 20.0, 4000.0, rules) == pytest.approx(700.0)
    # the delta term switched off
    assert condor_vix_loss(-500.0, 20.0, 4000.0, replace(rules, spx_return_per_vix=0.0)) == (
        pytest.approx(300.0)
    )


def test_call_gain_is_delta_beta_plus_vol_of_vol(beta_half: None) -> None:
    rules = HedgeRules(vvix_log_beta=0.02)
    # 100 * (0.4 * 0.5 + 2.5 * 0.9 * 0.02) = 100 * (0.2 + 0.045) = 24.5
    assert call_vix_dollars(0.4, 2.5, 0.9, 0.2, rules) == pytest.approx(24.5)
    assert call_vix_dollars(0.4, 2.5, 0.9, 0.2, replace(rules, vvix_log_beta=0.0)) == (
        pytest.approx(20.0)
    )


def test_call_gain_uses_the_futures_beta() -> None:
    # beta(T) = exp(-6 T) at T = 0.2: 0.3012
    assert call_vix_dollars(0.4, 0.0, 0.9, 0.2, HedgeRules()) == pytest.approx(
        100 * 0.4 * math.exp(-1.2)
    )


def test_hedge_gain_reads_the_beta_function_of_the_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    # the betas are remembered per day count: a replaced beta function is not served old ones
    call = OptionContract("VIX", "VIX", SESSION + timedelta(days=73), 20.0, Right.CALL)
    hedge = OpenStructure("h", Structure.HEDGE_LAYER, (Leg(call, 1),), 2, 1.0, SESSION)
    quotes = {call: LegQuote(call, 1.0, 1.2, 0.9, 0.4, 0.0, 0.0, 0.0)}
    rules = HedgeRules(vvix_log_beta=0.0)
    real = 2 * call_vix_dollars(0.4, 0.0, 0.9, 73 / 365.0, rules)
    assert hedge_vix_dollars(hedge, quotes, SESSION, rules) == real
    assert real == pytest.approx(2 * 100 * 0.4 * math.exp(-6 * 0.2))
    monkeypatch.setattr(sizing, "future_spot_beta", lambda t_years: 0.5)
    assert hedge_vix_dollars(hedge, quotes, SESSION, rules) == pytest.approx(2 * 100 * 0.4 * 0.5)


def test_exposure_target_and_gap_net_of_held() -> None:
    e = Exposure(condor_loss=700.0, hedge_gain=100.0, share=0.35)
    assert e.target == pytest.approx(245.0)
    assert e.gap(0.6) == pytest.approx(147.0 - 100.0)
    assert e.gap(1.0, without=40.0) == pytest.approx(245.0 - 60.0)
    assert Exposure(-50.0, 0.0, 0.35).target == 0.0


def test_rung_weights_are_cumulative_and_end_at_one() -> None:
    rules = HedgeRules(rungs=3, base_weight=0.6)
    assert [rules.rung_weight(k) for k in (1, 2, 3, 4)] == pytest.approx([0.6, 0.8, 1.0, 1.0])
    assert HedgeRules(rungs=1, base_weight=0.5).rung_weight(1) == 1.0


# -- triggers ----------------------------------------------------------------------------

ANY = HedgeRules(trigger_combine="any")


@pytest.mark.parametrize(
    ("name", "fires", "quiet"),
    [
        ("rsi", {"vix_rsi": 75.0}, {"vix_rsi": 65.0}),
        ("macd", {"vvix_hist_turning_up": True}, {"vvix_hist_turning_up": False}),
        ("divergence", {"ad_divergence": True}, {"ad_divergence": False}),
        ("term", {"backwardation": True}, {"m1_m2_spread": 0.5}),
        ("term", {"front_second_above": True}, {"backwardation": False}),
    ],
)
def test_each_trigger_fires_and_does_not(name: str, fires: dict, quiet: dict) -> None:
    hit = evaluate_triggers(signals(**fires), ANY)
    assert hit.fired == (name,) and hit.passed and name in hit.text
    miss = evaluate_triggers(signals(**quiet), ANY)
    assert miss.fired == () and not miss.passed


def test_rsi_nan_does_not_fire() -> None:
    assert evaluate_triggers(signals(vix_rsi=math.nan), ANY).fired == ()


def test_a_switched_off_trigger_is_ignored() -> None:
    check = evaluate_triggers(signals(vix_rsi=90.0), replace(ANY, trigger_rsi=False))
    assert "rsi" not in check.enabled and not check.passed


def test_combine_rules() -> None:
    two = signals(vix_rsi=80.0, backwardation=True)
    assert evaluate_triggers(two, HedgeRules(trigger_combine="at_least", trigger_min=2)).passed
    assert not evaluate_triggers(two, HedgeRules(trigger_combine="at_least", trigger_min=3)).passed
    assert not evaluate_triggers(two, HedgeRules(trigger_combine="all")).passed
    every = signals(vix_rsi=80.0, backwardation=True, vvix_hist_turning_up=True, ad_divergence=True)
    assert evaluate_triggers(every, HedgeRules(trigger_combine="all")).passed


def test_the_remembered_trigger_check_is_of_these_signals_and_rules() -> None:
    quiet, loud = signals(), signals(vix_rsi=80.0)
    assert not evaluate_triggers(quiet, ANY).passed
    assert evaluate_triggers(loud, ANY).passed  # other signals, the same rules
    assert not evaluate_triggers(loud, replace(ANY, trigger_rsi=False)).passed  # other rules
    assert evaluate_triggers(loud, ANY).passed
    assert not evaluate_triggers(None, ANY).passed
    assert evaluate_triggers(quiet, ANY).fired == ()


def test_no_signals_fire_nothing() -> None:
    check = evaluate_triggers(None, ANY)
    assert not check.passed and check.text == "no signals for this session"


# -- the ladder ---------------------------------------------------------------------------


def test_pick_call_prefers_window_middle_and_avoids_held_expiries() -> None:
    chains = [vix_calls(35), vix_calls(60), vix_calls(88)]
    pick = pick_call(chains, 30, 90, 0.08, 0.12)
    assert pick is not None and pick.chain.dte == 60 and pick.chain.strikes[pick.index] == 22.0
    other = pick_call(chains, 30, 90, 0.08, 0.12, avoid={chains[1].expiry})
    assert other is not None and other.chain.dte == 35  # |35 - 60| = 25 < |88 - 60| = 28
    later = pick_call(chains, 30, 90, 0.08, 0.12, after=chains[1].expiry)
    assert later is not None and later.chain.dte == 88


def test_base_rung_sizing(beta_half: None) -> None:
    # target 0.35 * 700 = 245; rung-1 fills 0.6 of it: gap 147; the 22 call (delta 0.4)
    # gains 100 * 0.4 * 0.5 = 20 per VIX point -> ceil(147 / 20) = 8 contracts.
    d = plan_ladder_entry(
        CTX, [vix_calls(60)], [], Exposure(700.0, 0.0, 0.35), evaluate_triggers(None, ANY),
        HedgeRules(), {"sig_vix": 18.5},
    )  # fmt: skip
    assert d.action is Action.OPEN and d.tag == "rung-1" and d.quantity == 8
    assert d.legs[0].contract.strike == 22.0 and d.legs[0].ratio == 1
    assert d.limit_price == pytest.approx(0.90)
    assert d.inputs["gap_dollars_per_vix_point"] == pytest.approx(147.0)
    assert d.inputs["sig_vix"] == 18.5
    assert "Base rung with the condor" in d.reason


def test_base_rung_is_capped_by_the_budget(beta_half: None) -> None:
    d = plan_ladder_entry(
        CTX, [vix_calls(60)], [], Exposure(700.0, 0.0, 0.35), evaluate_triggers(None, ANY),
        HedgeRules(max_debit_dollars=300.0), {},
    )  # fmt: skip
    # ask 0.9598 -> floor(300 / 95.98) = 3
    assert d.action is Action.OPEN and d.quantity == 3 and "capped from 8" in d.reason


def test_extra_rung_opens_only_when_triggers_pass(beta_half: None) -> None:
    chains = [vix_calls(60), vix_calls(75)]
    held = [HeldHedge("r1", "rung-1", chains[0].expiry, 147.0)]
    exposure = Exposure(700.0, 147.0, 0.35)
    quiet = evaluate_triggers(signals(), HedgeRules())
    skip = plan_ladder_entry(CTX, chains, held, exposure, quiet, HedgeRules(), {})
    assert skip.action is Action.SKIP and "No new rung" in skip.reason
    hot = evaluate_triggers(signals(vix_rsi=80.0, backwardation=True), HedgeRules())
    d = plan_ladder_entry(CTX, chains, held, exposure, hot, HedgeRules(), {})
    # rung-2: 0.8 * 245 - 147 = 49 -> ceil(49 / 20) = 3, on the expiry rung-1 does not hold
    assert d.action is Action.OPEN and d.tag == "rung-2" and d.quantity == 3
    assert d.legs[0].contract.expiry == chains[1].expiry
    assert "rsi, term" in d.reason and d.inputs["triggers_fired"] == "rsi,term"
    off = plan_ladder_entry(
        CTX, chains, held, exposure, hot, HedgeRules(triggers_enabled=False), {}
    )
    assert off.action is Action.SKIP and "switched off" in off.reason


def test_pre_event_rung(beta_half: None) -> None:
    chains = [vix_calls(60), vix_calls(75)]
    held = [HeldHedge("r1", "rung-1", chains[0].expiry, 147.0)]
    quiet = evaluate_triggers(signals(), HedgeRules())
    args = (CTX, chains, held, Exposure(700.0, 147.0, 0.35), quiet)
    assert plan_ladder_entry(*args, HedgeRules(pre_event_rung=True), {}, True).tag == "rung-2"
    assert plan_ladder_entry(*args, HedgeRules(), {}, True).action is Action.SKIP


def test_ladder_skips(beta_half: None) -> None:
    none = evaluate_triggers(None, ANY)
    covered = plan_ladder_entry(CTX, [vix_calls(60)], [], Exposure(700.0, 200.0, 0.35), none,
                                HedgeRules(), {})  # fmt: skip
    assert covered.action is Action.SKIP and "not needed" in covered.reason
    off = plan_ladder_entry(CTX, [vix_calls(60)], [], Exposure(700.0, 0.0, 0.35), none,
                            HedgeRules(enabled=False), {})  # fmt: skip
    assert off.action is Action.SKIP and "switched off" in off.reason
    long_vol = plan_ladder_entry(CTX, [vix_calls(60)], [], Exposure(-10.0, 0.0, 0.35), none,
                                 HedgeRules(), {})  # fmt: skip
    assert long_vol.action is Action.SKIP


def test_call_spread_rung(beta_half: None) -> None:
    d = plan_ladder_entry(
        CTX, [vix_calls(60)], [], Exposure(700.0, 0.0, 0.35), evaluate_triggers(None, ANY),
        HedgeRules(structure="call_spread", spread_short_otm=0.5), {},
    )  # fmt: skip
    # long 22 (delta 0.4), short 30 (F * 1.5; delta 0.01): 100 * 0.39 * 0.5 = 19.5 per spread
    assert [(leg.contract.strike, leg.ratio) for leg in d.legs] == [(22.0, 1), (30.0, -1)]
    assert d.quantity == math.ceil(147.0 / 19.5)


# -- manage ------------------------------------------------------------------------------


def held_call(
    dte: int, strike: float = 22.0, quantity: int = 10, paid: float = 1.0
) -> OpenStructure:
    contract = OptionContract("VIX", "VIX", SESSION + timedelta(days=dte), strike, Right.CALL)
    return OpenStructure("h1", Structure.HEDGE_LAYER, (Leg(contract, 1),), quantity, paid,
                         SESSION - timedelta(days=30))  # fmt: skip


def quotes_at(hedge: OpenStructure, mid: float) -> dict[OptionContract, LegQuote]:
    c = hedge.legs[0].contract
    return {c: LegQuote(c, mid - 0.05, mid + 0.05, 0.9, 0.4, 0.0, 0.0, 0.0)}


def manage(hedge: OpenStructure, mid: float, tag: str = "rung-1", rules: HedgeRules | None = None,
           exposure: Exposure | None = None, held: list[HeldHedge] | None = None,
           condor_open: bool = True, idle: int = 0, calls: list[ChainSlice] | None = None):  # type: ignore[no-untyped-def]  # fmt: skip
    return plan_hedge_manage(
        hedge, tag, quotes_at(hedge, mid), SESSION, exposure or Exposure(700.0, 100.0, 0.35),
        held if held is not None else [HeldHedge(hedge.id, tag, hedge.expiry, 100.0)],
        rules or HedgeRules(), condor_open, idle, calls or [], {"sig_vix": 18.5},
    )  # fmt: skip


def test_close_before_settlement() -> None:
    plan = manage(held_call(5), 1.0)
    [d] = plan.decisions
    assert d.action is Action.CLOSE and d.rule == "hedge_exit" and d.quantity == 10
    assert d.limit_price == pytest.approx(-1.0) and d.inputs["sig_vix"] == 18.5


def test_no_condor_rule_and_grace() -> None:
    hedge = held_call(60)
    closed = manage(hedge, 1.0, condor_open=False, idle=2).decisions[0]
    assert closed.action is Action.CLOSE and closed.rule == "hedge_no_condor"
    assert manage(hedge, 1.0, condor_open=False, idle=1).decisions[0].action is Action.HOLD
    held = manage(hedge, 1.0, rules=HedgeRules(when_no_condor="hold"), condor_open=False, idle=9)
    assert held.decisions[0].action is Action.HOLD


def test_harvest_and_recycle_within_budget_and_gap(beta_half: None) -> None:
    hedge = held_call(60)
    # up (2.60 - 1.00) / 1.00 = 160% >= 150%: realised gain 1.60 * 100 * 10 = $1,600
    # target 245, the other hedges gain 300 - 200 = 100 -> gap 145 -> 8 calls wanted;
    # budget 0.3 * 1600 = $480 buys floor(480 / 95.98) = 5 at the 0.9598 ask.
    plan = manage(
        hedge, 2.60, exposure=Exposure(700.0, 300.0, 0.35),
        held=[HeldHedge("h1", "rung-1", hedge.expiry, 200.0),
              HeldHedge("h2", "rung-2", SESSION + timedelta(days=75), 100.0)],
        rules=HedgeRules(recycle_pct=0.3), calls=[vix_calls(60)],
    )  # fmt: skip
    close, recycle = plan.decisions
    assert close.action is Action.CLOSE and close.rule == "hedge_harvest"
    assert close.limit_price == pytest.approx(-2.60)
    assert recycle.action is Action.OPEN and recycle.tag == "recycle"
    assert recycle.inputs["contracts_wanted"] == 8 and recycle.quantity == 5
    assert recycle.inputs["recycle_budget_dollars"] == pytest.approx(480.0)
    # with a budget that is not binding the gap decides: 8
    roomy = manage(
        hedge, 2.60, exposure=Exposure(700.0, 300.0, 0.35),
        held=[HeldHedge("h1", "rung-1", hedge.expiry, 200.0)], calls=[vix_calls(60)],
    )  # fmt: skip
    assert roomy.decisions[1].quantity == 8


def test_harvest_without_recycle_when_target_met() -> None:
    hedge = held_call(60)
    plan = manage(hedge, 2.60, exposure=Exposure(700.0, 400.0, 0.35), calls=[vix_calls(60)])
    [close] = plan.decisions
    assert close.rule == "hedge_harvest" and "No recycle" in plan.reason
    below = manage(hedge, 2.40)  # +140% < 150%
    assert below.decisions[0].action is Action.HOLD
    off = manage(hedge, 2.60, rules=HedgeRules(harvest_enabled=False))
    assert off.decisions[0].action is Action.HOLD


def test_rung_roll_closes_then_rolls_into_a_later_expiry(beta_half: None) -> None:
    hedge = held_call(25)  # below the 30-day floor
    plan = manage(hedge, 0.50, exposure=Exposure(700.0, 100.0, 0.35), calls=[vix_calls(60)])
    close, roll = plan.decisions
    assert close.action is Action.CLOSE and close.position_id == "h1" and close.rule == "hedge_roll"
    assert roll.action is Action.ROLL and roll.position_id == "h1" and roll.tag == "rung-1"
    assert roll.legs[0].contract.expiry == SESSION + timedelta(days=60)
    # the successor restores rung-1's share without the old rung: 0.6 * 245 = 147 -> 8
    assert roll.quantity == 8
    # target met by the other hedges: close only
    alone = manage(hedge, 0.50, exposure=Exposure(700.0, 400.0, 0.35), calls=[vix_calls(60)])
    assert [d.action for d in alone.decisions] == [Action.CLOSE]
    # roll switched off: hold
    assert manage(hedge, 0.5, rules=HedgeRules(roll_enabled=False)).decisions[0].action is (
        Action.HOLD
    )
    # recycled calls are not rolled
    assert manage(hedge, 0.5, tag="recycle").decisions[0].action is Action.HOLD


# -- planner helpers ----------------------------------------------------------------------


def test_sessions_without_condor_counts_weekdays_since_the_last_close() -> None:
    from strategies.planner import sessions_without_condor
    from strategies.portfolio import Portfolio

    put = OptionContract("SPX", "SPXW", date(2023, 2, 17), 3900.0, Right.PUT)
    book = Portfolio()
    book.register("c1", Structure.CONDOR, (Leg(put, -1),), date(2023, 1, 30))
    book.mark_closed("c1", date(2023, 2, 1), "profit target")
    # Wednesday close -> Friday: Wed, Thu = 2 weekdays
    assert sessions_without_condor(book, date(2023, 1, 25), SESSION) == 2
    # a hedge opened after the close counts from its own open
    assert sessions_without_condor(book, date(2023, 2, 2), SESSION) == 1
    assert sessions_without_condor(book, date(2023, 1, 25), date(2023, 2, 1)) == 0
