"""The manage job: exits and adjustments of every held structure, condors first.

Split from :mod:`daemon.engine` (which delegates here); the rules themselves
are pure (:func:`strategies.adjustments.plan_condor_manage` for condors,
:func:`strategies.planner.plan_exit` for hedges). This module only gathers
the market data the rules ask for and executes their plans.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from datetime import date, datetime, time
from typing import TYPE_CHECKING

from daemon.brokers.base import BrokerError, FatalBrokerError
from daemon.clock import NEW_YORK
from daemon.marketdata.requests import gather
from strategies.adjustments import AdjustData, MarketRequest, plan_condor_manage
from strategies.domain import LegQuote, OptionContract, Right, Structure
from strategies.exit_path import SessionPath
from strategies.plan import Plan, error_decision, nothing_to_do
from strategies.planner import hedge_manage_wants_chain, plan_exit
from strategies.portfolio import StructurePosition

if TYPE_CHECKING:
    from daemon.engine import TradingEngine

MANAGE_RULE = "manage"
#: How many rounds of market data one condor's manage rule may ask for
#: (a roll's chain, then a wing shift's quotes, and one spare).
MAX_DATA_ROUNDS = 3


async def manage_job(engine: TradingEngine) -> None:
    """Reconcile (live), then apply the exit rules to every held structure.

    Condors first, then hedges (settlement exit, no-condor rule, harvest
    and recycle, roll: :func:`strategies.planner.plan_exit`); the hedges
    see the book as the condors' exits left it. The VIX chain is fetched
    only when a hedge may be rolled or recycled.
    """
    if engine.before_manage is not None:
        await engine.before_manage()
    held = engine.portfolio.open_positions()
    if not held:
        if engine.executor.trigger:
            await engine.executor.execute(Plan.of(nothing_to_do(MANAGE_RULE, Structure.CONDOR)))
        return
    try:
        quotes = await engine._quote_positions(held)
    except BrokerError as exc:
        await engine._data_unavailable(MANAGE_RULE, Structure.CONDOR, exc)
        return
    session = engine.session()
    for position in engine.portfolio.open_positions(Structure.CONDOR):
        if engine.executor.has_live_order(position.id):
            engine.log.warning(
                "exit_deferred",
                position_id=position.id,
                reason="an order on this structure is still working or unknown",
            )
            continue
        await engine.executor.execute(await _manage_condor(engine, position, quotes, session))
    hedges = engine.portfolio.open_positions(Structure.HEDGE_LAYER)
    if not hedges:
        return
    # a condor roll or wing shift above put legs in the book that were not quoted yet;
    # the hedges' sizing reads every held condor leg
    unquoted = [
        p
        for p in engine.portfolio.open_positions()
        if any(q and c not in quotes and c.expiry >= session for c, q in p.held.items())
    ]
    if unquoted:
        try:
            quotes = quotes | await engine._quote_positions(unquoted)
        except BrokerError as exc:
            await engine._data_unavailable(MANAGE_RULE, Structure.HEDGE_LAYER, exc)
            return
    rules = engine.hedge_rules
    signals = await engine.current_signals()
    spx, calls = math.nan, []
    try:
        ctx = await engine.broker.market_context()
        spx = ctx.spx
        if not engine.entry_halt and hedge_manage_wants_chain(
            engine.portfolio, quotes, session, rules
        ):
            calls = await engine.broker.option_chain(
                "VIX",
                "VIX",
                min(rules.min_dte, rules.recycle_min_dte),
                max(rules.max_dte, rules.recycle_max_dte),
                rights=(Right.CALL,),
            )
    except BrokerError as exc:  # the exits still run: no roll or recycle successor
        if isinstance(exc, FatalBrokerError):
            raise
        engine.log.warning("hedge_chain_unavailable", reason=str(exc))
    for position in hedges:
        if position.is_closed:  # closed meanwhile (a harvest's recycle cannot close one)
            continue
        condor_open = bool(engine.portfolio.open_positions(Structure.CONDOR))
        await _manage_one(
            engine,
            position,
            functools.partial(
                plan_exit,
                position,
                quotes,
                session,
                engine.condor_rules,
                rules,
                condor_open,
                portfolio=engine.portfolio,
                spx=spx,
                vix_calls=calls,
                signals=signals,
            ),
        )


async def _manage_one(
    engine: TradingEngine, position: StructurePosition, make: Callable[[], Plan]
) -> None:
    """Run one structure's exit planner and execute its plan (unless an order is live)."""
    if engine.executor.has_live_order(position.id):
        engine.log.warning(
            "exit_deferred",
            position_id=position.id,
            reason="an order on this structure is still working or unknown",
        )
        return
    plan = engine._guarded(f"{position.kind.value}_exit", position.kind, make)
    await engine.executor.execute(plan)


async def _manage_condor(
    engine: TradingEngine,
    position: StructurePosition,
    quotes: dict[OptionContract, LegQuote],
    session: date,
) -> Plan:
    """The condor's manage plan (exits, roll, wing shift: :mod:`strategies.adjustments`).

    The engine only answers the rule's :class:`MarketRequest`: quotes of
    named contracts, or a chain with the market context, fetched only
    when the rule asks. A request that fails goes back to the rule as an
    error text (it holds, naming it); a fatal broker error stops the daemon.
    """
    hedges = engine.portfolio.open_positions(Structure.HEDGE_LAYER)
    data = AdjustData()
    path = await _path_since_last_check(engine, position)
    for _ in range(MAX_DATA_ROUNDS):
        outcome: Plan | MarketRequest
        try:
            outcome = plan_condor_manage(
                position,
                quotes,
                session,
                engine.condor_rules,
                engine.hedge_rules,
                engine.adjust_rules,
                hedges,
                data,
                path,
            )
        except Exception as exc:  # a rule's bug must not stop the job or the daemon
            engine.log.error(
                "rule_failed", rule="condor_exit", error=f"{type(exc).__name__}: {exc}"
            )
            return Plan.of(error_decision("condor_exit", Structure.CONDOR, exc))
        if isinstance(outcome, Plan):
            return outcome
        engine.log.debug("market_request", position_id=position.id, why=outcome.why)
        data = await gather(engine.broker, outcome, data)
    return Plan.of(
        error_decision(
            "condor_exit",
            Structure.CONDOR,
            RuntimeError(f"still asking for market data after {MAX_DATA_ROUNDS} rounds"),
        )
    )


async def path_exits(engine: TradingEngine) -> None:
    """Settle the stops and targets the market's path reached, after the close (replay).

    Run by the mark job before it marks, when the broker reports the path
    (``path_since``: the simulated broker; IB does not, so live does nothing
    here). Each held condor's exit rule sees the path since its last check
    (the session just closed, its range now visible); only a **resting**
    close (a stop or target the range reached, at its level) is executed,
    so the book and the journal hold the exit on the session it happened,
    before the next session's entry and hedge check. Anything else (hold,
    a DTE floor, a stop on the close itself, which the range also holds)
    is left to the manage job, and nothing is journaled for it. When such an
    exit closed the last condor and ``[hedge] no_condor_grace_sessions`` is
    0, the hedges' no-condor rule runs at once (:func:`_hedges_after_last_condor`).
    """
    if getattr(engine.broker, "path_since", None) is None:
        return
    condors = [
        p
        for p in engine.portfolio.open_positions(Structure.CONDOR)
        if not engine.executor.has_live_order(p.id) and p.is_balanced
    ]
    if not condors:
        return
    # the paths first: the broker prices each session's states in one pass, the
    # close among them, so the quotes below find the close priced
    checked = {p.id: engine.exit_checked.get(p.id) for p in condors}
    paths = [await _path_since_last_check(engine, position) for position in condors]
    try:
        quotes = await engine._quote_positions(condors)
    except BrokerError as exc:
        engine.log.warning("exit_path_unavailable", reason=str(exc))
        for structure_id, when in checked.items():  # the ranges stay due
            if when is None:
                engine.exit_checked.pop(structure_id, None)
            else:
                engine.exit_checked[structure_id] = when
        return
    session = engine.session()
    closed_any = False
    for position, path in zip(condors, paths, strict=True):
        if not path:
            continue
        plan = engine._guarded(
            "condor_exit",
            Structure.CONDOR,
            functools.partial(
                plan_exit,
                position,
                quotes,
                session,
                engine.condor_rules,
                engine.hedge_rules,
                True,
                path=path,
            ),
        )
        if any(d.resting for d in plan.decisions):
            await engine.executor.execute(plan)
            closed_any = True
    if closed_any and not engine.portfolio.open_positions(Structure.CONDOR):
        await _hedges_after_last_condor(engine, session)


async def _hedges_after_last_condor(engine: TradingEngine, session: date) -> None:
    """Apply the no-condor rule to the hedges right after a path exit closed the last condor.

    Only with ``when_no_condor = "close"`` and ``no_condor_grace_sessions =
    0`` ("close the ladder with the condor"): the stop or target filled
    inside the session, and the manage job of the next session runs after
    that session's condor entry, so without this the ladder would be carried
    through a whole session that starts with no condor. Each hedge's own
    exit rule decides (:func:`strategies.planner.plan_exit` with no condor
    open: the no-condor close); it sells at the quotes of this check (replay:
    the session's close, after the stop or target filled inside it). A
    broker error leaves the hedges to the next manage job.
    """
    rules = engine.hedge_rules
    if rules.when_no_condor != "close" or rules.no_condor_grace_sessions > 0:
        return
    hedges = [
        p
        for p in engine.portfolio.open_positions(Structure.HEDGE_LAYER)
        if not engine.executor.has_live_order(p.id)
    ]
    if not hedges:
        return
    try:
        quotes = await engine._quote_positions(hedges)
    except BrokerError as exc:
        if isinstance(exc, FatalBrokerError):
            raise
        engine.log.warning("hedge_quotes_unavailable", reason=str(exc))
        return
    for position in hedges:
        await _manage_one(
            engine,
            position,
            functools.partial(
                plan_exit,
                position,
                quotes,
                session,
                engine.condor_rules,
                rules,
                False,
                portfolio=engine.portfolio,
            ),
        )


async def _path_since_last_check(
    engine: TradingEngine, position: StructurePosition
) -> tuple[SessionPath, ...]:
    """The market since this condor's last exit check, when the broker can say.

    A broker with ``path_since`` (the simulated one) hands the sessions whose
    range became visible since the last check (the first check: since the
    opening session's midnight, so a range the entry did not see counts);
    the check's time is then remembered (in memory: after a restart the
    path starts again at the opening session). A broker without it (IB)
    hands none: live exits see the current mark only. A broker error is
    logged and the rule runs on the current mark; the range stays due.
    """
    path_since = getattr(engine.broker, "path_since", None)
    if path_since is None:
        return ()
    since = engine.exit_checked.get(position.id) or datetime.combine(
        position.opened_session, time(0, 0), NEW_YORK
    )
    contracts = [leg.contract for leg in position.legs]
    try:
        path = tuple(await path_since(contracts, since))
    except BrokerError as exc:
        if isinstance(exc, FatalBrokerError):
            raise
        engine.log.warning("exit_path_unavailable", position_id=position.id, reason=str(exc))
        return ()
    engine.exit_checked[position.id] = engine.clock()
    return path
