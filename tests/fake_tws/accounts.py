"""Connection start, ids, time, accounts and positions of the fake TWS."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from . import protocol as p
from .faults import CLIENT_ID_IN_USE
from .scenario import Scenario
from .session import Session
from .state import PositionState
from .wire import In

if TYPE_CHECKING:
    from .server import FakeTWS

Handler = Callable[[Session, list[str]], None]


class Accounts:
    """Serves the handshake-time and account requests of a :class:`~.server.FakeTWS`."""

    def __init__(self, server: FakeTWS) -> None:
        """Attach to ``server``."""
        self.server = server

    @property
    def scenario(self) -> Scenario:
        """The server's scenario."""
        return self.server.scenario

    def handlers(self) -> dict[int, Handler]:
        """Message id -> handler for the requests this component serves."""
        return {
            In.START_API: self._on_start_api,
            In.REQ_MANAGED_ACCTS: self._on_managed_accounts,
            In.REQ_IDS: self._on_req_ids,
            In.REQ_CURRENT_TIME: self._on_current_time,
            In.REQ_MARKET_DATA_TYPE: self._on_market_data_type,
            In.REQ_POSITIONS: self._on_req_positions,
            In.CANCEL_POSITIONS: self._on_cancel_positions,
            In.REQ_ACCOUNT_UPDATES: self._on_account_updates,
            In.REQ_ACCOUNT_UPDATES_MULTI: self._on_account_updates_multi,
            In.CANCEL_ACCOUNT_UPDATES_MULTI: lambda s, f: None,
            In.REQ_ACCOUNT_SUMMARY: self._on_account_summary,
            In.CANCEL_ACCOUNT_SUMMARY: lambda s, f: None,
        }

    # ------------------------------------------------------------------ handshake

    def _on_start_api(self, session: Session, fields: list[str]) -> None:
        client_id = int(fields[2])
        held = any(s.client_id == client_id for s in self.server.live_sessions())
        if held or self._busy(client_id):
            session.send(p.error(-1, *CLIENT_ID_IN_USE))
            self.server.drop(session)
            return
        session.client_id = client_id
        session.api_started = True
        session.send(p.next_valid_id(self.next_valid_id()))
        session.send(p.managed_accounts(self.scenario.accounts))
        for code, message in self.scenario.startup_messages:
            session.send(p.error(-1, code, message))

    def _busy(self, client_id: int) -> bool:
        busy = self.scenario.busy_client_ids
        if client_id not in busy:
            return False
        left = busy[client_id]
        if left is not None:
            if left <= 1:
                del busy[client_id]
            else:
                busy[client_id] = left - 1
        return True

    def next_valid_id(self) -> int:
        """The next order id no client has used yet."""
        state = self.server.state
        used = [o.order_id + 1 for o in state.orders]
        state.next_order_id = max([state.next_order_id, self.scenario.next_order_id, *used])
        return state.next_order_id

    def _on_managed_accounts(self, session: Session, fields: list[str]) -> None:
        session.send(p.managed_accounts(self.scenario.accounts))

    def _on_req_ids(self, session: Session, fields: list[str]) -> None:
        session.send(p.next_valid_id(self.next_valid_id()))

    def _on_current_time(self, session: Session, fields: list[str]) -> None:
        session.send(p.current_time(int(self.scenario.clock().timestamp())))

    def _on_market_data_type(self, session: Session, fields: list[str]) -> None:
        session.market_data_type = int(fields[2])

    # -------------------------------------------------------------------- account

    def _on_req_positions(self, session: Session, fields: list[str]) -> None:
        session.positions_subscribed = True
        for pos in self.server.state.positions.values():
            if pos.account in self.scenario.accounts:
                session.send(p.position(pos.account, pos.contract, pos.quantity, pos.avg_cost))
        session.send(p.position_end())

    def _on_cancel_positions(self, session: Session, fields: list[str]) -> None:
        session.positions_subscribed = False

    def push_position(self, pos: PositionState) -> None:
        """Send a position change to the sessions subscribed to positions or its account."""
        for session in self.server.live_sessions():
            if session.positions_subscribed:
                session.send(p.position(pos.account, pos.contract, pos.quantity, pos.avg_cost))
            if pos.account in session.account_subscriptions:
                session.send(self._portfolio_fields(pos))

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

    def _on_account_updates(self, session: Session, fields: list[str]) -> None:
        subscribe = fields[2] == "1"
        account = fields[3] or self.scenario.accounts[0]
        if not subscribe:
            session.account_subscriptions.discard(account)
            return
        session.account_subscriptions.add(account)
        for key, (value, currency) in self.scenario.account_values.items():
            session.send(p.account_value(key, value, currency, account))
        for pos in self.server.state.positions.values():
            if pos.account == account:
                session.send(self._portfolio_fields(pos))
        session.send(p.account_update_time(self.scenario.clock().strftime("%H:%M")))
        session.send(p.account_download_end(account))

    def _on_account_updates_multi(self, session: Session, fields: list[str]) -> None:
        req_id, account, model_code = int(fields[2]), fields[3], fields[4]
        accounts = self.scenario.accounts if account in ("", "All") else [account]
        for acct in accounts:
            for key, (value, currency) in self.scenario.account_values.items():
                session.send(p.account_update_multi(req_id, acct, model_code, key, value, currency))
        session.send(p.account_update_multi_end(req_id))

    def _on_account_summary(self, session: Session, fields: list[str]) -> None:
        req_id, tags = int(fields[2]), set(fields[4].split(","))
        for acct in self.scenario.accounts:
            for key, (value, currency) in self.scenario.account_values.items():
                if key in tags:
                    session.send(p.account_summary(req_id, acct, key, value, currency))
        session.send(p.account_summary_end(req_id))
