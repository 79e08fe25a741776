"""Tests for daemon.service: the sd_notify client, watchdog_interval, ServiceHealth, LoopWatchdog.

A unix datagram socket in a temporary directory plays systemd's notification
socket. A receiver thread stamps every datagram with ``time.monotonic()`` on
arrival, so a test can tell *when* a beat was sent even while the event loop
under test is blocked.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon import service
from daemon.service import (
    LoopWatchdog,
    SdNotifier,
    ServiceConfig,
    ServiceHealth,
    watchdog_interval,
)

TIMEOUT = 10.0


class Receiver:
    """Collects ``(arrival_monotonic, text)`` of datagrams on a bound unix socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(0.02)
        self.messages: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.messages.append((time.monotonic(), data.decode()))

    def texts(self) -> list[str]:
        with self._lock:
            return [text for _, text in self.messages]

    def stamped(self) -> list[tuple[float, str]]:
        with self._lock:
            return list(self.messages)

    def wait_for(self, count: int, timeout: float = 2.0) -> list[str]:
        """Wait (wall time, bounded) until ``count`` datagrams arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.texts()) >= count:
                break
            time.sleep(0.005)
        return self.texts()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.sock.close()


def _short_dir(tmp_path: Path) -> Path:
    """``tmp_path``, or a shorter temp dir when a socket path would exceed sun_path (108)."""
    if len(str(tmp_path / "notify.sock")) < 100:
        return tmp_path
    return Path(tempfile.mkdtemp(prefix="alvh-sd-"))


@pytest.fixture
def receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """A datagram socket in a temp dir, exported as ``$NOTIFY_SOCKET``."""
    path = _short_dir(tmp_path) / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    rx = Receiver(sock)
    yield rx
    rx.close()
    service.default_notifier().close()


# --------------------------------------------------------------------------- notifier


def test_module_functions_send_in_order(receiver: Receiver) -> None:
    assert service.ready("connected to 127.0.0.1:4002, 4 jobs scheduled")
    assert service.status("next job entry 15:30\nET")
    assert service.watchdog()
    assert service.stopping("SIGTERM")
    texts = receiver.wait_for(4)
    assert texts == [
        "READY=1\nSTATUS=connected to 127.0.0.1:4002, 4 jobs scheduled",
        "STATUS=next job entry 15:30 ET",
        "WATCHDOG=1",
        "STOPPING=1\nSTATUS=SIGTERM",
    ]


def test_reloading_carries_monotonic_usec(receiver: Receiver) -> None:
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert service.reloading()
    (text,) = receiver.wait_for(1)
    lines = text.split("\n")
    assert lines[0] == "RELOADING=1"
    key, value = lines[1].split("=")
    assert key == "MONOTONIC_USEC"
    assert before <= int(value) <= before + 5_000_000


def test_status_is_one_bounded_line(receiver: Receiver) -> None:
    SdNotifier().status("x" * 5000)
    (text,) = receiver.wait_for(1)
    assert text == "STATUS=" + "x" * service.MAX_STATUS_CHARS


def test_extend_timeout_in_microseconds(receiver: Receiver) -> None:
    assert SdNotifier().extend_timeout(2.5)
    assert receiver.wait_for(1) == ["EXTEND_TIMEOUT_USEC=2500000"]


def test_abstract_namespace_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"alvh-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    rx = Receiver(sock)
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        notifier = SdNotifier()
        assert notifier.enabled
        assert notifier.ready()
        assert rx.wait_for(1) == ["READY=1"]
        notifier.close()
    finally:
        rx.close()


def test_no_socket_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = SdNotifier()
    assert not notifier.enabled
    assert notifier.ready() is False
    assert service.ready() is False
    assert service.watchdog() is False
    assert service.stopping() is False


def test_unsupported_or_dead_socket_never_raises(tmp_path: Path) -> None:
    assert not SdNotifier("vsock:2:1234").enabled
    assert SdNotifier("vsock:2:1234").ready() is False
    gone = SdNotifier(str(tmp_path / "nobody-listens.sock"))
    assert gone.enabled
    assert gone.ready() is False  # ENOENT / ECONNREFUSED is logged, not raised
    assert gone.watchdog() is False


def test_a_full_socket_queue_drops_datagrams_without_blocking(tmp_path: Path) -> None:
    """Nobody reads the socket: sends fail fast (EAGAIN) instead of stalling the loop."""
    path = _short_dir(tmp_path) / "full.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    try:
        notifier = SdNotifier(str(path))
        started = time.monotonic()
        results = [notifier.status(f"status {i}") for i in range(5000)]
        assert time.monotonic() - started < 5.0
        assert results[0] is True and results.count(False) > 0
        notifier.close()
    finally:
        sock.close()


def test_default_notifier_follows_environment(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = service.default_notifier()
    assert first is service.default_notifier()
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert not service.default_notifier().enabled


# --------------------------------------------------------------------------- watchdog_interval


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "60000000"}, 60.0),
        ({"WATCHDOG_USEC": "1500000", "WATCHDOG_PID": str(os.getpid())}, 1.5),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({"WATCHDOG_USEC": "100", "WATCHDOG_PID": "x"}, None),
    ],
)
def test_watchdog_interval(env: dict[str, str], expected: float | None) -> None:
    assert watchdog_interval(env) == expected


def test_watchdog_interval_reads_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval() == 30.0


# --------------------------------------------------------------------------- health


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_health_job_failures() -> None:
    health = ServiceHealth(max_job_failures=2)
    assert health.check() is None
    health.job_finished("entry", RuntimeError("no chain"))
    assert health.check() is None
    health.job_finished("hedge_check", "timeout")
    reason = health.check()
    assert reason is not None and "2 consecutive job failures" in reason
    assert "hedge_check: timeout" in reason
    health.job_finished("manage")
    assert health.check() is None
    assert health.last_job == "manage" and health.last_job_ok


def test_health_broker_grace() -> None:
    clock = FakeClock()
    up = [True]
    health = ServiceHealth(broker_grace_s=60, broker_connected=lambda: up[0], clock=clock)
    assert health.check() is None
    up[0] = False
    assert health.check() is None  # down since now
    clock.now += 59
    assert health.check() is None
    clock.now += 2
    reason = health.check()
    assert reason is not None and "broker disconnected for 61 s" in reason
    up[0] = True
    assert health.check() is None
    up[0] = False
    clock.now += 30
    assert health.check() is None  # the grace restarts after a reconnect


def test_health_from_config() -> None:
    config = ServiceConfig(max_job_failures=5, broker_grace_s=0)
    health = ServiceHealth.from_config(config, broker_connected=lambda: False)
    assert health.max_job_failures == 5
    assert health.check() is None  # broker check disabled by 0


def test_service_config_validates() -> None:
    assert ServiceConfig().watchdog is True
    with pytest.raises(ValueError):
        ServiceConfig(max_job_failures=0)
    with pytest.raises(ValueError):
        ServiceConfig(unknown_key=1)  # type: ignore[call-arg]


# --------------------------------------------------------------------------- LoopWatchdog


def _beats(rx: Receiver) -> list[float]:
    return [t for t, text in rx.stamped() if text == "WATCHDOG=1"]


async def test_loop_watchdog_beats_every_half_interval(receiver: Receiver) -> None:
    dog = LoopWatchdog(SdNotifier(), interval_s=0.4, tick_s=0.02)
    assert dog.period_s == pytest.approx(0.2)
    assert dog.start() is not None
    await asyncio.sleep(0.75)
    await asyncio.wait_for(dog.stop(), TIMEOUT)
    assert not dog.running
    beats = _beats(receiver)
    # one at start, then at ~0.2, ~0.4, ~0.6
    assert 3 <= len(beats) <= 5
    assert dog.beats == len(beats)
    gaps = [b - a for a, b in itertools.pairwise(beats)]
    assert all(0.15 < gap < 0.4 for gap in gaps), gaps  # never longer than the interval
    await asyncio.sleep(0.3)
    assert len(_beats(receiver)) == len(beats)  # stopped means no more beats


async def test_blocked_loop_sends_no_beats(receiver: Receiver) -> None:
    interval = 0.4
    dog = LoopWatchdog(SdNotifier(), interval_s=interval, tick_s=0.02)
    dog.start()
    await asyncio.sleep(0.3)
    assert len(_beats(receiver)) >= 2

    async def stuck() -> None:
        time.sleep(interval * 2.5)  # a synchronous call blocking the whole loop

    block_start = time.monotonic()
    await stuck()
    block_end = time.monotonic()
    # Let the loop run again for a little less than one period.
    await asyncio.sleep(0.15)
    after = time.monotonic()
    await asyncio.sleep(0.5)
    await asyncio.wait_for(dog.stop(), TIMEOUT)

    beats = _beats(receiver)
    during = [b for b in beats if block_start <= b <= block_end]
    assert during == [], "a beat was sent while the loop was blocked"
    # The first wake-up after the block sees the lag and skips its beat.
    assert [b for b in beats if block_end < b <= after] == []
    assert dog.skipped >= 1
    assert dog.last_lag_s < dog.max_lag_s  # recovered
    # Beats resume once the loop is healthy again.
    assert [b for b in beats if b > after]
    # No gap between beats outside the block is longer than the interval.
    gaps = [b - a for a, b in itertools.pairwise(beats) if b < block_start]
    assert all(gap < interval for gap in gaps)


async def test_skip_reason_reports_lag(receiver: Receiver) -> None:
    reasons: list[str] = []
    dog = LoopWatchdog(SdNotifier(), interval_s=0.4, tick_s=0.02, on_skip=reasons.append)
    dog.start()
    await asyncio.sleep(0.05)
    time.sleep(0.3)
    await asyncio.sleep(0.3)
    await asyncio.wait_for(dog.stop(), TIMEOUT)
    assert reasons and reasons[0].startswith("event loop lag")
    assert dog.skipped == len(reasons)


async def test_unhealthy_check_stops_beats(receiver: Receiver) -> None:
    health = ServiceHealth(max_job_failures=1)
    dog = LoopWatchdog(SdNotifier(), interval_s=0.2, tick_s=0.01, health_check=health.check)
    dog.start()
    await asyncio.sleep(0.25)
    healthy_beats = len(_beats(receiver))
    assert healthy_beats >= 2
    health.job_finished("entry", RuntimeError("IB error 200"))
    await asyncio.sleep(0.4)
    unhealthy_beats = len(_beats(receiver))
    await asyncio.wait_for(dog.stop(), TIMEOUT)
    # at most one beat already in flight when the job failed
    assert unhealthy_beats - healthy_beats <= 1
    assert dog.skipped >= 3
    assert dog.last_skip_reason is not None and "IB error 200" in dog.last_skip_reason


async def test_async_health_check_timeout_and_exception(receiver: Receiver) -> None:
    async def hangs() -> str | None:
        await asyncio.sleep(10)
        return None

    dog = LoopWatchdog(SdNotifier(), interval_s=0.2, tick_s=0.01, health_check=hangs)
    dog.start()
    await asyncio.sleep(0.35)
    await asyncio.wait_for(dog.stop(), TIMEOUT)
    assert dog.beats == 1  # only the start beat
    assert dog.last_skip_reason is not None and "did not answer" in dog.last_skip_reason

    def raises() -> str | None:
        raise RuntimeError("journal locked")

    dog2 = LoopWatchdog(SdNotifier(), interval_s=0.2, tick_s=0.01, health_check=raises)
    dog2.start()
    await asyncio.sleep(0.25)
    await asyncio.wait_for(dog2.stop(), TIMEOUT)
    assert dog2.last_skip_reason is not None and "journal locked" in dog2.last_skip_reason


async def test_async_health_check_ok(receiver: Receiver) -> None:
    async def fine() -> str | None:
        await asyncio.sleep(0)
        return None

    dog = LoopWatchdog(SdNotifier(), interval_s=0.2, tick_s=0.01, health_check=fine)
    dog.start()
    await asyncio.sleep(0.25)
    await asyncio.wait_for(dog.stop(), TIMEOUT)
    assert dog.beats >= 2 and dog.skipped == 0


async def test_disabled_without_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    dog = LoopWatchdog(SdNotifier(""))
    assert not dog.enabled
    assert dog.start() is None
    await dog.stop()
    assert LoopWatchdog.from_config(ServiceConfig()) is None


async def test_from_config(monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "60000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    dog = LoopWatchdog.from_config(ServiceConfig(max_loop_lag_s=5))
    assert dog is not None
    assert dog.interval_s == 60.0 and dog.period_s == 30.0 and dog.max_lag_s == 5.0
    assert dog.tick_s == 1.0
    assert LoopWatchdog.from_config(ServiceConfig(watchdog=False)) is None
    default = LoopWatchdog.from_config(ServiceConfig())
    assert default is not None and default.max_lag_s == 15.0


def test_invalid_interval() -> None:
    with pytest.raises(ValueError):
        LoopWatchdog(SdNotifier(""), interval_s=-1)
