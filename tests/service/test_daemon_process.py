"""``alvh run`` as systemd runs it: a subprocess against the fake TWS, stopped by SIGTERM.

Covers the service side of issue 8 items 6 and 7:

* SIGTERM while connecting (a gateway that accepts and never answers) and
  while syncing (executions never answered): exit 0 quickly, the run
  finished in the journal, ``STOPPING=1`` and no ``READY=1``;
* SIGTERM while the entry job walks an order the fake never fills: exit 0
  within ``stop_grace_s``, the job cancelled at the grace (the adapter
  cancels the order at the gateway), the run finished, the order's state
  journaled;
* an unanswered start-up request: exit 4 with an error line, no traceback;
* one daemon per journal: a second ``alvh run`` and an ``alvh replay`` on the
  journal exit 5 with one line naming the lock file and the holder's pid; a
  daemon killed with SIGKILL leaves the lock file but not the lock.

The grace is set to a few seconds through ``[service] stop_grace_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from daemon.exits import ExitStatus
from daemon.locking import JournalLock, lock_path
from tests.fake_tws import FakeTWS, FillPolicy, In, Scenario

TRADING_DAY = date(2026, 11, 20)  # a Friday session
DRILL_NOW = "2026-11-20T15:30:00-05:00"
GRACE_S = 4.0
#: What ``systemctl status`` shows while the daemon serves (the periodic STATUS= line).
STATUS_LINE = (
    r"STATUS=paper DU1234567 data=\d\([a-z-]+\): \d+ open structure\(s\)"
    r"(, last job \w+ (ok|FAILED))?, next (entry|hedge_check|manage|mark) at .+"
)


def _alvh(marker: Path | None = None) -> list[str]:
    """The ``alvh`` command line; ``marker`` is a file created right before ``main()`` is called."""
    prelude = "import sys\nfrom daemon.cli import main\n"
    if marker is not None:
        prelude += f"open({str(marker)!r}, 'w').close()\n"
    return [sys.executable, "-c", prelude + "sys.exit(main())"]


def _env(journal: Path, notify: Path | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALVH_", "NOTIFY_SOCKET"))}
    env.pop("WATCHDOG_USEC", None)
    env["ALVH_JOURNAL__PATH"] = str(journal)
    env["ALVH_LOGGING__FORMAT"] = "json"
    env["ALVH_BROKER__WALK_INTERVAL_S"] = "0.2"
    env["ALVH_BROKER__QUOTE_TIMEOUT_S"] = "2"
    env["ALVH_SERVICE__STOP_GRACE_S"] = str(GRACE_S)
    if notify is not None:
        env["NOTIFY_SOCKET"] = str(notify)
    env.update(extra)
    return env


def _short_dir(tmp_path: Path) -> Path:
    """A directory whose socket paths fit in sun_path (108 bytes)."""
    if len(str(tmp_path / "notify.sock")) < 100:
        return tmp_path
    return Path(tempfile.mkdtemp(prefix="alvh-svc-"))


class Daemon:
    """One ``alvh`` subprocess: its JSON log events, stderr and notifications."""

    def __init__(self, proc: asyncio.subprocess.Process, notify: socket.socket | None) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []
        self.stderr = b""
        self.notes: list[str] = []
        self._notify = notify
        assert proc.stdout is not None and proc.stderr is not None
        self._readers = [
            asyncio.create_task(self._read_events(proc.stdout)),
            asyncio.create_task(self._read_stderr(proc.stderr)),
        ]

    async def _read_events(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            try:
                self.events.append(json.loads(line))
            except ValueError:
                self.events.append({"event": "text", "text": line.decode(errors="replace")})

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        self.stderr = await stream.read()

    def notifications(self) -> list[str]:
        if self._notify is not None:
            while True:
                try:
                    self.notes.append(self._notify.recv(4096).decode())
                except BlockingIOError:
                    break
        return self.notes

    def named(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == event]

    async def until(self, predicate: Callable[[], bool], timeout: float) -> None:
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    self.notifications()  # drain, as systemd does
                    if self.proc.returncode is not None:
                        raise AssertionError(f"alvh exited {self.proc.returncode}: {self.tail()}")
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise AssertionError(f"timed out; last events: {self.tail()}") from None

    async def until_event(self, event: str, timeout: float = 60) -> dict[str, Any]:
        await self.until(lambda: bool(self.named(event)), timeout)
        return self.named(event)[0]

    async def wait(self, timeout: float) -> int:
        async with asyncio.timeout(timeout):
            while self.proc.returncode is None:
                self.notifications()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.05):
                        await self.proc.wait()
            code = await self.proc.wait()
        await asyncio.gather(*self._readers)
        self.notifications()
        return code

    def tail(self) -> list[Any]:
        return [(e.get("level"), e.get("event")) for e in self.events[-15:]]


@asynccontextmanager
async def alvh(
    *args: str,
    env: dict[str, str],
    notify: Path | None = None,
    marker: Path | None = None,
) -> AsyncIterator[Daemon]:
    """Start ``alvh ARGS``; kill it if the test leaves it running."""
    sock: socket.socket | None = None
    if notify is not None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(notify))
        sock.setblocking(False)
    proc = await asyncio.create_subprocess_exec(
        *_alvh(marker),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    daemon = Daemon(proc, sock)
    try:
        yield daemon
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        for reader in daemon._readers:
            reader.cancel()
        if sock is not None:
            sock.close()


def _run_args(port: int, *extra: str) -> list[str]:
    return ["run", "--host", "127.0.0.1", "--port", str(port), *extra]


def _runs(journal: Path) -> list[tuple[str, str | None, str | None]]:
    with sqlite3.connect(journal) as db:
        return db.execute("SELECT mode, finished_at, summary_json FROM runs ORDER BY id").fetchall()


def _kinds(notes: list[str]) -> list[str]:
    return [n.split("\n")[0].split("=")[0] for n in notes]


# --------------------------------------------------------------------------- before READY


@asynccontextmanager
async def silent_gateway() -> AsyncIterator[tuple[int, list[int]]]:
    """A TCP listener that accepts connections and never answers the API handshake."""
    accepted: list[int] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        while await reader.read(4096):
            pass
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], accepted
    finally:
        server.close()


@pytest.mark.parametrize("delay_s", [0.0, 0.2, 0.5])
async def test_sigterm_during_start_up_imports_exits_0(tmp_path: Path, delay_s: float) -> None:
    """Once ``main()`` runs, a SIGTERM before the event loop (imports, config, lock) ends with 0."""
    journal = tmp_path / "alvh.sqlite"
    marker = tmp_path / "main-entered"
    env = _env(journal, ALVH_BROKER__CONNECT_TIMEOUT_S="60")
    async with (
        silent_gateway() as (port, _accepted),
        alvh(*_run_args(port), env=env, marker=marker) as daemon,
    ):
        await daemon.until(marker.exists, timeout=30)
        await asyncio.sleep(delay_s)
        daemon.proc.send_signal(signal.SIGTERM)
        code = await daemon.wait(timeout=10)
    assert code == ExitStatus.OK, (daemon.tail(), daemon.stderr)
    assert daemon.stderr == b""
    if journal.exists():  # the signal came after the run started: it is finished
        assert all(finished is not None for _mode, finished, _ in _runs(journal))


async def test_sigterm_while_connecting_exits_0_with_the_run_finished(tmp_path: Path) -> None:
    journal = tmp_path / "alvh.sqlite"
    notify = _short_dir(tmp_path) / "notify.sock"
    env = _env(journal, notify, ALVH_BROKER__CONNECT_TIMEOUT_S="60")
    async with (
        silent_gateway() as (port, accepted),
        alvh(*_run_args(port), env=env, notify=notify) as daemon,
    ):
        await daemon.until(lambda: bool(accepted) and bool(daemon.named("starting")), 30)
        daemon.proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        code = await daemon.wait(timeout=10)
        elapsed = time.monotonic() - sent
    assert code == ExitStatus.OK, daemon.tail()
    assert elapsed < 3.0
    assert daemon.stderr == b""
    assert daemon.named("stop_requested")[0]["phase"] == "starting"
    kinds = _kinds(daemon.notes)
    assert "STOPPING" in kinds and "READY" not in kinds
    ((mode, finished, _summary),) = _runs(journal)
    assert mode == "paper" and finished is not None


async def test_sigterm_while_syncing_executions_exits_0(tmp_path: Path) -> None:
    journal = tmp_path / "alvh.sqlite"
    env = _env(journal, ALVH_BROKER__CONNECT_TIMEOUT_S="60", ALVH_BROKER__REQUEST_TIMEOUT_S="60")
    async with FakeTWS(Scenario(today=TRADING_DAY)) as tws:
        tws._handlers[In.REQ_EXECUTIONS] = lambda _session, _fields: None  # never answered
        async with alvh(*_run_args(tws.port), env=env) as daemon:
            await daemon.until(lambda: bool(tws.messages(In.REQ_EXECUTIONS)), 30)
            daemon.proc.send_signal(signal.SIGTERM)
            sent = time.monotonic()
            code = await daemon.wait(timeout=10)
            elapsed = time.monotonic() - sent
    assert code == ExitStatus.OK, daemon.tail()
    assert elapsed < 3.0 and daemon.stderr == b""
    assert not daemon.named("ready")
    ((_mode, finished, _summary),) = _runs(journal)
    assert finished is not None


async def test_unanswered_start_up_request_is_exit_4_without_traceback(tmp_path: Path) -> None:
    journal = tmp_path / "alvh.sqlite"
    env = _env(
        journal,
        ALVH_BROKER__CONNECT_TIMEOUT_S="1",
        ALVH_BROKER__REQUEST_TIMEOUT_S="1",
        ALVH_BROKER__CONNECT_ATTEMPTS="1",
    )
    async with FakeTWS(Scenario(today=TRADING_DAY)) as tws:
        tws._handlers[In.REQ_EXECUTIONS] = lambda _session, _fields: None
        async with alvh(*_run_args(tws.port), env=env) as daemon:
            code = await daemon.wait(timeout=30)
    assert code == ExitStatus.BROKER, daemon.tail()
    assert b"Traceback" not in daemon.stderr and daemon.stderr == b""
    assert not any("Traceback" in json.dumps(e) for e in daemon.events)
    (failure,) = [e for e in daemon.named("broker_unavailable") if e.get("logger") == "alvh.run"]
    assert failure["level"] == "error" and "\n" not in failure["reason"]
    ((_mode, finished, summary),) = _runs(journal)
    assert finished is not None and summary is not None and "error" in json.loads(summary)


# --------------------------------------------------------------------------- during an order walk


async def test_sigterm_during_an_order_walk_stops_within_the_grace(tmp_path: Path) -> None:
    journal = tmp_path / "alvh.sqlite"
    notify = _short_dir(tmp_path) / "notify.sock"
    env = _env(
        journal, notify, ALVH_BROKER__WALK_TIMEOUT_S="600", ALVH_SERVICE__STATUS_EVERY_S="0.5"
    )
    scenario = Scenario(today=TRADING_DAY, fill_policy=FillPolicy.never())
    async with (
        FakeTWS(scenario) as tws,
        alvh(
            *_run_args(tws.port, "--run-job", "entry", "--now", DRILL_NOW), env=env, notify=notify
        ) as daemon,
    ):
        await daemon.until_event("ib_order_walk", timeout=60)
        daemon.proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        code = await daemon.wait(timeout=GRACE_S + 10)
        elapsed = time.monotonic() - sent
        placed = tws.messages(In.PLACE_ORDER)
        at_gateway = [order.status for order in tws.orders]
    assert code == ExitStatus.OK, daemon.tail()
    # stopped within the grace by the daemon's own clock; the exit itself takes a moment more
    requested = datetime.fromisoformat(daemon.named("stop_requested")[0]["timestamp"])
    stopped = datetime.fromisoformat(daemon.named("stopped")[0]["timestamp"])
    assert (stopped - requested).total_seconds() < GRACE_S, stopped - requested
    assert elapsed < GRACE_S + 1.5, elapsed
    assert daemon.stderr == b""
    assert placed, "the order reached the gateway"
    cancelled = daemon.named("job_cancelled")
    assert len(cancelled) == 1 and cancelled[0]["job"] == "entry"
    assert cancelled[0]["after_s"] < GRACE_S
    names = [e.get("event") for e in daemon.events]
    assert names.index("stop_requested") < names.index("job_cancelled") < names.index("stopped")
    assert not daemon.named("job_failed")

    kinds = _kinds(daemon.notes)
    assert kinds.index("READY") < kinds.index("STOPPING")
    ready = next(n for n in daemon.notes if n.startswith("READY=1"))
    assert re.fullmatch(
        r"STATUS=paper DU1234567 data=3\(delayed\): next \w+ at .+", ready.split("\n")[1]
    )
    assert "next status " not in ready and "next event_jobs " not in ready
    periodic = [n for n in daemon.notes if re.fullmatch(STATUS_LINE, n)]
    assert periodic, daemon.notes

    ((mode, finished, _summary),) = _runs(journal)
    assert mode == "paper" and finished is not None
    with sqlite3.connect(journal) as db:
        orders = db.execute("SELECT order_ref, status, filled_quantity FROM orders").fetchall()
    ((order_ref, status, filled),) = orders
    assert order_ref == daemon.named("order")[0]["order_ref"]
    # the cancelled walk cancelled its order at IB; the journal keeps its fate for the next start
    assert at_gateway == ["Cancelled"]
    assert status in ("unknown", "cancelled") and filled == 0


# --------------------------------------------------------------------------- one daemon per journal


async def test_second_daemon_and_replay_on_a_journal_in_use_exit_5(tmp_path: Path) -> None:
    journal = tmp_path / "alvh.sqlite"
    env = _env(journal)
    async with FakeTWS(Scenario(today=TRADING_DAY)) as tws:
        async with alvh(*_run_args(tws.port), env=env) as first:
            await first.until_event("ready", timeout=60)
            runs_before = _runs(journal)

            async with alvh(*_run_args(tws.port), env=env) as second:
                second_code = await second.wait(timeout=30)
            async with alvh(
                "replay", "--start", "2019-03-01", "--end", "2019-03-08",
                "--journal", str(journal), "--no-progress",
                env=env,
            ) as replay:  # fmt: skip
                replay_code = await replay.wait(timeout=30)

            first.proc.send_signal(signal.SIGTERM)
            first_code = await first.wait(timeout=30)
        clients = tws.connected_client_ids

    lock = lock_path(journal)
    for refused, code, command in ((second, second_code, "run"), (replay, replay_code, "replay")):
        assert code == ExitStatus.JOURNAL_LOCKED, refused.tail()
        lines = refused.stderr.decode().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"alvh {command}: ")
        assert str(lock) in lines[0] and f"pid {first.proc.pid}" in lines[0]
        assert refused.events == []  # nothing logged, nothing written
    assert first_code == ExitStatus.OK
    assert len(runs_before) == 1 and len(_runs(journal)) == 1  # the refused wrote no run
    assert clients == []
    # released on exit: the journal can be locked again; the file stays
    assert lock.exists()
    with JournalLock.acquire(journal, command="test"):
        pass


async def test_a_killed_daemon_leaves_a_stale_lock_file_that_does_not_block(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "alvh.sqlite"
    env = _env(journal)
    async with FakeTWS(Scenario(today=TRADING_DAY)) as tws:
        async with alvh(*_run_args(tws.port), env=env) as killed:
            await killed.until_event("ready", timeout=60)
            killed.proc.kill()
            assert await killed.wait(timeout=10) == -signal.SIGKILL
        await tws.wait_until(lambda: not tws.connected_client_ids, timeout=10)
        stale = json.loads(lock_path(journal).read_text())
        assert stale["pid"] == killed.proc.pid and stale["command"] == "alvh run"

        async with alvh(*_run_args(tws.port), env=env) as daemon:
            await daemon.until_event("ready", timeout=60)
            holder = json.loads(lock_path(journal).read_text())
            daemon.proc.send_signal(signal.SIGTERM)
            code = await daemon.wait(timeout=30)
    assert code == ExitStatus.OK, daemon.tail()
    assert holder["pid"] == daemon.proc.pid
    finished = [row[1] for row in _runs(journal)]
    # The killed run is closed by the next start, which holds the lock: it was interrupted.
    assert len(finished) == 2 and finished[0] is not None and finished[1] is not None
    with sqlite3.connect(journal) as db:
        (summary,) = db.execute("SELECT summary_json FROM runs ORDER BY id LIMIT 1").fetchone()
    assert json.loads(summary)["interrupted"] is True
