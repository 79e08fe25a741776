"""``alvh run`` as a user starts it: a subprocess against the fake TWS on 127.0.0.1.

The daemon runs its entry job at once (``--run-job entry``) on a drill clock
set to a trading afternoon, sends an iron condor as one BAG, journals it, and
exits 0 on SIGTERM; meanwhile it tells a notification socket the test owns
(as systemd would) READY, WATCHDOG and STOPPING, in that order. Against a
gateway whose only account is live (``U...``) it exits non-zero within 15
seconds, saying why, without sending any order.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import sys
from datetime import date
from pathlib import Path
from typing import Any

from tests.fake_tws import FakeTWS, In, Scenario
from tests.fake_tws import protocol as p

TRADING_DAY = date(2026, 11, 20)  # a Friday session
DRILL_NOW = "2026-11-20T15:30:00-05:00"
ALVH = [sys.executable, "-c", "import sys; from daemon.cli import main; sys.exit(main())"]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALVH_", "NOTIFY_SOCKET"))}
    env["ALVH_JOURNAL__PATH"] = str(tmp_path / "alvh.sqlite")
    env["ALVH_LOGGING__FORMAT"] = "json"
    env["ALVH_BROKER__WALK_INTERVAL_S"] = "0.2"
    env["ALVH_BROKER__QUOTE_TIMEOUT_S"] = "2"
    return env


async def _read_events(stream: asyncio.StreamReader, events: list[dict[str, Any]]) -> None:
    while line := await stream.readline():
        try:
            events.append(json.loads(line))
        except ValueError:
            events.append({"event": "text", "text": line.decode(errors="replace")})


async def _until(events: list[dict[str, Any]], predicate: Any, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not any(predicate(e) for e in events):
            await asyncio.sleep(0.05)


def _notify_socket(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    return sock


def _drain(sock: socket.socket, into: list[str]) -> None:
    while True:
        try:
            into.append(sock.recv(4096).decode())
        except BlockingIOError:
            return


async def test_run_trades_an_entry_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    notify = _notify_socket(tmp_path / "notify.sock")
    env = _env(tmp_path)
    env["NOTIFY_SOCKET"] = str(tmp_path / "notify.sock")
    env["WATCHDOG_USEC"] = "2000000"  # beats every second
    notes: list[str] = []
    async with FakeTWS(Scenario(today=TRADING_DAY)) as tws:
        proc = await asyncio.create_subprocess_exec(
            *ALVH, "run", "--host", "127.0.0.1", "--port", str(tws.port),
            "--run-job", "entry", "--now", DRILL_NOW,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        assert proc.stdout is not None
        events: list[dict[str, Any]] = []
        reader = asyncio.create_task(_read_events(proc.stdout, events))
        try:
            await _until(events, lambda e: e.get("event") == "order_status", timeout=60)
            async with asyncio.timeout(10):
                while not any("WATCHDOG=1" in n for n in notes):
                    await asyncio.sleep(0.1)
                    _drain(notify, notes)
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                code = await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
            await reader
            _drain(notify, notes)
            notify.close()
    assert code == 0, [e for e in events if e.get("level") in ("error", "critical")]
    kinds = [n.split("\n")[0].split("=")[0] for n in notes]
    assert "READY" in kinds and "WATCHDOG" in kinds and "STOPPING" in kinds
    assert kinds.index("READY") < kinds.index("WATCHDOG") < kinds.index("STOPPING")
    names = [e.get("event") for e in events]
    assert names.index("ready") < names.index("decision") < names.index("stopped")
    status = next(e for e in events if e.get("event") == "order_status")
    assert status["status"] == "filled"
    requests = [p.parse_place_order(m.fields) for m in tws.messages(In.PLACE_ORDER)]
    # the margin gate's what-if first (nothing placed), then the order itself
    assert [r.what_if for r in requests] == [True, False]
    assert len(tws.orders) == 1
    with sqlite3.connect(tmp_path / "alvh.sqlite") as db:
        (mode, finished) = db.execute("SELECT mode, finished_at FROM runs").fetchone()
        decision = db.execute(
            "SELECT id, action, legs_json FROM decisions WHERE rule = 'condor_entry'"
        ).fetchone()
        fills = db.execute("SELECT COUNT(*), SUM(commission) FROM fills").fetchone()
    assert mode == "paper" and finished is not None
    assert decision[1] == "open" and len(json.loads(decision[2])) == 4
    assert fills[0] == 4 and fills[1] > 0


async def test_run_refuses_a_live_account_without_live_config(tmp_path: Path) -> None:
    async with FakeTWS(Scenario(accounts=["U7654321"], today=TRADING_DAY)) as tws:
        proc = await asyncio.create_subprocess_exec(
            *ALVH, "run", "--host", "127.0.0.1", "--port", str(tws.port),
            "--run-job", "entry", "--now", DRILL_NOW,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(tmp_path),
        )  # fmt: skip
        try:
            async with asyncio.timeout(15):
                out, _ = await proc.communicate()
        finally:
            if proc.returncode is None:
                proc.kill()
        assert not tws.messages(In.PLACE_ORDER)
    assert proc.returncode not in (0, None)
    errors = [json.loads(line) for line in out.splitlines() if b'"level": "error"' in line]
    assert any(e["event"] == "unsafe_account" and "U7654321" in e["reason"] for e in errors)


async def test_run_exits_6_without_hopping_when_the_client_id_is_in_use(tmp_path: Path) -> None:
    # Another API client holds client id 17 (IB error 326): alvh must not move to
    # another id, and systemd must not restart it into the same refusal.
    async with FakeTWS(Scenario(today=TRADING_DAY, busy_client_ids={17: None})) as tws:
        proc = await asyncio.create_subprocess_exec(
            *ALVH, "run", "--host", "127.0.0.1", "--port", str(tws.port),
            "--run-job", "entry", "--now", DRILL_NOW,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(tmp_path),
        )  # fmt: skip
        try:
            async with asyncio.timeout(30):
                out, _ = await proc.communicate()
        finally:
            if proc.returncode is None:
                proc.kill()
        assert not tws.messages(In.PLACE_ORDER)
        starts = tws.messages(In.START_API)
        assert starts and {m.client_id for m in starts} == {17}
    assert proc.returncode == 6
    errors = [json.loads(line) for line in out.splitlines() if b'"level": "error"' in line]
    assert any(e["event"] == "client_id_in_use" and "17" in e["reason"] for e in errors)
    with sqlite3.connect(tmp_path / "alvh.sqlite") as db:
        (finished,) = db.execute("SELECT finished_at FROM runs").fetchone()
    assert finished is not None
