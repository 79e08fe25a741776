"""Stops and profit targets against the path since the last check (strategies.exit_path).

The condor of tests/strategies/test_condor.py: credit 2.90, stop at a 5.80
debit, target at 1.45; each market state is given by its debit to close.
"""

from __future__ import annotations

from datetime import date

import pytest

from strategies.condor import plan_condor_exit
from strategies.domain import Action
from strategies.exit_path import MarketState, SessionPath, condor_path_exit
from strategies.rules import CondorRules
from tests.strategies.test_condor import CONDOR, quotes_for_debit

TODAY = date(2023, 2, 8)
YESTERDAY = date(2023, 2, 7)


def _state(label: str, debit: float, spx: float = 4000.0, vix: float = 18.0) -> MarketState:
    return MarketState(label, spx, vix, {q.contract: q for q in quotes_for_debit(debit)})


def _session(day: date, open_debit: float, *extremes: float) -> SessionPath:
    labels = ("spx low / vix high", "spx high / vix high", "close")
    return SessionPath(
        day,
        _state("open", open_debit),
        tuple(
            _state(label, d, spx=3900.0 + k, vix=25.0)
            for k, (label, d) in enumerate(zip(labels, extremes, strict=False))
        ),
    )


def test_stop_touched_intraday_but_recovered_by_the_close_fills_at_the_trigger_level() -> None:
    path = [_session(YESTERDAY, 2.5, 6.4, 2.2, 2.4)]  # worst 6.40 >= stop 5.80, close 2.40
    d = plan_condor_exit(CONDOR, quotes_for_debit(2.3), TODAY, CondorRules(), path)
    assert d.action is Action.CLOSE
    assert d.resting
    assert d.inputs["trigger"] == "stop"
    assert d.limit_price == pytest.approx(5.80)  # the stop level, not the current 2.30 nor 6.40
    assert d.inputs["trigger_debit"] == pytest.approx(5.80)
    assert d.inputs["path_worst_debit"] == pytest.approx(6.4)
    assert d.inputs["path_gap"] == 0
    assert d.inputs["path_spx_low_vix_high_spx"] == 3900.0
    assert d.inputs["path_spx_low_vix_high_vix"] == 25.0
    assert d.inputs["trigger_pnl_dollars"] == pytest.approx((2.90 - 5.80) * 500)
    assert "inside the session" in d.reason
    # without the path the same quotes hold: the once-a-check rule never saw the stop
    assert plan_condor_exit(CONDOR, quotes_for_debit(2.3), TODAY, CondorRules()).action is (
        Action.HOLD
    )


def test_gap_through_the_stop_fills_at_the_open_not_at_the_trigger() -> None:
    path = [_session(YESTERDAY, 2.5, 3.0, 2.2, 2.8), _session(TODAY, 8.0, 9.5, 7.5, 8.2)]
    d = plan_condor_exit(CONDOR, quotes_for_debit(8.2), TODAY, CondorRules(), path)
    assert d.action is Action.CLOSE and d.resting
    assert d.inputs["trigger"] == "stop"
    assert d.inputs["path_gap"] == 1
    assert d.inputs["path_session"] == TODAY.isoformat()
    assert d.limit_price == pytest.approx(8.0)  # the open's mark
    assert "the open (gap)" in d.reason


def test_profit_target_reached_intraday_fills_at_the_target_level() -> None:
    path = [_session(YESTERDAY, 2.0, 2.6, 1.2, 1.9)]  # best 1.20 <= target 1.45
    d = plan_condor_exit(CONDOR, quotes_for_debit(1.9), TODAY, CondorRules(), path)
    assert d.action is Action.CLOSE and d.resting
    assert d.inputs["trigger"] == "profit target"
    assert d.limit_price == pytest.approx(1.45)
    assert d.inputs["path_best_debit"] == pytest.approx(1.2)


def test_stop_wins_when_both_were_reached_and_a_quiet_path_leaves_the_rule_as_before() -> None:
    both = [_session(YESTERDAY, 2.5, 6.0, 1.0, 2.5)]
    d = plan_condor_exit(CONDOR, quotes_for_debit(2.5), TODAY, CondorRules(), both)
    assert d.inputs["trigger"] == "stop"
    quiet = [_session(YESTERDAY, 2.5, 3.0, 2.0, 2.5)]
    held = plan_condor_exit(CONDOR, quotes_for_debit(2.5), TODAY, CondorRules(), quiet)
    assert held.action is Action.HOLD and not held.resting
    assert held.inputs["path_worst_debit"] == pytest.approx(3.0)  # journaled all the same
    current = plan_condor_exit(CONDOR, quotes_for_debit(6.0), TODAY, CondorRules(), quiet)
    assert current.action is Action.CLOSE and not current.resting  # the mark itself: as before
    assert current.limit_price == pytest.approx(6.0)


def test_wing_shift_payments_count_against_the_stop() -> None:
    path = [_session(YESTERDAY, 2.5, 4.9, 2.2, 2.4)]
    hit, seen = condor_path_exit(CONDOR, path, stop_debit=5.80, target_debit=1.45, adjusted=1.0)
    assert hit is not None and hit.kind == "stop"
    assert hit.debit == pytest.approx(4.80)  # effective 5.80 = debit 4.80 + 1.00 paid
    assert seen["path_worst_effective"] == pytest.approx(5.9)
