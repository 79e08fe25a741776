"""IB's what-if margin: the margin an order would need, asked without placing it.

:func:`what_if` builds the same contract and order as
:meth:`daemon.brokers.ib.order_flow.OrderDesk.place_order` would send (one
guaranteed BAG or one single-leg order at the walk's first limit, the checked
account, the decision's ``orderRef``), sets ``whatIf`` and sends it with
``ib.whatIfOrderAsync``. IB answers with an ``openOrder`` carrying an order
state with the margin figures and places nothing.

IB reports the margin *before*, *change* and *after* for initial margin,
maintenance margin and equity with loan value (strings; empty or
``Double.MAX_VALUE`` when not given). Missing *after* values are completed as
``before + change``, and a missing *before* from the account values
(``InitMarginReq``, ``EquityWithLoanValue``). Units: dollars.
"""

from __future__ import annotations

import asyncio
import math

from daemon.brokers.base import BrokerError, ComboOrder
from daemon.brokers.ib.connection import Connection
from daemon.brokers.ib.lookup import ContractLookup
from daemon.brokers.ib.orders import bag_contract, ib_order, ib_walk, order_spec
from strategies.margin import MarginImpact

__all__ = ["parse_money", "what_if"]

#: IB's "unset" double, or anything near it, is no value.
_UNSET_ABOVE = 1e300


def parse_money(text: object) -> float | None:
    """A dollar figure of an IB order state, or ``None`` when IB gave none."""
    try:
        value = float(str(text).replace(",", ""))
    except ValueError:
        return None
    if not math.isfinite(value) or abs(value) >= _UNSET_ABOVE:
        return None
    return value


def _after(before: float | None, change: float | None, after: float | None) -> float | None:
    if after is not None:
        return after
    if before is not None and change is not None:
        return before + change
    return None


async def what_if(
    conn: Connection, lookup: ContractLookup, order: ComboOrder
) -> MarginImpact | None:
    """IB's margin for ``order`` at its first limit; ``None`` when IB gives no figures.

    Raises:
        BrokerError: not connected, a look-up failed, IB refused the request or
            did not answer within ``request_timeout_s``.
    """
    await conn.ready()
    try:
        spec = order_spec(order)
    except ValueError:
        return None
    walk = conn.settings.walk
    limit = ib_walk(order, spec, walk.step, walk.combo_tick)[0]
    legs = [await lookup.qualified(leg.contract) for leg in order.legs]
    contract = bag_contract(order.legs, [c.conId for c in legs]) if spec.is_bag else legs[0]
    assert conn.account_id is not None  # conn.ready() passed the account guard
    ib_ord = ib_order(spec, limit, order.order_ref, conn.account_id)
    conn.request_counts["what_if"] += 1
    try:
        state = await conn.bounded(conn.ib.whatIfOrderAsync(contract, ib_ord), "whatIfOrder")
    except BrokerError:
        raise
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # ib_async hands IB's error for the request back here
        raise BrokerError(f"whatIfOrder for {order.order_ref} failed: {exc}") from exc
    if state is None:
        return None
    values = {
        v.tag: v.value
        for v in conn.ib.accountValues(conn.account_id)
        if v.currency in ("USD", "BASE", "")
    }
    init_before = parse_money(state.initMarginBefore)
    if init_before is None:
        init_before = parse_money(values.get("InitMarginReq", ""))
    ewl_before = parse_money(state.equityWithLoanBefore)
    if ewl_before is None:
        ewl_before = parse_money(values.get("EquityWithLoanValue", ""))
    init_after = _after(
        init_before, parse_money(state.initMarginChange), parse_money(state.initMarginAfter)
    )
    ewl_after = _after(
        ewl_before, parse_money(state.equityWithLoanChange), parse_money(state.equityWithLoanAfter)
    )
    if init_after is None or ewl_after is None:
        conn.log.warning("ib_what_if_incomplete", order_ref=order.order_ref)
        return None
    commission = parse_money(state.commission)
    return MarginImpact(
        init_margin_before=init_before if init_before is not None else math.nan,
        init_margin_after=init_after,
        equity_with_loan_after=ewl_after,
        commission=commission if commission is not None else math.nan,
        source="ib-what-if",
    )
