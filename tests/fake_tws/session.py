"""One client connection of the fake TWS, and the records of what crossed the wire."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from . import protocol as p
from .wire import ContractSpec, MktDataRequest


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
class Subscription:
    """A streaming market-data line of one session."""

    req: MktDataRequest
    contract: ContractSpec
    con_ids: set[int]


class Session:
    """One client connection: its socket, client id and subscriptions."""

    def __init__(
        self,
        conn_id: int,
        writer: asyncio.StreamWriter,
        record: Callable[[ServerMessage], None],
    ) -> None:
        """Wrap ``writer``; every message sent is passed to ``record``."""
        self.conn_id = conn_id
        self.writer = writer
        self._record = record
        self.client_id = -1
        self.api_started = False
        #: Nothing is written while muted (a muted request, a dropped client).
        self.muted = False
        self.closed = False
        self.market_data_type: int | None = None
        self.subscriptions: dict[int, Subscription] = {}
        self.positions_subscribed = False
        self.account_subscriptions: set[str] = set()

    @property
    def live(self) -> bool:
        """Whether the session has started the API and is still open."""
        return self.api_started and not self.closed

    def send(self, fields: list[object]) -> None:
        """Encode and write one message unless the session is muted or closed."""
        if self.muted or self.closed or self.writer.is_closing():
            return
        self.writer.write(p.encode_fields(fields))
        self._record(ServerMessage(self.conn_id, self.client_id, [p.fmt(f) for f in fields]))

    def close(self) -> None:
        """Close the socket (the client sees the peer close the connection)."""
        if not self.closed:
            self.closed = True
            self.writer.close()
