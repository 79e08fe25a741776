"""The API session to TWS / IB Gateway: connect, reconnect, connectivity codes, bounded requests.

One :class:`Connection` owns the ib_async client of an :class:`~daemon.brokers.ib.IBBroker`
and everything about the session itself:

* :meth:`Connection.connect` makes ``connect_attempts`` attempts, each bounded
  by ``connect_timeout_s`` (handshake, ib_async's start-up sync and the
  session handlers, e.g. the executions request). Live mode with a delayed
  ``market_data_type`` is refused before any socket is opened
  (:class:`~daemon.brokers.ib.errors.DelayedDataRefusedError`).
* After the handshake the account guard runs
  (:func:`~daemon.brokers.ib.safety.check_accounts`); a refusal is fatal:
  :class:`~daemon.brokers.ib.safety.UnsafeAccountError`, no reconnect, every
  later call raises it.
* Error 326 (client id in use) is fatal too: connect raises
  :class:`~daemon.brokers.ib.errors.ClientIdInUseError`; the client id is
  never changed, because only the id that placed an order may modify or
  cancel it.
* A dropped socket, or 1100 not followed by 1101/1102 within
  ``link_grace_s``, reconnects with exponential backoff
  (``reconnect_initial_s`` doubling to ``reconnect_max_s``). 1101/1102 call the
  restore handlers (market data re-subscribes on 1101; executions are read
  again on both).
* :meth:`Connection.bounded` is how every request is awaited: a request IB
  does not answer within ``request_timeout_s`` raises
  :class:`~daemon.brokers.ib.errors.RequestTimeoutError` (a ``BrokerError``),
  never a bare ``TimeoutError``.

The other parts of the adapter hook in through plain lists of callbacks:
``error_handlers`` (every IB error message), ``update_handlers`` (after
every batch of IB messages), ``session_handlers`` (awaited inside every
connection attempt, after the account guard) and ``restore_handlers``
(1101/1102; the argument says whether market data was lost).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from datetime import date, datetime
from typing import Any, TypeVar

from ib_async import IB, Contract

from daemon.brokers.base import BrokerError
from daemon.brokers.ib.errors import (
    ClientIdInUseError,
    DelayedDataRefusedError,
    ErrorAction,
    ErrorPolicy,
    RequestTimeoutError,
    classify,
)
from daemon.brokers.ib.safety import UnsafeAccountError, check_accounts
from daemon.brokers.ib.settings import DELAYED_TYPES, IBSettings
from daemon.clock import NEW_YORK

_T = TypeVar("_T")

#: ``handler(req_id, code, message, contract, policy)``; True asks to log the message quietly.
ErrorHandler = Callable[[int, int, str, Contract | None, ErrorPolicy], bool]


class NullLog:
    """A logger that drops everything (used when the adapter is given none)."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


class Connection:
    """The session to TWS / IB Gateway; see the module docstring.

    Args:
        settings: the adapter's settings.
        log: structlog-style logger.
        clock: current timezone-aware time (session date, settlement cut-off).
        ib: the ib_async client.
    """

    def __init__(
        self, settings: IBSettings, log: Any, clock: Callable[[], datetime], ib: IB
    ) -> None:
        self.settings = settings
        self.log = log
        self.ib = ib
        self._clock = clock
        #: The account every order carries, once the guard has passed.
        self.account_id: str | None = None
        #: API messages sent, by kind, since construction (for logging and tests).
        self.request_counts: Counter[str] = Counter()
        self.error_handlers: list[ErrorHandler] = []
        self.update_handlers: list[Callable[[], None]] = []
        self.session_handlers: list[Callable[[], Awaitable[None]]] = []
        self.restore_handlers: list[Callable[[bool], None]] = []
        self.throttling = False
        self._update = asyncio.Event()
        self._connected = asyncio.Event()
        self._closing = False
        self._connecting = False
        self._saw_326 = False
        self._fatal: BrokerError | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._link_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        ib.client.MaxRequests = settings.max_msgs_per_s
        ib.errorEvent += self._on_error
        ib.disconnectedEvent += self._on_disconnected
        ib.updateEvent += self.notify
        ib.client.throttleStart += self._on_throttle_start
        ib.client.throttleEnd += self._on_throttle_end

    # ----------------------------------------------------------------- state

    @property
    def client_id(self) -> int:
        """Our API client id (never changed)."""
        return self.settings.client_id

    @property
    def connected(self) -> bool:
        """Whether the API session is up and the account guard has passed."""
        return self._connected.is_set() and self.ib.isConnected()

    @property
    def closing(self) -> bool:
        """Whether no reconnect will come: :meth:`disconnect` was called, or a fatal refusal."""
        return self._closing

    def now(self) -> datetime:
        """The adapter's clock (timezone-aware)."""
        return self._clock()

    def session(self) -> date:
        """Today's date in New York (the session date)."""
        return self._clock().astimezone(NEW_YORK).date()

    # ------------------------------------------------------------ connecting

    async def connect(self) -> None:
        """Connect, run the account guard and the session handlers.

        Raises:
            DelayedDataRefusedError: live mode with market_data_type 3 or 4
                (nothing was opened).
            UnsafeAccountError: the login manages an account the configuration
                does not allow trading (nothing was sent).
            ClientIdInUseError: IB says our client id is in use (326).
            BrokerError: TWS/Gateway could not be reached, or did not answer,
                in ``connect_attempts`` attempts.
        """
        s = self.settings
        if s.live and s.market_data_type in DELAYED_TYPES:
            self.log.error("ib_delayed_data_refused", market_data_type=s.market_data_type)
            raise DelayedDataRefusedError(
                f"broker.trading_mode is 'live' but broker.market_data_type is "
                f"{s.market_data_type} (delayed); live trading needs 1 (live) or 2 (frozen)"
            )
        self._closing = False
        self._fatal = None
        await self._connect_with_retries(s.connect_attempts)

    async def disconnect(self) -> None:
        """Close the session and stop reconnecting (background tasks are cancelled)."""
        self._closing = True
        current = asyncio.current_task()
        for task in (self._reconnect_task, self._link_task, *self._tasks):
            if task is not None and not task.done() and task is not current:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._connected.clear()
        if self.ib.isConnected():
            self.ib.disconnect()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` in the background; :meth:`disconnect` cancels it."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _connect_with_retries(self, attempts: int | None) -> None:
        s = self.settings
        delay = s.reconnect_initial_s
        attempt = 0
        while not self._closing:
            attempt += 1
            try:
                await self._connect_once()
                return
            except (UnsafeAccountError, ClientIdInUseError):
                raise
            except (OSError, ConnectionError, TimeoutError, BrokerError) as exc:
                if self._saw_326:
                    raise self._refuse_client_id() from exc
                error = str(exc) or type(exc).__name__
                self.log.warning(
                    "ib_connect_failed", host=s.host, port=s.port, attempt=attempt, error=error
                )
                if attempts is not None and attempt >= attempts:
                    raise BrokerError(
                        f"cannot connect to TWS/Gateway at {s.host}:{s.port} after {attempt} "
                        f"attempts: {error}"
                    ) from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, s.reconnect_max_s)

    async def _connect_once(self) -> None:
        s = self.settings
        self._saw_326 = False
        self._connecting = True
        try:
            if self.ib.isConnected():
                self.ib.disconnect()
            await self._handshake()
            managed = self.ib.managedAccounts()
            try:
                self.account_id = check_accounts(managed, s.trading_mode, s.account)
            except UnsafeAccountError as exc:
                self._fatal = exc
                self._closing = True
                self.log.error("ib_unsafe_account", managed_accounts=managed, reason=str(exc))
                self.ib.disconnect()
                raise
            self.ib.reqMarketDataType(s.market_data_type)
            for handler in self.session_handlers:
                await handler()
        except BaseException:
            if self.ib.isConnected():
                self.ib.disconnect()
            raise
        finally:
            self._connecting = False
        self._connected.set()
        self.notify()
        self.log.info(
            "ib_connected",
            host=s.host,
            port=s.port,
            client_id=s.client_id,
            account=self.account_id,
            trading_mode=s.trading_mode,
            market_data_type=s.market_data_type,
        )

    async def _handshake(self) -> None:
        """ib_async's connect and start-up sync, bounded, and ended early if the socket closes.

        ib_async would wait out its timeout when TWS closes the socket during
        the handshake (as it does after 326); this returns at once instead.

        Raises:
            TimeoutError: no answer within ``connect_timeout_s``.
            ConnectionError, OSError: the connection failed or was closed.
        """
        s = self.settings
        lost: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def on_lost(message: str = "") -> None:
            if not lost.done():
                lost.set_result(message or "connection closed")

        # ib_async emits neither apiError nor disconnectedEvent when the socket
        # closes before the server's hello; its connection's own event says so
        socket_closed = self.ib.client.conn.disconnected
        self.ib.client.apiError += on_lost
        self.ib.disconnectedEvent += on_lost
        socket_closed += on_lost
        attempt = asyncio.ensure_future(
            self.ib.connectAsync(s.host, s.port, clientId=s.client_id, timeout=s.connect_timeout_s)
        )
        try:
            async with asyncio.timeout(s.connect_timeout_s):
                await asyncio.wait({attempt, lost}, return_when=asyncio.FIRST_COMPLETED)
            finished = attempt.done()
        except TimeoutError as exc:
            raise TimeoutError(
                f"no answer within connect_timeout_s={s.connect_timeout_s:g}s "
                "(handshake or start-up requests)"
            ) from exc
        finally:
            self.ib.client.apiError -= on_lost
            self.ib.disconnectedEvent -= on_lost
            socket_closed -= on_lost
            if not attempt.done():
                attempt.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await attempt
        if not finished:
            raise ConnectionError(f"TWS/Gateway closed the connection: {lost.result()}")
        attempt.result()

    def _refuse_client_id(self) -> ClientIdInUseError:
        s = self.settings
        error = ClientIdInUseError(
            f"client id {s.client_id} is in use at {s.host}:{s.port}: another API client "
            "(possibly another alvh) is connected with it; stop it or set broker.client_id"
        )
        self._fatal = error
        self._closing = True
        self.log.error("ib_client_id_in_use", client_id=s.client_id, host=s.host, port=s.port)
        self.notify()
        return error

    def _on_disconnected(self) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        self.notify()
        if self._closing or self._connecting or not was:
            return
        self.log.warning("ib_disconnected", client_id=self.client_id)
        self._start_reconnect()

    def _start_reconnect(self) -> None:
        if self._reconnect_task is None or self._reconnect_task.done():
            self._reconnect_task = asyncio.ensure_future(self._reconnect())

    async def _reconnect(self) -> None:
        try:
            await self._connect_with_retries(None)
        except (UnsafeAccountError, ClientIdInUseError):
            pass  # logged; self._fatal makes every later call raise it
        except Exception as exc:  # pragma: no cover - defensive: never lose the task silently
            self.log.error("ib_reconnect_failed", error=repr(exc))

    async def ready(self, timeout: float | None = None) -> None:
        """Wait until the session is usable (starting a reconnect if none runs).

        Args:
            timeout: seconds to wait; ``request_timeout_s`` when ``None``.

        Raises:
            UnsafeAccountError, ClientIdInUseError: a fatal refusal happened.
            BrokerError: still not connected after ``timeout`` seconds, or
                :meth:`disconnect` was called.
        """
        if self._fatal is not None:
            raise self._fatal
        if self.connected:
            return
        if self._reconnect_task is None or self._reconnect_task.done():
            if self._closing:
                raise BrokerError("IB broker is disconnected")
            self._start_reconnect()
        wait = self.settings.request_timeout_s if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while not self.connected:
            if self._fatal is not None:
                raise self._fatal
            remaining = deadline - loop.time()
            if remaining <= 0:
                s = self.settings
                raise BrokerError(
                    f"not connected to TWS/Gateway at {s.host}:{s.port} (waited {wait:g}s)"
                )
            await self.wait_update(min(remaining, 0.5))

    # -------------------------------------------------------------- requests

    async def bounded(
        self, awaitable: Awaitable[_T], what: str, timeout: float | None = None
    ) -> _T:
        """``await awaitable`` for at most ``timeout`` seconds (``request_timeout_s``).

        Args:
            awaitable: the ib_async request.
            what: the request, for the error message and the log (``reqExecutions``).
            timeout: seconds; ``request_timeout_s`` when ``None``.

        Raises:
            RequestTimeoutError: no answer in time (``ib_request_timeout`` is logged).
            BrokerError: the socket is not connected.
        """
        wait = self.settings.request_timeout_s if timeout is None else timeout
        try:
            async with asyncio.timeout(wait):
                return await awaitable
        except TimeoutError as exc:
            self.request_counts["timeouts"] += 1
            self.log.warning("ib_request_timeout", request=what, timeout_s=wait)
            raise RequestTimeoutError(f"IB did not answer {what} within {wait:g}s") from exc
        except ConnectionError as exc:
            raise BrokerError(f"{what}: not connected to TWS/Gateway ({exc})") from exc

    def notify(self, *_args: Any) -> None:
        """Run the update handlers and wake every waiter (after each batch of IB messages)."""
        for handler in self.update_handlers:
            handler()
        event, self._update = self._update, asyncio.Event()
        event.set()

    async def wait_update(self, timeout: float) -> None:
        """Sleep until the next batch of IB messages or ``timeout`` seconds."""
        event = self._update
        # asyncio.timeout, not wait_for: wait_for can swallow a cancellation on 3.11
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(timeout, 0.0)):
                await event.wait()

    def _on_throttle_start(self) -> None:
        """ib_async started queueing messages to stay under ``max_msgs_per_s``."""
        self.throttling = True
        self.request_counts["throttled"] += 1
        self.log.debug("ib_throttle_start", max_msgs_per_s=self.settings.max_msgs_per_s)

    def _on_throttle_end(self) -> None:
        self.throttling = False
        self.notify()

    # ---------------------------------------------------------------- errors

    def _on_error(self, req_id: int, code: int, message: str, contract: Contract | None) -> None:
        policy = classify(code)
        fields: dict[str, Any] = {"code": code, "req_id": req_id, "message": message}
        if contract is None and req_id > 0:
            ticker = self.ib.wrapper.reqId2Ticker.get(req_id)
            contract = ticker.contract if ticker is not None else None
        if contract is not None and contract.conId:
            fields["contract"] = contract.localSymbol or contract.symbol
        quiet = False
        for handler in self.error_handlers:
            quiet = handler(req_id, code, message, contract, policy) or quiet
        level = "debug" if quiet else policy.severity.value
        getattr(self.log, level)("ib_error", meaning=policy.meaning, **fields)
        action = policy.action
        if action is ErrorAction.CLIENT_ID_IN_USE:
            self._saw_326 = True
        elif action is ErrorAction.CONNECTIVITY_LOST:
            self._link_lost()
        elif action is ErrorAction.RESTORED_DATA_LOST:
            self._link_restored(resubscribe=True)
        elif action is ErrorAction.RESTORED:
            self._link_restored(resubscribe=False)
        self.notify()

    def _link_lost(self) -> None:
        if self._link_task is None or self._link_task.done():
            self._link_task = asyncio.ensure_future(self._link_watchdog())

    async def _link_watchdog(self) -> None:
        await asyncio.sleep(self.settings.link_grace_s)
        if self._closing or not self.ib.isConnected():
            return
        self.log.warning("ib_link_not_restored", grace_s=self.settings.link_grace_s)
        self.ib.disconnect()  # emits disconnectedEvent -> reconnect with backoff

    def _link_restored(self, resubscribe: bool) -> None:
        if self._link_task is not None and not self._link_task.done():
            self._link_task.cancel()
        for handler in self.restore_handlers:
            handler(resubscribe)
