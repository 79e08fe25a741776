"""Gate 4: the book plus the order on the scenario grid of :mod:`strategies.scenarios`.

:func:`book_after` prices the grid once; :func:`strategies.gates.evaluate_gates`
shares it with the liquidity gate (:mod:`strategies.gates.funding`).
"""

from __future__ import annotations

from strategies.domain import Decision, Structure
from strategies.gates.base import _NEW, GateResult, Inputs, RiskSnapshot, _na, _result, _usd
from strategies.margin import holdings_after
from strategies.rules import RiskRules
from strategies.scenarios import BookAfter, em_days, scenario_grid


def _cell_text(cell: tuple[float, float]) -> str:
    return f"spot {cell[0]:+g} EM / vol {cell[1]:+g} pts"


def book_after(decision: Decision, snap: RiskSnapshot, quantity: int) -> BookAfter:
    """The book with ``quantity`` units of ``decision``'s order, and its scenario grid."""
    before = snap.holdings()
    after = holdings_after(before, decision.legs, quantity)
    em_dte = em_days([leg.contract for leg in decision.legs] + list(after), snap.ctx)
    return BookAfter(before, after, scenario_grid(after, snap.quotes, snap.ctx, em_dte))


def scenario_gate(
    decision: Decision,
    snap: RiskSnapshot,
    rules: RiskRules,
    quantity: int,
    book: BookAfter | None = None,
) -> GateResult:
    """Gate 4: the scenario grid of book + order, journaled; budget on condor entries.

    ``book``: :func:`book_after` of the same order and quantity, when the
    caller already has it (:func:`evaluate_gates` shares it with gate 5).
    """
    name = "scenario"
    if decision.action not in _NEW:
        return _na(name)
    if book is None:
        book = book_after(decision, snap, quantity)
    grid = book.grid
    worst_cell, worst = grid.worst
    loss = -book.cell(snap.quotes, snap.ctx, rules.scenario_spot_em, rules.scenario_vol_points)
    budget = rules.scenario_budget_pct / 100.0 * snap.net_liq
    numbers: Inputs = {
        "worst_pnl": round(worst, 2),
        "worst_cell": _cell_text(worst_cell),
        "em_points": round(grid.em_points, 2),
        "grid": grid.compact(),
        "budget_cell": _cell_text((rules.scenario_spot_em, rules.scenario_vol_points)),
        "budget_loss": round(loss, 2),
        "budget": round(budget, 2),
    }
    if grid.unpriced:
        numbers["unpriced"] = ",".join(grid.unpriced)
    if not rules.scenario_enabled or decision.structure is not Structure.CONDOR:
        status = "off" if not rules.scenario_enabled else "info"
        return _result(name, status, **numbers)
    if loss > budget:
        return _result(
            name,
            "block",
            f"the book with this condor loses {_usd(loss)} at "
            f"{_cell_text((rules.scenario_spot_em, rules.scenario_vol_points))} "
            f"(EM {grid.em_points:.1f} points), over the budget {_usd(budget)} = "
            f"{rules.scenario_budget_pct:g}% of net liquidation; worst cell "
            f"{_cell_text(worst_cell)} {_usd(worst)}",
            **numbers,
        )
    return _result(name, "pass", **numbers)
