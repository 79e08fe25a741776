"""The engine's book: open structures and the dollars each has made or lost.

Fills and settlements arrive per leg; the book attributes them to the
structure (condor or hedge layer) they belong to, so P&L can be reported per
structure. Cash flows are in dollars: buying costs ``quantity * price * 100``,
selling brings it in, commissions always cost, settlement pays intrinsic value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from strategies.domain import LegQuote, OptionContract, Structure
from strategies.execution import Fill, Settlement
from strategies.positions import OpenStructure


@dataclass(slots=True)
class BookEntry:
    """One structure and its running cash flows (dollars)."""

    structure: OpenStructure
    cash_flow: float = 0.0
    commissions: float = 0.0
    held: dict[OptionContract, int] = field(default_factory=dict)
    settlement_cash: float = 0.0

    @property
    def is_flat(self) -> bool:
        return not any(self.held.values())

    def mark_value(self, quotes: dict[OptionContract, LegQuote]) -> float:
        """Dollar value of the legs still held, at quote mids."""
        return sum(
            qty * quotes[contract].mid * contract.multiplier
            for contract, qty in self.held.items()
            if qty
        )

    def pnl(self, quotes: dict[OptionContract, LegQuote]) -> float:
        """Total P&L in dollars: cash flows so far plus the mark of what is still held."""
        return self.cash_flow + self.mark_value(quotes)


class StructureBook:
    """Open structures keyed by id, with order refs mapped to the structure they trade."""

    def __init__(self) -> None:
        self.entries: dict[str, BookEntry] = {}
        self._order_to_structure: dict[str, str] = {}

    def open(self, structure: OpenStructure) -> BookEntry:
        entry = BookEntry(structure)
        self.entries[structure.id] = entry
        return entry

    def expect_order(self, order_ref: str, structure_id: str) -> None:
        """Route the fills of ``order_ref`` to ``structure_id``."""
        self._order_to_structure[order_ref] = structure_id

    def apply_fill(self, fill: Fill) -> BookEntry | None:
        """Book one leg fill; returns the structure it belongs to (None if unknown)."""
        structure_id = self._order_to_structure.get(fill.order_ref)
        entry = self.entries.get(structure_id) if structure_id else None
        if entry is None:
            return None
        entry.cash_flow -= fill.quantity * fill.price * fill.contract.multiplier + fill.commission
        entry.commissions += fill.commission
        entry.held[fill.contract] = entry.held.get(fill.contract, 0) + fill.quantity
        return entry

    def apply_settlement(self, settlement: Settlement) -> list[BookEntry]:
        """Settle every structure's holding of the expired contract at the settlement rate.

        The broker settles the *net* position, but two structures may hold
        opposite sides of one contract, so each structure's own holding is
        settled in full at the per-contract cash (intrinsic x multiplier).
        """
        contract = settlement.contract
        per_contract = contract.intrinsic(settlement.settlement_price) * contract.multiplier
        touched = []
        for entry in self.open_entries():
            held = entry.held.get(settlement.contract, 0)
            if not held:
                continue
            entry.cash_flow += held * per_contract
            entry.settlement_cash += held * per_contract
            entry.held[settlement.contract] = 0
            touched.append(entry)
        return touched

    def open_entries(self, kind: Structure | None = None) -> list[BookEntry]:
        """Structures still in the book, optionally only of one kind."""
        return [e for e in self.entries.values() if kind is None or e.structure.structure is kind]

    def remove(self, structure_id: str) -> BookEntry:
        """Take a closed (flat) structure out of the book."""
        return self.entries.pop(structure_id)
