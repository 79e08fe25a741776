"""All the gates together: :func:`evaluate_gates` runs gates 1-7 in their order.

Order and scope of each gate: :mod:`strategies.gates`.
"""

from __future__ import annotations

from strategies.domain import Decision
from strategies.gates.base import _NEW, GateOutcome, GateResult, Inputs, RiskSnapshot
from strategies.gates.funding import liquidity_gate
from strategies.gates.limits import floor_gate, hedge_cap_gate, kill_switch_gate, max_loss_gate
from strategies.gates.quotes import parity_gate, quote_width_gate
from strategies.gates.scenario import book_after, scenario_gate
from strategies.rules import CondorRules, RiskRules


def evaluate_gates(
    decision: Decision,
    snap: RiskSnapshot,
    rules: RiskRules,
    condor: CondorRules,
) -> GateOutcome:
    """Run gates 1-7 on ``decision`` (the margin gate needs the broker: the executor
    runs :func:`margin_gate` after these, on the quantity they allow).

    Every gate runs and journals its numbers even
    after one blocked, so a skip shows the whole picture; the first block names
    the skip.
    """
    inputs: Inputs = {}
    quantity = decision.quantity
    results: list[GateResult] = [
        max_loss_gate(decision, snap, rules, condor),
        floor_gate(decision, snap, rules),
        kill_switch_gate(decision, snap, rules),
    ]
    cap = hedge_cap_gate(decision, snap, rules)
    results.append(cap)
    if cap.quantity is not None:
        quantity = cap.quantity
    # gates 4 and 5 price the same book: price its grid once
    book = book_after(decision, snap, quantity) if decision.action in _NEW else None
    results += [
        scenario_gate(decision, snap, rules, quantity, book),
        liquidity_gate(decision, snap, rules, quantity, book),
        quote_width_gate(decision, snap, rules),
        parity_gate(decision, snap, rules),
    ]
    first: GateResult | None = None
    for result in results:
        inputs.update(result.inputs)
        if result.blocked and first is None:
            first = result
    if first is None:
        return GateOutcome(inputs, quantity)
    return GateOutcome(inputs, quantity, first.name, f"risk gate {first.name}: {first.reason}")
