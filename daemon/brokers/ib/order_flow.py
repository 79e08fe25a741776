"""Orders at IB: send one combo order, walk its limit, cancel it; adopt what is already there.

:meth:`OrderDesk.place_order` sends one guaranteed BAG (or one single-leg
order; see :mod:`daemon.brokers.ib.orders` for the translation), walks its
limit toward ``worst_price`` every ``walk.interval_s`` and cancels it after
``walk.timeout_s``. An ``orderRef`` already working at IB is adopted (walked
if this client owns it), one that already executed is reported from its
executions; neither is sent again.

The fate of an order is never assumed. After ``placeOrder`` went out, the
result is :attr:`~daemon.brokers.base.OrderStatus.UNKNOWN` (with the units
filled so far and the reason) when

* the connection stays down past the walk timeout plus
  ``order_disconnect_grace_s``, or the session is closed for good
  (:meth:`IBBroker.disconnect`, a fatal refusal on reconnect);
* IB does not confirm the cancel within ``walk.cancel_wait_s`` (an error such
  as 161 "not cancellable" or 10147 "not found" is not a confirmation, and
  ib_async's own guess of "Cancelled" from such an error is ignored);
* a request the walk needs times out (e.g. ``reqAllOpenOrders`` after a
  reconnect), or after a reconnect the order is neither open at IB nor filled.

An adopted order of another client is watched until the walk timeout and
then reported :attr:`~daemon.brokers.base.OrderStatus.WORKING` (only its own
client may modify or cancel it). Fills that arrive after the result was
returned still reach the fill listeners once (:mod:`daemon.brokers.ib.executions`).

If the task running :meth:`OrderDesk.place_order` is cancelled (SIGTERM), a
``cancelOrder`` is sent for its working order, the adapter waits at most
``stop_cancel_wait_s`` for the confirmation, and the ``CancelledError``
propagates: the next start finds the order cancelled, or adopts it.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

from ib_async import Contract, Order, Trade

from daemon.brokers.base import BrokerError, ComboOrder, OrderResult, OrderStatus
from daemon.brokers.ib.connection import Connection
from daemon.brokers.ib.errors import ErrorAction, ErrorPolicy, classify
from daemon.brokers.ib.executions import IB_DONE, Executions
from daemon.brokers.ib.lookup import ContractLookup
from daemon.brokers.ib.orders import IBOrderSpec, bag_contract, ib_order, ib_walk, order_spec
from daemon.crashpoints import crash_point
from strategies.domain import OptionContract

#: Error codes whose effect on an order is real (ib_async marks the order Cancelled for any error).
_ORDER_ENDING = frozenset({ErrorAction.ORDER_REJECTED, ErrorAction.ORDER_CANCELLED})


def genuine_status(trade: Trade) -> bool:
    """Whether ``trade.orderStatus`` is IB's word, not ib_async's guess from an error code.

    ib_async marks an order Cancelled on any non-warning error about it (161
    "not cancellable", 10147 "not found", ...). Only statuses from IB's
    ``orderStatus`` or from a reject/cancel code (201, 202, ...) count.
    """
    if not trade.log:
        return True
    code = trade.log[-1].errorCode
    return not code or classify(code).action in _ORDER_ENDING


@dataclass(slots=True)
class _Tracker:
    """What IB has said about one of our orders while it is walked."""

    order: ComboOrder
    spec: IBOrderSpec
    order_id: int
    ib_status: str = "PendingSubmit"
    ib_filled: float = 0.0
    reject: str | None = None
    cancel_message: str | None = None


class OrderDesk:
    """Places, walks and cancels orders; see the module docstring."""

    def __init__(self, conn: Connection, lookup: ContractLookup, executions: Executions) -> None:
        self.conn = conn
        self.lookup = lookup
        self.executions = executions
        self._trackers: dict[int, _Tracker] = {}
        conn.ib.orderStatusEvent += self._on_order_status
        conn.error_handlers.append(self._on_error)

    # ----------------------------------------------------------------- place

    async def place_order(self, order: ComboOrder) -> OrderResult:
        """Send ``order``, walk it and return how it ended, or that its fate is unknown.

        Raises:
            UnsafeAccountError, ClientIdInUseError: a fatal refusal happened.
            BrokerError: nothing was sent (not connected, a look-up timed out).
            asyncio.CancelledError: the calling task was cancelled; a cancel
                was sent for the working order first (best effort).
        """
        conn = self.conn
        await conn.ready()
        ref = order.order_ref
        try:
            spec = order_spec(order)
            if not math.isfinite(order.limit_price):
                raise ValueError(f"limit price {order.limit_price} is not finite")
        except ValueError as exc:
            return OrderResult(ref, OrderStatus.REJECTED, 0, None, (), str(exc))
        walk = conn.settings.walk
        prices = ib_walk(order, spec, walk.step, walk.combo_tick)

        existing = await self.executions.open_trade(ref)
        if existing is None and self.executions.has_executions(ref):
            self.executions.drain(force_refs=[ref])
            conn.log.warning("ib_order_not_resubmitted", order_ref=ref, reason="executions exist")
            return self._result(
                _Tracker(order, spec, 0, ib_status="Filled"),
                "executions for this orderRef already exist at IB; not resubmitted",
            )
        if existing is not None:
            contract, ib_ord = existing.contract, existing.order
            current = float(ib_ord.lmtPrice) if ib_ord.lmtPrice is not None else prices[0]
            step_index = next(
                (
                    i
                    for i, p in enumerate(prices)
                    if (p >= current - 1e-9 if spec.action == "BUY" else p <= current + 1e-9)
                ),
                len(prices) - 1,
            )
            status = existing.orderStatus.status
            conn.log.warning(
                "ib_order_adopted",
                order_ref=ref,
                order_id=ib_ord.orderId,
                client_id=ib_ord.clientId,
                limit=current,
            )
        else:
            legs = [await self.lookup.qualified(leg.contract) for leg in order.legs]
            contract = bag_contract(order.legs, [c.conId for c in legs]) if spec.is_bag else legs[0]
            assert conn.account_id is not None
            ib_ord = ib_order(spec, prices[0], ref, conn.account_id)
            status = self._send(contract, ib_ord).orderStatus.status
            step_index = 0
            conn.log.info(
                "ib_order_submitted",
                order_ref=ref,
                order_id=ib_ord.orderId,
                action=spec.action,
                quantity=spec.quantity,
                ib_limit=prices[0],
                ib_worst=prices[-1],
                legs=len(order.legs),
                bag=spec.is_bag,
            )
        own = ib_ord.clientId == conn.client_id
        tracker = _Tracker(order, spec, ib_ord.orderId, ib_status=status)
        if own:
            self._trackers[tracker.order_id] = tracker
        try:
            return await self._work(tracker, contract, ib_ord, prices, step_index, own)
        except asyncio.CancelledError:
            if own:
                await self._cancel_on_stop(tracker, ib_ord)
            raise
        except BrokerError as exc:
            conn.log.error("ib_order_state_unknown", order_ref=ref, reason=str(exc))
            return await self._finish(tracker, str(exc), unknown=True)
        finally:
            if own:
                self._trackers.pop(tracker.order_id, None)

    def _send(self, contract: Contract, ib_ord: Order) -> Trade:
        """``placeOrder`` (new or modified); BrokerError when nothing can be sent.

        Nothing is sent when the socket is down, nor to modify an order
        ib_async holds as done: it guesses Cancelled from any error about the
        order (e.g. 104 "Cannot modify a filled order" after an unacknowledged
        placeOrder filled) and would raise an ``AssertionError`` after sending
        the modification. The caller reports such an order ``UNKNOWN``.
        """
        if ib_ord.orderId:
            trade = next((t for t in self.conn.ib.trades() if t.order is ib_ord), None)
            if trade is not None and trade.isDone():
                last = trade.log[-1] if trade.log else None
                said = last.message if last is not None and last.errorCode else "a final status"
                raise BrokerError(
                    f"order {ib_ord.orderRef} not modified: ib_async holds it as "
                    f"{trade.orderStatus.status} after IB said: {said}"
                )
        self.conn.request_counts["place_order"] += 1
        try:
            return self.conn.ib.placeOrder(contract, ib_ord)
        except ConnectionError as exc:
            raise BrokerError(f"order {ib_ord.orderRef} not sent: {exc}") from exc

    def _send_cancel(self, ib_ord: Order) -> None:
        self.conn.request_counts["cancel_order"] += 1
        try:
            self.conn.ib.cancelOrder(ib_ord)
        except ConnectionError as exc:
            raise BrokerError(f"cancel of order {ib_ord.orderRef} not sent: {exc}") from exc

    async def _work(
        self,
        tracker: _Tracker,
        contract: Contract,
        ib_ord: Order,
        prices: list[float],
        step_index: int,
        own: bool,
    ) -> OrderResult:
        conn = self.conn
        walk = conn.settings.walk
        grace = conn.settings.order_disconnect_grace_s
        order = tracker.order
        ref = order.order_ref
        loop = asyncio.get_running_loop()
        start = loop.time()
        deadline = start + walk.timeout_s
        next_step = start + walk.interval_s
        cancel_at: float | None = None
        reason = ""
        was_down = False
        while True:
            filled = self._filled_units(tracker)
            if filled >= order.quantity:
                return await self._finish(tracker, reason)
            if tracker.reject is not None:
                return await self._finish(tracker, f"rejected by IB: {tracker.reject}")
            if tracker.ib_status in IB_DONE and tracker.ib_status != "Filled":
                detail = f"cancelled at IB ({tracker.ib_status}) {tracker.cancel_message or ''}"
                return await self._finish(tracker, reason or detail)
            now = loop.time()
            if not conn.connected:
                was_down = True
                if conn.closing:
                    return await self._finish(
                        tracker,
                        "the IB session was closed while the order was working",
                        unknown=True,
                    )
                if now > deadline + grace:
                    return await self._finish(
                        tracker,
                        f"disconnected from IB for more than {grace:g}s past the order's "
                        f"{walk.timeout_s:g}s timeout",
                        unknown=True,
                    )
                await conn.wait_update(1.0)
                continue
            if was_down:
                was_down = False
                trade = await self.executions.open_trade(ref)
                if trade is not None:
                    tracker.ib_status = trade.orderStatus.status
                    tracker.ib_filled = max(tracker.ib_filled, float(trade.orderStatus.filled or 0))
                elif self._filled_units(tracker) < order.quantity:
                    return await self._finish(
                        tracker,
                        "after the reconnect the order is neither open at IB nor filled",
                        unknown=True,
                    )
                continue
            if cancel_at is not None:
                if now >= cancel_at:
                    conn.log.error("ib_cancel_unconfirmed", order_ref=ref, filled=filled)
                    return await self._finish(
                        tracker,
                        f"{reason}; IB did not confirm the cancel within {walk.cancel_wait_s:g}s",
                        unknown=True,
                    )
                await conn.wait_update(cancel_at - now)
                continue
            if now >= deadline:
                if not own:
                    return await self._finish(
                        tracker,
                        f"working order {tracker.order_id} of client {ib_ord.clientId} adopted; "
                        f"not filled within {walk.timeout_s:g}s; left working at IB (only its "
                        "own client can cancel it)",
                        working=True,
                    )
                reason = (
                    f"not filled within {walk.timeout_s:g}s; IB limit walked "
                    f"{prices[0]:g} -> {prices[step_index]:g} (worst {prices[-1]:g}); cancelled"
                )
                if filled:
                    reason = f"filled {filled} of {order.quantity}; " + reason
                self._send_cancel(ib_ord)
                cancel_at = now + walk.cancel_wait_s
                conn.log.info("ib_order_cancel", order_ref=ref, filled=filled)
                continue
            if own and now >= next_step and step_index + 1 < len(prices):
                step_index += 1
                next_step += walk.interval_s
                ib_ord.lmtPrice = prices[step_index]
                crash_point("walk_step")
                self._send(contract, ib_ord)
                conn.log.info(
                    "ib_order_walk", order_ref=ref, ib_limit=prices[step_index], step=step_index
                )
                continue
            wake = deadline if step_index + 1 >= len(prices) else min(next_step, deadline)
            await conn.wait_update(wake - now)

    async def _cancel_on_stop(self, tracker: _Tracker, ib_ord: Order) -> None:
        """Best effort on cancellation: send cancelOrder, wait up to ``stop_cancel_wait_s``."""
        conn = self.conn
        ref = tracker.order.order_ref
        if tracker.ib_status in IB_DONE:
            return
        if not conn.connected:
            conn.log.warning("ib_order_stop_not_cancelled", order_ref=ref, reason="not connected")
            return
        try:
            self._send_cancel(ib_ord)
        except BrokerError as exc:
            conn.log.warning("ib_order_stop_not_cancelled", order_ref=ref, reason=str(exc))
            return
        conn.log.warning("ib_order_cancel_on_stop", order_ref=ref, order_id=tracker.order_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + conn.settings.stop_cancel_wait_s
        while tracker.ib_status not in IB_DONE:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await conn.wait_update(remaining)
        conn.log.info(
            "ib_order_stop_cancel",
            order_ref=ref,
            confirmed=tracker.ib_status in IB_DONE,
            status=tracker.ib_status,
        )

    # ---------------------------------------------------------------- result

    @staticmethod
    def _units(order: ComboOrder, held: dict[OptionContract, int]) -> int:
        """Whole combo units covered by the signed leg quantities ``held``."""
        return min(
            max(held.get(leg.contract, 0) * (1 if leg.ratio > 0 else -1), 0) // abs(leg.ratio)
            for leg in order.legs
        )

    def _filled_units(self, tracker: _Tracker) -> int:
        spec = tracker.spec
        ref = tracker.order.order_ref
        ratio = 1 if spec.is_bag else spec.ratio
        units = max(round(tracker.ib_filled / ratio), 0)
        units = max(units, self._units(tracker.order, self.executions.leg_quantities(ref)))
        bag = self.executions.bag_execution(ref)
        if spec.is_bag and bag is not None:
            units = max(units, round(bag[0]))
        return units

    async def _await_leg_fills(self, tracker: _Tracker) -> None:
        """Wait (``commission_wait_s``) for the leg executions and commissions, then deliver."""
        ref = tracker.order.order_ref
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.conn.settings.commission_wait_s
        while True:
            units = self._filled_units(tracker)
            legs = self._units(tracker.order, self.executions.leg_quantities(ref))
            remaining = deadline - loop.time()
            if (legs >= units and not self.executions.has_pending(ref)) or remaining <= 0:
                break
            await self.conn.wait_update(min(remaining, 0.25))
        self.executions.drain(force_refs=[ref])

    async def _finish(
        self, tracker: _Tracker, reason: str, unknown: bool = False, working: bool = False
    ) -> OrderResult:
        await self._await_leg_fills(tracker)
        return self._result(tracker, reason, unknown=unknown, working=working)

    def _result(
        self, tracker: _Tracker, reason: str, unknown: bool = False, working: bool = False
    ) -> OrderResult:
        order, spec = tracker.order, tracker.spec
        ref = order.order_ref
        fills = tuple(self.executions.delivered(ref))
        units = min(self._filled_units(tracker), order.quantity)
        avg: float | None = None
        bag = self.executions.bag_execution(ref)
        if units and spec.is_bag and bag is not None and bag[1] is not None:
            avg = bag[1]
        elif units and fills:
            avg = round(sum(f.quantity * f.price for f in fills) / units, 6)
        if units >= order.quantity:
            status, reason = OrderStatus.FILLED, reason if "not resubmitted" in reason else ""
        elif unknown:
            status = OrderStatus.UNKNOWN
            reason = f"state unknown, filled {units} of {order.quantity} so far: {reason}"
        elif working:
            status = OrderStatus.WORKING
        elif tracker.reject is not None and units == 0:
            status = OrderStatus.REJECTED
        elif units > 0:
            status = OrderStatus.PARTIAL
        else:
            status = OrderStatus.CANCELLED
        level = "warning" if status in (OrderStatus.UNKNOWN, OrderStatus.WORKING) else "info"
        getattr(self.conn.log, level)(
            "ib_order_done",
            order_ref=ref,
            status=status.value,
            filled=units,
            avg_price=avg,
            fills=len(fills),
            reason=reason,
        )
        return OrderResult(ref, status, units, avg, fills, reason.strip())

    # ---------------------------------------------------------------- cancel

    async def cancel_order(self, order_ref: str) -> OrderStatus:
        """Cancel this client's working order ``order_ref``.

        Returns:
            CANCELLED (confirmed by IB, or nothing working under that ref),
            FILLED (it filled instead), WORKING (another client's order, not
            touched) or UNKNOWN (no confirmation within ``walk.cancel_wait_s``).

        Raises:
            BrokerError: ``reqAllOpenOrders`` timed out, or the cancel could
                not be sent.
        """
        conn = self.conn
        trade = await self.executions.open_trade(order_ref)
        if trade is None:
            return OrderStatus.CANCELLED
        if trade.order.clientId != conn.client_id:
            return OrderStatus.WORKING
        self._send_cancel(trade.order)
        conn.log.info("ib_order_cancel", order_ref=order_ref, order_id=trade.order.orderId)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + conn.settings.walk.cancel_wait_s
        while True:
            status = trade.orderStatus.status
            if status in IB_DONE and genuine_status(trade):
                return OrderStatus.FILLED if status == "Filled" else OrderStatus.CANCELLED
            remaining = deadline - loop.time()
            if remaining <= 0:
                conn.log.error("ib_cancel_unconfirmed", order_ref=order_ref, status=status)
                return OrderStatus.UNKNOWN
            await conn.wait_update(min(remaining, 0.25))

    # ---------------------------------------------------------------- events

    def _on_order_status(self, trade: Trade) -> None:
        if trade.order.clientId not in (0, self.conn.client_id):
            return
        tracker = self._trackers.get(trade.order.orderId)
        if tracker is None:
            return
        if not genuine_status(trade):
            self.conn.log.debug(
                "ib_order_status_ignored",
                order_ref=tracker.order.order_ref,
                status=trade.orderStatus.status,
                code=trade.log[-1].errorCode,
            )
            return
        status = trade.orderStatus.status
        if status != "PendingCancel" or tracker.ib_status not in IB_DONE:
            tracker.ib_status = status
        tracker.ib_filled = max(tracker.ib_filled, float(trade.orderStatus.filled or 0.0))

    def _on_error(
        self, req_id: int, code: int, message: str, contract: Any, policy: ErrorPolicy
    ) -> bool:
        tracker = self._trackers.get(req_id)
        if tracker is not None:
            if policy.action is ErrorAction.ORDER_REJECTED:
                tracker.reject = message
            elif policy.action is ErrorAction.ORDER_CANCELLED:
                tracker.cancel_message = message
        return False
