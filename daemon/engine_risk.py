"""The engine's risk state: the drawdown kill switch and the risk gates' snapshot.

Split from :mod:`daemon.engine` (which delegates here). The gates and the
kill switch's arithmetic are pure (:mod:`strategies.gates`); this module
folds net liquidation into the switch, journals its trips and resets, and
gathers what the gates look at from the broker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

from daemon.brokers.base import BrokerError, FatalBrokerError
from strategies.domain import Action, Decision, Right, Structure
from strategies.gates import RiskSnapshot, update_drawdown
from strategies.margin import margin_requirement

if TYPE_CHECKING:
    from daemon.engine import TradingEngine

KILL_SWITCH_RULE = "risk_kill_switch"


def observe_net_liq(engine: TradingEngine, session: date, net_liq: float) -> None:
    """Fold net liquidation into the drawdown kill switch; journal a trip or reset."""
    rules = engine.risk_rules
    if rules is None:
        return
    if engine.starting_equity is None:
        engine.starting_equity = net_liq
    before = engine.drawdown
    engine.drawdown, event = update_drawdown(before, session, net_liq, rules)
    if event is None:
        return
    state = engine.drawdown
    high = before.high_water if before is not None else net_liq
    drawdown = (high - net_liq) / high * 100.0 if high > 0 else 0.0
    if event == "tripped":
        reason = (
            f"Drawdown kill switch tripped: net liquidation ${net_liq:,.0f} is "
            f"{drawdown:.1f}% below the high-water mark ${high:,.0f} (limit "
            f"{rules.kill_switch_drawdown_pct:g}%); no new condor "
            + (
                f"for {rules.kill_switch_cooloff_sessions} sessions."
                if rules.kill_switch_cooloff_sessions
                else "until the daemon is restarted."
            )
        )
    else:
        reason = (
            f"Drawdown kill switch reset after {rules.kill_switch_cooloff_sessions} "
            f"sessions: high-water mark ${high:,.0f} -> ${net_liq:,.0f} (net liquidation "
            "now); new condors allowed again."
        )
    engine.log.warning("kill_switch", change=event, net_liquidation=round(net_liq, 2))
    engine.executor.journal_note(
        Decision(
            KILL_SWITCH_RULE,
            Action.HOLD,
            Structure.CONDOR,
            reason,
            {
                "event": event,
                "session": session.isoformat(),
                "net_liq": round(net_liq, 2),
                "high_water_before": round(high, 2),
                "high_water": round(state.high_water, 2),
                "drawdown_pct": round(drawdown, 2),
                "kill_switch_drawdown_pct": rules.kill_switch_drawdown_pct,
                "kill_switch_cooloff_sessions": rules.kill_switch_cooloff_sessions,
            },
        )
    )


def restore_risk(engine: TradingEngine, daily: Sequence[tuple[date, float]]) -> None:
    """Rebuild the kill switch from journaled end-of-session net liquidation.

    ``daily``: ``(session, net liquidation)`` of the book's earlier runs,
    oldest first. The switch is folded through them exactly as the mark
    jobs folded it (trips and resets included, not journaled again), so a
    restart neither resets a tripped switch nor forgets the high-water
    mark; the first row is the floor's starting equity when none was given.
    """
    rules = engine.risk_rules
    if rules is None or not daily:
        return
    if engine.starting_equity is None:
        engine.starting_equity = daily[0][1]
    for session, net_liq in daily:
        engine.drawdown, _ = update_drawdown(engine.drawdown, session, net_liq, rules)


async def risk_snapshot(engine: TradingEngine, decision: Decision) -> RiskSnapshot:
    """Gather what the risk gates look at for ``decision`` (see :mod:`strategies.gates`).

    Account values, the market context, quotes of every held leg and of the
    decision's legs, and the other right at each of the decision's strikes
    (put-call parity; left out if the broker cannot quote it).

    Raises:
        BrokerError: the account, the market context or the legs' quotes
            could not be had (the executor then blocks the decision).
    """
    account = await engine.broker.account()
    ctx = await engine.broker.market_context()
    session = engine.session()
    engine.observe_net_liq(session, account.net_liquidation)
    held = engine.portfolio.open_positions()
    wanted = dict.fromkeys(
        [c for p in held for c, q in p.held.items() if q] + [leg.contract for leg in decision.legs]
    )
    contracts = [c for c in wanted if c.expiry >= session]
    quotes = {q.contract: q for q in await engine.broker.quote(contracts)} if contracts else {}
    others = [
        replace(leg.contract, right=Right.PUT if leg.contract.right is Right.CALL else Right.CALL)
        for leg in decision.legs
    ]
    others = [c for c in dict.fromkeys(others) if c not in quotes]
    if others:
        try:
            quotes.update({q.contract: q for q in await engine.broker.quote(others)})
        except BrokerError as exc:  # parity is then skipped with a note
            if isinstance(exc, FatalBrokerError):
                raise
            engine.log.warning("parity_quotes_unavailable", reason=str(exc))
    assert engine.drawdown is not None and engine.starting_equity is not None
    init_margin = account.init_margin
    if init_margin is None:
        init_margin = margin_requirement(engine.portfolio.net_contracts())
    return RiskSnapshot(
        ctx,
        account.net_liquidation,
        account.cash,
        engine.starting_equity,
        engine.drawdown,
        held,
        quotes,
        {("VIX", expiry): price for expiry, price in ctx.vix_futures.items()},
        init_margin,
    )
