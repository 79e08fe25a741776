"""An asyncio fake of TWS / IB Gateway that speaks the real TWS socket protocol.

Usage::

    async with FakeTWS(Scenario(accounts=["DU1234567"])) as tws:
        ib = IB()
        await ib.connectAsync("127.0.0.1", tws.port, clientId=1)
        ...
        assert not tws.messages(In.PLACE_ORDER)

The server keeps gateway state (orders, executions, positions; see
:mod:`.state`) across client connections, so a client that drops and
reconnects sees, via reqExecutions, the fills that happened while it was away,
and adopts its working orders via reqOpenOrders. With ``state_path`` the state
is saved as JSON after every change and loaded at construction, so it also
outlives the server process (see :mod:`.runner`).

Everything the client sends is recorded in :attr:`FakeTWS.received` (decoded
to message id + text fields) and everything the server sends in
:attr:`FakeTWS.sent`. Faults are scripted on the :class:`~.scenario.Scenario`
(see :mod:`.faults`) or triggered with the control methods below.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from . import protocol as p
from .accounts import Accounts
from .exchange import Exchange
from .faults import (
    CONNECTIVITY_LOST,
    RESTORED_DATA_KEPT,
    RESTORED_DATA_LOST,
    FillPolicy,
    GreeksFault,
    MuteRule,
)
from .market import Market
from .pricing import Quote
from .scenario import Scenario
from .session import ClientMessage, ServerMessage, Session
from .state import ExpiredPosition, GatewayState, PositionState, WorkingOrder
from .wire import SERVER_VERSION, ExecutionRecord, In

log = logging.getLogger("fake_tws")

#: Messages whose contract an ErrorRule's ``con_ids`` is checked against.
_CONTRACT_REQUESTS: dict[int, Callable[[list[str]], Any]] = {
    In.REQ_MKT_DATA: p.parse_mkt_data,
    In.PLACE_ORDER: p.parse_place_order,
    In.REQ_HISTORICAL_DATA: p.parse_historical_data,
}


class FakeTWS:
    """Fake TWS server on 127.0.0.1; see the module docstring."""

    server_version = SERVER_VERSION

    def __init__(
        self,
        scenario: Scenario | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        state: GatewayState | None = None,
        state_path: Path | str | None = None,
        tick: float = 0.02,
    ) -> None:
        """Create the server (call :meth:`start`, or use ``async with``).

        ``port`` 0 picks a free one. ``state``: gateway state to start from; with
        ``state_path`` an existing file is loaded instead and every change is saved
        there. Without either, the scenario's ``positions`` seed a new state.
        ``tick``: seconds between runs of the timed actions (late fills, delayed
        cancel confirmations and commission reports, expiries).
        """
        self.scenario = scenario or Scenario()
        self.host = host
        self.port = port
        self.state_path = Path(state_path) if state_path is not None else None
        if state is None and self.state_path is not None and self.state_path.exists():
            state = GatewayState.load(self.state_path)
        self.state = state if state is not None else self._seed_state()
        self.tick = tick
        self.received: list[ClientMessage] = []
        self.sent: list[ServerMessage] = []
        self.handshakes: list[str] = []
        #: Called after every change of the gateway state (after saving it).
        self.listeners: list[Callable[[], None]] = []
        self.refused_connections = 0
        self.accounts = Accounts(self)
        self.market = Market(self)
        self.exchange = Exchange(self)
        self._handlers = {
            **self.accounts.handlers(),
            **self.market.handlers(),
            **self.exchange.handlers(),
        }
        self._server: asyncio.Server | None = None
        self._sessions: dict[int, Session] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._housekeeper: asyncio.Task[None] | None = None
        self._conn_ids = itertools.count(1)
        self._msg_counts: Counter[int] = Counter()
        self._refuse_until = 0.0

    def _seed_state(self) -> GatewayState:
        state = GatewayState(next_order_id=self.scenario.next_order_id)
        for pos in self.scenario.positions:
            spec = self.scenario.contract_by_id(pos.con_id)
            if spec is None:
                raise ValueError(f"initial position in unknown conId {pos.con_id}")
            state.positions[(pos.account, pos.con_id)] = PositionState(
                pos.account, spec, pos.quantity, pos.avg_cost
            )
        return state

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeTWS:
        """Bind to ``host``:``port`` and start serving."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._housekeeper = asyncio.create_task(self._housekeeping())
        return self

    async def stop(self) -> None:
        """Close every connection, stop listening, save the state (with ``state_path``)."""
        if self._housekeeper is not None:
            self._housekeeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeper
            self._housekeeper = None
        for session in list(self._sessions.values()):
            session.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if self._tasks:
            # closed sockets end the handlers at EOF; cancel only stragglers
            _done, pending = await asyncio.wait(set(self._tasks), timeout=2.0)
            for task in pending:
                task.cancel()
        self.save_state()

    async def __aenter__(self) -> FakeTWS:
        """Start the server."""
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        """Stop the server."""
        await self.stop()

    def changed(self) -> None:
        """Record a change of the gateway state: save it, tell the listeners."""
        self.save_state()
        for listener in list(self.listeners):
            listener()

    def save_state(self) -> None:
        """Write the state to ``state_path`` (atomically), if there is one."""
        if self.state_path is not None:
            self.state.save(self.state_path)

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            try:
                self.exchange.run_due(time.time())
            except Exception:
                log.exception("fake TWS housekeeping failed")

    # ------------------------------------------------------------ test inspection

    @property
    def orders(self) -> list[WorkingOrder]:
        """Every order the gateway has seen, working or done, oldest first."""
        return self.state.orders

    @property
    def executions(self) -> list[ExecutionRecord]:
        """Every execution (corrections included), oldest first."""
        return self.state.executions

    @property
    def positions(self) -> dict[tuple[str, int], PositionState]:
        """Positions by (account, conId); closed ones stay with quantity 0."""
        return self.state.positions

    @property
    def expired(self) -> list[ExpiredPosition]:
        """Positions removed at expiry."""
        return self.state.expired

    def open_orders(self, client_id: int | None = None) -> list[WorkingOrder]:
        """Working orders (of ``client_id``)."""
        return [o for o in self.orders if o.is_working and client_id in (None, o.client_id)]

    def position_quantities(self, account: str | None = None) -> dict[int, float]:
        """conId -> quantity of the non-zero positions (of ``account``)."""
        return {
            pos.contract.con_id: pos.quantity
            for pos in self.state.open_positions()
            if account in (None, pos.account)
        }

    def messages(
        self, msg_id: int | None = None, client_id: int | None = None
    ) -> list[ClientMessage]:
        """Messages the client(s) sent, optionally only of one id and/or client."""
        return [
            m
            for m in self.received
            if (msg_id is None or m.msg_id == msg_id)
            and (client_id is None or m.client_id == client_id)
        ]

    def message_counts(self) -> dict[str, int]:
        """How many messages of each id the clients sent (by :class:`In` name)."""
        names = {int(m): m.name for m in In}
        return {names.get(m, str(m)): n for m, n in sorted(self._msg_counts.items())}

    def sent_messages(self, msg_id: int | None = None) -> list[ServerMessage]:
        """Messages the server sent, optionally only of one id."""
        return [m for m in self.sent if msg_id is None or m.msg_id == msg_id]

    @property
    def connected_client_ids(self) -> list[int]:
        """Client ids of the connections that have started the API."""
        return [s.client_id for s in self.live_sessions()]

    def order(self, order_id: int, client_id: int | None = None) -> WorkingOrder:
        """The server-side order with ``order_id`` (KeyError if there is none)."""
        order = self.exchange.find(order_id, client_id)
        if order is None:
            raise KeyError(order_id)
        return order

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Poll ``predicate`` until true; ``TimeoutError`` after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.005)

    async def wait_for_message(
        self, msg_id: int, count: int = 1, timeout: float = 5.0
    ) -> ClientMessage:
        """Wait until the client has sent ``count`` messages of ``msg_id``; return the last."""
        await self.wait_until(lambda: len(self.messages(msg_id)) >= count, timeout)
        return self.messages(msg_id)[count - 1]

    # -------------------------------------------------------------- test control

    async def drop_connections(self, client_id: int | None = None, outage: float = 0.0) -> None:
        """Close client sockets (all, or those of ``client_id``), like a TWS restart;
        refuse new connections for ``outage`` seconds. Orders keep working."""
        for session in list(self._sessions.values()):
            if client_id is None or session.client_id == client_id:
                self.drop(session)
        if outage > 0:
            self.refuse_connections(outage)
        await asyncio.sleep(0)

    def refuse_connections(self, seconds: float) -> None:
        """Close every new connection at once for ``seconds`` (0: accept again)."""
        self._refuse_until = time.monotonic() + seconds

    def send_error(
        self, code: int, message: str, req_id: int = -1, client_id: int | None = None
    ) -> None:
        """Send an error/info message to all clients (or one), e.g. 1100 connectivity lost."""
        for session in self.live_sessions(client_id):
            session.send(p.error(req_id, code, message))

    def link_lost(self) -> None:
        """Error 1100 to every client; no ticks stream until :meth:`link_restored`."""
        self.market.link_up = False
        self.send_error(*CONNECTIVITY_LOST)

    def link_restored(self, data_lost: bool = False) -> None:
        """Error 1102 (data maintained: streaming resumes, current quotes are re-sent) or
        1101 (data lost: every market-data line is dropped; clients must resubscribe)."""
        self.market.link_up = True
        if data_lost:
            self.market.drop_subscriptions()
            self.send_error(*RESTORED_DATA_LOST)
        else:
            self.send_error(*RESTORED_DATA_KEPT)
            self.market.publish(lambda sub: True)

    def hold_client_id(self, client_id: int, times: int | None = None) -> None:
        """Refuse connects with ``client_id`` (error 326) ``times`` times (None: until
        :meth:`release_client_id`), as if a stale session held it."""
        self.scenario.busy_client_ids[client_id] = times

    def release_client_id(self, client_id: int) -> None:
        """Stop refusing ``client_id``."""
        self.scenario.busy_client_ids.pop(client_id, None)

    def fill_order(
        self,
        order_id: int,
        quantity: float | None = None,
        price: float | None = None,
        client_id: int | None = None,
    ) -> list[ExecutionRecord]:
        """Fill a working order now (remaining quantity, at its limit by default).

        Works whether or not the owning client is connected; executions are kept.
        """
        order = self.order(order_id, client_id)
        if not order.is_working:
            raise ValueError(f"order {order_id} is {order.status}")
        qty = order.remaining if quantity is None else min(quantity, order.remaining)
        price = self.exchange.fill_price(order) if price is None else price
        return self.exchange.fill(order, qty, price)

    def cancel_order(self, order_id: int, client_id: int | None = None) -> None:
        """Cancel a working order from the gateway side (Cancelled + 202 to its owner)."""
        self.exchange.cancel(self.order(order_id, client_id))

    def set_order_policy(
        self, order_id: int, policy: FillPolicy, client_id: int | None = None
    ) -> None:
        """Give a working order another fill/cancel policy and re-evaluate it now."""
        order = self.order(order_id, client_id)
        order.policy = policy
        self.exchange.evaluate(order)
        self.changed()

    def correct_execution(
        self, exec_id: str, shares: float | None = None, price: float | None = None
    ) -> ExecutionRecord:
        """Send an execution correction (same execId up to its last dot, last segment
        incremented) with new ``shares``/``price``; see :meth:`.Exchange.correct`."""
        return self.exchange.correct(exec_id, shares, price)

    def resend_execution(self, exec_id: str, client_id: int | None = None) -> None:
        """Send execDetails (and its commission report, if due) of ``exec_id`` again to
        its owner (or to ``client_id``): a duplicate."""
        rec = next(e for e in self.executions if e.exec_id == exec_id)
        for session in self.live_sessions(rec.client_id if client_id is None else client_id):
            session.send(p.exec_details(-1, rec))
            if rec.commission is not None and exec_id not in self.state.pending_commissions:
                session.send(p.commission_report(rec))

    def set_quote(self, con_id: int, quote: Quote) -> None:
        """Set a contract's quote, stream it to subscribers and re-check working orders."""
        self.scenario.quotes[con_id] = quote
        self.market.publish(lambda sub: con_id in sub.con_ids)
        self.exchange.reevaluate()

    def set_spot(self, symbol: str, price: float) -> None:
        """Move an underlying (synthetic quotes follow), stream and re-check orders."""
        self.scenario.spots[symbol] = price
        self.market.publish(lambda sub: True)
        self.exchange.reevaluate()

    def set_no_bid(self, *con_ids: int) -> None:
        """Quote these options with no bid (IB: bid -1, size 0) and stream the change."""
        self.scenario.no_bid.update(con_ids)
        self.market.publish(lambda sub: bool(sub.con_ids & set(con_ids)))

    def set_greeks_fault(self, con_id: int, fault: GreeksFault | None) -> None:
        """Break (or, with None, mend) the model greeks of one option and stream them."""
        if fault is None:
            self.scenario.greeks_faults.pop(con_id, None)
        else:
            self.scenario.greeks_faults[con_id] = fault
        self.market.publish(lambda sub: con_id in sub.con_ids)

    def set_now(self, now: datetime) -> list[ExpiredPosition]:
        """Freeze the gateway clock at ``now`` and settle what expired by then."""
        self.scenario.set_now(now)
        return self.process_expiries()

    def process_expiries(self) -> list[ExpiredPosition]:
        """Remove positions whose expiry session is over now (the housekeeping loop
        does this every tick too); returns those removed."""
        return self.exchange.process_expiries()

    # ------------------------------------------------------------------ transport

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if time.monotonic() < self._refuse_until:
            self.refused_connections += 1
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        session = Session(next(self._conn_ids), writer, self.sent.append)
        self._sessions[session.conn_id] = session
        try:
            if await reader.readexactly(len(p.HANDSHAKE_PREFIX)) != p.HANDSHAKE_PREFIX:
                log.warning("conn %d: bad handshake prefix", session.conn_id)
                return
            hello = (await p.read_frame(reader)).decode()
            self.handshakes.append(hello)
            low, high, _options = p.parse_version_range(hello)
            if not low <= self.server_version <= high:
                log.warning("conn %d: client range %s excludes us", session.conn_id, hello)
                return
            writer.write(p.server_hello(self.server_version, datetime.now().astimezone()))
            while not session.closed:
                fields = p.split_fields(await p.read_frame(reader))
                if fields:
                    self._dispatch(session, fields)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            # server shutdown; asyncio's start_server callback would log a cancelled task
            pass
        finally:
            self._sessions.pop(session.conn_id, None)
            session.close()
            if task is not None:
                self._tasks.discard(task)

    def drop(self, session: Session) -> None:
        """Close one session."""
        self._sessions.pop(session.conn_id, None)
        session.close()

    def live_sessions(self, client_id: int | None = None) -> list[Session]:
        """Open sessions that started the API (of ``client_id``)."""
        return [s for s in self._sessions.values() if s.live and client_id in (None, s.client_id)]

    def owner(self, client_id: int) -> Session | None:
        """The live session of ``client_id``, else None."""
        sessions = self.live_sessions(client_id)
        return sessions[0] if sessions else None

    def _dispatch(self, session: Session, fields: list[str]) -> None:
        try:
            msg_id = int(fields[0])
        except ValueError:
            log.warning("conn %d: bad message id %r", session.conn_id, fields[0])
            return
        self.received.append(
            ClientMessage(session.conn_id, session.client_id, msg_id, fields, time.monotonic())
        )
        if msg_id == In.START_API and len(fields) > 2 and fields[2]:
            self.received[-1].client_id = int(fields[2])
        self._msg_counts[msg_id] += 1
        count = self._msg_counts[msg_id]

        drop = next(
            (r for r in self.scenario.drop_rules if r.msg_id == msg_id and r.nth == count), None
        )
        if drop is not None:
            self.scenario.drop_rules.remove(drop)
            if drop.handle_first:
                session.muted = True
                self._handle(session, msg_id, fields)
            self.drop(session)
            if drop.outage > 0:
                self.refuse_connections(drop.outage)
            if drop.fill_after is not None:
                self._fill_later(session.client_id, msg_id, fields, drop.fill_after)
            return

        mute = self._take_mute(msg_id, count)
        if mute is not None:
            if mute.handle:
                was_muted, session.muted = session.muted, True
                try:
                    self._handle(session, msg_id, fields)
                finally:
                    session.muted = was_muted
            return

        rule = next(
            (
                r
                for r in self.scenario.error_rules
                if r.msg_id == msg_id
                and (r.con_ids is None or r.con_ids & self._request_con_ids(msg_id, fields))
            ),
            None,
        )
        if rule is not None:
            if rule.times is not None:
                rule.times -= 1
                if rule.times <= 0:
                    self.scenario.error_rules.remove(rule)
            session.send(p.error(p.request_id(fields), rule.code, rule.message))
            if rule.suppress_response:
                return
        self._handle(session, msg_id, fields)

    def _take_mute(self, msg_id: int, count: int) -> MuteRule | None:
        for rule in self.scenario.mute_rules:
            if rule.msg_id != msg_id or (rule.nth is not None and rule.nth != count):
                continue
            if rule.nth is not None:
                self.scenario.mute_rules.remove(rule)
            elif rule.times is not None:
                rule.times -= 1
                if rule.times <= 0:
                    self.scenario.mute_rules.remove(rule)
            return rule
        return None

    def _request_con_ids(self, msg_id: int, fields: list[str]) -> set[int]:
        if msg_id == In.REQ_CONTRACT_DETAILS:
            contract = p.parse_contract_details(fields)[1]
        elif msg_id in _CONTRACT_REQUESTS:
            req = _CONTRACT_REQUESTS[msg_id](fields)
            legs = getattr(req, "combo_legs", [])
            if legs:
                return {leg.con_id for leg in legs}
            contract = req.contract
        else:
            return set()
        if contract.con_id:
            return {contract.con_id}
        resolved = self.market.resolve(contract)
        return {resolved.con_id} if resolved else set()

    def _fill_later(self, client_id: int, msg_id: int, fields: list[str], delay: float) -> None:
        position = {int(In.PLACE_ORDER): 1, int(In.CANCEL_ORDER): 2}.get(msg_id)
        if position is None:
            return
        order = self.exchange.find(int(fields[position]), client_id)
        if order is not None and order.is_working:
            self.exchange.schedule_fill(order, delay)

    def _handle(self, session: Session, msg_id: int, fields: list[str]) -> None:
        handler = self._handlers.get(msg_id)
        if handler is None:
            log.info("conn %d: unsupported message %d ignored", session.conn_id, msg_id)
            return
        try:
            handler(session, fields)
        except Exception:
            log.exception("conn %d: error handling %s", session.conn_id, fields)
            session.send(
                p.error(
                    p.request_id(fields), 320, "Server error when reading an API client request."
                )
            )
