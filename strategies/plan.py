"""Plans: an ordered list of linked decisions carrying out one move, with one reason.

A rule returns a :class:`Plan`. Shifting a wing is one plan (close two legs,
open two others); rolling is one plan (close a structure, open its successor).
The engine journals every decision of a plan, runs them in order, and stops a
plan whose order did not fill completely, journaling the remaining steps as
skips, so a half-done move never goes on blindly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from strategies.domain import Action, Decision, Structure


@dataclass(frozen=True, slots=True)
class Plan:
    """One move: ``decisions`` run in order under a shared ``reason``.

    Attributes:
        rule: the rule that made the plan (e.g. ``"condor_exit"``).
        reason: why the whole move is made; each decision keeps its own too.
        decisions: the steps; a plan of one SKIP/HOLD decision trades nothing.
    """

    rule: str
    reason: str
    decisions: tuple[Decision, ...]

    @classmethod
    def of(cls, decision: Decision) -> Plan:
        """A plan of one decision, with that decision's rule and reason."""
        return cls(decision.rule, decision.reason, (decision,))

    @classmethod
    def steps(cls, rule: str, reason: str, decisions: Sequence[Decision]) -> Plan:
        """A plan of several linked decisions."""
        return cls(rule, reason, tuple(decisions))

    @property
    def trades(self) -> bool:
        """Whether any step sends an order."""
        return any(d.places_order for d in self.decisions)


def error_decision(rule: str, structure: Structure, exc: BaseException) -> Decision:
    """The decision journaled when ``rule`` raised ``exc`` (the job goes on)."""
    return Decision(
        rule,
        Action.ERROR,
        structure,
        f"rule {rule} raised {type(exc).__name__}: {exc}",
        {"exception": type(exc).__name__, "message": str(exc)[:500]},
    )


def nothing_to_do(rule: str, structure: Structure) -> Decision:
    """The HOLD journaled when an (event) job finds no open position to act on."""
    return Decision(rule, Action.HOLD, structure, "no open position to act on", {})
