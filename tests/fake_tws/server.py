"""An asyncio fake of TWS / IB Gateway that speaks the real TWS socket protocol.

Usage::

    async with FakeTWS(Scenario(accounts=["DU1234567"])) as tws:
        ib = IB()
        await ib.connectAsync("127.0.0.1", tws.port, clientId=1)
        ...
        assert not tws.messages(In.PLACE_ORDER)

The server keeps broker state (orders, executions, positions) across client
connections, so a client that drops and reconnects sees, via reqExecutions,
the fills that happened while it was away. Everything the client sends is
recorded in :attr:`FakeTWS.received` (decoded to message id + text fields) and
everything the server sends in :attr:`FakeTWS.sent`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from . import protocol as p
from .protocol import (
    SERVER_VERSION,
    ContractSpec,
    ExecutionRecord,
    In,
    MktDataRequest,
    OrderRequest,
    OrderStateSpec,
)
from .scenario import FillMode, FillPolicy, Quote, Scenario

log = logging.getLogger("fake_tws")

#: Order statuses after which an order is no longer working.
DONE_STATUSES = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})

#: Error texts TWS uses for the codes the fake emits.
MSG_NO_SECURITY = "No security definition has been found for the request"
MSG_CLIENT_ID_IN_USE = (
    "Unable to connect as the client id is already in use. Retry with a unique client id."
)
MSG_CONNECTIVITY_LOST = "Connectivity between IB and Trader Workstation has been lost."
MSG_CONNECTIVITY_RESTORED = (
    "Connectivity between IB and Trader Workstation has been restored - data maintained."
)


@dataclass(slots=True)
class ClientMessage:
    """One message the client sent, decoded to its id and text fields."""

    conn_id: int
    client_id: int
    msg_id: int
    fields: list[str]
    at: float


@dataclass(slots=True)
class ServerMessage:
    """One message the server sent."""

    conn_id: int
    client_id: int
    fields: list[str]

    @property
    def msg_id(self) -> int:
        """The message id (first field)."""
        return int(self.fields[0])


@dataclass(slots=True)
class WorkingOrder:
    """Server-side state of an order."""

    req: OrderRequest
    client_id: int
    perm_id: int
    account: str
    policy: FillPolicy
    status: str
    filled: float = 0.0
    avg_fill_price: float = 0.0
    last_fill_price: float = 0.0
    leg_fills: dict[int, tuple[float, float]] = field(default_factory=dict)  # conId -> (qty, avg)

    @property
    def order_id(self) -> int:
        """The client's order id."""
        return self.req.order_id

    @property
    def remaining(self) -> float:
        """Quantity still to fill."""
        return max(self.req.total_quantity - self.filled, 0.0)

    @property
    def is_working(self) -> bool:
        """Whether the order can still fill or be cancelled."""
        return self.status not in DONE_STATUSES


@dataclass(slots=True)
class PositionState:
    """A position held by the fake broker (avg_cost includes the multiplier)."""

    account: str
    contract: ContractSpec
    quantity: float
    avg_cost: float


@dataclass(slots=True)
class _Subscription:
    req: MktDataRequest
    contract: ContractSpec
    con_ids: set[int]


class _Session:
    """One client connection."""

    def __init__(
        self,
        server: FakeTWS,
        conn_id: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.server = server
        self.conn_id = conn_id
        self.reader = reader
        self.writer = writer
        self.client_id = -1
        self.api_started = False
        self.muted = False
        self.closed = False
        self.market_data_type: int | None = None
        self.subscriptions: dict[int, _Subscription] = {}
        self.positions_subscribed = False
        self.account_subscriptions: set[str] = set()

    def send(self, fields: list[object]) -> None:
        """Encode and write one message unless the session is muted or closed."""
        if self.muted or self.closed or self.writer.is_closing():
            return
        self.writer.write(p.encode_fields(fields))
        self.server.sent.append(
            ServerMessage(self.conn_id, self.client_id, [p.fmt(f) for f in fields])
        )

    def close(self) -> None:
        """Close the socket (the client sees the peer close the connection)."""
        if not self.closed:
            self.closed = True
            self.writer.close()


class FakeTWS:
    """Fake TWS server on 127.0.0.1; see the module docstring."""

    server_version = SERVER_VERSION

    def __init__(self, scenario: Scenario | None = None, host: str = "127.0.0.1") -> None:
        """Create the server (call :meth:`start`, or use ``async with``)."""
        self.scenario = scenario or Scenario()
        self.host = host
        self.port = 0
        self.received: list[ClientMessage] = []
        self.sent: list[ServerMessage] = []
        self.handshakes: list[str] = []
        self.orders: list[WorkingOrder] = []
        self.executions: list[ExecutionRecord] = []
        self.positions: dict[tuple[str, int], PositionState] = {}
        self._server: asyncio.Server | None = None
        self._sessions: dict[int, _Session] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._conn_ids = itertools.count(1)
        self._perm_ids = itertools.count(1_900_000_001)
        self._exec_seq = itertools.count(1)
        self._next_order_id = self.scenario.next_order_id
        self._msg_counts: Counter[int] = Counter()
        for pos in self.scenario.positions:
            spec = self.scenario.contract_by_id(pos.con_id)
            if spec is None:
                raise ValueError(f"initial position in unknown conId {pos.con_id}")
            self.positions[(pos.account, pos.con_id)] = PositionState(
                pos.account, spec, pos.quantity, pos.avg_cost
            )
        self._handlers: dict[int, Callable[[_Session, list[str]], None]] = {
            In.START_API: self._on_start_api,
            In.REQ_MANAGED_ACCTS: self._on_managed_accounts,
            In.REQ_IDS: self._on_req_ids,
            In.REQ_CURRENT_TIME: self._on_current_time,
            In.REQ_MARKET_DATA_TYPE: self._on_market_data_type,
            In.REQ_POSITIONS: self._on_req_positions,
            In.CANCEL_POSITIONS: self._on_cancel_positions,
            In.REQ_ACCOUNT_UPDATES: self._on_account_updates,
            In.REQ_ACCOUNT_UPDATES_MULTI: self._on_account_updates_multi,
            In.CANCEL_ACCOUNT_UPDATES_MULTI: _ignore,
            In.REQ_ACCOUNT_SUMMARY: self._on_account_summary,
            In.CANCEL_ACCOUNT_SUMMARY: _ignore,
            In.REQ_CONTRACT_DETAILS: self._on_contract_details,
            In.REQ_SEC_DEF_OPT_PARAMS: self._on_sec_def_opt_params,
            In.REQ_MKT_DATA: self._on_req_mkt_data,
            In.CANCEL_MKT_DATA: self._on_cancel_mkt_data,
            In.PLACE_ORDER: self._on_place_order,
            In.CANCEL_ORDER: self._on_cancel_order,
            In.REQ_GLOBAL_CANCEL: self._on_global_cancel,
            In.REQ_OPEN_ORDERS: self._on_open_orders,
            In.REQ_ALL_OPEN_ORDERS: self._on_all_open_orders,
            In.REQ_AUTO_OPEN_ORDERS: _ignore,
            In.REQ_COMPLETED_ORDERS: self._on_completed_orders,
            In.REQ_EXECUTIONS: self._on_req_executions,
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeTWS:
        """Bind to ``host`` on an ephemeral port and start serving."""
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Close every connection and stop listening."""
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

    async def __aenter__(self) -> FakeTWS:
        """Start the server."""
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        """Stop the server."""
        await self.stop()

    # ------------------------------------------------------------ test inspection

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

    def sent_messages(self, msg_id: int | None = None) -> list[ServerMessage]:
        """Messages the server sent, optionally only of one id."""
        return [m for m in self.sent if msg_id is None or m.msg_id == msg_id]

    @property
    def connected_client_ids(self) -> list[int]:
        """Client ids of the connections that have started the API."""
        return [s.client_id for s in self._sessions.values() if s.api_started and not s.closed]

    def order(self, order_id: int, client_id: int | None = None) -> WorkingOrder:
        """The server-side order with ``order_id`` (KeyError if there is none)."""
        for order in reversed(self.orders):
            if order.order_id == order_id and client_id in (None, order.client_id):
                return order
        raise KeyError(order_id)

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

    async def drop_connections(self, client_id: int | None = None) -> None:
        """Close client sockets (all, or those of ``client_id``), like a TWS restart."""
        for session in list(self._sessions.values()):
            if client_id is None or session.client_id == client_id:
                self._drop(session)
        await asyncio.sleep(0)

    def send_error(
        self, code: int, message: str, req_id: int = -1, client_id: int | None = None
    ) -> None:
        """Send an error/info message to all clients (or one), e.g. 1100 connectivity lost."""
        for session in self._live_sessions(client_id):
            session.send(p.error(req_id, code, message))

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
        return self._fill(order, qty, self._fill_price(order) if price is None else price)

    def set_quote(self, con_id: int, quote: Quote) -> None:
        """Set a contract's quote, stream it to subscribers and re-check working orders."""
        self.scenario.quotes[con_id] = quote
        self._publish(lambda sub: con_id in sub.con_ids)
        self._reevaluate_orders()

    def set_spot(self, symbol: str, price: float) -> None:
        """Move an underlying (synthetic quotes follow), stream and re-check orders."""
        self.scenario.spots[symbol] = price
        self._publish(lambda sub: True)
        self._reevaluate_orders()

    # ------------------------------------------------------------------ transport

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        session = _Session(self, next(self._conn_ids), reader, writer)
        self._sessions[session.conn_id] = session
        try:
            if await reader.readexactly(len(p.HANDSHAKE_PREFIX)) != p.HANDSHAKE_PREFIX:
                log.warning("conn %d: bad handshake prefix", session.conn_id)
                return
            hello = (await p.read_frame(reader)).decode()
            self.handshakes.append(hello)
            low, high, _options = p.parse_version_range(hello)
            if not low <= self.server_version <= high:
                log.warning(
                    "conn %d: client range %s excludes %d",
                    session.conn_id,
                    hello,
                    self.server_version,
                )
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

    def _drop(self, session: _Session) -> None:
        self._sessions.pop(session.conn_id, None)
        session.close()

    def _live_sessions(self, client_id: int | None = None) -> list[_Session]:
        return [
            s
            for s in self._sessions.values()
            if s.api_started and not s.closed and client_id in (None, s.client_id)
        ]

    def _owner(self, client_id: int) -> _Session | None:
        sessions = self._live_sessions(client_id)
        return sessions[0] if sessions else None

    def _dispatch(self, session: _Session, fields: list[str]) -> None:
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

        drop = next(
            (
                r
                for r in self.scenario.drop_rules
                if r.msg_id == msg_id and r.nth == self._msg_counts[msg_id]
            ),
            None,
        )
        if drop is not None:
            self.scenario.drop_rules.remove(drop)
            if drop.handle_first:
                session.muted = True
                self._handle(session, msg_id, fields)
            self._drop(session)
            return

        rule = next((r for r in self.scenario.error_rules if r.msg_id == msg_id), None)
        if rule is not None:
            if rule.times is not None:
                rule.times -= 1
                if rule.times <= 0:
                    self.scenario.error_rules.remove(rule)
            session.send(p.error(p.request_id(fields), rule.code, rule.message))
            if rule.suppress_response:
                return
        self._handle(session, msg_id, fields)

    def _handle(self, session: _Session, msg_id: int, fields: list[str]) -> None:
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

    # ------------------------------------------------------------------ handshake

    def _on_start_api(self, session: _Session, fields: list[str]) -> None:
        client_id = int(fields[2])
        if any(s.client_id == client_id for s in self._live_sessions()):
            session.send(p.error(-1, 326, MSG_CLIENT_ID_IN_USE))
            self._drop(session)
            return
        session.client_id = client_id
        session.api_started = True
        session.send(p.next_valid_id(self._next_valid_id()))
        session.send(p.managed_accounts(self.scenario.accounts))
        for code, message in self.scenario.startup_messages:
            session.send(p.error(-1, code, message))

    def _next_valid_id(self) -> int:
        used = [o.order_id for o in self.orders]
        self._next_order_id = max([self._next_order_id, *(i + 1 for i in used)])
        return self._next_order_id

    def _on_managed_accounts(self, session: _Session, fields: list[str]) -> None:
        session.send(p.managed_accounts(self.scenario.accounts))

    def _on_req_ids(self, session: _Session, fields: list[str]) -> None:
        session.send(p.next_valid_id(self._next_valid_id()))

    def _on_current_time(self, session: _Session, fields: list[str]) -> None:
        session.send(p.current_time(int(self.scenario.clock().timestamp())))

    def _on_market_data_type(self, session: _Session, fields: list[str]) -> None:
        session.market_data_type = int(fields[2])

    # -------------------------------------------------------------------- account

    def _on_req_positions(self, session: _Session, fields: list[str]) -> None:
        session.positions_subscribed = True
        for pos in self.positions.values():
            if pos.account in self.scenario.accounts:
                session.send(p.position(pos.account, pos.contract, pos.quantity, pos.avg_cost))
        session.send(p.position_end())

    def _on_cancel_positions(self, session: _Session, fields: list[str]) -> None:
        session.positions_subscribed = False

    def _portfolio_fields(self, pos: PositionState) -> list[object]:
        quote = self.scenario.quote_for(pos.contract)
        mid = quote.mid if quote else None
        multiplier = float(pos.contract.multiplier or 1)
        price = mid if mid is not None else pos.avg_cost / multiplier
        value = price * pos.quantity * multiplier
        return p.portfolio_value(
            pos.contract,
            pos.quantity,
            price,
            round(value, 2),
            pos.avg_cost,
            round(value - pos.avg_cost * pos.quantity, 2),
            0.0,
            pos.account,
        )

    def _on_account_updates(self, session: _Session, fields: list[str]) -> None:
        subscribe = fields[2] == "1"
        account = fields[3] or self.scenario.accounts[0]
        if not subscribe:
            session.account_subscriptions.discard(account)
            return
        session.account_subscriptions.add(account)
        for key, (value, currency) in self.scenario.account_values.items():
            session.send(p.account_value(key, value, currency, account))
        for pos in self.positions.values():
            if pos.account == account:
                session.send(self._portfolio_fields(pos))
        session.send(p.account_update_time(self.scenario.clock().strftime("%H:%M")))
        session.send(p.account_download_end(account))

    def _on_account_updates_multi(self, session: _Session, fields: list[str]) -> None:
        req_id, account, model_code = int(fields[2]), fields[3], fields[4]
        accounts = self.scenario.accounts if account in ("", "All") else [account]
        for acct in accounts:
            for key, (value, currency) in self.scenario.account_values.items():
                session.send(p.account_update_multi(req_id, acct, model_code, key, value, currency))
        session.send(p.account_update_multi_end(req_id))

    def _on_account_summary(self, session: _Session, fields: list[str]) -> None:
        req_id, tags = int(fields[2]), set(fields[4].split(","))
        for acct in self.scenario.accounts:
            for key, (value, currency) in self.scenario.account_values.items():
                if key in tags:
                    session.send(p.account_summary(req_id, acct, key, value, currency))
        session.send(p.account_summary_end(req_id))

    # ------------------------------------------------------------------ contracts

    def _on_contract_details(self, session: _Session, fields: list[str]) -> None:
        req_id, query, _include_expired = p.parse_contract_details(fields)
        found = self.scenario.find_contracts(query)
        if not found:
            session.send(p.error(req_id, 200, MSG_NO_SECURITY))
            return
        for spec in found:
            if query.exchange and query.exchange in spec.valid_exchanges.split(","):
                spec = dataclasses.replace(spec, exchange=query.exchange)
            session.send(p.contract_details(req_id, spec))
        session.send(p.contract_details_end(req_id))

    def _on_sec_def_opt_params(self, session: _Session, fields: list[str]) -> None:
        req_id, symbol, fut_fop_exchange, _sec_type = (
            int(fields[1]),
            fields[2],
            fields[3],
            fields[4],
        )
        con_id = int(fields[5] or 0)
        for chain in self.scenario.chains:
            if fut_fop_exchange or chain.symbol != symbol.upper():
                continue
            if con_id and con_id != chain.underlying_con_id:
                continue
            for exchange in chain.exchanges:
                session.send(
                    p.sec_def_opt_params(
                        req_id,
                        exchange,
                        chain.underlying_con_id,
                        chain.trading_class,
                        chain.multiplier,
                        chain.expirations,
                        chain.strikes,
                    )
                )
        session.send(p.sec_def_opt_params_end(req_id))

    def _resolve(self, query: ContractSpec) -> ContractSpec | None:
        found = self.scenario.find_contracts(query, limit=2)
        return found[0] if len(found) == 1 else None

    # ---------------------------------------------------------------- market data

    def _on_req_mkt_data(self, session: _Session, fields: list[str]) -> None:
        req = p.parse_mkt_data(fields)
        if req.contract.sec_type == "BAG":
            if not req.combo_legs or any(
                self.scenario.contract_by_id(leg.con_id) is None for leg in req.combo_legs
            ):
                session.send(p.error(req.req_id, 200, MSG_NO_SECURITY))
                return
            contract = req.contract
            con_ids = {leg.con_id for leg in req.combo_legs}
        else:
            resolved = self._resolve(req.contract)
            if resolved is None:
                session.send(p.error(req.req_id, 200, MSG_NO_SECURITY))
                return
            contract, con_ids = resolved, {resolved.con_id}
        sub = _Subscription(req, contract, con_ids)
        data_type = session.market_data_type or self.scenario.market_data_type
        session.send(p.market_data_type(req.req_id, data_type))
        session.send(p.tick_req_params(req.req_id, contract.min_tick or 0.05, "9c0001", 3))
        self._send_ticks(session, sub)
        if req.snapshot or req.regulatory_snapshot:
            session.send(p.tick_snapshot_end(req.req_id))
        else:
            session.subscriptions[req.req_id] = sub

    def _on_cancel_mkt_data(self, session: _Session, fields: list[str]) -> None:
        session.subscriptions.pop(int(fields[2]), None)

    def _quote(self, sub: _Subscription) -> Quote | None:
        if sub.contract.sec_type == "BAG":
            return self.scenario.combo_quote(sub.req.combo_legs)
        return self.scenario.quote_for(sub.contract)

    def _send_ticks(self, session: _Session, sub: _Subscription) -> None:
        quote = self._quote(sub)
        if quote is None:
            return
        delayed = (session.market_data_type or self.scenario.market_data_type) in (3, 4)
        t = p.TickType
        req_id = sub.req.req_id
        if quote.bid is not None:
            tick = t.DELAYED_BID if delayed else t.BID
            session.send(p.tick_price(req_id, tick, quote.bid, quote.bid_size))
        if quote.ask is not None:
            tick = t.DELAYED_ASK if delayed else t.ASK
            session.send(p.tick_price(req_id, tick, quote.ask, quote.ask_size))
        if quote.last is not None:
            tick = t.DELAYED_LAST if delayed else t.LAST
            session.send(p.tick_price(req_id, tick, quote.last, quote.last_size))
        if quote.close is not None:
            tick = t.DELAYED_CLOSE if delayed else t.CLOSE
            session.send(p.tick_price(req_id, tick, quote.close, 0.0))
        g = quote.greeks
        if g is None:
            return
        computations = [
            (t.DELAYED_BID_OPTION if delayed else t.BID_OPTION, quote.bid),
            (t.DELAYED_ASK_OPTION if delayed else t.ASK_OPTION, quote.ask),
            (t.DELAYED_MODEL_OPTION if delayed else t.MODEL_OPTION, g.opt_price),
        ]
        for tick_type, price in computations:
            if price is None:
                continue
            session.send(
                p.tick_option_computation(
                    req_id,
                    tick_type,
                    g.implied_vol,
                    g.delta,
                    price,
                    g.pv_dividend,
                    g.gamma,
                    g.vega,
                    g.theta,
                    g.und_price,
                )
            )

    def _publish(self, wants: Callable[[_Subscription], bool]) -> None:
        for session in self._live_sessions():
            for sub in list(session.subscriptions.values()):
                if wants(sub):
                    self._send_ticks(session, sub)

    # --------------------------------------------------------------------- orders

    def _on_place_order(self, session: _Session, fields: list[str]) -> None:
        req = p.parse_place_order(fields)
        if req.what_if:
            self._what_if(session, req)
            return
        existing = next(
            (
                o
                for o in self.orders
                if o.client_id == session.client_id and o.order_id == req.order_id
            ),
            None,
        )
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
                session.send(p.error(req.order_id, 200, MSG_NO_SECURITY))
                return
        else:
            resolved = self._resolve(req.contract)
            if resolved is None:
                session.send(p.error(req.order_id, 200, MSG_NO_SECURITY))
                return
            exchange = req.contract.exchange or resolved.exchange
            req.contract = dataclasses.replace(resolved, exchange=exchange)

        policy = self.scenario.next_policy()
        order = WorkingOrder(
            req=req,
            client_id=session.client_id,
            perm_id=next(self._perm_ids),
            account=req.account or self.scenario.accounts[0],
            policy=policy,
            status="PendingSubmit",
        )
        self.orders.append(order)
        if policy.mode is FillMode.REJECT:
            order.status = "Inactive"
            reason = f"Order rejected - reason:{policy.reason}"
            session.send(p.error(req.order_id, 201, reason))
            return
        if not req.transmit:
            return  # held in TWS until transmitted; no status is reported
        order.status = "Submitted" if policy.mode is not FillMode.NEVER else policy.status
        self._report_status(session, order)
        self._evaluate(order)

    def _what_if(self, session: _Session, req: OrderRequest) -> None:
        units = req.total_quantity * max(1, len(req.combo_legs) // 2)
        margin = self.scenario.what_if_margin_per_unit * units
        contracts = req.total_quantity * max(1, sum(leg.ratio for leg in req.combo_legs))
        state = OrderStateSpec(
            status="PreSubmitted",
            init_margin_change=margin,
            maint_margin_change=margin,
            equity_with_loan_change=0.0,
            commission=round(self.scenario.commission_per_contract * contracts, 2),
        )
        session.send(p.open_order(req, session.client_id, 0, state))

    def _modify(self, session: _Session, order: WorkingOrder, req: OrderRequest) -> None:
        if not order.is_working:
            session.send(p.error(req.order_id, 104, "Cannot modify a filled order."))
            return
        old = order.req
        old.lmt_price, old.aux_price = req.lmt_price, req.aux_price
        old.total_quantity, old.order_type, old.tif = req.total_quantity, req.order_type, req.tif
        old.order_combo_leg_prices = req.order_combo_leg_prices
        old.transmit = req.transmit
        if order.status == "PendingSubmit" and req.transmit:
            order.status = "Submitted"
        self._report_status(session, order)
        self._evaluate(order)

    def _report_status(self, session: _Session | None, order: WorkingOrder) -> None:
        if session is None:
            return
        session.send(
            p.open_order(order.req, order.client_id, order.perm_id, OrderStateSpec(order.status))
        )
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

    def _on_cancel_order(self, session: _Session, fields: list[str]) -> None:
        order_id = int(fields[2])
        try:
            order = self.order(order_id, session.client_id)
        except KeyError:
            order = None
        if order is None or not order.is_working:
            message = f"OrderId {order_id} that needs to be cancelled is not found."
            session.send(p.error(order_id, 10147, message))
            return
        self._cancel(order)

    def _cancel(self, order: WorkingOrder) -> None:
        order.status = "Cancelled"
        owner = self._owner(order.client_id)
        if owner is not None:
            owner.send(self._status_fields(order))
            owner.send(p.error(order.order_id, 202, "Order Canceled - reason:"))

    def _on_global_cancel(self, session: _Session, fields: list[str]) -> None:
        for order in self.orders:
            if order.is_working:
                self._cancel(order)

    def _send_open_orders(self, session: _Session, client_id: int | None) -> None:
        for order in self.orders:
            if not order.is_working or order.status == "PendingSubmit":
                continue
            if client_id is None or order.client_id == client_id:
                state = OrderStateSpec(order.status)
                session.send(p.open_order(order.req, order.client_id, order.perm_id, state))
                session.send(self._status_fields(order))
        session.send(p.open_order_end())

    def _on_open_orders(self, session: _Session, fields: list[str]) -> None:
        self._send_open_orders(session, session.client_id)

    def _on_all_open_orders(self, session: _Session, fields: list[str]) -> None:
        self._send_open_orders(session, None)

    def _on_completed_orders(self, session: _Session, fields: list[str]) -> None:
        session.send(p.completed_orders_end())  # completed orders are not reported yet

    def _on_req_executions(self, session: _Session, fields: list[str]) -> None:
        flt = p.parse_exec_filter(fields)
        side = {"BUY": "BOT", "SELL": "SLD"}.get(flt.side.upper(), flt.side.upper())
        since = _parse_filter_time(flt.time)
        for e in self.executions:
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
            if e.commission is not None:
                session.send(p.commission_report(e))
        session.send(p.exec_details_end(flt.req_id))

    # ---------------------------------------------------------------------- fills

    def _reevaluate_orders(self) -> None:
        for order in list(self.orders):
            if order.is_working and order.policy.mode in (FillMode.MARKETABLE, FillMode.CROSS):
                self._evaluate(order)

    def _order_quote(self, order: WorkingOrder) -> Quote | None:
        if order.req.contract.sec_type == "BAG":
            return self.scenario.combo_quote(order.req.combo_legs)
        return self.scenario.quote_for(order.req.contract)

    def _fill_price(self, order: WorkingOrder) -> float:
        if order.req.lmt_price is not None and order.req.order_type.startswith("LMT"):
            return order.req.lmt_price
        quote = self._order_quote(order)
        if quote is None:
            return order.req.lmt_price or 0.0
        side = quote.ask if order.req.action == "BUY" else quote.bid
        return side if side is not None else (quote.mid or 0.0)

    def _evaluate(self, order: WorkingOrder) -> None:
        if not order.is_working or order.status == "PendingSubmit" or order.remaining <= 0:
            return
        policy, req = order.policy, order.req
        buy = req.action == "BUY"
        limit = req.lmt_price
        if policy.mode is FillMode.IMMEDIATE:
            self._fill(order, order.remaining, self._fill_price(order))
        elif policy.mode is FillMode.PARTIAL:
            if order.filled == 0:
                qty = min(policy.quantity, order.remaining)
                self._fill(order, qty, self._fill_price(order))
        elif policy.mode is FillMode.CROSS:
            threshold = policy.price if policy.price is not None else 0.0
            if limit is None or (limit >= threshold - 1e-9 if buy else limit <= threshold + 1e-9):
                self._fill(order, order.remaining, self._fill_price(order))
        elif policy.mode is FillMode.MARKETABLE:
            quote = self._order_quote(order)
            if quote is None:
                return
            touch = quote.ask if buy else quote.bid
            if touch is None:
                return
            if limit is None or (limit >= touch - 1e-9 if buy else limit <= touch + 1e-9):
                self._fill(order, order.remaining, self._fill_price(order))

    def _new_exec_id(self, seq: int, leg: int) -> str:
        return f"0000f4ce.{seq:08x}.{leg + 1:02d}.01"

    def _leg_prices(self, order: WorkingOrder, combo_price: float) -> list[float]:
        """Split a combo fill price into leg prices consistent with the legs' quotes."""
        legs = order.req.combo_legs
        mids: list[float] = []
        for leg in legs:
            spec = self.scenario.contract_by_id(leg.con_id)
            quote = self.scenario.quote_for(spec) if spec else None
            mids.append((quote.mid if quote else None) or 0.0)
        signs = [1 if leg.action == "BUY" else -1 for leg in legs]
        combo_mid = sum(s * leg.ratio * m for s, leg, m in zip(signs, legs, mids, strict=True))
        j = max(range(len(legs)), key=lambda i: legs[i].ratio * mids[i])
        mids[j] += (combo_price - combo_mid) / (signs[j] * legs[j].ratio)
        return [round(max(m, 0.0), 4) for m in mids]

    def _fill(self, order: WorkingOrder, qty: float, price: float) -> list[ExecutionRecord]:
        if qty <= 0:
            return []
        req = order.req
        now = self.scenario.clock()
        seq = next(self._exec_seq)
        prior = order.filled
        order.filled = prior + qty
        order.avg_fill_price = round((order.avg_fill_price * prior + price * qty) / order.filled, 6)
        order.last_fill_price = price
        if order.remaining <= 1e-9:
            order.status = "Filled"
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
                exec_id=self._new_exec_id(seq, leg),
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
        self.executions.extend(records)

        owner = self._owner(order.client_id)
        if owner is not None:
            for rec in records:
                owner.send(p.exec_details(-1, rec))
            owner.send(self._status_fields(order))
            owner.send(
                p.open_order(req, order.client_id, order.perm_id, OrderStateSpec(order.status))
            )
            for rec in records:
                if rec.commission is not None:
                    owner.send(p.commission_report(rec))
        for rec in records:
            if rec.contract.sec_type != "BAG":
                self._apply_position(order.account, rec)
        return records

    def _apply_position(self, account: str, rec: ExecutionRecord) -> None:
        key = (account, rec.contract.con_id)
        multiplier = float(rec.contract.multiplier or 1)
        signed = rec.shares if rec.side == "BOT" else -rec.shares
        cost = rec.price * multiplier
        pos = self.positions.get(key)
        if pos is None:
            pos = self.positions[key] = PositionState(account, rec.contract, 0.0, 0.0)
        new_qty = pos.quantity + signed
        flipped = new_qty != 0 and pos.quantity != 0 and (pos.quantity > 0) != (new_qty > 0)
        if pos.quantity == 0 or flipped:
            pos.avg_cost = cost  # opened, or flipped through zero
        elif (pos.quantity > 0) == (signed > 0):
            pos.avg_cost = (pos.avg_cost * abs(pos.quantity) + cost * abs(signed)) / abs(new_qty)
        pos.quantity = new_qty
        if new_qty == 0:
            pos.avg_cost = 0.0
        for session in self._live_sessions():
            if session.positions_subscribed:
                session.send(p.position(account, pos.contract, pos.quantity, pos.avg_cost))
            if account in session.account_subscriptions:
                session.send(self._portfolio_fields(pos))


def _ignore(session: _Session, fields: list[str]) -> None:
    """Handler for messages that need no answer."""


def _parse_filter_time(text: str) -> float | None:
    """ExecutionFilter.time ("yyyymmdd hh:mm:ss", optional time zone) as epoch seconds."""
    if not text:
        return None
    try:
        return datetime.strptime(text[:17], "%Y%m%d %H:%M:%S").astimezone().timestamp()
    except ValueError:
        try:
            return datetime.strptime(text[:17], "%Y%m%d-%H:%M:%S").astimezone().timestamp()
        except ValueError:
            return None
