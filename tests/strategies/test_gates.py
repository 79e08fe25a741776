"""The risk gates (strategies.gates), the margin model and the scenario grid: pure checks.

Every gate is tested with inputs that do and inputs that do not trigger it.
Quotes are Black-76 prices (IV 15%, forward = spot, rate 0) so put-call parity
holds exactly unless a test breaks it.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import date, timedelta

import pytest

from strategies.domain import (
    Action,
    Decision,
    Leg,
    LegQuote,
    MarketContext,
    OptionContract,
    Right,
    Structure,
)
from strategies.gates import (
    DrawdownState,
    RiskSnapshot,
    adds_risk,
    evaluate_gates,
    floor_gate,
    hedge_cap_gate,
    kill_switch_gate,
    liquidity_gate,
    margin_gate,
    max_loss_gate,
    parity_gate,
    quote_width_gate,
    scenario_gate,
    update_drawdown,
)
from strategies.margin import MarginImpact, margin_impact, margin_requirement
from strategies.portfolio import StructurePosition
from strategies.pricing.black import black_price
from strategies.rules import CondorRules, RiskRules
from strategies.scenarios import expected_move, scenario_grid

SESSION = date(2024, 3, 1)
EXPIRY = SESSION + timedelta(days=14)
VIX_EXPIRY = SESSION + timedelta(days=47)
SPX, VIX, IV, VIX_IV = 5000.0, 15.0, 0.15, 0.9
T = 14 / 365.0
CTX = MarketContext(SESSION, SPX, VIX, vix_futures={VIX_EXPIRY: 17.0})
RULES = RiskRules()
CONDOR = CondorRules()


def spx(strike: float, right: Right) -> OptionContract:
    return OptionContract("SPX", "SPXW", EXPIRY, strike, right)


def vix_call(strike: float) -> OptionContract:
    return OptionContract("VIX", "VIX", VIX_EXPIRY, strike, Right.CALL)


def quote(contract: OptionContract, half: float = 0.05) -> LegQuote:
    """A Black-76 mid with ``half`` on either side; theta -1.0/day per share for shorts to earn."""
    is_spx = contract.symbol == "SPX"
    forward, t, iv = (SPX, T, IV) if is_spx else (17.0, 47 / 365.0, VIX_IV)
    mid = float(black_price(forward, contract.strike, t, iv, contract.right is Right.CALL))
    mid = max(mid, half)
    return LegQuote(contract, mid - half, mid + half, iv, 0.1, 0.001, 1.0, -1.0)


LP, SP = spx(4850, Right.PUT), spx(4900, Right.PUT)
SC, LC = spx(5100, Right.CALL), spx(5150, Right.CALL)
LEGS = (Leg(LP, 1), Leg(SP, -1), Leg(SC, -1), Leg(LC, 1))
OTHERS = [
    replace(c, right=Right.CALL if c.right is Right.PUT else Right.PUT) for c in (LP, SP, SC, LC)
]
QUOTES = {c: quote(c) for c in (LP, SP, SC, LC, *OTHERS, vix_call(20.0))}
CREDIT = round(QUOTES[SP].mid - QUOTES[LP].mid + QUOTES[SC].mid - QUOTES[LC].mid, 2)


def condor_open(quantity: int = 1, legs: tuple[Leg, ...] = LEGS) -> Decision:
    return Decision(
        "condor_entry", Action.OPEN, Structure.CONDOR, "open", {},
        legs=legs, quantity=quantity, limit_price=-CREDIT,
    )  # fmt: skip


def hedge_open(quantity: int, price: float, action: Action = Action.OPEN) -> Decision:
    return Decision(
        "hedge_layer_entry", action, Structure.HEDGE_LAYER, "hedge", {},
        legs=(Leg(vix_call(20.0), 1),), quantity=quantity, limit_price=price,
    )  # fmt: skip


def held_condor(units: int = 1, credit: float = 2.0) -> StructurePosition:
    held = {leg.contract: leg.ratio * units for leg in LEGS}
    return StructurePosition(
        "c1", Structure.CONDOR, LEGS, SESSION,
        held=dict(held), open_fills=dict(held), open_premium=-credit * units,
    )  # fmt: skip


def held_hedge(units: int, price: float, sid: str = "h1") -> StructurePosition:
    leg = Leg(vix_call(20.0), 1)
    return StructurePosition(
        sid, Structure.HEDGE_LAYER, (leg,), SESSION,
        held={leg.contract: units}, open_fills={leg.contract: units}, open_premium=price * units,
    )  # fmt: skip


def snapshot(**changes: object) -> RiskSnapshot:
    base = RiskSnapshot(
        CTX, 100_000.0, 100_000.0, 100_000.0, DrawdownState(100_000.0), (), QUOTES,
        {("VIX", VIX_EXPIRY): 17.0}, 0.0,
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


# -- which decisions are gated ---------------------------------------------------------


def test_only_orders_that_can_add_risk_are_gated() -> None:
    assert adds_risk(condor_open())
    assert adds_risk(replace(condor_open(), action=Action.ROLL, position_id="c0"))
    assert adds_risk(replace(condor_open(), action=Action.ADJUST, position_id="c0"))
    assert not adds_risk(replace(condor_open(), action=Action.CLOSE, position_id="c0"))
    assert not adds_risk(Decision("x", Action.SKIP, Structure.CONDOR, "no", {}))


# -- 1. max loss per condor -------------------------------------------------------------


def test_max_loss_gate_checks_the_order_against_the_pct_of_net_liquidation() -> None:
    per_unit = (50 - CREDIT) * 100
    one = max_loss_gate(condor_open(1), snapshot(), RULES, CONDOR)
    assert one.status == "pass" and one.inputs["gate_max_loss_dollars"] == pytest.approx(per_unit)
    two = max_loss_gate(condor_open(2), snapshot(), RULES, CONDOR)
    assert two.blocked and "exceeds 5% of net liquidation $100,000 = $5,000" in two.reason
    assert (
        max_loss_gate(condor_open(2), snapshot(net_liq=200_000.0), RULES, CONDOR).status == "pass"
    )
    off = max_loss_gate(condor_open(2), snapshot(), replace(RULES, max_loss_enabled=False), CONDOR)
    assert off.status == "off"
    assert max_loss_gate(hedge_open(1, 1.0), snapshot(), RULES, CONDOR).status == "n/a"
    naked = condor_open(1, LEGS[1:])  # a condor without its long put wing
    assert (
        "cannot read the order's max loss" in max_loss_gate(naked, snapshot(), RULES, CONDOR).reason
    )


# -- 2. floor and kill switch -------------------------------------------------------------


def test_floor_blocks_new_condors_below_the_higher_of_pct_and_dollars() -> None:
    assert floor_gate(condor_open(), snapshot(net_liq=60_000.0), RULES).status == "pass"
    low = floor_gate(condor_open(), snapshot(net_liq=49_000.0), RULES)
    assert low.blocked and "below the floor $50,000" in low.reason
    hard = replace(RULES, floor_dollars=70_000.0)
    assert floor_gate(condor_open(), snapshot(net_liq=60_000.0), hard).blocked
    assert floor_gate(hedge_open(1, 1.0), snapshot(net_liq=1.0), RULES).status == "n/a"


def test_kill_switch_trips_past_the_drawdown_and_resets_after_the_cooloff() -> None:
    rules = replace(RULES, kill_switch_drawdown_pct=20.0, kill_switch_cooloff_sessions=3)
    day = [SESSION + timedelta(days=i) for i in range(8)]
    state, event = update_drawdown(None, day[0], 100_000.0, rules)
    state, event = update_drawdown(state, day[1], 120_000.0, rules)  # new high
    assert (state.high_water, event) == (120_000.0, None)
    state, event = update_drawdown(state, day[2], 96_000.0, rules)  # exactly 20%: armed
    assert event is None and not state.tripped
    assert kill_switch_gate(condor_open(), snapshot(drawdown=state), rules).status == "pass"
    state, event = update_drawdown(state, day[3], 95_000.0, rules)  # 20.8%
    assert event == "tripped" and state.tripped_on == day[3]
    blocked = kill_switch_gate(condor_open(), snapshot(net_liq=95_000.0, drawdown=state), rules)
    assert blocked.blocked and "20.8% below the high-water mark $120,000" in blocked.reason
    assert "resets in 3 session(s)" in blocked.reason
    state, event = update_drawdown(state, day[3], 130_000.0, rules)  # same session: no count
    state, event = update_drawdown(state, day[4], 90_000.0, rules)
    state, event = update_drawdown(state, day[5], 90_000.0, rules)
    assert event is None and state.tripped and state.sessions_tripped == 2
    state, event = update_drawdown(state, day[6], 91_000.0, rules)
    assert event == "reset" and not state.tripped and state.high_water == 91_000.0
    # a hedge is never blocked by it: buying protection reduces risk
    tripped = DrawdownState(1e6, SESSION, 0, SESSION)
    assert kill_switch_gate(hedge_open(1, 1.0), snapshot(drawdown=tripped), rules).status == "n/a"


# -- 3. hedge notional cap ---------------------------------------------------------------


def test_hedge_cap_sizes_down_or_skips_when_vix_is_high() -> None:
    high = replace(CTX, vix=35.0)
    condor = held_condor(units=2, credit=2.0)  # max loss (50 - 2) x 100 x 2 = 9,600
    cap = 0.40 * 9_600.0  # 3,840
    held = held_hedge(5, 3.0)  # 1,500 already spent
    snap = snapshot(ctx=high, positions=(condor, held))
    fits = hedge_cap_gate(hedge_open(5, 3.0), snap, RULES)  # 1,500 more: 3,000 <= 3,840
    assert fits.status == "pass" and fits.inputs["gate_hedge_cap_cap"] == pytest.approx(cap)
    resized = hedge_cap_gate(hedge_open(10, 3.0), snap, RULES)  # room 2,340: 7 calls
    assert resized.status == "resized" and resized.quantity == 7 and not resized.blocked
    full = snapshot(ctx=high, positions=(condor, held_hedge(12, 3.0)))  # 3,600 held
    skipped = hedge_cap_gate(hedge_open(1, 3.0), full, RULES)
    assert skipped.blocked and "exceeds the cap $3,840" in skipped.reason
    # a roll's parent (closed by the plan's previous step) does not count
    roll = replace(hedge_open(1, 3.0, Action.ROLL), position_id="h1")
    assert hedge_cap_gate(roll, full, RULES).status == "pass"
    # below the VIX threshold there is no cap
    calm = hedge_cap_gate(hedge_open(100, 3.0), snapshot(positions=(condor,)), RULES)
    assert calm.status == "pass"


def test_hedge_cap_resizes_through_evaluate_gates() -> None:
    snap = snapshot(ctx=replace(CTX, vix=35.0), positions=(held_condor(2),))
    outcome = evaluate_gates(hedge_open(20, 3.0), snap, RULES, CONDOR)
    assert outcome.quantity == 12 and outcome.reason is None  # floor(3,840 / 300)
    assert outcome.inputs["gate_hedge_cap_resized_to"] == 12


# -- 4. scenario grid -----------------------------------------------------------------------


def test_expected_move_and_grid_shape() -> None:
    assert expected_move(5000.0, 15.0, 14) == pytest.approx(5000 * 0.15 * math.sqrt(14 / 365))
    grid = scenario_grid({SP: -1}, QUOTES, CTX, 14)
    assert len(grid.cells) == 7 * 4
    # a short put loses when spot falls and when vol rises, and loses most at -3 EM / +20
    assert grid.worst[0] == (-3.0, 20.0)
    assert grid.cells[(0.0, 0.0)] == pytest.approx(0.0, abs=1e-6)
    assert grid.cells[(1.0, 0.0)] > 0 > grid.cells[(-1.0, 0.0)]
    compact = json.loads(grid.compact())
    assert compact["spot_em"] == [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
    assert len(compact["vol"]["+20"]) == 7


def test_vix_calls_gain_with_the_vol_shift_scaled_by_beta() -> None:
    call = vix_call(20.0)
    grid = scenario_grid({call: 10}, QUOTES, CTX, 14)
    assert grid.cells[(-3.0, 0.0)] == pytest.approx(0.0, abs=1e-6)  # spot alone moves no VIX
    up = grid.cells[(0.0, 10.0)]
    beta = math.exp(-6.0 * (47 - 6.5 / 24) / 365.0)
    t = (47 - 6.5 / 24) / 365.0
    after = black_price(17.0 + beta * 10, 20.0, t, VIX_IV, True)
    expected = 10 * 100 * (after - black_price(17.0, 20.0, t, VIX_IV, True))
    assert up == pytest.approx(float(expected))


def test_scenario_budget_blocks_a_condor_that_loses_too_much() -> None:
    passing = scenario_gate(condor_open(1), snapshot(), RULES, 1)
    assert passing.status == "pass"
    loss = passing.inputs["gate_scenario_budget_loss"]
    assert isinstance(loss, float) and 0 < loss < 2_500
    tight = replace(RULES, scenario_budget_pct=loss / 100_000 * 100 * 0.9)
    blocked = scenario_gate(condor_open(1), snapshot(), tight, 1)
    assert blocked.blocked and "spot -2 EM / vol +10 pts" in blocked.reason
    # hedges only journal the grid
    assert scenario_gate(hedge_open(1, 1.0), snapshot(), tight, 1).status == "info"


# -- 5. liquidity -----------------------------------------------------------------------


def test_liquidity_needs_free_cash_and_theta_over_the_stressed_variation_margin() -> None:
    ok = liquidity_gate(condor_open(1), snapshot(), RULES, 1)
    assert ok.status == "pass"
    stress = ok.inputs["gate_liquidity_stress_loss"]
    margin = ok.inputs["gate_liquidity_order_margin"]
    assert margin == pytest.approx(5_000.0)  # the wider wing, 50 points x 100
    assert isinstance(stress, float) and stress > 0
    # the journal carries both sides of the comparison (scripts/gate_report.py's slack)
    assert ok.inputs["gate_liquidity_available"] >= ok.inputs["gate_liquidity_required"]
    assert ok.inputs["gate_liquidity_required"] == pytest.approx(
        RULES.liquidity_ratio * stress, abs=0.01
    )
    # cash that barely pays the margin leaves nothing for a variation call
    poor = liquidity_gate(condor_open(1), snapshot(cash=5_000.0), RULES, 1)
    assert poor.blocked and "stressed variation margin" in poor.reason


# -- 6. quote quality -----------------------------------------------------------------


def test_quote_width_within_pct_of_mid_or_a_few_ticks() -> None:
    assert quote_width_gate(condor_open(), snapshot(), RULES).status == "pass"
    wide = dict(QUOTES)
    mid = QUOTES[SP].mid
    wide[SP] = replace(QUOTES[SP], bid=mid - 4.0, ask=mid + 4.0)  # 8.00 wide
    blocked = quote_width_gate(condor_open(), snapshot(quotes=wide), RULES)
    assert blocked.blocked and blocked.inputs["gate_quote_width_leg"] == SP.local_symbol
    # a cheap wing 4 ticks wide (0.05 / 0.25) passes whatever its percent
    cheap = dict(QUOTES)
    cheap[LP] = replace(QUOTES[LP], bid=0.05, ask=0.25)
    assert quote_width_gate(condor_open(), snapshot(quotes=cheap), RULES).status == "pass"
    cheap[LP] = replace(QUOTES[LP], bid=0.05, ask=0.30)
    assert quote_width_gate(condor_open(), snapshot(quotes=cheap), RULES).blocked
    one_sided = dict(QUOTES)
    one_sided[SC] = replace(QUOTES[SC], bid=math.nan)
    assert (
        "no two-sided quote"
        in quote_width_gate(condor_open(), snapshot(quotes=one_sided), RULES).reason
    )


def test_quote_width_counts_vix_ticks_in_force_on_the_session() -> None:
    """VIX options quoted in 0.05/0.10 ticks before 2022-10-03, 0.01/0.05 from then."""
    call = vix_call(20.0)
    two_nickels = dict(QUOTES)
    two_nickels[call] = replace(QUOTES[call], bid=0.60, ask=0.70)  # 15% of 0.65 = 0.0975
    old = replace(CTX, session=date(2011, 8, 8))
    passed = quote_width_gate(hedge_open(1, 0.65), snapshot(ctx=old, quotes=two_nickels), RULES)
    assert passed.status == "pass"  # two ticks of 0.05: as tight as the market could quote
    assert passed.inputs["gate_quote_width_widest_use"] == pytest.approx(0.10 / 0.20, abs=1e-3)
    now = quote_width_gate(hedge_open(1, 0.65), snapshot(quotes=two_nickels), RULES)
    assert now.blocked  # ten pennies: above 4 ticks (0.04) and 15% of mid
    assert now.inputs["gate_quote_width_allowed"] == pytest.approx(0.0975)
    five_nickels = dict(QUOTES)
    five_nickels[call] = replace(QUOTES[call], bid=0.55, ask=0.80)
    wide = quote_width_gate(hedge_open(1, 0.65), snapshot(ctx=old, quotes=five_nickels), RULES)
    assert wide.blocked and wide.inputs["gate_quote_width_allowed"] == pytest.approx(0.20)


def test_put_call_parity_on_the_legs_strikes() -> None:
    good = parity_gate(condor_open(), snapshot(), RULES)
    assert good.status == "pass"
    assert good.inputs["gate_parity_forward"] == pytest.approx(SPX, abs=0.01)
    assert good.inputs["gate_parity_df"] == pytest.approx(1.0)
    # the allowance the worst residual is held to: its half-spreads plus the tolerance
    allowed = good.inputs["gate_parity_worst_allowed"]
    assert allowed == pytest.approx(0.05 + 0.05 + RULES.parity_tolerance)  # two 0.05 halves
    assert abs(good.inputs["gate_parity_worst_residual"]) <= allowed
    broken = dict(QUOTES)
    call_4900 = spx(4900, Right.CALL)
    broken[call_4900] = replace(
        QUOTES[call_4900], bid=QUOTES[call_4900].bid + 3, ask=QUOTES[call_4900].ask + 3
    )
    bad = parity_gate(condor_open(), snapshot(quotes=broken), RULES)
    assert bad.blocked and "put-call parity broken at strike 4900" in bad.reason
    # without the other right the check is skipped with a note
    missing = {c: q for c, q in QUOTES.items() if c not in OTHERS}
    skipped = parity_gate(condor_open(), snapshot(quotes=missing), RULES)
    assert skipped.status == "n/a" and "other right not quoted" in str(
        skipped.inputs["gate_parity_note"]
    )


def test_parity_of_a_single_vix_call_uses_the_future() -> None:
    put = replace(vix_call(20.0), right=Right.PUT)
    quotes = {**QUOTES, put: quote(put)}
    assert parity_gate(hedge_open(1, 1.0), snapshot(quotes=quotes), RULES).status == "pass"
    off = {("VIX", VIX_EXPIRY): 19.0}  # a future 2 points away from what the options say
    assert parity_gate(hedge_open(1, 1.0), snapshot(quotes=quotes, forwards=off), RULES).blocked


# -- 7. margin -----------------------------------------------------------------------


def test_reg_t_margin_model() -> None:
    assert margin_requirement({LP: 1, SP: -1, SC: -1, LC: 1}) == pytest.approx(5_000.0)
    wide_put = spx(4800, Right.PUT)
    assert margin_requirement({wide_put: 2, SP: -2, SC: -2, LC: 2}) == pytest.approx(20_000.0)
    assert margin_requirement({LC: 3}) == 0.0  # long options are paid in full
    assert margin_requirement({SC: -1}) == math.inf  # naked short call: not defined risk
    assert margin_requirement({SP: -1}) == pytest.approx(490_000.0)  # naked put: strike x 100
    impact = margin_impact({}, 10_000.0, LEGS, 2, -CREDIT, commission=5.2)
    assert impact.init_margin_after == pytest.approx(10_000.0)
    assert impact.equity_with_loan_after == pytest.approx(10_000.0 + CREDIT * 200 - 5.2)


def test_remembered_margin_follows_the_holdings_not_the_mapping() -> None:
    # one dict changed in place between asks, as a broker's book is
    book = {LP: 1, SP: -1, SC: -1, LC: 1}
    assert margin_requirement(book) == pytest.approx(5_000.0)
    book[LC] = 0
    assert margin_requirement(book) == math.inf  # the call wing gone: a naked short call
    book[LC], book[SC] = 2, -2
    book[LP], book[SP] = 2, -2
    assert margin_requirement(book) == pytest.approx(10_000.0)
    del book[LP]
    assert margin_requirement(book) == pytest.approx(2 * 490_000.0)
    # many different books in a row (past the memory's size) and back
    for width in range(5, 1_500, 5):
        wing = spx(4900 - width, Right.PUT)
        assert margin_requirement({wing: 1, SP: -1}) == pytest.approx(width * 100.0)
    assert margin_requirement({LP: 1, SP: -1, SC: -1, LC: 1}) == pytest.approx(5_000.0)


def test_margin_gate_compares_margin_after_with_equity_with_loan_after() -> None:
    assert margin_gate(MarginImpact(0.0, 9_000.0, 10_000.0), RULES).status == "pass"
    blocked = margin_gate(MarginImpact(0.0, 11_000.0, 10_000.0), RULES)
    assert blocked.blocked and "$11,000 exceeds" in blocked.reason
    assert margin_gate(MarginImpact(0.0, math.inf, 10_000.0), RULES).blocked
    assert margin_gate(None, RULES).status == "n/a"
    assert (
        margin_gate(MarginImpact(0.0, 11_000.0, 0.0), replace(RULES, margin_enabled=False)).status
        == "off"
    )


# -- all together ----------------------------------------------------------------------


def test_evaluate_gates_names_the_first_block_and_journals_every_gate() -> None:
    tripped = DrawdownState(200_000.0, SESSION, 0, SESSION)
    outcome = evaluate_gates(condor_open(2), snapshot(drawdown=tripped), RULES, CONDOR)
    assert outcome.blocked_by == "max_loss"
    assert outcome.reason is not None and outcome.reason.startswith("risk gate max_loss: ")
    assert outcome.inputs["gate_kill_switch"] == "block"
    for gate in ("max_loss", "floor", "kill_switch", "hedge_cap", "scenario", "liquidity",
                 "quote_width", "parity"):  # fmt: skip
        assert f"gate_{gate}" in outcome.inputs
    clean = evaluate_gates(condor_open(1), snapshot(), RULES, CONDOR)
    assert clean.blocked_by is None and clean.quantity == 1
