"""The Adaptive Layered VIX Hedge (ALVH): a time-shifted ladder of VIX-call rungs.

An iron condor is short volatility: when the S&P 500 sells off, SPX implied
volatility jumps and the condor loses. VIX calls gain when VIX jumps. The
ladder holds up to ``HedgeRules.rungs`` rungs of out-of-the-money VIX calls,
each on its own expiry, sized so that together they offset ``share`` of the
condors' dollar loss per 1-point rise in spot VIX.

Modules (pure code, dates come in as arguments):

* :mod:`~strategies.hedge.common`: the VIX price grid, strike and expiry choice;
* :mod:`~strategies.hedge.sizing`: condor and hedge exposure per VIX point;
* :mod:`~strategies.hedge.triggers`: expansion triggers from the signals;
* :mod:`~strategies.hedge.ladder`: which rung to open and its size;
* :mod:`~strategies.hedge.manage`: settlement exit, no-condor rule, harvest
  and recycle, roll.
"""

from strategies.hedge.common import (
    RECYCLE_TAG,
    VIX_TICK_BREAK,
    CallPick,
    pick_call,
    round_vix_price,
    rung_slot,
    rung_tag,
    strike_in_band,
    vix_tick,
)
from strategies.hedge.ladder import LADDER_RULE, HeldHedge, buy_hedge, plan_ladder_entry
from strategies.hedge.manage import (
    EXIT_RULE,
    HARVEST_RULE,
    NO_CONDOR_RULE,
    ROLL_RULE,
    plan_hedge_manage,
)
from strategies.hedge.sizing import (
    Exposure,
    call_vix_dollars,
    condor_loss_of,
    condor_vix_loss,
    hedge_vix_dollars,
    slice_vix_dollars,
)
from strategies.hedge.triggers import TriggerCheck, evaluate_triggers

__all__ = [
    "EXIT_RULE",
    "HARVEST_RULE",
    "LADDER_RULE",
    "NO_CONDOR_RULE",
    "RECYCLE_TAG",
    "ROLL_RULE",
    "VIX_TICK_BREAK",
    "CallPick",
    "Exposure",
    "HeldHedge",
    "TriggerCheck",
    "buy_hedge",
    "call_vix_dollars",
    "condor_loss_of",
    "condor_vix_loss",
    "evaluate_triggers",
    "hedge_vix_dollars",
    "pick_call",
    "plan_hedge_manage",
    "plan_ladder_entry",
    "round_vix_price",
    "rung_slot",
    "rung_tag",
    "slice_vix_dollars",
    "strike_in_band",
    "vix_tick",
]
