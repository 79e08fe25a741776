"""Expansion triggers for extra ladder rungs, read from :class:`HedgeSignals`.

Each trigger can be switched off (``HedgeRules.trigger_*``); the enabled ones
are combined by ``HedgeRules.trigger_combine``:

* ``rsi``: RSI(14) of VIX above ``rsi_threshold`` (VIX rising hard);
* ``macd``: the VVIX MACD histogram turning up (``vvix_hist_turning_up``:
  vol of vol accelerating);
* ``divergence``: a bearish NYSE A/D divergence (SPX at its high on
  narrowing breadth, ``ad_divergence``);
* ``term``: VIX futures in backwardation, or the front above the second by
  more than the signals' ``term_spread_threshold`` (``backwardation`` or
  ``front_second_above``).

``"any"`` passes when one enabled trigger fires, ``"all"`` when every enabled
one does (and at least one is enabled), ``"at_least"`` when ``trigger_min``
do. Without signals nothing fires. Definitions of the signals:
:mod:`strategies.signals.hedge_signals`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from strategies.rules import HedgeRules
from strategies.signals import HedgeSignals


@dataclass(frozen=True, slots=True)
class TriggerCheck:
    """The triggers of one session.

    Attributes:
        enabled: names of the triggers switched on.
        fired: names of the enabled triggers that fired.
        passed: whether the combine rule passes.
        text: what fired and why it passes or not, for a reason.
    """

    enabled: tuple[str, ...]
    fired: tuple[str, ...]
    passed: bool
    text: str

    def as_inputs(self) -> dict[str, float | int | str]:
        return {
            "triggers_enabled": ",".join(self.enabled),
            "triggers_fired": ",".join(self.fired),
            "triggers_passed": int(self.passed),
        }


#: The last check and what it was of: the hedge check asks twice per job (whether
#: the chain is worth fetching, then the plan), with the same signals and rules.
#: Both are frozen, so the same objects give the same check.
_last: tuple[HedgeSignals | None, HedgeRules, TriggerCheck] | None = None


def evaluate_triggers(signals: HedgeSignals | None, rules: HedgeRules) -> TriggerCheck:
    """Which expansion triggers fire and whether ``rules.trigger_combine`` passes."""
    global _last
    last = _last
    if last is not None and last[0] is signals and last[1] is rules:
        return last[2]
    check = _evaluate(signals, rules)
    _last = (signals, rules, check)
    return check


def _evaluate(signals: HedgeSignals | None, rules: HedgeRules) -> TriggerCheck:
    checks: dict[str, tuple[bool, bool, str]] = {}
    if signals is not None:
        rsi = signals.vix_rsi
        checks["rsi"] = (
            rules.trigger_rsi,
            math.isfinite(rsi) and rsi > rules.rsi_threshold,
            f"RSI(VIX) {rsi:.1f} vs {rules.rsi_threshold:g}",
        )
        checks["macd"] = (
            rules.trigger_macd,
            signals.vvix_hist_turning_up,
            f"VVIX MACD hist {signals.vvix_macd_hist:+.2f}"
            f"{' turning up' if signals.vvix_hist_turning_up else ''}",
        )
        checks["divergence"] = (
            rules.trigger_divergence,
            signals.ad_divergence,
            f"A/D gap {signals.ad_gap:.0f}{' divergence' if signals.ad_divergence else ''}",
        )
        checks["term"] = (
            rules.trigger_term,
            signals.backwardation or signals.front_second_above,
            f"M2-M1 {signals.m1_m2_spread:+.2f}{' backwardation' if signals.backwardation else ''}",
        )
    enabled = tuple(name for name, (on, _, _) in checks.items() if on)
    fired = tuple(name for name, (on, hit, _) in checks.items() if on and hit)
    if signals is None:
        return TriggerCheck(enabled, fired, False, "no signals for this session")
    if rules.trigger_combine == "any":
        passed, rule = len(fired) >= 1, "any"
    elif rules.trigger_combine == "all":
        passed, rule = bool(enabled) and len(fired) == len(enabled), "all"
    else:
        passed, rule = len(fired) >= rules.trigger_min, f"at least {rules.trigger_min}"
    detail = "; ".join(text for name, (on, _, text) in checks.items() if on)
    text = (
        f"triggers fired: {', '.join(fired) or 'none'} of {', '.join(enabled) or 'none'} "
        f"({rule}: {'passes' if passed else 'does not pass'}; {detail})"
    )
    return TriggerCheck(enabled, fired, passed, text)
