"""Stops and profit targets against the market's path between two checks (pure).

A job checks a condor at one moment; a stop or target placed as a resting
order would have traded whenever the market reached it in between. The shell
hands the exit rule the path it saw since the rule's last check, one
:class:`SessionPath` per session whose range became visible meanwhile: the
held legs' quotes at the session's **open** and at the **extremes** of its
range (replay: SPX low with the VIX high, SPX high with the VIX high, and the
close; :meth:`daemon.brokers.simulated.SimulatedBroker.path_since`). Live
trading hands no path today (IB bars of option combos are not sampled), so a
live stop or target triggers only on the mark at the check, as before.

:func:`condor_path_exit` walks the sessions oldest first. In each one:

1. **Gap at the open**: the open's debit already at or beyond the stop (or
   the target) fills there, at the open's mark, not at the trigger level: a
   resting order cannot trade at a price the market skipped.
2. **Inside the session**: the worst debit of the extremes at or beyond the
   stop fills at the stop level; else the best debit at or within the target
   fills at the target level. When both were reached the same session the
   stop is assumed first (daily bars do not tell the order; the conservative
   choice).

The fill level is the **debit to close** per unit (index points, + debit),
before slippage and rounding; thresholds compare the effective debit
(``debit + adjusted_price``) as :func:`strategies.condor.plan_condor_exit`
does. Source of the 1.48x motivation: issue 10 (118 stops in 2007-2024
realised 1.48 times their planned loss when checked once a day at the close).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from strategies.domain import LegQuote, OptionContract
from strategies.positions import OpenStructure

__all__ = ["MarketState", "PathTrigger", "SessionPath", "condor_path_exit", "state_debit"]

Inputs = dict[str, float | int | str | None]

STOP = "stop"
PROFIT_TARGET = "profit target"


@dataclass(frozen=True, slots=True)
class MarketState:
    """The held legs' quotes in one state of the market.

    Attributes:
        label: what the state is (``"open"``, ``"spx low / vix high"``, ...).
        spx: SPX level of the state, index points.
        vix: VIX level of the state, VIX points.
        quotes: quotes of (at least) the held legs in that state.
    """

    label: str
    spx: float
    vix: float
    quotes: Mapping[OptionContract, LegQuote]


@dataclass(frozen=True, slots=True)
class SessionPath:
    """One session seen since the last check: its open and its range's extremes."""

    session: date
    open: MarketState
    extremes: tuple[MarketState, ...]


@dataclass(frozen=True, slots=True)
class PathTrigger:
    """A stop or target the path reached.

    Attributes:
        kind: :data:`STOP` or :data:`PROFIT_TARGET`.
        session: the session it happened in.
        debit: debit to close per unit at the fill level (the trigger
            level, or the open's mark on a gap), index points.
        gap: whether the open was already through the level.
    """

    kind: str
    session: date
    debit: float
    gap: bool


def state_debit(position: OpenStructure, state: MarketState) -> float:
    """Debit to close one unit of ``position`` at mid in ``state`` (NaN when a leg is unquoted)."""
    total = 0.0
    for leg in position.legs:
        quote = state.quotes.get(leg.contract)
        if quote is None or not math.isfinite(quote.mid):
            return math.nan
        total -= leg.ratio * quote.mid
    return total


def condor_path_exit(
    position: OpenStructure,
    path: Sequence[SessionPath],
    stop_debit: float,
    target_debit: float,
    adjusted: float = 0.0,
) -> tuple[PathTrigger | None, Inputs]:
    """The first stop or target the path reached, and the numbers looked at.

    Args:
        position: the condor (its legs price each state).
        path: sessions since the last check, oldest first.
        stop_debit, target_debit: the rule's thresholds on the effective
            debit (index points per unit).
        adjusted: what wing shifts paid per unit (added to each state's debit).

    Returns:
        ``(trigger or None, inputs)``; ``inputs`` holds per path the number of
        sessions, the worst and best effective debit seen, and the range of
        the session looked at last (the triggering one when there is one).
    """
    inputs: Inputs = {"path_sessions": len(path)}
    worst_seen, best_seen = -math.inf, math.inf
    for sp in path:
        open_debit = state_debit(position, sp.open)
        debits = [state_debit(position, s) for s in sp.extremes]
        finite = [d for d in debits if math.isfinite(d)]
        worst = max(finite, default=math.nan)
        best = min(finite, default=math.nan)
        inputs.update(
            path_session=sp.session.isoformat(),
            path_spx_open=sp.open.spx,
            path_vix_open=sp.open.vix,
            path_open_debit=open_debit,
            path_worst_debit=worst,
            path_best_debit=best,
        )
        for state in sp.extremes:
            key = state.label.replace(" / ", "_").replace(" ", "_")
            inputs[f"path_{key}_spx"] = state.spx
            inputs[f"path_{key}_vix"] = state.vix
        if math.isfinite(worst):
            worst_seen = max(worst_seen, worst + adjusted)
        if math.isfinite(best):
            best_seen = min(best_seen, best + adjusted)
        inputs.update(
            path_worst_effective=worst_seen if math.isfinite(worst_seen) else None,
            path_best_effective=best_seen if math.isfinite(best_seen) else None,
        )
        trigger: PathTrigger | None = None
        if math.isfinite(open_debit) and open_debit + adjusted >= stop_debit:
            trigger = PathTrigger(STOP, sp.session, open_debit, gap=True)
        elif math.isfinite(open_debit) and open_debit + adjusted <= target_debit:
            trigger = PathTrigger(PROFIT_TARGET, sp.session, open_debit, gap=True)
        elif math.isfinite(worst) and worst + adjusted >= stop_debit:
            trigger = PathTrigger(STOP, sp.session, stop_debit - adjusted, gap=False)
        elif math.isfinite(best) and best + adjusted <= target_debit:
            trigger = PathTrigger(PROFIT_TARGET, sp.session, target_debit - adjusted, gap=False)
        if trigger is not None:
            inputs.update(
                path_trigger=trigger.kind,
                path_trigger_debit=trigger.debit,
                path_gap=int(trigger.gap),
            )
            return trigger, inputs
    return None, inputs
