"""The drawdown kill switch's state and how each net-liquidation check folds into it.

The gate that reads it is :func:`strategies.gates.limits.kill_switch_gate`;
the engine keeps the state (:mod:`daemon.engine_risk`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from strategies.rules import RiskRules


@dataclass(frozen=True, slots=True)
class DrawdownState:
    """The drawdown kill switch: high-water mark of net liquidation and whether it tripped.

    How it works (a trader's view): the high-water mark is the highest net
    liquidation seen at any check (every mark job and every gated order). When
    net liquidation falls more than ``kill_switch_drawdown_pct`` % below it,
    the switch trips: no new condor until it resets. It resets after
    ``kill_switch_cooloff_sessions`` further sessions: the high-water mark is
    then set to the net liquidation of that moment (the loss is accepted as
    the new base, the drawdown is measured afresh) and entries resume. A
    restart does not reset it: the engine folds the journaled end-of-session
    net liquidation again (:meth:`daemon.engine.TradingEngine.restore_risk`).
    An operator who wants entries back sooner switches the gate off
    (``[risk] kill_switch_enabled = false``, recorded in the run's
    configuration) and restarts. Trips and resets are journaled as
    ``risk_kill_switch`` decisions.

    Attributes:
        high_water: highest net liquidation since the last reset, dollars.
        tripped_on: session the switch tripped, ``None`` while armed.
        sessions_tripped: sessions seen since it tripped.
        last_session: the last session it was updated on.
    """

    high_water: float
    tripped_on: date | None = None
    sessions_tripped: int = 0
    last_session: date | None = None

    @property
    def tripped(self) -> bool:
        return self.tripped_on is not None

    def drawdown_pct(self, net_liq: float) -> float:
        """Drawdown of ``net_liq`` from the high-water mark, percent (0 at or above it)."""
        if self.high_water <= 0:
            return 0.0
        return max(0.0, (self.high_water - net_liq) / self.high_water * 100.0)


def update_drawdown(
    state: DrawdownState | None, session: date, net_liq: float, rules: RiskRules
) -> tuple[DrawdownState, str | None]:
    """Fold one net-liquidation observation into the kill switch.

    Returns the new state and ``"tripped"`` / ``"reset"`` when the switch
    changed (the engine journals it), else ``None``. See :class:`DrawdownState`.
    """
    if state is None:
        return DrawdownState(net_liq, last_session=session), None
    new_session = state.last_session != session
    if state.tripped:
        count = state.sessions_tripped + (1 if new_session else 0)
        if count >= rules.kill_switch_cooloff_sessions:
            return DrawdownState(net_liq, last_session=session), "reset"
        return (
            DrawdownState(state.high_water, state.tripped_on, count, session),
            None,
        )
    high = max(state.high_water, net_liq)
    armed = DrawdownState(high, last_session=session)
    if rules.kill_switch_enabled and armed.drawdown_pct(net_liq) > rules.kill_switch_drawdown_pct:
        return DrawdownState(high, session, 0, session), "tripped"
    return armed, None
