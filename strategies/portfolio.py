"""The portfolio: structures, the contracts each actually holds, their P&L and lineage.

Pure code. The portfolio changes only by folding journaled records:

* :meth:`Portfolio.register` names a structure (its legs as decided) when the
  decision that opens it is journaled; it holds nothing yet.
* :meth:`Portfolio.route` says which structure an order's fills belong to.
* :meth:`Portfolio.expect_adjustment` names an ADJUST order (some legs of a
  structure traded as one combo, e.g. a wing shift) when its intent is
  journaled; it also routes the order.
* :meth:`Portfolio.apply_fill` and :meth:`Portfolio.apply_settlement` change
  what is held and the cash each structure has made or spent.

Adjustments (crash-safe by construction): a structure's legs change only at
the fill that completes an ADJUST order, i.e. when that order's fills add up
to exactly ``quantity`` x its legs. Until then its legs stay the old ones, so
a partially filled adjustment leaves an uneven holding that the planner's
flatten path closes leg by leg. The switch depends only on the adjustment's
own fills, never on their order among other fills or on the order's reported
state, so the live path and the restart fold (which sees the same journaled
decisions, orders and fills) reach the same legs.

So the same fold rebuilds the book after a restart from the journal, and the
quantity a close or adjustment trades is always what is held, never the
quantity at opening.

Units: contracts (signed, + long), index points per share for prices,
dollars for cash and P&L. Source of the settlement rule: each structure's own
holding settles at intrinsic value x multiplier (Cboe cash settlement).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from strategies.domain import Leg, LegQuote, OptionContract, Structure
from strategies.execution import Fill, Settlement
from strategies.positions import OpenStructure


@dataclass(slots=True)
class StructurePosition:
    """One structure (an iron condor or a hedge rung) and what it holds now.

    Attributes:
        id: the id of the decision that opened it (also its opening orderRef).
        kind: condor or hedge layer.
        legs: the legs as decided, signed ratio per combo unit.
        opened_session: session date of the opening decision.
        parent_id: the structure this one succeeds (roll, adjustment), if any.
        tag: a free label, e.g. the hedge rung (``"rung-1"``).
        held: signed contracts held per option, from fills and settlements only.
        cash_flow: dollars received minus paid so far (premiums, commissions,
            settlement cash); P&L = cash_flow + mark value of ``held``.
        commissions: dollars of commissions and fees paid.
        settlement_cash: dollars received (+) or paid (-) at expiry.
        open_premium: net index points x contracts of the opening order's
            fills (+ debit paid, - credit received).
        open_units: combo units the opening order filled.
        closed_session: session the structure went flat, ``None`` while open.
        close_reason: why it closed.
        adjustments: how many ADJUST orders completed (each changed ``legs``).
        adjusted_price: sum of the completed adjustments' net prices per
            combo unit, index points (+ debit, - credit); part of
            :attr:`open_price`.
    """

    id: str
    kind: Structure
    legs: tuple[Leg, ...]
    opened_session: date
    parent_id: str | None = None
    tag: str | None = None
    held: dict[OptionContract, int] = field(default_factory=dict)
    cash_flow: float = 0.0
    commissions: float = 0.0
    settlement_cash: float = 0.0
    open_premium: float = 0.0
    open_fills: dict[OptionContract, int] = field(default_factory=dict)
    closed_session: date | None = None
    close_reason: str = ""
    adjustments: int = 0
    adjusted_price: float = 0.0
    # signed contracts per combo unit of the current legs, netted per contract
    _ratios: dict[OptionContract, int] = field(init=False, repr=False, compare=False)
    # the same for the legs as opened (what the opening order's fills are counted in)
    _open_ratios: dict[OptionContract, int] = field(init=False, repr=False, compare=False)
    # (held_units, is_balanced) until ``held`` or ``legs`` change: every job reads
    # them per structure many times; the portfolio's fills, settlements and
    # adjustments (the only writers of ``held``, ``legs`` and the opening fills) clear
    # it and the three below through :meth:`held_changed`
    _held_shape: tuple[int, bool] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    # open_units until an opening fill (``open_fills``) arrives
    _open_units: int | None = field(default=None, init=False, repr=False, compare=False)
    # view() until anything it shows changes (held, legs, opening fills, adjustments)
    _view: OpenStructure | None = field(default=None, init=False, repr=False, compare=False)
    # expiry until the legs change
    _expiry: date | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._ratios = leg_ratios(self.legs)
        self._open_ratios = dict(self._ratios)

    @property
    def is_flat(self) -> bool:
        """Whether no contract is held."""
        return not any(self.held.values())

    @property
    def is_closed(self) -> bool:
        return self.closed_session is not None

    @property
    def open_units(self) -> int:
        """Combo units the opening order filled (legs as opened, counted by their ratio)."""
        units = self._open_units
        if units is None:
            units = self._open_units = _units(self._open_ratios, self.open_fills)
        return units

    @property
    def open_price(self) -> float:
        """Net price per unit paid so far for the current legs, index points (+ debit,
        - credit): the opening order's average plus every completed adjustment's
        (:attr:`adjusted_price`); 0 if nothing opened.

        A condor opened for a 2.90 credit (-2.90) whose wing shift cost a 0.80
        debit has -2.10: the credit the exit rules measure against.
        """
        units = self.open_units
        return self.open_premium / units + self.adjusted_price if units else 0.0

    @property
    def held_units(self) -> int:
        """Whole combo units held in the structure's proportions (0 if any leg is short of it)."""
        return self._shape()[0]

    @property
    def is_balanced(self) -> bool:
        """Whether ``held`` is exactly ``held_units`` times the legs (nothing left over)."""
        return self._shape()[1]

    def _shape(self) -> tuple[int, bool]:
        shape = self._held_shape
        if shape is None:
            units = _units(self._ratios, self.held)
            ratios = self._ratios
            balanced = all(self.held.get(c, 0) == r * units for c, r in ratios.items()) and all(
                q == 0 or c in ratios for c, q in self.held.items()
            )
            shape = self._held_shape = (units, balanced)
        return shape

    def held_changed(self) -> None:
        """Forget what was derived from ``held``, ``legs``, ``open_fills``/``open_premium``
        or ``adjusted_price`` (call after changing any of them)."""
        self._held_shape = None
        self._open_units = None
        self._view = None
        self._expiry = None

    @property
    def expiry(self) -> date:
        """Earliest expiry among the legs."""
        expiry = self._expiry
        if expiry is None:
            expiry = self._expiry = min(leg.contract.expiry for leg in self.legs)
        return expiry

    def view(self) -> OpenStructure:
        """The rules' read-only view: the structure at the units it holds now.

        The same (immutable) object until :meth:`held_changed`: the rules ask
        for it several times per job.

        Raises:
            ValueError: nothing is held in whole units (see :attr:`is_balanced`).
        """
        view = self._view
        if view is None:
            view = self._view = OpenStructure(
                self.id,
                self.kind,
                self.legs,
                self.held_units,
                self.open_price,
                self.opened_session,
                self.adjusted_price,
            )
        return view

    def mark_value(self, quotes: Mapping[OptionContract, LegQuote]) -> float:
        """Dollar value of what is held, at quote mids (a missing quote counts 0)."""
        total = 0.0
        for contract, qty in self.held.items():
            quote = quotes.get(contract)
            if qty and quote is not None and math.isfinite(quote.mid):
                total += qty * quote.mid * contract.multiplier
        return total

    def pnl(self, quotes: Mapping[OptionContract, LegQuote]) -> float:
        """Total P&L in dollars: cash flows so far plus the mark of what is still held."""
        return self.cash_flow + self.mark_value(quotes)

    def closing_orders(self) -> list[tuple[tuple[Leg, ...], int]]:
        """The orders that flatten what is held: ``[(legs, units), ...]``.

        A balanced holding closes as one combo of every leg negated, for
        :attr:`held_units` units. Anything else (legs left uneven by partial
        fills) closes leg by leg, one single-leg order per contract, each for
        exactly what that contract holds.
        """
        if self.is_flat:
            return []
        if self.is_balanced:
            return [(tuple(Leg(leg.contract, -leg.ratio) for leg in self.legs), self.held_units)]
        return [
            ((Leg(contract, -1 if qty > 0 else 1),), abs(qty))
            for contract, qty in sorted(self.held.items(), key=lambda kv: kv[0].local_symbol)
            if qty
        ]

    def complete_adjustment(self, legs: tuple[Leg, ...], price: float) -> None:
        """Make ``legs`` the structure's legs after an adjustment at ``price`` per unit.

        Called by :class:`Portfolio` at the fill that completes an ADJUST
        order; ``price`` is its net price per combo unit (index points).
        """
        self.legs = legs
        self._ratios = leg_ratios(legs)
        self.adjustments += 1
        self.adjusted_price += price
        self.held_changed()


def leg_ratios(legs: Sequence[Leg]) -> dict[OptionContract, int]:
    """Signed contracts per combo unit of ``legs``, netted per contract (zeros dropped)."""
    ratios: dict[OptionContract, int] = {}
    for leg in legs:
        ratios[leg.contract] = ratios.get(leg.contract, 0) + leg.ratio
    return {c: r for c, r in ratios.items() if r}


def adjusted_legs(legs: Sequence[Leg], adjustment: Sequence[Leg]) -> tuple[Leg, ...]:
    """The legs of a structure after ``adjustment`` (per combo unit) traded on it.

    Ratios add per contract; a leg whose ratio becomes 0 is replaced, in its
    place, by the first new contract of the same right and ratio sign (so a
    condor keeps its long put, short put, short call, long call order); new
    contracts left over follow at the end, in the adjustment's order.
    """
    after = leg_ratios([*legs, *adjustment])
    old = {leg.contract for leg in legs}
    new = [c for c in leg_ratios(adjustment) if c not in old and c in after]
    out: list[Leg] = []
    for leg in legs:
        ratio = after.get(leg.contract, 0)
        if ratio:
            out.append(Leg(leg.contract, ratio))
            continue
        for i, contract in enumerate(new):
            if contract.right is leg.contract.right and (after[contract] > 0) == (leg.ratio > 0):
                out.append(Leg(contract, after[contract]))
                del new[i]
                break
    out.extend(Leg(c, after[c]) for c in new)
    return tuple(out)


@dataclass(slots=True)
class _Adjustment:
    """An ADJUST order on a structure and what of it has filled so far."""

    structure_id: str
    legs: tuple[Leg, ...]
    quantity: int
    filled: dict[OptionContract, int] = field(default_factory=dict)
    premium: float = 0.0  # index points x contracts, + paid
    done: bool = False

    def complete(self) -> bool:
        """Whether the fills are exactly ``quantity`` x the legs."""
        want = {c: r * self.quantity for c, r in leg_ratios(self.legs).items()}
        return {c: q for c, q in self.filled.items() if q} == want


def _units(ratios: Mapping[OptionContract, int], held: Mapping[OptionContract, int]) -> int:
    """Whole combo units ``held`` makes of ``ratios`` (0 if any contract is short of one)."""
    units: int | None = None
    for contract, ratio in ratios.items():
        qty = held.get(contract, 0)
        if qty * ratio <= 0:
            return 0
        n = abs(qty) // abs(ratio)
        units = n if units is None else min(units, n)
    return units or 0


class Portfolio:
    """Every structure of one trading account and mode, keyed by id."""

    def __init__(self) -> None:
        self.structures: dict[str, StructurePosition] = {}
        # the structures not marked closed: every scan of what is held reads only
        # these, so a book with years of closed structures costs no more per job
        self._active: dict[str, StructurePosition] = {}
        self._routes: dict[str, str] = {}
        self._adjustments: dict[str, _Adjustment] = {}
        # the latest close per kind, until a structure closes or reopens (see last_close)
        self._last_close: dict[Structure, date | None] = {}

    # -- building ----------------------------------------------------------
    def register(
        self,
        structure_id: str,
        kind: Structure,
        legs: tuple[Leg, ...],
        session: date,
        *,
        parent_id: str | None = None,
        tag: str | None = None,
    ) -> StructurePosition:
        """Name a structure about to be opened; its own id routes its opening order.

        Raises:
            ValueError: the id is already registered, or ``legs`` is empty.
        """
        if structure_id in self.structures:
            raise ValueError(f"structure {structure_id!r} is already in the portfolio")
        if not legs:
            raise ValueError(f"structure {structure_id!r} has no legs")
        position = StructurePosition(structure_id, kind, legs, session, parent_id, tag)
        self.structures[structure_id] = position
        self._active[structure_id] = position
        self._routes[structure_id] = structure_id
        return position

    def route(self, order_ref: str, structure_id: str) -> None:
        """Book the fills of ``order_ref`` to ``structure_id``.

        Raises:
            KeyError: no such structure.
        """
        if structure_id not in self.structures:
            raise KeyError(f"order {order_ref!r} routed to unknown structure {structure_id!r}")
        self._routes[order_ref] = structure_id

    def expect_adjustment(
        self, order_ref: str, structure_id: str, legs: tuple[Leg, ...], quantity: int
    ) -> None:
        """Route ``order_ref``, an ADJUST of ``structure_id``, and remember its legs.

        ``legs`` are per combo unit and ``quantity`` the units ordered (the
        planner sizes it from :attr:`StructurePosition.held_units`). When its
        fills complete it, the structure's legs become
        :func:`adjusted_legs` of the old legs and ``legs``; see the module doc.

        Raises:
            KeyError: no such structure.
            ValueError: no legs, or ``quantity`` not positive.
        """
        if not legs or quantity <= 0:
            raise ValueError(f"adjustment {order_ref!r} needs legs and a positive quantity")
        self.route(order_ref, structure_id)
        self._adjustments.setdefault(order_ref, _Adjustment(structure_id, legs, quantity))

    def structure_of(self, order_ref: str) -> str | None:
        """The structure ``order_ref``'s fills belong to, if known."""
        return self._routes.get(order_ref)

    # -- folding -----------------------------------------------------------
    def apply_fill(self, fill: Fill) -> StructurePosition | None:
        """Book one leg fill to its structure; ``None`` (nothing booked) if its order is unknown."""
        structure_id = self._routes.get(fill.order_ref)
        position = self.structures.get(structure_id) if structure_id else None
        if position is None:
            return None
        multiplier = fill.contract.multiplier
        position.cash_flow -= fill.quantity * fill.price * multiplier + fill.commission
        position.commissions += fill.commission
        position.held[fill.contract] = position.held.get(fill.contract, 0) + fill.quantity
        if fill.order_ref == position.id:
            position.open_premium += fill.quantity * fill.price
            position.open_fills[fill.contract] = (
                position.open_fills.get(fill.contract, 0) + fill.quantity
            )
        position.held_changed()
        adjustment = self._adjustments.get(fill.order_ref)
        if adjustment is not None and not adjustment.done:
            adjustment.filled[fill.contract] = (
                adjustment.filled.get(fill.contract, 0) + fill.quantity
            )
            adjustment.premium += fill.quantity * fill.price
            if adjustment.complete():
                adjustment.done = True
                position.complete_adjustment(
                    adjusted_legs(position.legs, adjustment.legs),
                    adjustment.premium / adjustment.quantity,
                )
        if not position.is_flat and position.closed_session is not None:
            position.closed_session = None
            self._last_close.clear()
            self._active[position.id] = position
        return position

    def apply_settlement(self, settlement: Settlement) -> list[StructurePosition]:
        """Settle holdings of the expired contract at intrinsic value.

        A settlement naming a structure settles that structure's holding; one
        naming none (a broker settling the account's net position) settles
        every structure's own holding in full, since two structures may hold
        opposite sides of one contract. Returns the structures touched.
        """
        contract = settlement.contract
        per_contract = contract.intrinsic(settlement.settlement_price) * contract.multiplier
        if settlement.structure_id is not None:
            candidates = [self.structures[settlement.structure_id]]
        else:
            candidates = list(self._active.values())
        touched = []
        for position in candidates:
            held = position.held.get(contract, 0)
            if not held:
                continue
            position.cash_flow += held * per_contract
            position.settlement_cash += held * per_contract
            position.held[contract] = 0
            position.held_changed()
            touched.append(position)
        return touched

    def mark_closed(self, structure_id: str, session: date, reason: str) -> StructurePosition:
        """Record that a flat structure closed on ``session`` (or never opened).

        Raises:
            KeyError: no such structure.
            ValueError: it still holds contracts.
        """
        position = self.structures[structure_id]
        if not position.is_flat:
            raise ValueError(f"structure {structure_id!r} still holds {position.held}")
        if position.closed_session is not None:  # a new date for a close may move it either way
            self._last_close.clear()
        elif position.kind in self._last_close:  # one more close: the later of the two
            latest = self._last_close[position.kind]
            self._last_close[position.kind] = session if latest is None else max(latest, session)
        position.closed_session = session
        self._active.pop(structure_id, None)
        position.close_reason = reason
        return position

    # -- reading -----------------------------------------------------------
    def last_close(self, kind: Structure) -> date | None:
        """The latest session a structure of ``kind`` closed on (``None``: none closed yet).

        Remembered until a structure reopens (a close updates it): the replay
        asks every job, and a scan of the whole book grows with its history.
        """
        if kind not in self._last_close:
            closes = [
                p.closed_session
                for p in self.structures.values()
                if p.kind is kind and p.closed_session is not None
            ]
            self._last_close[kind] = max(closes) if closes else None
        return self._last_close[kind]

    def open_positions(self, kind: Structure | None = None) -> list[StructurePosition]:
        """Structures that hold something, optionally of one kind, in opening order."""
        # any(held.values()) is ``not is_flat`` without a property call per structure
        if kind is None:
            return [p for p in self._active.values() if any(p.held.values())]
        return [p for p in self._active.values() if p.kind is kind and any(p.held.values())]

    def unsettled(self) -> list[StructurePosition]:
        """Structures not marked closed (held, or still waiting for their first fill)."""
        return list(self._active.values())

    def net_contracts(self) -> dict[OptionContract, int]:
        """Signed contracts held across every structure (what the broker should show)."""
        net: dict[OptionContract, int] = {}
        for position in self._active.values():
            for contract, qty in position.held.items():
                if qty:
                    net[contract] = net.get(contract, 0) + qty
        return {c: q for c, q in net.items() if q}

    def expired_holdings(self, session: date) -> list[tuple[StructurePosition, OptionContract]]:
        """(structure, contract) pairs still held whose expiry is on or before ``session``."""
        return [
            (p, c)
            for p in self._active.values()
            for c, q in sorted(p.held.items(), key=lambda kv: kv[0].local_symbol)
            if q and c.expiry <= session
        ]
