"""A pure view of one open structure (an iron condor or one ALVH hedge layer).

The engine builds :class:`OpenStructure` objects from the journal and checks
them against the broker's positions; the rules in :mod:`strategies.condor` and
:mod:`strategies.hedge` only read them. Nothing here does I/O or reads a clock:
the current session date is always passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from strategies.domain import Leg, OptionContract, Structure


@dataclass(frozen=True, slots=True)
class OpenStructure:
    """One open position made of one or more legs traded as a unit.

    Attributes:
        id: the position's identifier (the engine uses the id of the journaled
            decision that opened it); echoed as ``Decision.position_id`` by exit
            rules.
        structure: condor or hedge layer.
        legs: the legs as opened, with signed ratios (+1 long, -1 short). For a
            condor: long put, short put, short call, long call.
        quantity: combo units held (> 0); each leg holds ``ratio * quantity``
            contracts.
        open_price: net fill price per combo unit in index points, with the
            domain sign convention (+ debit paid, - credit received). A condor
            opened for a 2.35 credit has ``open_price == -2.35``.
        opened_session: session date the position was opened.
        adjusted_price: the part of ``open_price`` paid by adjustments (wing
            shifts) after the opening, index points per unit (+ debit); the
            opening order's own price is ``open_price - adjusted_price``.

    Raises:
        ValueError: on construction, when ``legs`` is empty, a ratio is zero,
            or ``quantity`` is not positive.
    """

    id: str
    structure: Structure
    legs: tuple[Leg, ...]
    quantity: int
    open_price: float
    opened_session: date
    adjusted_price: float = 0.0

    @property
    def opening_price(self) -> float:
        """The opening order's net price per unit, index points (+ debit, - credit)."""
        return self.open_price - self.adjusted_price

    def __post_init__(self) -> None:
        if not self.legs:
            raise ValueError(f"open structure {self.id!r} has no legs")
        if any(leg.ratio == 0 for leg in self.legs):
            raise ValueError(f"open structure {self.id!r} has a leg with ratio 0")
        if self.quantity <= 0:
            raise ValueError(
                f"open structure {self.id!r} must hold a positive quantity, got {self.quantity}"
            )

    @property
    def expiry(self) -> date:
        """The earliest expiry among the legs (session date)."""
        return min(leg.contract.expiry for leg in self.legs)

    def dte(self, session: date) -> int:
        """Calendar days from ``session`` to :attr:`expiry` (negative once expired)."""
        return (self.expiry - session).days

    def contracts(self) -> dict[OptionContract, int]:
        """Signed contracts held per option (``ratio * quantity``; + long, - short).

        Legs on the same contract are netted; this is what the broker should
        report for this structure alone.
        """
        held: dict[OptionContract, int] = {}
        for leg in self.legs:
            held[leg.contract] = held.get(leg.contract, 0) + leg.ratio * self.quantity
        return held

    def closing_legs(self) -> tuple[Leg, ...]:
        """The legs of the combo that closes this structure (every ratio negated)."""
        return tuple(Leg(leg.contract, -leg.ratio) for leg in self.legs)
