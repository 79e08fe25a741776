"""Tests for daemon.shutdown: stopping ``alvh run`` at any phase within the grace.

Everything runs in-process with stand-ins for the journal, broker, scheduler
and notifier; the subprocess tests against the fake TWS are in
``test_run_stop.py``. Times are wall seconds; the grace is a few seconds so a
test that waits for it stays short.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from daemon.brokers.base import BrokerError
from daemon.brokers.ib.errors import ClientIdInUseError
from daemon.config import load_config
from daemon.exits import ExitStatus
from daemon.journal import Journal
from daemon.live import LiveOptions, run_live
from daemon.scheduling.jobs import JobName
from daemon.service import SdNotifier, status_head
from daemon.shutdown import Shutdown, stop_grace_s
from daemon.signals import latch_stop_signals, take_pending_stop
from tests.daemon.scripted_broker import Gateway, ScriptedBroker


class Log:
    """A structlog-like logger that records ``(level, event, fields)``."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []

    def bind(self, **_fields: Any) -> Log:
        return self

    def __getattr__(self, level: str) -> Callable[..., None]:
        def record(event: str, **fields: Any) -> None:
            self.events.append((level, event, fields))

        return record

    def names(self) -> list[str]:
        return [event for _, event, _ in self.events]

    def find(self, event: str) -> dict[str, Any]:
        return next(fields for _, name, fields in self.events if name == event)


class Notifier(SdNotifier):
    """Records what would go to systemd."""

    def __init__(self) -> None:
        super().__init__("")
        self.sent: list[str] = []

    def notify(self, *assignments: str) -> bool:
        self.sent.append("\n".join(assignments))
        return True


class FakeJournal:
    def __init__(self) -> None:
        self.finished: dict[int, Any] = {}
        self.closed = False

    def summary(self, run_id: int) -> dict[str, Any]:
        return {"run": run_id}

    def finish_run(self, run_id: int, summary: Any) -> None:
        self.finished[run_id] = summary

    def close(self) -> None:
        self.closed = True


class FakeBroker:
    def __init__(self) -> None:
        self.disconnected = False

    async def disconnect(self) -> None:
        self.disconnected = True


class FakeScheduler:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def pause(self) -> None:
        self.calls.append("pause")

    def shutdown(self, wait: bool = True) -> None:
        self.calls.append(f"shutdown(wait={wait})")


def _shutdown(grace_s: float = 2.0) -> tuple[Shutdown, asyncio.Event, Log, Notifier]:
    stop = asyncio.Event()
    log, notifier = Log(), Notifier()
    return Shutdown(stop, grace_s, log, notifier), stop, log, notifier


def _wire(shutdown: Shutdown) -> tuple[FakeJournal, FakeBroker]:
    journal, broker = FakeJournal(), FakeBroker()
    shutdown.run_started(journal, 7)
    shutdown.broker = broker
    return journal, broker


def _later(delay: float, action: Callable[[], None]) -> None:
    asyncio.get_running_loop().call_later(delay, action)


# --------------------------------------------------------------------------- grace


def test_stop_grace_from_config() -> None:
    assert stop_grace_s(load_config(None)) == 60.0
    with pytest.raises(ValueError):
        Shutdown(asyncio.Event(), 0, Log(), Notifier())


def test_reserve_is_a_quarter_of_the_grace_at_most_fifteen_seconds() -> None:
    short = Shutdown(asyncio.Event(), 4, Log(), Notifier())
    assert (short.reserve_s, short.cancel_wait_s) == (1.0, 0.75)
    default = Shutdown(asyncio.Event(), 60, Log(), Notifier())
    assert (default.reserve_s, default.cancel_wait_s) == (15.0, 11.25)
    assert Shutdown(asyncio.Event(), 200, Log(), Notifier()).reserve_s == 15.0


# --------------------------------------------------------------------------- phases


async def test_stop_before_ready_abandons_start_up_and_finishes_the_run() -> None:
    shutdown, _stop, log, notifier = _shutdown()
    reached: list[str] = []

    async def body() -> int:
        _wire(shutdown)
        reached.append("connecting")
        await asyncio.sleep(3600)  # a connect that never answers
        reached.append("after connect")
        return 0

    _later(0.05, lambda: shutdown.request_stop("SIGTERM"))
    started = time.monotonic()
    code = await asyncio.wait_for(shutdown.run(body()), 5)
    assert code == ExitStatus.OK
    assert time.monotonic() - started < 1.0
    assert reached == ["connecting"]
    journal = shutdown._journal
    assert journal.finished == {7: {"run": 7}} and journal.closed
    assert shutdown.broker.disconnected
    assert log.find("stop_requested")["phase"] == "starting"
    assert log.names()[-1] == "stopped"
    assert notifier.sent[0].startswith("STOPPING=1\nSTATUS=stopping (SIGTERM, starting)")


async def test_real_sigterm_is_routed_to_the_stop() -> None:
    shutdown, _stop, log, _ = _shutdown()
    shutdown.install_signal_handlers()

    async def body() -> int:
        _wire(shutdown)
        await asyncio.sleep(3600)
        return 0

    _later(0.05, lambda: os.kill(os.getpid(), signal.SIGTERM))
    assert await asyncio.wait_for(shutdown.run(body()), 5) == ExitStatus.OK
    assert log.find("stop_requested")["signal"] == "SIGTERM"
    # the handlers are gone after the close: SIGTERM is the default again
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_latched_signals_are_remembered_not_fatal() -> None:
    restore = latch_stop_signals()
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)  # handlers run between bytecodes of the main thread
    finally:
        restore()
    assert take_pending_stop() == "SIGTERM"
    assert take_pending_stop() is None
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


async def test_a_signal_latched_before_the_loop_stops_the_run_before_it_starts() -> None:
    shutdown, _stop, log, _ = _shutdown()
    started: list[str] = []
    restore = latch_stop_signals()
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(0.01)
        shutdown.install_signal_handlers()
    finally:
        restore()

    async def body() -> int:
        started.append("body")
        return ExitStatus.BROKER

    assert await asyncio.wait_for(shutdown.run(body()), 5) == ExitStatus.OK
    assert started == []
    assert log.find("stop_requested") == {"signal": "SIGTERM", "phase": "starting", "grace_s": 2.0}


async def test_stop_event_set_by_a_caller_stops_too() -> None:
    shutdown, stop, log, _ = _shutdown()

    async def body() -> int:
        _wire(shutdown)
        await asyncio.sleep(3600)
        return 0

    _later(0.05, stop.set)
    assert await asyncio.wait_for(shutdown.run(body()), 5) == ExitStatus.OK
    assert log.find("stop_requested")["signal"] == "stop event"


async def test_idle_stop_after_ready() -> None:
    shutdown, _stop, log, _ = _shutdown()
    scheduler = FakeScheduler()

    async def body() -> int:
        _wire(shutdown)
        shutdown.serving(scheduler)
        await shutdown.wait()
        return ExitStatus.OK

    _later(0.05, lambda: shutdown.request_stop("SIGTERM"))
    assert await asyncio.wait_for(shutdown.run(body()), 5) == ExitStatus.OK
    assert scheduler.calls == ["pause", "shutdown(wait=False)"]
    assert log.find("stop_requested")["phase"] == "serving"
    assert shutdown._journal.finished == {7: {"run": 7}}


async def test_a_running_job_may_finish_within_the_grace() -> None:
    shutdown, _stop, log, _ = _shutdown(grace_s=2.0)
    finished: list[str] = []

    async def entry() -> str:
        await asyncio.sleep(0.3)
        finished.append("entry")
        return "done"

    async def body() -> int:
        _wire(shutdown)
        shutdown.serving(FakeScheduler())
        assert await shutdown.job("entry", entry()) == "done"
        await shutdown.wait()
        return ExitStatus.OK

    _later(0.05, lambda: shutdown.request_stop("SIGTERM"))
    assert await asyncio.wait_for(shutdown.run(body()), 5) == ExitStatus.OK
    assert finished == ["entry"]
    assert log.find("waiting_for_jobs")["jobs"] == ["entry"]
    assert "job_cancelled" not in log.names()


async def test_a_job_past_the_grace_is_cancelled_and_the_stop_stays_within_it() -> None:
    grace = 2.0
    shutdown, _stop, log, _ = _shutdown(grace_s=grace)
    seen: list[str] = []
    job_returned: list[object] = []

    async def walk() -> None:
        try:
            await asyncio.sleep(3600)  # an order the market never fills
        except asyncio.CancelledError:
            seen.append("cancelled")  # the adapter cancels its order here and re-raises
            raise

    async def body() -> int:
        _wire(shutdown)
        shutdown.serving(FakeScheduler())
        job_returned.append(await shutdown.job("entry", walk()))
        await shutdown.wait()
        return ExitStatus.OK

    _later(0.05, lambda: shutdown.request_stop("SIGTERM"))
    started = time.monotonic()
    code = await asyncio.wait_for(shutdown.run(body()), 10)
    elapsed = time.monotonic() - started
    assert code == ExitStatus.OK
    assert seen == ["cancelled"] and job_returned == [None]
    # cancelled at grace - reserve after the signal, and all done within the grace
    assert grace - shutdown.reserve_s - 0.1 < elapsed < grace + 0.05
    cancelled = log.find("job_cancelled")
    assert cancelled["job"] == "entry" and cancelled["reason"] == "stop grace reached"
    assert shutdown._journal.finished == {7: {"run": 7}}


async def test_second_signal_cancels_jobs_at_once() -> None:
    shutdown, _stop, log, _ = _shutdown(grace_s=30.0)

    async def body() -> int:
        _wire(shutdown)
        shutdown.serving(FakeScheduler())
        await shutdown.job("manage", asyncio.sleep(3600))
        await shutdown.wait()
        return ExitStatus.OK

    _later(0.05, lambda: shutdown.request_stop("SIGTERM"))
    _later(0.2, lambda: shutdown.request_stop("SIGINT"))
    started = time.monotonic()
    assert await asyncio.wait_for(shutdown.run(body()), 10) == ExitStatus.OK
    assert time.monotonic() - started < 2.0
    assert log.find("job_cancelled")["reason"] == "second signal"
    assert "stop_forced" in log.names()


async def test_no_job_starts_once_stopping() -> None:
    shutdown, _stop, log, _ = _shutdown()
    ran: list[str] = []

    async def job() -> None:
        ran.append("job")

    async def body() -> int:
        _wire(shutdown)
        shutdown.serving(FakeScheduler())
        await shutdown.wait()
        assert await shutdown.job("manage", job()) is None
        return ExitStatus.OK

    _later(0.05, lambda: shutdown.request_stop("SIGTERM"))
    assert await asyncio.wait_for(shutdown.run(body()), 5) == ExitStatus.OK
    assert ran == []
    assert log.find("job_not_started")["job"] == "manage"


async def test_job_errors_reach_the_caller() -> None:
    shutdown, _stop, _log, _ = _shutdown()

    async def failing() -> None:
        raise RuntimeError("no chain")

    with pytest.raises(RuntimeError, match="no chain"):
        await shutdown.job("entry", failing())


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (TimeoutError(), "TimeoutError: a request to the gateway got no answer within its timeout"),
        (BrokerError("not connected to TWS/Gateway"), "not connected to TWS/Gateway"),
        (ConnectionRefusedError(111, "Connect call failed"), "ConnectionRefusedError: "),
    ],
)
async def test_unanswered_start_up_request_is_exit_4_without_traceback(
    error: BaseException, reason: str
) -> None:
    shutdown, _stop, log, _ = _shutdown()

    async def body() -> int:
        _wire(shutdown)
        raise error

    assert await asyncio.wait_for(shutdown.run(body()), 5) == ExitStatus.BROKER
    level, _event, fields = next(e for e in log.events if e[1] == "broker_unavailable")
    assert level == "error" and fields["reason"].startswith(reason)
    assert "exc_info" not in fields
    assert shutdown._journal.finished == {7: {"error": fields["reason"]}}
    assert shutdown._journal.closed and shutdown.broker.disconnected


async def test_body_status_and_failure_reason_are_kept() -> None:
    shutdown, _stop, _log, _ = _shutdown()

    async def body() -> int:
        _wire(shutdown)
        shutdown.failed("account U7654321 is not a paper account")
        return ExitStatus.UNSAFE_ACCOUNT

    assert await shutdown.run(body()) == ExitStatus.UNSAFE_ACCOUNT
    assert shutdown._journal.finished == {7: {"error": "account U7654321 is not a paper account"}}


async def test_a_bug_propagates_after_the_run_is_finished() -> None:
    shutdown, _stop, _log, _ = _shutdown()

    async def body() -> int:
        _wire(shutdown)
        shutdown.serving(FakeScheduler())
        raise KeyError("oops")

    with pytest.raises(KeyError):
        await shutdown.run(body())
    assert shutdown._journal.finished == {7: {"error": "crashed: KeyError: 'oops'"}}
    assert shutdown._journal.closed


# --------------------------------------------------------------------------- run_live


class StubBroker:
    """Just enough broker for run_live's start-up: ``connect`` does what the test says."""

    name = "stub"
    account_id = None

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._connect = connect
        self.disconnected = False

    async def connect(self) -> None:
        await self._connect()

    async def disconnect(self) -> None:
        self.disconnected = True

    def add_fill_listener(self, _listener: Any) -> None:
        pass

    def add_settlement_listener(self, _listener: Any) -> None:
        pass


def _runs(path: Path) -> list[Any]:
    journal = Journal.open(path, read_only=True)
    try:
        return journal.runs()
    finally:
        journal.close()


async def test_run_live_stopped_while_connecting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALVH_JOURNAL__PATH", str(tmp_path / "j.sqlite"))
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    stop = asyncio.Event()

    async def hang() -> None:
        await asyncio.sleep(3600)

    broker = StubBroker(hang)
    notifier = Notifier()
    _later(0.2, stop.set)
    code = await asyncio.wait_for(
        run_live(load_config(None), Log(), LiveOptions(), broker, notifier, stop), 10
    )
    assert code == ExitStatus.OK and broker.disconnected
    (run,) = _runs(tmp_path / "j.sqlite")
    assert run.finished_at is not None
    assert not any(n.startswith("READY=1") for n in notifier.sent)


async def test_run_live_start_up_timeout_is_exit_4(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALVH_JOURNAL__PATH", str(tmp_path / "j.sqlite"))

    async def unanswered() -> None:
        async with asyncio.timeout(0.05):
            await asyncio.sleep(1)

    log = Log()
    code = await asyncio.wait_for(
        run_live(load_config(None), log, LiveOptions(), StubBroker(unanswered), Notifier()), 10
    )
    assert code == ExitStatus.BROKER
    errors = [(event, fields) for level, event, fields in log.events if level == "error"]
    assert len(errors) == 1 and errors[0][0] == "broker_unavailable"
    (run,) = _runs(tmp_path / "j.sqlite")
    assert run.finished_at is not None


# --------------------------------------------------------------------------- STATUS


class _Adapter:
    def __init__(self, account_id: str | None, market_data_type: Any = None) -> None:
        self.account_id = account_id
        if market_data_type is not None:
            self.market_data_type = market_data_type


@pytest.mark.parametrize(
    ("broker", "requested", "head"),
    [
        (_Adapter("DU123456", 3), 1, "paper DU123456 data=3(delayed)"),
        (_Adapter("DU123456"), 3, "paper DU123456 data=3(delayed)"),
        (_Adapter("DU123456", 1), 3, "paper DU123456 data=1(live)"),
        (_Adapter(None), 4, "paper account=? data=4(delayed-frozen)"),
        (object(), None, "paper account=? data=?"),
    ],
)
def test_status_head(broker: object, requested: int | None, head: str) -> None:
    assert status_head("paper", broker, requested) == head


async def test_client_id_lost_while_serving_stops_with_exit_6(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another client took our id while we reconnected (326): every later request
    # raises ClientIdInUseError. No retry can cure that, so the daemon stops with
    # the no-restart status instead of failing every job until someone looks.
    monkeypatch.setenv("ALVH_JOURNAL__PATH", str(tmp_path / "j.sqlite"))
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    broker = ScriptedBroker(lambda: datetime(2026, 11, 20, 20, 30, tzinfo=UTC), Gateway())
    broker.errors["market_context"] = ClientIdInUseError("IB error 326: client id 17 is in use")
    log = Log()
    drill = datetime(2026, 11, 20, 20, 30, tzinfo=UTC)  # a Friday session, 15:30 New York
    options = LiveOptions(now=drill, run_jobs=(JobName.ENTRY,))
    code = await asyncio.wait_for(run_live(load_config(None), log, options, broker, Notifier()), 20)
    assert code == ExitStatus.CLIENT_ID_IN_USE
    errors = [event for level, event, _ in log.events if level == "error"]
    assert "client_id_in_use" in errors and "job_failed" not in errors
    (run,) = _runs(tmp_path / "j.sqlite")
    assert run.finished_at is not None
