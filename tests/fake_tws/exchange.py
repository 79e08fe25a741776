"""Orders and executions of the fake TWS: placing, modifying, cancelling, filling.

Orders live in the gateway state, not in a connection: a working order keeps
working (and filling) while its client is away; its owner (the client id that
placed it) sees it again through reqOpenOrders, and can modify or cancel it,
after reconnecting; reqAllOpenOrders shows it to any client. Fills update
positions and are kept for reqExecutions, with their commission reports.

Timed actions (a delayed cancel confirmation, a late fill, a delayed commission
report, an expiry) are deadlines in the state, run by :meth:`Exchange.run_due`
from the server's housekeeping loop, so they survive a restart of the runner.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from daemon.clock import NEW_YORK

from . import protocol as p
from .faults import (
    CANCEL_NOT_FOUND,
    CANNOT_MODIFY_FILLED,
    NO_SECURITY,
    ORDER_CANCELLED,
    ORDER_REJECTED,
    CancelMode,
    FillMode,
)
from .pricing import Quote
from .scenario import Scenario
from .session import Session
from .state import ExpiredPosition, GatewayState, PositionState, WorkingOrder
from .wire import ContractSpec, ExecutionRecord, In, OrderRequest, OrderStateSpec

if TYPE_CHECKING:
    from .server import FakeTWS

Handler = Callable[[Session, list[str]], None]


class Exchange:
    """Order handling and matching for a :class:`~.server.FakeTWS`."""

    def __init__(self, server: FakeTWS) -> None:
        """Attach to ``server`` (its scenario, state and sessions)."""
        self.server = server

    @property
    def scenario(self) -> Scenario:
        """The server's scenario."""
        return self.server.scenario

    @property
    def state(self) -> GatewayState:
        """The server's gateway state."""
        return self.server.state

    def handlers(self) -> dict[int, Handler]:
        """Message id -> handler for the requests this component serves."""
        return {
            In.PLACE_ORDER: self._on_place_order,
            In.CANCEL_ORDER: self._on_cancel_order,
            In.REQ_GLOBAL_CANCEL: self._on_global_cancel,
            In.REQ_OPEN_ORDERS: lambda s, f: self._send_open_orders(s, s.client_id),
            In.REQ_ALL_OPEN_ORDERS: lambda s, f: self._send_open_orders(s, None),
            In.REQ_AUTO_OPEN_ORDERS: lambda s, f: None,
            In.REQ_COMPLETED_ORDERS: lambda s, f: s.send(p.completed_orders_end()),
            In.REQ_EXECUTIONS: self._on_req_executions,
        }

    def find(self, order_id: int, client_id: int | None = None) -> WorkingOrder | None:
        """The latest order with ``order_id`` (of ``client_id``), else None."""
        for order in reversed(self.state.orders):
            if order.order_id == order_id and client_id in (None, order.client_id):
                return order
        return None

    # --------------------------------------------------------------------- orders

    def _on_place_order(self, session: Session, fields: list[str]) -> None:
        req = p.parse_place_order(fields)
        if req.what_if:
            self._what_if(session, req)
            return
        existing = self.find(req.order_id, session.client_id)
        if existing is not None:
            self._modify(session, existing, req)
            return
        if req.contract.sec_type == "BAG":
            unknown = [
                leg.con_id
                for leg in req.combo_legs
                if self.scenario.contract_by_id(leg.con_id) is None
            ]
            if not req.combo_legs or unknown:
                session.send(p.error(req.order_id, *NO_SECURITY))
                return
        else:
            resolved = self.server.market.resolve(req.contract)
            if resolved is None:
                session.send(p.error(req.order_id, *NO_SECURITY))
                return
            exchange = req.contract.exchange or resolved.exchange
            req.contract = dataclasses.replace(resolved, exchange=exchange)

        policy = self.scenario.next_policy(req.order_ref, req.contract.sec_type, session.client_id)
        order = WorkingOrder(
            req=req,
            client_id=session.client_id,
            perm_id=self.state.take_perm_id(),
            account=req.account or self.scenario.accounts[0],
            policy=policy,
            status="PendingSubmit",
        )
        self.state.orders.append(order)
        self.state.next_order_id = max(self.state.next_order_id, req.order_id + 1)
        if policy.mode is FillMode.REJECT:
            order.status = "Inactive"
            code, template = ORDER_REJECTED
            message = template.format(reason=policy.reason) if policy.code == code else None
            session.send(p.error(req.order_id, policy.code, message or policy.reason))
        elif req.transmit:  # else held in TWS until transmitted; no status is reported
            order.status = "Submitted" if policy.mode is not FillMode.NEVER else policy.status
            self._report_status(session, order)
            self.evaluate(order)
        self.server.changed()

    def _what_if(self, session: Session, req: OrderRequest) -> None:
        """Answer a what-if order: an openOrder whose state carries the margin figures.

        Margin change = ``what_if_margin_per_unit`` x quantity x (legs / 2);
        *before* values are the account's ``InitMarginReq``,
        ``MaintMarginReq`` and ``EquityWithLoanValue``; *after* = before +
        change (equity with loan changes by minus the commission). Nothing is placed.
        """
        units = req.total_quantity * max(1, len(req.combo_legs) // 2)
        margin = self.scenario.what_if_margin_per_unit * units
        contracts = req.total_quantity * max(1, sum(leg.ratio for leg in req.combo_legs))
        commission = round(self.scenario.commission_per_contract * contracts, 2)

        def value(tag: str) -> float:
            return float(self.scenario.account_values.get(tag, ("0", "USD"))[0])

        init, maint, ewl = (
            value("InitMarginReq"),
            value("MaintMarginReq"),
            value("EquityWithLoanValue"),
        )
        state = OrderStateSpec(
            status="PreSubmitted",
            init_margin_change=margin,
            maint_margin_change=margin,
            equity_with_loan_change=-commission,
            init_margin_before=init,
            maint_margin_before=maint,
            equity_with_loan_before=ewl,
            init_margin_after=init + margin,
            maint_margin_after=maint + margin,
            equity_with_loan_after=ewl - commission,
            commission=commission,
        )
        session.send(p.open_order(req, session.client_id, 0, state))

    def _modify(self, session: Session, order: WorkingOrder, req: OrderRequest) -> None:
        if not order.is_working:
            session.send(p.error(req.order_id, *CANNOT_MODIFY_FILLED))
            return
        old = order.req
        old.lmt_price, old.aux_price = req.lmt_price, req.aux_price
        old.total_quantity, old.order_type, old.tif = req.total_quantity, req.order_type, req.tif
        old.order_combo_leg_prices = req.order_combo_leg_prices
        old.transmit = req.transmit
        order.modifications += 1
        if order.status == "PendingSubmit" and req.transmit:
            order.status = "Submitted"
        self._report_status(session, order)
        self.evaluate(order)
        self.server.changed()

    def _report_status(self, session: Session | None, order: WorkingOrder) -> None:
        if session is None:
            return
        state = OrderStateSpec(order.status)
        session.send(p.open_order(order.req, order.client_id, order.perm_id, state))
        session.send(self._status_fields(order))

    def _status_fields(self, order: WorkingOrder) -> list[object]:
        return p.order_status(
            order.order_id,
            order.status,
            order.filled,
            order.remaining,
            order.avg_fill_price,
            order.perm_id,
            order.req.parent_id,
            order.last_fill_price,
            order.client_id,
        )

    def _on_cancel_order(self, session: Session, fields: list[str]) -> None:
        order_id = int(fields[2])
        order = self.find(order_id, session.client_id)
        if order is None or not order.is_working:
            code, template = CANCEL_NOT_FOUND
            session.send(p.error(order_id, code, template.format(order_id=order_id)))
            return
        self.request_cancel(order)

    def request_cancel(self, order: WorkingOrder) -> None:
        """A cancel request for ``order``, answered as its cancel policy says."""
        order.cancel_requested = True
        cancel = order.policy.cancel
        if cancel.mode is CancelMode.CONFIRM:
            if cancel.delay > 0:
                order.cancel_due = time.time() + cancel.delay
            else:
                self.cancel(order)
        elif cancel.mode is CancelMode.FILL_LATER:
            self.schedule_fill(order, cancel.delay, cancel.quantity, cancel.price)
        self.server.changed()

    def schedule_fill(
        self,
        order: WorkingOrder,
        delay: float,
        quantity: float | None = None,
        price: float | None = None,
    ) -> None:
        """Fill ``order`` ``delay`` seconds from now (``quantity`` None: the rest)."""
        order.late_fill_due = time.time() + delay
        order.late_fill_quantity, order.late_fill_price = quantity, price
        self.server.changed()

    def cancel(self, order: WorkingOrder) -> None:
        """Cancel ``order`` now and tell its owner (status Cancelled, error 202)."""
        order.status = "Cancelled"
        order.cancel_due = order.late_fill_due = None
        owner = self.server.owner(order.client_id)
        if owner is not None:
            owner.send(self._status_fields(order))
            owner.send(p.error(order.order_id, *ORDER_CANCELLED))
        self.server.changed()

    def _on_global_cancel(self, session: Session, fields: list[str]) -> None:
        for order in self.state.orders:
            if order.is_working:
                self.request_cancel(order)

    def _send_open_orders(self, session: Session, client_id: int | None) -> None:
        for order in self.state.orders:
            if not order.is_working or order.status == "PendingSubmit":
                continue
            if client_id is None or order.client_id == client_id:
                state = OrderStateSpec(order.status)
                session.send(p.open_order(order.req, order.client_id, order.perm_id, state))
                session.send(self._status_fields(order))
        session.send(p.open_order_end())

    def _on_req_executions(self, session: Session, fields: list[str]) -> None:
        flt = p.parse_exec_filter(fields)
        side = {"BUY": "BOT", "SELL": "SLD"}.get(flt.side.upper(), flt.side.upper())
        since = parse_filter_time(flt.time)
        days = self.scenario.execution_days
        if days is not None:
            now = self.scenario.clock().astimezone(NEW_YORK)
            midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
            day_start = (midnight - timedelta(days=days - 1)).timestamp()
            since = day_start if since is None else max(since, day_start)
        for e in self.state.executions:
            if flt.client_id and e.client_id != flt.client_id:
                continue
            if flt.account and e.account != flt.account:
                continue
            if flt.symbol and e.contract.symbol != flt.symbol:
                continue
            if flt.sec_type and e.contract.sec_type != flt.sec_type:
                continue
            if flt.exchange and e.exchange != flt.exchange:
                continue
            if side and e.side != side:
                continue
            if since is not None and e.time.timestamp() < since:
                continue
            session.send(p.exec_details(flt.req_id, e))
            if e.commission is not None and e.exec_id not in self.state.pending_commissions:
                session.send(p.commission_report(e))
        session.send(p.exec_details_end(flt.req_id))

    # ---------------------------------------------------------------------- fills

    def reevaluate(self) -> None:
        """Re-check quote-driven orders after a quote moved."""
        for order in list(self.state.orders):
            if order.is_working and order.policy.mode in (FillMode.MARKETABLE, FillMode.CROSS):
                self.evaluate(order)

    def _order_quote(self, order: WorkingOrder) -> Quote | None:
        if order.req.contract.sec_type == "BAG":
            return self.scenario.combo_quote(order.req.combo_legs)
        return self.scenario.quote_for(order.req.contract)

    def fill_price(self, order: WorkingOrder) -> float:
        """The price an order fills at: its limit, else the touch."""
        if order.req.lmt_price is not None and order.req.order_type.startswith("LMT"):
            return order.req.lmt_price
        quote = self._order_quote(order)
        if quote is None:
            return order.req.lmt_price or 0.0
        side = quote.ask if order.req.action == "BUY" else quote.bid
        return side if side is not None else (quote.mid or 0.0)

    def evaluate(self, order: WorkingOrder) -> None:
        """Fill what ``order``'s fill policy says should fill now."""
        if not order.is_working or order.status == "PendingSubmit" or order.remaining <= 0:
            return
        policy, req = order.policy, order.req
        buy = req.action == "BUY"
        limit = req.lmt_price
        if policy.mode is FillMode.IMMEDIATE:
            self.fill(order, order.remaining, self.fill_price(order))
        elif policy.mode is FillMode.PARTIAL:
            if order.filled == 0:
                self.fill(order, min(policy.quantity, order.remaining), self.fill_price(order))
        elif policy.mode is FillMode.AFTER_MODIFICATIONS:
            if order.modifications >= policy.modifications:
                target = policy.quantity or req.total_quantity
                qty = min(target - order.filled, order.remaining)
                self.fill(order, qty, self.fill_price(order))
        elif policy.mode is FillMode.CROSS:
            threshold = policy.price if policy.price is not None else 0.0
            if limit is None or (limit >= threshold - 1e-9 if buy else limit <= threshold + 1e-9):
                self.fill(order, order.remaining, self.fill_price(order))
        elif policy.mode is FillMode.MARKETABLE:
            quote = self._order_quote(order)
            touch = None if quote is None else quote.ask if buy else quote.bid
            if touch is None:
                return
            if limit is None or (limit >= touch - 1e-9 if buy else limit <= touch + 1e-9):
                self.fill(order, order.remaining, self.fill_price(order))

    def _leg_prices(self, order: WorkingOrder, combo_price: float) -> list[float]:
        """Split a combo fill price into leg prices consistent with the legs' quotes."""
        legs = order.req.combo_legs
        mids: list[float] = []
        for leg in legs:
            spec = self.scenario.contract_by_id(leg.con_id)
            quote = self.scenario.quote_for(spec) if spec else None
            mid = quote.mid if quote else None
            if quote is not None and mid is None and quote.ask is not None:
                mid = quote.ask / 2  # no bid: halfway between 0 and the ask
            mids.append(mid or 0.0)
        signs = [1 if leg.action == "BUY" else -1 for leg in legs]
        combo_mid = sum(s * leg.ratio * m for s, leg, m in zip(signs, legs, mids, strict=True))
        j = max(range(len(legs)), key=lambda i: legs[i].ratio * mids[i])
        mids[j] += (combo_price - combo_mid) / (signs[j] * legs[j].ratio)
        return [round(max(m, 0.0), 4) for m in mids]

    def fill(self, order: WorkingOrder, qty: float, price: float) -> list[ExecutionRecord]:
        """Execute ``qty`` of ``order`` at ``price``: executions, positions, owner reports."""
        if qty <= 0:
            return []
        req = order.req
        now = self.scenario.clock()
        prior = order.filled
        order.filled = prior + qty
        order.avg_fill_price = round((order.avg_fill_price * prior + price * qty) / order.filled, 6)
        order.last_fill_price = price
        if order.remaining <= 1e-9:
            order.status = "Filled"
            order.late_fill_due = order.cancel_due = None
        buy = req.action == "BUY"
        records: list[ExecutionRecord] = []

        def record(
            contract: ContractSpec, side: str, shares: float, px: float, leg: int
        ) -> ExecutionRecord:
            cum, avg = order.leg_fills.get(contract.con_id, (0.0, 0.0))
            new_cum = cum + shares
            new_avg = round((avg * cum + px * shares) / new_cum, 6)
            order.leg_fills[contract.con_id] = (new_cum, new_avg)
            return ExecutionRecord(
                exec_id=self.state.new_exec_id(leg),
                order_id=order.order_id,
                client_id=order.client_id,
                perm_id=order.perm_id,
                contract=contract,
                time=now,
                account=order.account,
                exchange="CBOE",
                side=side,
                shares=shares,
                price=px,
                cum_qty=new_cum,
                avg_price=new_avg,
                order_ref=req.order_ref,
            )

        commission = self.scenario.commission_per_contract
        if req.contract.sec_type == "BAG":
            for i, (leg, px) in enumerate(
                zip(req.combo_legs, self._leg_prices(order, price), strict=True)
            ):
                spec = self.scenario.contract_by_id(leg.con_id)
                assert spec is not None
                leg_buy = (leg.action == "BUY") == buy
                rec = record(spec, "BOT" if leg_buy else "SLD", qty * leg.ratio, px, i)
                rec.commission = round(commission * rec.shares, 4)
                records.append(rec)
            bag = record(req.contract, "BOT" if buy else "SLD", qty, price, len(req.combo_legs))
            records.append(bag)
        else:
            rec = record(req.contract, "BOT" if buy else "SLD", qty, price, 0)
            rec.commission = round(commission * qty, 4)
            records.append(rec)
        self.state.advance_exec_seq()
        self.state.executions.extend(records)
        delay = self.scenario.commission_delay
        if delay > 0:
            due = time.time() + delay
            for rec in records:
                if rec.commission is not None:
                    self.state.pending_commissions[rec.exec_id] = due

        owner = self.server.owner(order.client_id)
        if owner is not None:
            for rec in records:
                for _ in range(max(self.scenario.exec_details_copies, 1)):
                    owner.send(p.exec_details(-1, rec))
            owner.send(self._status_fields(order))
            state = OrderStateSpec(order.status)
            owner.send(p.open_order(req, order.client_id, order.perm_id, state))
            for rec in records:
                if rec.commission is not None and rec.exec_id not in self.state.pending_commissions:
                    owner.send(p.commission_report(rec))
        for rec in records:
            if rec.contract.sec_type != "BAG":
                self.apply_position(order.account, rec.contract, rec.side, rec.shares, rec.price)
        self.server.changed()
        return records

    def correct(
        self, exec_id: str, shares: float | None = None, price: float | None = None
    ) -> ExecutionRecord:
        """Issue a correction of execution ``exec_id``: same execId up to its last dot,
        last segment incremented, with the corrected ``shares`` and/or ``price``.

        The order's filled quantity (for its own unit: the BAG row of a combo, the
        execution of a single-leg order) and the position move by the difference;
        the order's status does not change and no orderStatus is sent.
        """
        family = exec_id.rsplit(".", 1)[0]
        versions = [e for e in self.state.executions if e.exec_id.rsplit(".", 1)[0] == family]
        if not versions:
            raise KeyError(exec_id)
        latest = versions[-1]
        number = int(latest.exec_id.rsplit(".", 1)[1]) + 1
        new_shares = latest.shares if shares is None else shares
        delta = new_shares - latest.shares
        rec = dataclasses.replace(
            latest,
            exec_id=f"{family}.{number:02d}",
            time=self.scenario.clock(),
            shares=new_shares,
            price=latest.price if price is None else price,
            cum_qty=latest.cum_qty + delta,
        )
        if rec.commission is not None:
            rec.commission = round(self.scenario.commission_per_contract * new_shares, 4)
        self.state.executions.append(rec)
        order = next((o for o in self.state.orders if o.perm_id == rec.perm_id), None)
        if order is not None and rec.contract.con_id == order.req.contract.con_id and delta:
            order.filled = max(order.filled + delta, 0.0)  # its status stays as it was
        if rec.contract.sec_type != "BAG" and delta:
            side = rec.side if delta > 0 else ("SLD" if rec.side == "BOT" else "BOT")
            self.apply_position(rec.account, rec.contract, side, abs(delta), rec.price)
        owner = self.server.owner(rec.client_id)
        if owner is not None:
            owner.send(p.exec_details(-1, rec))
            if rec.commission is not None:
                owner.send(p.commission_report(rec))
        self.server.changed()
        return rec

    def apply_position(
        self, account: str, contract: ContractSpec, side: str, shares: float, price: float
    ) -> None:
        """Move the position in ``contract`` by one execution and push the update."""
        key = (account, contract.con_id)
        multiplier = float(contract.multiplier or 1)
        signed = shares if side == "BOT" else -shares
        cost = price * multiplier
        pos = self.state.positions.get(key)
        if pos is None:
            pos = self.state.positions[key] = PositionState(account, contract, 0.0, 0.0)
        new_qty = pos.quantity + signed
        flipped = new_qty != 0 and pos.quantity != 0 and (pos.quantity > 0) != (new_qty > 0)
        if pos.quantity == 0 or flipped:
            pos.avg_cost = cost  # opened, or flipped through zero
        elif (pos.quantity > 0) == (signed > 0):
            pos.avg_cost = (pos.avg_cost * abs(pos.quantity) + cost * abs(signed)) / abs(new_qty)
        pos.quantity = new_qty
        if new_qty == 0:
            pos.avg_cost = 0.0
        self.server.accounts.push_position(pos)

    # --------------------------------------------------------------- timed actions

    def run_due(self, now: float) -> None:
        """Run the timed actions due at epoch ``now`` (see the module docstring)."""
        for order in list(self.state.orders):
            if not order.is_working:
                continue
            if order.late_fill_due is not None and now >= order.late_fill_due:
                order.late_fill_due = None
                qty = order.late_fill_quantity
                qty = order.remaining if qty is None else min(qty, order.remaining)
                price = order.late_fill_price
                self.fill(order, qty, self.fill_price(order) if price is None else price)
                if order.is_working and order.cancel_requested:
                    self.cancel(order)
            if order.cancel_due is not None and now >= order.cancel_due and order.is_working:
                self.cancel(order)
        due = [x for x, at in self.state.pending_commissions.items() if now >= at]
        for exec_id in due:
            del self.state.pending_commissions[exec_id]
            rec = next((e for e in self.state.executions if e.exec_id == exec_id), None)
            owner = None if rec is None else self.server.owner(rec.client_id)
            if rec is not None and owner is not None:
                owner.send(p.commission_report(rec))
        if due:
            self.server.changed()
        self.process_expiries()

    def process_expiries(self) -> list[ExpiredPosition]:
        """Remove held contracts whose expiry session is over (per the scenario clock),
        as IB does, pushing a zero position; cancel working orders in them."""
        now = self.scenario.clock()
        gone: list[ExpiredPosition] = []
        for key, pos in list(self.state.positions.items()):
            at = self.scenario.expires_at(pos.contract)
            if at is None or now < at:
                continue
            del self.state.positions[key]
            if pos.quantity == 0:
                continue
            gone.append(ExpiredPosition(pos.account, pos.contract, pos.quantity, pos.avg_cost, now))
            self.server.accounts.push_position(PositionState(pos.account, pos.contract, 0.0, 0.0))
        for order in self.state.orders:
            if order.is_working and self._expired(order, now):
                self.cancel(order)
        if gone:
            self.state.expired.extend(gone)
            self.server.changed()
        return gone

    def _expired(self, order: WorkingOrder, now: datetime) -> bool:
        contracts = [order.req.contract]
        for leg in order.req.combo_legs:
            spec = self.scenario.contract_by_id(leg.con_id)
            if spec is not None:
                contracts.append(spec)
        return any((at := self.scenario.expires_at(c)) is not None and now >= at for c in contracts)


def parse_filter_time(text: str) -> float | None:
    """ExecutionFilter.time as epoch seconds: "yyyymmdd-hh:mm:ss" is UTC, "yyyymmdd
    hh:mm:ss" is TWS time (US/Eastern) unless a time zone name follows."""
    text = text.strip()
    if not text:
        return None
    try:
        if len(text) > 8 and text[8] == "-":
            stamp = datetime.strptime(text[:17], "%Y%m%d-%H:%M:%S")
            return stamp.replace(tzinfo=ZoneInfo("UTC")).timestamp()
        stamp = datetime.strptime(text[:17], "%Y%m%d %H:%M:%S")
        zone = text[17:].strip() or p.TWS_TIMEZONE
        return stamp.replace(tzinfo=ZoneInfo(zone)).timestamp()
    except (ValueError, KeyError):
        return None
