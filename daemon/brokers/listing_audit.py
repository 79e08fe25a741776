"""Did a replay trade strikes that were not listed? (checks a journal's fills).

For every option a run *opened* (the first fill of each contract), the
strike is checked against the listing model of
:mod:`strategies.pricing.strike_listing` on the fill's session: SPX/SPXW
against :func:`~strategies.pricing.strike_listing.spx_listed_strikes` at
that session's SPX close, VIX against
:func:`~strategies.pricing.strike_listing.vix_listed_strikes` at the VIX
future the replay priced with. Later fills of a held contract are not
checked: a listed strike stays listed until it expires.

Used by ``scripts/audit_listed_strikes.py`` (counts for a journal) and the
replay test that every traded strike was listed.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from daemon.clock import NEW_YORK
from daemon.marketdata.history import MarketHistory
from daemon.marketdata.visibility import phase_at, visible_context
from strategies.pricing.market_model import MarketModel
from strategies.pricing.strike_listing import (
    ExpiryKind,
    spx_expiry_kind,
    spx_listed_strikes,
    vix_listed_strikes,
)


@dataclass(frozen=True, slots=True)
class UnlistedLeg:
    """An opening fill whose strike the listing model does not list."""

    order_ref: str
    session: date
    local_symbol: str
    strike: float


def unlisted_opening_legs(
    journal: Path, run_id: int, history: MarketHistory, model: MarketModel | None = None
) -> tuple[int, int, list[UnlistedLeg]]:
    """``(opening legs, orders with an opening leg, unlisted legs)`` of ``run_id``.

    ``history`` is the run's :class:`~daemon.marketdata.loader.MarketHistory`;
    each leg is checked against the listing at the context visible when it
    filled (:mod:`daemon.marketdata.visibility`); ``model`` supplies the calendar (expiry kinds)
    and the VIX futures curve (default :class:`MarketModel`).
    """
    model = model if model is not None else MarketModel()
    with sqlite3.connect(journal) as db:
        rows = db.execute(
            "SELECT order_ref, time, local_symbol, symbol, trading_class, expiry, strike "
            "FROM fills WHERE run_id = ? ORDER BY time, exec_id",
            (run_id,),
        ).fetchall()
    seen: set[str] = set()
    orders: set[str] = set()
    bad: list[UnlistedLeg] = []
    for order_ref, when, local, symbol, trading_class, expiry_text, strike in rows:
        if local in seen:
            continue
        seen.add(local)
        orders.add(order_ref)
        stamp = datetime.fromisoformat(when)
        session = stamp.astimezone(NEW_YORK).date()
        expiry = date.fromisoformat(expiry_text)
        # the listing is read where the order was priced: the context visible at its fill
        phase = phase_at(stamp, history.calendar.session_close(session))
        ctx = visible_context(history, history.index_of(session), phase)
        dte = (expiry - session).days
        if symbol == "VIX":
            listed = vix_listed_strikes(model.vix_future(ctx, expiry), dte)
        else:
            kind = (
                ExpiryKind.STANDARD
                if trading_class == "SPX"
                else spx_expiry_kind(expiry, model.calendar.is_session)
            )
            listed = spx_listed_strikes(ctx.spx, session, dte, kind)
        if not any(abs(float(k) - strike) < 1e-6 for k in listed):
            bad.append(UnlistedLeg(order_ref, session, local, strike))
    return len(seen), len(orders), bad
