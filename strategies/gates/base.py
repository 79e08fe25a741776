"""What every risk gate shares: the actions gated, the snapshot, the results.

:class:`RiskSnapshot` is what the engine gathers for the gates just before an
order; each gate returns a :class:`GateResult` whose inputs are journaled
under ``gate_<name>...`` keys; :func:`strategies.gates.evaluate_gates` folds
them into a :class:`GateOutcome`. Overview of the gates: :mod:`strategies.gates`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from strategies.domain import Action, Decision, LegQuote, MarketContext, OptionContract
from strategies.gates.drawdown import DrawdownState
from strategies.portfolio import StructurePosition

Inputs = dict[str, float | int | str | None]

#: Actions the gates look at: every order that can add risk. CLOSE never.
GATED_ACTIONS = frozenset({Action.OPEN, Action.ROLL, Action.ADJUST})
_NEW = frozenset({Action.OPEN, Action.ROLL})


def adds_risk(decision: Decision) -> bool:
    """Whether ``decision`` sends an order the gates must check (OPEN, ROLL, ADJUST)."""
    return decision.places_order and decision.action in GATED_ACTIONS


def _usd(amount: float) -> str:
    return f"{'-' if amount < 0 else ''}${abs(amount):,.0f}"


@dataclass(frozen=True, slots=True)
class RiskSnapshot:
    """What the gates look at, gathered by the engine just before the order.

    Attributes:
        ctx: market levels now.
        net_liq, cash: account values now, dollars.
        start_equity: the account's starting equity (floor base), dollars.
        drawdown: the kill switch's state.
        positions: structures held (open), with what they hold.
        quotes: quotes of the book's legs, the decision's legs and, where
            available, the other right at each leg's strike (parity).
        forwards: ``(symbol, expiry) -> forward`` of the chains the decision
            came from (SPX forward, VIX future), index points.
        init_margin: initial margin in use now, dollars.
    """

    ctx: MarketContext
    net_liq: float
    cash: float
    start_equity: float
    drawdown: DrawdownState
    positions: Sequence[StructurePosition]
    quotes: Mapping[OptionContract, LegQuote]
    forwards: Mapping[tuple[str, date], float] = field(default_factory=dict)
    init_margin: float = 0.0

    def holdings(self) -> dict[OptionContract, int]:
        """Signed contracts held across the book."""
        net: dict[OptionContract, int] = {}
        for position in self.positions:
            for contract, qty in position.held.items():
                if qty:
                    net[contract] = net.get(contract, 0) + qty
        return {c: q for c, q in net.items() if q}


@dataclass(frozen=True, slots=True)
class GateResult:
    """One gate's verdict: ``status`` is ``pass``, ``block``, ``off`` or ``n/a``."""

    name: str
    status: str
    inputs: Inputs
    reason: str = ""
    quantity: int | None = None  # a smaller size that passes (hedge cap)

    @property
    def blocked(self) -> bool:
        return self.status == "block"


@dataclass(frozen=True, slots=True)
class GateOutcome:
    """All gates' inputs, the quantity they allow, and the first block's reason."""

    inputs: Inputs
    quantity: int
    blocked_by: str | None = None
    reason: str | None = None


def _result(
    name: str, status: str, reason: str = "", /, **numbers: float | int | str | None
) -> GateResult:
    inputs: Inputs = {f"gate_{name}": status}
    inputs.update({f"gate_{name}_{k}": v for k, v in numbers.items()})
    return GateResult(name, status, inputs, reason)


def _off(name: str) -> GateResult:
    return _result(name, "off")


def _na(name: str) -> GateResult:
    return _result(name, "n/a")
