"""Executions and reconciliation: exactly-once fills, corrections, resync, open orders, positions.

Fills
-----
Every leg execution whose ``orderRef`` passes the fill filter becomes one
:class:`~strategies.execution.Fill`, delivered to every fill listener once
per ``exec_id`` (whether it arrives live, twice, or again from
``reqExecutions``), including executions that arrive after
:meth:`IBBroker.place_order` returned: the engine books them by ``orderRef``.
BAG executions only count combo units and the combo price; executions with
an empty ``orderRef`` are never delivered.

A leg execution waits for its commission report; after ``commission_wait_s``
(or when its order ends and the wait is over) it is delivered with commission
0 and ``ib_commission_missing`` is logged. A report arriving later is logged
as ``ib_commission_late`` with its amount and is *not* delivered again: the
journal keeps the fill once, with commission 0.

Corrections: IB corrects an execution by sending a new one whose ``execId``
has the same prefix up to the last dot and a higher last part
(``0000e0d5.6554.01.01`` -> ``.02``). The newest one wins:

* if the corrected execution was not delivered yet, only the correction is;
* if it was, the correction is delivered as it is (its own ``exec_id``,
  quantity, price and commission), followed by a *reversal* of the delivered
  one: ``exec_id`` = the old id + ``"/reversed"``, the same contract and
  price, the opposite quantity and the opposite commission. What was
  delivered then nets to exactly the corrected execution (quantity, cash
  and commission), and the position never passes through zero on the way.
  ``ib_execution_corrected`` is logged.
* an execution older than one already seen for the prefix is ignored.

After every (re)connect and on 1101/1102, executions since a minute before
the last one seen (all of today's the first time) are requested again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ib_async import ExecutionFilter, Trade
from ib_async import Fill as IBFill

from daemon.brokers.base import (
    AccountSnapshot,
    BrokerError,
    BrokerOrder,
    Fill,
    FillListener,
    OrderState,
    Position,
)
from daemon.brokers.ib import contracts as ibc
from daemon.brokers.ib.connection import Connection
from strategies.domain import OptionContract

#: Order statuses after which IB will not fill an order any more.
IB_DONE = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})

#: Appended to a delivered execution's id for the fill that reverses it after a correction.
REVERSAL_SUFFIX = "/reversed"


def split_exec_id(exec_id: str) -> tuple[str, int]:
    """``execId`` -> (prefix up to the last dot, the last part as a number).

    An id without a dot, or whose last part is not hexadecimal, is its own
    prefix with rank 0 (it can neither correct nor be corrected).
    """
    prefix, dot, last = exec_id.rpartition(".")
    if not dot:
        return exec_id, 0
    try:
        return prefix, int(last, 16)
    except ValueError:
        return exec_id, 0


@dataclass(frozen=True, slots=True)
class PositionDifference:
    """A contract where IB and the journal disagree (signed contracts, + long)."""

    contract: OptionContract
    journal_quantity: int
    broker_quantity: int


@dataclass(frozen=True, slots=True)
class OpenOrderInfo:
    """An order working at IB that the journal does not expect."""

    order_ref: str
    order_id: int
    client_id: int
    status: str


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Result of :meth:`IBBroker.reconcile`; empty lists mean IB agrees with the journal."""

    positions: tuple[PositionDifference, ...]
    unexpected_open_orders: tuple[OpenOrderInfo, ...]

    @property
    def ok(self) -> bool:
        """Whether nothing differs."""
        return not self.positions and not self.unexpected_open_orders


@dataclass(slots=True)
class _Pending:
    fill: Fill
    ib_fill: IBFill
    since: float


class Executions:
    """Fill delivery and the read side of IB (orders, positions, account); see the module doc."""

    def __init__(self, conn: Connection, fill_filter: Callable[[str], bool]) -> None:
        self.conn = conn
        self._fill_filter = fill_filter
        self._listeners: list[FillListener] = []
        self._delivered: set[str] = set()
        self._zero_commission: set[str] = set()
        self._pending: dict[str, _Pending] = {}
        self._fills_by_ref: dict[str, dict[str, Fill]] = {}
        self._bag_execs: dict[str, dict[str, tuple[float, float]]] = {}
        self._ignored: set[str] = set()
        self._latest: dict[str, tuple[int, str]] = {}
        self._replaces: dict[str, Fill] = {}
        self._last_exec_time: datetime | None = None
        self._orders_lock = asyncio.Lock()
        self._positions_lock = asyncio.Lock()
        self._resync_task: asyncio.Task[Any] | None = None
        conn.ib.execDetailsEvent += self._on_exec_details
        conn.ib.commissionReportEvent += self._on_commission
        conn.update_handlers.append(self._on_update)
        conn.session_handlers.append(self.resync)
        conn.restore_handlers.append(self._on_restored)

    def add_fill_listener(self, listener: FillListener) -> None:
        """Call ``listener`` once per leg execution (with its commission)."""
        self._listeners.append(listener)

    # ------------------------------------------------------------- ingestion

    def _on_exec_details(self, trade: Trade, fill: IBFill) -> None:
        self.ingest(fill)

    def _on_commission(self, trade: Trade, fill: IBFill, report: Any) -> None:
        exec_id = fill.execution.execId
        if exec_id in self._zero_commission:
            self._zero_commission.discard(exec_id)
            self.conn.log.warning(
                "ib_commission_late",
                exec_id=exec_id,
                order_ref=fill.execution.orderRef,
                commission=float(report.commission),
            )
        self.ingest(fill)
        self.drain()

    def _on_update(self) -> None:
        if self._pending:
            self.drain()

    def ingest(self, ib_fill: IBFill) -> None:
        """Remember one execution; leg executions wait for their commission report."""
        ex = ib_fill.execution
        exec_id = ex.execId
        if not exec_id or exec_id in self._delivered or exec_id in self._ignored:
            return
        if exec_id in self._pending:
            return
        prefix, rank = split_exec_id(exec_id)
        latest = self._latest.get(prefix)
        if latest is not None and latest[1] != exec_id:
            if rank <= latest[0]:
                self._ignored.add(exec_id)  # superseded by a correction already seen
                return
            self._supersede(latest[1], exec_id)
        self._latest[prefix] = (rank, exec_id)
        when = ex.time if ex.time.tzinfo else ex.time.replace(tzinfo=UTC)
        if self._last_exec_time is None or when > self._last_exec_time:
            self._last_exec_time = when
        ref = ex.orderRef or ""
        if ib_fill.contract.secType == "BAG":
            self._bag_execs.setdefault(ref, {})[prefix] = (float(ex.shares), float(ex.price))
            self._ignored.add(exec_id)
            return
        contract = ibc.to_option_contract(ib_fill.contract)
        if not ref or contract is None or not self._fill_filter(ref):
            self._ignored.add(exec_id)
            return
        sign = 1 if ex.side.upper() in ("BOT", "BUY") else -1
        fill = Fill(
            exec_id, ref, contract, sign * round(float(ex.shares)), float(ex.price), 0.0, when
        )
        loop = asyncio.get_running_loop()
        self._pending[exec_id] = _Pending(fill, ib_fill, loop.time())
        loop.call_later(self.conn.settings.commission_wait_s + 0.01, self.drain)

    def _supersede(self, old_id: str, new_id: str) -> None:
        """``new_id`` corrects ``old_id``: drop it if pending, reverse it if delivered."""
        pending = self._pending.pop(old_id, None)
        if pending is not None:
            self._ignored.add(old_id)
            self.conn.log.warning("ib_execution_corrected", exec_id=old_id, correction=new_id)
            return
        for fills in self._fills_by_ref.values():
            delivered = fills.get(old_id)
            if delivered is not None:
                self._replaces[new_id] = delivered
                return

    def drain(self, force_refs: Iterable[str] = ()) -> None:
        """Deliver pending fills whose commission arrived, or that waited long enough.

        Fills of ``force_refs`` and fills older than ``commission_wait_s`` are
        delivered with commission 0 (``ib_commission_missing``).
        """
        forced = set(force_refs)
        if not self._pending:
            return
        now = asyncio.get_running_loop().time()
        wait = self.conn.settings.commission_wait_s
        for exec_id, p in list(self._pending.items()):
            report = p.ib_fill.commissionReport
            if report is not None and report.execId:
                self._deliver(replace(p.fill, commission=float(report.commission)))
            elif p.fill.order_ref in forced or now - p.since >= wait:
                self.conn.log.warning(
                    "ib_commission_missing", exec_id=exec_id, order_ref=p.fill.order_ref
                )
                self._zero_commission.add(exec_id)
                self._deliver(p.fill)

    def _deliver(self, fill: Fill) -> None:
        self._pending.pop(fill.exec_id, None)
        if fill.exec_id in self._delivered:
            return
        self._emit(fill)
        old = self._replaces.pop(fill.exec_id, None)
        if old is not None:
            self._emit(
                Fill(
                    old.exec_id + REVERSAL_SUFFIX,
                    old.order_ref,
                    old.contract,
                    -old.quantity,
                    old.price,
                    -old.commission,
                    fill.time,
                )
            )
            self.conn.log.warning(
                "ib_execution_corrected",
                exec_id=old.exec_id,
                correction=fill.exec_id,
                quantity=(old.quantity, fill.quantity),
                price=(old.price, fill.price),
            )

    def _emit(self, fill: Fill) -> None:
        if fill.exec_id in self._delivered:
            return
        self._delivered.add(fill.exec_id)
        self._fills_by_ref.setdefault(fill.order_ref, {})[fill.exec_id] = fill
        for listener in self._listeners:
            try:
                listener(fill)
            except Exception as exc:
                self.conn.log.error(
                    "ib_fill_listener_failed", exec_id=fill.exec_id, error=repr(exc)
                )

    # --------------------------------------------------------- per-order view

    def delivered(self, ref: str) -> list[Fill]:
        """Fills delivered for ``ref``, by ``exec_id``."""
        return sorted(self._fills_by_ref.get(ref, {}).values(), key=lambda f: f.exec_id)

    def has_pending(self, ref: str) -> bool:
        """Whether executions of ``ref`` still wait for their commission."""
        return any(p.fill.order_ref == ref for p in self._pending.values())

    def has_executions(self, ref: str) -> bool:
        """Whether IB reported any execution (leg or BAG) for ``ref``."""
        return bool(self._fills_by_ref.get(ref)) or self.has_pending(ref) or ref in self._bag_execs

    def leg_quantities(self, ref: str) -> dict[OptionContract, int]:
        """Signed contracts per leg for ``ref`` (delivered and pending, corrections netted)."""
        held: dict[OptionContract, int] = {}
        fills = [*self._fills_by_ref.get(ref, {}).values()]
        fills += [p.fill for p in self._pending.values() if p.fill.order_ref == ref]
        for f in fills:
            held[f.contract] = held.get(f.contract, 0) + f.quantity
        for new_id, old in self._replaces.items():
            if old.order_ref == ref and new_id in self._pending:
                held[old.contract] -= old.quantity
        return held

    def bag_execution(self, ref: str) -> tuple[float, float | None] | None:
        """BAG executions of ``ref``: (combo units, average net price), ``None`` when none."""
        bag = self._bag_execs.get(ref)
        if not bag:
            return None
        shares = sum(s for s, _ in bag.values())
        avg = round(sum(s * p for s, p in bag.values()) / shares, 6) if shares else None
        return shares, avg

    # ---------------------------------------------------------------- resync

    async def resync(self) -> None:
        """Ask for executions since the last one seen (all of today's the first time).

        Raises:
            RequestTimeoutError: no answer within ``request_timeout_s``.
        """
        ib = self.conn.ib
        flt = ExecutionFilter()
        if self._last_exec_time is not None:
            since = self._last_exec_time.astimezone(UTC) - timedelta(minutes=1)
            flt = ExecutionFilter(time=since.strftime("%Y%m%d-%H:%M:%S"))
        self.conn.request_counts["executions"] += 1
        fills = await self.conn.bounded(ib.reqExecutionsAsync(flt), "reqExecutions")
        known = ib.wrapper.fills
        for fill in [*ib.fills(), *fills]:
            self.ingest(known.get(fill.execution.execId, fill))
        self.drain()
        self.conn.log.info("ib_executions_synced", since=flt.time or None, received=len(fills))

    def _on_restored(self, resubscribe: bool) -> None:
        if self._resync_task is None or self._resync_task.done():
            self._resync_task = self.conn.spawn(self._resync_safely())

    async def _resync_safely(self) -> None:
        try:
            await self.resync()
        except BrokerError as exc:
            self.conn.log.warning("ib_execution_resync_failed", error=str(exc))

    # ----------------------------------------------------------- open orders

    async def open_trades(self) -> list[Trade]:
        """Every order IB has open, of every client (``reqAllOpenOrders``), done ones included.

        Raises:
            RequestTimeoutError: no answer within ``request_timeout_s``.
        """
        async with self._orders_lock:
            self.conn.request_counts["open_orders"] += 1
            return await self.conn.bounded(self.conn.ib.reqAllOpenOrdersAsync(), "reqAllOpenOrders")

    async def open_trade(self, ref: str) -> Trade | None:
        """The order with ``orderRef == ref`` working at IB (any client), if there is one."""
        trades = await self.open_trades()
        for trade in [*trades, *self.conn.ib.openTrades()]:
            if trade.order.orderRef == ref and trade.orderStatus.status not in IB_DONE:
                return trade
        return None

    async def open_orders(self) -> list[BrokerOrder]:
        """Every order working at IB, of every client, as :class:`BrokerOrder`.

        Quantities in combo units; ``limit_price`` in our convention (+ debit,
        - credit; a single-leg SELL is ``-lmtPrice``).
        """
        out = []
        for t in await self.open_trades():
            if t.orderStatus.status in IB_DONE:
                continue
            filled = round(float(t.orderStatus.filled or 0.0))
            lmt = t.order.lmtPrice
            limit: float | None = None
            if lmt is not None and abs(float(lmt)) < 1e300:
                limit = -float(lmt) if t.order.action == "SELL" else float(lmt)
            out.append(
                BrokerOrder(
                    t.order.orderRef or "",
                    t.order.orderId,
                    t.order.clientId,
                    OrderState.PARTIALLY_FILLED if filled else OrderState.WORKING,
                    filled,
                    round(float(t.orderStatus.remaining or 0.0)),
                    limit,
                    t.order.permId,
                )
            )
        return out

    # --------------------------------------------------- account and positions

    async def account(self) -> AccountSnapshot:
        """Cash and net liquidation (dollars) of the checked account.

        Raises:
            BrokerError: IB reported no values, or the summary timed out.
        """
        conn = self.conn
        account = conn.account_id or ""
        values = {
            v.tag: v.value
            for v in conn.ib.accountValues(account)
            if v.currency in ("USD", "BASE", "")
        }
        if "NetLiquidation" not in values:
            conn.request_counts["account_summary"] += 1
            summary = await conn.bounded(conn.ib.accountSummaryAsync(account), "reqAccountSummary")
            values = {v.tag: v.value for v in summary}
        try:
            net_liq = float(values["NetLiquidation"])
            cash = float(values.get("TotalCashValue", values.get("CashBalance", "nan")))
        except (KeyError, ValueError) as exc:
            raise BrokerError(f"IB reported no account values for {account}") from exc
        try:
            init_margin: float | None = float(values["InitMarginReq"])
        except (KeyError, ValueError):
            init_margin = None
        return AccountSnapshot(account, cash, net_liq, init_margin)

    async def positions(self) -> list[Position]:
        """Option positions of the checked account, read from IB now (``reqPositions``).

        ``avg_cost`` per share in index points (IB's is per contract).

        Raises:
            RequestTimeoutError: no answer within ``request_timeout_s``.
        """
        conn = self.conn
        async with self._positions_lock:
            conn.request_counts["positions"] += 1
            await conn.bounded(conn.ib.reqPositionsAsync(), "reqPositions")
        out = []
        for pos in conn.ib.positions(conn.account_id or ""):
            contract = ibc.to_option_contract(pos.contract)
            if contract is None or not pos.position:
                continue
            out.append(
                Position(contract, round(pos.position), float(pos.avgCost) / contract.multiplier)
            )
        return out

    async def reconcile(
        self,
        journal_positions: Mapping[OptionContract, int],
        expected_order_refs: Iterable[str] = (),
    ) -> Reconciliation:
        """Compare IB's positions and open orders with what the journal thinks.

        Args:
            journal_positions: signed contracts per option the journal holds.
            expected_order_refs: ``orderRef`` values the journal has working.

        Returns:
            The differences (each logged); nothing is changed.

        Raises:
            RequestTimeoutError: positions or open orders not answered in time.
        """
        broker = {p.contract: p.quantity for p in await self.positions()}
        diffs = [
            PositionDifference(c, int(journal_positions.get(c, 0)), broker.get(c, 0))
            for c in sorted(set(broker) | set(journal_positions), key=lambda c: c.local_symbol)
            if int(journal_positions.get(c, 0)) != broker.get(c, 0)
        ]
        expected = set(expected_order_refs)
        unexpected = [
            OpenOrderInfo(t.order.orderRef, t.order.orderId, t.order.clientId, t.orderStatus.status)
            for t in await self.open_trades()
            if t.orderStatus.status not in IB_DONE and t.order.orderRef not in expected
        ]
        log = self.conn.log
        for d in diffs:
            log.warning(
                "ib_reconcile_position",
                contract=d.contract.local_symbol,
                journal=d.journal_quantity,
                broker=d.broker_quantity,
            )
        for o in unexpected:
            log.warning(
                "ib_reconcile_open_order",
                order_ref=o.order_ref,
                order_id=o.order_id,
                status=o.status,
            )
        return Reconciliation(tuple(diffs), tuple(unexpected))
