"""Control channel of the standalone fake TWS: read gateway state, script faults.

A second loopback port speaking newline-delimited JSON: send one object
``{"cmd": NAME, ...arguments}`` per line, get one line back,
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}``.
:class:`ControlClient` does this from a (synchronous) chaos script::

    ctl = ControlClient(control_port)
    ctl.call("state")["positions"]
    ctl.call("set_fill_policy", policy={"mode": "partial", "quantity": 1})
    ctl.call("add_mute_rule", msg_id="REQ_ALL_OPEN_ORDERS", times=1)

Commands (arguments in brackets are optional) — see :data:`COMMANDS`:

- reading: ``ping``, ``state`` (positions, open_orders, orders, executions,
  expired, next_order_id, clients), ``positions``, ``open_orders``,
  ``executions``, ``message_counts``;
- orders: ``set_fill_policy policy``, ``queue_policies policies``,
  ``add_order_rule policy [order_ref sec_type client_id times]``,
  ``set_order_policy order_id policy [client_id]``,
  ``fill_order order_id [quantity price client_id]``,
  ``cancel_order order_id [client_id]``,
  ``correct_execution exec_id [shares price]``,
  ``resend_execution exec_id [client_id]``;
- faults: ``add_drop_rule msg_id [nth handle_first outage fill_after]``,
  ``add_mute_rule msg_id [nth times handle]``,
  ``add_error_rule msg_id code message [times suppress_response con_ids]``,
  ``clear_rules``, ``set_faults [exec_details_copies commission_delay
  execution_days]``, ``hold_client_id client_id [times]``,
  ``release_client_id client_id``, ``send_error code message [req_id
  client_id]``, ``link_lost``, ``link_restored [data_lost]``,
  ``drop_connections [client_id outage]``, ``refuse_connections seconds``;
- market: ``set_quote con_id [bid ask last close]``, ``set_spot symbol price``,
  ``set_no_bid con_ids``, ``set_greeks_fault con_id fault`` (null mends),
  ``set_daily_close symbol date close``;
- time: ``set_now now`` (ISO 8601 with offset; settles expiries),
  ``process_expiries``.

A ``msg_id`` is a number or an :class:`~.wire.In` name (``"PLACE_ORDER"``);
a policy is :meth:`.FillPolicy.to_dict` form. Faults set here live in the
runner's scenario, not in the state file: a restarted runner starts without them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import socket
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from .faults import DropRule, ErrorRule, FillPolicy, GreeksFault, MuteRule, OrderRule
from .pricing import Quote
from .server import FakeTWS
from .state import ExpiredPosition, PositionState, execution_to_dict
from .wire import In

log = logging.getLogger("fake_tws.control")

Command = Callable[[FakeTWS, dict[str, Any]], Any]


def _msg_id(value: int | str) -> int:
    return int(value) if isinstance(value, int) or value.isdigit() else int(In[value])


def _position(pos: PositionState) -> dict[str, Any]:
    c = pos.contract
    return {
        "account": pos.account,
        "con_id": c.con_id,
        "symbol": c.symbol,
        "sec_type": c.sec_type,
        "expiry": c.last_trade_date,
        "strike": c.strike,
        "right": c.right,
        "trading_class": c.trading_class,
        "quantity": pos.quantity,
        "avg_cost": pos.avg_cost,
    }


def _state(tws: FakeTWS, args: dict[str, Any]) -> dict[str, Any]:
    return {
        "positions": _positions(tws, args),
        "open_orders": [o.summary() for o in tws.open_orders()],
        "orders": [o.summary() for o in tws.orders],
        "executions": [execution_to_dict(e) for e in tws.executions],
        "expired": [_expired(x) for x in tws.expired],
        "next_order_id": tws.state.next_order_id,
        "clients": tws.connected_client_ids,
    }


def _expired(x: ExpiredPosition) -> dict[str, Any]:
    row = _position(PositionState(x.account, x.contract, x.quantity, x.avg_cost))
    return {**row, "expired_at": x.expired_at.isoformat()}


def _positions(tws: FakeTWS, args: dict[str, Any]) -> list[dict[str, Any]]:
    return [_position(pos) for pos in tws.state.open_positions()]


def _add_order_rule(tws: FakeTWS, a: dict[str, Any]) -> None:
    policy = FillPolicy.from_dict(a.pop("policy"))
    tws.scenario.order_rules.append(OrderRule(policy, **a))


def _add_drop_rule(tws: FakeTWS, a: dict[str, Any]) -> None:
    tws.scenario.drop_rules.append(DropRule(**{**a, "msg_id": _msg_id(a["msg_id"])}))


def _add_mute_rule(tws: FakeTWS, a: dict[str, Any]) -> None:
    tws.scenario.mute_rules.append(MuteRule(**{**a, "msg_id": _msg_id(a["msg_id"])}))


def _add_error_rule(tws: FakeTWS, a: dict[str, Any]) -> None:
    con_ids = a.pop("con_ids", None)
    rule = ErrorRule(**{**a, "msg_id": _msg_id(a["msg_id"])})
    rule.con_ids = None if con_ids is None else frozenset(con_ids)
    tws.scenario.error_rules.append(rule)


def _clear_rules(tws: FakeTWS, a: dict[str, Any]) -> None:
    s = tws.scenario
    for rules in (s.error_rules, s.drop_rules, s.mute_rules, s.order_rules, s.order_policies):
        rules.clear()


def _set_faults(tws: FakeTWS, a: dict[str, Any]) -> None:
    allowed = {"exec_details_copies", "commission_delay", "execution_days"}
    unknown = set(a) - allowed
    if unknown:
        raise ValueError(f"unknown faults {sorted(unknown)}")
    for key, value in a.items():
        setattr(tws.scenario, key, value)


def _set_quote(tws: FakeTWS, a: dict[str, Any]) -> None:
    con_id = int(a.pop("con_id"))
    tws.set_quote(con_id, Quote(**a))


def _set_daily_close(tws: FakeTWS, a: dict[str, Any]) -> None:
    day = date.fromisoformat(a["date"])
    tws.scenario.daily_closes.setdefault(a["symbol"], {})[day] = float(a["close"])


def _set_greeks_fault(tws: FakeTWS, a: dict[str, Any]) -> None:
    fault = a.get("fault")
    tws.set_greeks_fault(int(a["con_id"]), None if fault is None else GreeksFault(fault))


def _set_now(tws: FakeTWS, a: dict[str, Any]) -> list[dict[str, Any]]:
    return [_expired(x) for x in tws.set_now(datetime.fromisoformat(a["now"]))]


#: Command name -> handler(tws, arguments) -> JSON-able result (``drop_connections``,
#: a coroutine, is handled by :meth:`ControlServer.execute` itself).
COMMANDS: dict[str, Command] = {
    "ping": lambda tws, a: "pong",
    "state": _state,
    "positions": _positions,
    "open_orders": lambda tws, a: [o.summary() for o in tws.open_orders()],
    "executions": lambda tws, a: [execution_to_dict(e) for e in tws.executions],
    "message_counts": lambda tws, a: tws.message_counts(),
    "set_fill_policy": lambda tws, a: setattr(
        tws.scenario, "fill_policy", FillPolicy.from_dict(a["policy"])
    ),
    "queue_policies": lambda tws, a: tws.scenario.order_policies.extend(
        FillPolicy.from_dict(x) for x in a["policies"]
    ),
    "add_order_rule": _add_order_rule,
    "set_order_policy": lambda tws, a: tws.set_order_policy(
        int(a["order_id"]), FillPolicy.from_dict(a["policy"]), a.get("client_id")
    ),
    "fill_order": lambda tws, a: [
        execution_to_dict(e)
        for e in tws.fill_order(
            int(a["order_id"]), a.get("quantity"), a.get("price"), a.get("client_id")
        )
    ],
    "cancel_order": lambda tws, a: tws.cancel_order(int(a["order_id"]), a.get("client_id")),
    "correct_execution": lambda tws, a: execution_to_dict(
        tws.correct_execution(a["exec_id"], a.get("shares"), a.get("price"))
    ),
    "resend_execution": lambda tws, a: tws.resend_execution(a["exec_id"], a.get("client_id")),
    "add_drop_rule": _add_drop_rule,
    "add_mute_rule": _add_mute_rule,
    "add_error_rule": _add_error_rule,
    "clear_rules": _clear_rules,
    "set_faults": _set_faults,
    "hold_client_id": lambda tws, a: tws.hold_client_id(int(a["client_id"]), a.get("times")),
    "release_client_id": lambda tws, a: tws.release_client_id(int(a["client_id"])),
    "send_error": lambda tws, a: tws.send_error(
        int(a["code"]), a["message"], int(a.get("req_id", -1)), a.get("client_id")
    ),
    "link_lost": lambda tws, a: tws.link_lost(),
    "link_restored": lambda tws, a: tws.link_restored(bool(a.get("data_lost", False))),
    "refuse_connections": lambda tws, a: tws.refuse_connections(float(a["seconds"])),
    "set_quote": _set_quote,
    "set_spot": lambda tws, a: tws.set_spot(a["symbol"], float(a["price"])),
    "set_no_bid": lambda tws, a: tws.set_no_bid(*(int(c) for c in a["con_ids"])),
    "set_greeks_fault": _set_greeks_fault,
    "set_daily_close": _set_daily_close,
    "set_now": _set_now,
    "process_expiries": lambda tws, a: len(tws.process_expiries()),
}


class ControlServer:
    """Serves :data:`COMMANDS` for one :class:`FakeTWS` on a loopback port."""

    def __init__(self, tws: FakeTWS, port: int = 0) -> None:
        """Control ``tws``; ``port`` 0 picks a free one (see :attr:`port` after start)."""
        self.tws = tws
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> ControlServer:
        """Listen on 127.0.0.1:``port``."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    async def execute(self, request: dict[str, Any]) -> dict[str, Any]:
        """Run one request and build its reply."""
        args = dict(request)
        name = str(args.pop("cmd", ""))
        try:
            if name == "drop_connections":
                await self.tws.drop_connections(args.get("client_id"), args.get("outage", 0.0))
                return {"ok": True, "result": None}
            command = COMMANDS.get(name)
            if command is None:
                raise ValueError(f"unknown command {name!r}")
            return {"ok": True, "result": command(self.tws, args)}
        except Exception as exc:  # the reply carries it; the runner goes on
            log.warning("control command %s failed: %r", name, exc)
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    request = json.loads(line)
                except ValueError as exc:
                    reply: dict[str, Any] = {"ok": False, "error": f"bad JSON: {exc}"}
                else:
                    reply = await self.execute(request)
                writer.write(json.dumps(reply, default=_jsonable).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def _jsonable(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


class ControlClient:
    """Blocking client of the control channel (one connection per call)."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 5.0) -> None:
        """Talk to the control port ``port``."""
        self.address = (host, port)
        self.timeout = timeout

    def call(self, cmd: str, **args: Any) -> Any:
        """Run ``cmd`` with ``args``; its result, or RuntimeError with the error text."""
        with socket.create_connection(self.address, timeout=self.timeout) as sock:
            sock.sendall(json.dumps({"cmd": cmd, **args}).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        reply = json.loads(data)
        if not reply.get("ok"):
            raise RuntimeError(reply.get("error", "control command failed"))
        return reply.get("result")
