"""The configurations ``alvh study`` replays: one engine, one range, different switches.

Every variant is the user's (or the built-in default) :class:`AlvhConfig`
with a few keys overridden, validated like a config file's values. The list:

* ``alvh``: the configuration as given (ALVH at defaults).
* ``unhedged``: the same condors, ``[hedge] enabled = false`` (no rung is
  ever bought; the condor roll then sees no hedge gain).
* ``no_<feature>``: ALVH with one feature switched off (the ``enabled``-style
  switches of ``[hedge]``, ``[adjust]``, ``[risk]`` and the event jobs).
* ``fill_mid`` / ``fill_natural``: ALVH filled at mid
  (``[replay] slippage_pct_of_half_spread = 0``) and at the touch (``1``);
  ``alvh`` itself uses the configured default.
* ``cndr_replica``: Cboe's CNDR rules on the same engine (see
  :data:`CNDR_OVERRIDES`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from daemon.config import AlvhConfig

#: Overrides by section: ``{"hedge": {"enabled": False}}``.
Overrides = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Variant:
    """One replayed configuration: ``name`` (a summary.csv key), a sentence, the overrides."""

    name: str
    description: str
    overrides: Overrides = field(default_factory=dict)
    #: ``"alvh"`` for the hedged method and its ablations, ``"benchmark"`` otherwise.
    family: str = "alvh"


#: Cboe CNDR (www.cboe.com/CNDR): each month at the standard monthly expiry
#: sell a one-month SPX iron condor, short the ~20-delta put and call, long
#: the ~5-delta put and call, held to expiry (cash-settled at the SOQ), no
#: stop, no adjustment, no hedge, the rest in T-bills. On this engine: the
#: AM-settled monthly class ``SPX`` (third Fridays), DTE window 25-40 so the
#: only eligible expiry on roll day is the next monthly (28 or 35 days); the
#: expired condor settles at 09:30 (SOQ proxy: the SPX open) so the 15:30
#: entry job opens the next one the same Friday. Held to expiry: the stop
#: multiple is the largest valid (100 x credit, past any condor's max loss)
#: and the profit target is 100% (debit <= 0: only a worthless condor; then
#: it closes for nothing a day or two early, same P&L as expiring worthless
#: less commissions, and the next condor may open before roll day).
#: Sizing: max loss = ``max_loss_pct_of_net_liq`` % of net liquidation;
#: Cboe publishes no contract count, so 10% (T-bills covering ten times the
#: max loss, as Cboe states for its BFLY index) is the documented choice; it
#: scales returns (tracking error) but not their correlation.
CNDR_OVERRIDES: dict[str, dict[str, Any]] = {
    "condor": {
        "trading_class": "SPX",
        "min_dte": 25,
        "max_dte": 40,
        "target_dte": 30,
        "short_delta": 0.20,
        "wing_mode": "delta",
        "wing_delta": 0.05,
        "min_credit": 0.05,
        "max_loss_pct_of_net_liq": 10.0,
        "max_contracts": 10_000,
        "profit_target_pct": 100.0,
        "stop_multiple": 100.0,
        "exit_dte": 0,
    },
    "hedge": {"enabled": False},
    "adjust": {"wing_shift_enabled": False, "roll_enabled": False},
    "risk": {
        "max_loss_enabled": False,
        "floor_enabled": False,
        "kill_switch_enabled": False,
        "liquidity_enabled": False,
        "hedge_cap_enabled": False,
        "scenario_enabled": False,
        "quote_width_enabled": False,
        "parity_enabled": False,
    },
    "events": {"enabled": False},
}

#: One feature off at a time: (name, description, overrides).
_ABLATIONS: tuple[tuple[str, str, dict[str, dict[str, Any]]], ...] = (
    ("no_extra_rungs", "ALVH with one rung only ([hedge] rungs = 1)",
     {"hedge": {"rungs": 1, "base_weight": 1.0}}),
    ("no_triggers", "ALVH without the expansion triggers ([hedge] triggers_enabled = false)",
     {"hedge": {"triggers_enabled": False}}),
    ("no_trigger_rsi", "ALVH without the RSI(VIX) trigger", {"hedge": {"trigger_rsi": False}}),
    ("no_trigger_macd", "ALVH without the VVIX MACD trigger", {"hedge": {"trigger_macd": False}}),
    ("no_trigger_divergence", "ALVH without the A/D divergence trigger",
     {"hedge": {"trigger_divergence": False}}),
    ("no_trigger_term", "ALVH without the term-structure trigger",
     {"hedge": {"trigger_term": False}}),
    ("no_harvest", "ALVH without harvest-and-recycle ([hedge] harvest_enabled = false)",
     {"hedge": {"harvest_enabled": False}}),
    ("no_recycle", "ALVH harvesting without recycling ([hedge] recycle_enabled = false)",
     {"hedge": {"recycle_enabled": False}}),
    ("no_rung_roll", "ALVH without rolling rungs ([hedge] roll_enabled = false)",
     {"hedge": {"roll_enabled": False}}),
    ("no_wing_shift", "ALVH without the wing shift ([adjust] wing_shift_enabled = false)",
     {"adjust": {"wing_shift_enabled": False}}),
    ("no_condor_roll", "ALVH without the condor roll ([adjust] roll_enabled = false)",
     {"adjust": {"roll_enabled": False}}),
    ("no_events", "ALVH without event rules: no blackouts, no pre/post-event checks "
     "([events] enabled = false)", {"events": {"enabled": False}}),
    ("no_kill_switch", "ALVH without the drawdown kill switch",
     {"risk": {"kill_switch_enabled": False}}),
    ("no_hedge_cap", "ALVH without the hedge premium cap", {"risk": {"hedge_cap_enabled": False}}),
    ("no_scenario_gate", "ALVH without the scenario-grid gate",
     {"risk": {"scenario_enabled": False}}),
)  # fmt: skip


def study_variants(include_ablations: bool = True) -> list[Variant]:
    """The variants in the order the study shows them (``alvh`` and ``unhedged`` first)."""
    variants = [
        Variant("alvh", "ALVH at the configured defaults"),
        Variant("unhedged", "the same condors, no hedge ([hedge] enabled = false)",
                {"hedge": {"enabled": False}}),
    ]  # fmt: skip
    if include_ablations:
        variants += [Variant(name, text, over) for name, text, over in _ABLATIONS]
    variants += [
        Variant("fill_mid", "ALVH filled at mid ([replay] slippage_pct_of_half_spread = 0)",
                {"replay": {"slippage_pct_of_half_spread": 0.0}}),
        Variant("fill_natural", "ALVH filled at bid/ask ([replay] slippage_pct_of_half_spread = 1)",
                {"replay": {"slippage_pct_of_half_spread": 1.0}}),
        Variant("cndr_replica", "Cboe CNDR rules on this engine: monthly 20/5-delta SPX iron "
                "condor held to expiry, no hedge", CNDR_OVERRIDES, family="benchmark"),
    ]  # fmt: skip
    return variants


def apply_overrides(config: AlvhConfig, overrides: Overrides) -> AlvhConfig:
    """``config`` with ``overrides`` applied section by section, each section re-validated.

    Raises:
        ValueError: an override is not valid for its section (pydantic's
            ValidationError), or names a section the config does not have.
    """
    update: dict[str, Any] = {}
    for section, values in overrides.items():
        current = getattr(config, section, None)
        if current is None:
            raise ValueError(f"no config section [{section}]")
        update[section] = type(current).model_validate({**current.model_dump(), **values})
    return config.model_copy(update=update)
