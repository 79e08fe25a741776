"""Push alerts: they reach a local apprise target, and a bad target delays nothing.

The receiver is a tiny HTTP server on 127.0.0.1 that apprise posts to through
its ``json://`` service. The daemon is ``run_live`` in-process on a scripted
broker: its entry job fills a condor (a ``fill`` alert) and its hedge check
fails (a ``job_failed`` alert). A target that accepts the connection and never
answers, or a closed port, must not slow a job: the send happens on the
alerts thread, bounded by ``send_timeout_s``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from datetime import time as dtime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from daemon.alerts import Alerts
from daemon.clock import NEW_YORK
from daemon.config import AlertsConfig, ConfigError, load_config
from daemon.engine import TradingEngine
from daemon.journal import Journal
from daemon.live import LiveOptions, run_live
from daemon.scheduling.jobs import JobName
from strategies.domain import MarketContext, OptionContract, Right
from strategies.rules import CondorRules, HedgeRules
from tests.daemon.scripted_broker import (
    Gateway,
    Outcome,
    RecordingLog,
    ScriptedBroker,
    condor_chain,
    leg_quote,
)
from tests.service.test_shutdown import Log, Notifier

SESSION = date(2026, 11, 20)  # a Friday session
EXPIRY = date(2026, 12, 4)  # 14 DTE: the condor rule's target
DRILL = datetime(2026, 11, 20, 20, 30, tzinfo=UTC)  # 15:30 New York


class Receiver:
    """An HTTP server on loopback that keeps every JSON body posted to it.

    ``hang``: accept each request and answer only when the test ends (a target
    that sleeps).
    """

    def __init__(self, hang: bool = False) -> None:
        self.posts: list[dict[str, Any]] = []
        self.requests = threading.Semaphore(0)
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.posts.append(json.loads(body))
                receiver.requests.release()
                if hang:
                    receiver.release.wait(30)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wait(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The posts once ``count`` have arrived (fails after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while len(self.posts) < count:
            assert time.monotonic() < deadline, f"only {len(self.posts)} of {count} alerts came"
            time.sleep(0.02)
        return list(self.posts)


@contextmanager
def receiver(hang: bool = False) -> Iterator[Receiver]:
    target = Receiver(hang)
    target.thread.start()
    try:
        yield target
    finally:
        target.release.set()
        target.server.shutdown()
        target.server.server_close()


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(url: str, **fields: Any) -> AlertsConfig:
    return AlertsConfig(urls=(SecretStr(url),), **fields)


# --------------------------------------------------------------------------- run_live


def _broker() -> ScriptedBroker:
    """The gateway of the drill day: the entry fills a condor, every quote fails (a bug)."""
    broker = ScriptedBroker(lambda: DRILL, Gateway(account_id="DU123"))
    broker.context = MarketContext(SESSION, 4000.0, 18.0, vix_futures={})
    broker.chains["SPX"] = condor_chain(SESSION, EXPIRY)
    # the entry's risk gates quote its legs (two-sided quotes pass the width check)
    for strike, right, bid in ((3850, Right.PUT, 1.95), (3900, Right.PUT, 3.45),
                               (4100, Right.CALL, 2.95), (4150, Right.CALL, 1.55)):  # fmt: skip
        contract = OptionContract("SPX", "SPXW", EXPIRY, strike, right)
        broker.quotes[contract] = leg_quote(contract, bid, bid + 0.10)
    # the hedge check quotes the condor first: a quote feed that crashes once the
    # entry's order is placed (the entry's risk gates quote its legs) fails that job
    broker.script(
        Outcome(
            before=lambda _order: broker.errors.update(quote=RuntimeError("quote feed crashed"))
        )
    )
    return broker


async def test_a_fill_and_a_failing_job_reach_a_local_apprise_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALVH_JOURNAL__PATH", str(tmp_path / "j.sqlite"))
    monkeypatch.setenv("ALVH_EVENTS__ENABLED", "false")
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    with receiver() as target:
        monkeypatch.setenv("ALVH_ALERTS__URLS", json.dumps([target.url]))
        log, stop = Log(), asyncio.Event()
        options = LiveOptions(now=DRILL, run_jobs=(JobName.ENTRY, JobName.HEDGE_CHECK))

        async def stop_after_the_jobs() -> None:
            while "job_failed" not in log.names():
                await asyncio.sleep(0.02)
            stop.set()

        stopper = asyncio.create_task(stop_after_the_jobs())
        code = await asyncio.wait_for(
            run_live(load_config(None), log, options, _broker(), Notifier(), stop), 30
        )
        await stopper
        posts = target.wait(4)
    assert code == 0
    titles = [p["title"] for p in posts]
    assert titles[0] == "alvh paper DU123: started"
    [fill] = [p for p in posts if " filled " in p["title"]]
    assert fill["title"].startswith("alvh paper DU123: condor order r1-1 filled ")
    assert fill["type"] == "success" and "SPXW" in fill["message"]
    [failed] = [p for p in posts if "hedge_check failed" in p["title"]]
    assert failed["type"] == "failure" and "quote feed crashed" in failed["message"]
    assert titles[-1] == "alvh paper DU123: stopped, exit status 0 (ok)"
    assert not [f for level, _e, f in log.events if level == "warning" and "alert" in _e]


# --------------------------------------------------------------------------- a bad target


def _engine(tmp_path: Path, alerts: Alerts) -> TradingEngine:
    clock = datetime.combine(SESSION, dtime(15, 30), NEW_YORK)
    broker = ScriptedBroker(lambda: clock, Gateway(account_id="DU123"))
    broker.context = MarketContext(SESSION, 4000.0, 18.0, vix_futures={})
    broker.chains["SPX"] = condor_chain(SESSION, EXPIRY)
    broker.script(Outcome())
    journal = Journal.open(tmp_path / "j.sqlite", buffered=False)
    run_id = journal.start_run("paper")
    return TradingEngine(
        broker, journal, run_id, lambda: clock, CondorRules(), HedgeRules(), RecordingLog(),
        alerts=alerts,
    )  # fmt: skip


async def test_a_target_that_never_answers_delays_no_job(tmp_path: Path) -> None:
    with receiver(hang=True) as target:
        log = RecordingLog()
        alerts = Alerts(_config(target.url, send_timeout_s=1.0), log)
        engine = _engine(tmp_path, alerts)
        engine.entry_halt = "a difference"  # an entry_halt alert: the send hangs
        assert target.requests.acquire(timeout=10)  # the sender is now stuck in its POST
        started = time.perf_counter()
        engine.entry_halt = None
        await engine.run_job(JobName.ENTRY)  # a fill: another alert, queued behind it
        took = time.perf_counter() - started
        assert engine.journal.fills(engine.run_id), "the entry filled"
        assert took < 0.5, f"the job took {took:.3f} s while the alert target hung"
        assert len(target.posts) == 1 and not target.release.is_set()
        started = time.perf_counter()
        alerts.close(0.2)  # the daemon's stop: bounded however the target behaves
        assert time.perf_counter() - started < 0.5
        assert log.of("alert_not_sent") or log.of("alerts_not_flushed")


async def test_an_unreachable_target_delays_nothing_and_is_logged(tmp_path: Path) -> None:
    log = RecordingLog()
    alerts = Alerts(_config(f"json://127.0.0.1:{closed_port()}/"), log)
    engine = _engine(tmp_path, alerts)
    started = time.perf_counter()
    await engine.run_job(JobName.ENTRY)
    assert time.perf_counter() - started < 0.5
    alerts.close(10.0)
    [warning] = log.of("alert_not_sent", "warning")
    assert warning["kind"] == "fill" and "could not be reached" in warning["reason"]
    assert alerts.failed == 1 and alerts.sent == 0


# --------------------------------------------------------------------------- the queue


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rate_limit_suppresses_and_then_summarises() -> None:
    sent: list[tuple[str, str, str]] = []
    clock = FakeClock()

    def sender(title: str, body: str, kind: str) -> bool:
        sent.append((title, body, kind))
        return True

    alerts = Alerts(_config("json://127.0.0.1:9/", max_per_minute=2), RecordingLog(), sender, clock)
    for n in range(5):
        alerts.notify("fill", f"fill {n}", "")
    alerts.notify("job_failed", "mark failed", "")
    deadline = time.monotonic() + 5
    while len(sent) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # the worker has seen all six
    assert [t for t, _b, _k in sent] == ["alvh: fill 0", "alvh: fill 1"]
    clock.now = 61.0  # the window moved on: the next wake sends the summary
    alerts.close(5.0)
    title, body, kind = sent[2]
    assert kind == "summary" and title == "alvh: 4 alerts suppressed"
    assert "fill x3, job_failed x1" in body


def test_a_sender_that_raises_is_logged_and_the_next_alert_still_goes() -> None:
    calls: list[str] = []

    def sender(title: str, _body: str, _kind: str) -> bool:
        calls.append(title)
        if len(calls) == 1:
            raise RuntimeError("apprise blew up")
        return True

    log = RecordingLog()
    alerts = Alerts(_config("json://127.0.0.1:9/"), log, sender)
    alerts.notify("start", "one", "")
    alerts.notify("stop", "two", "")
    alerts.close(5.0)
    assert calls == ["alvh: one", "alvh: two"] and alerts.sent == 1
    [warning] = log.of("alert_not_sent")
    assert "RuntimeError: apprise blew up" in warning["reason"]


def test_a_full_queue_drops_without_blocking_and_counts_what_it_dropped() -> None:
    gate = threading.Event()
    sent: list[str] = []

    def sender(title: str, body: str, _kind: str) -> bool:
        gate.wait(10)
        sent.append(body if "suppressed" in title else title)
        return True

    alerts = Alerts(_config("json://127.0.0.1:9/", queue_size=2), RecordingLog(), sender)
    started = time.perf_counter()
    for n in range(50):
        alerts.notify("fill", f"fill {n}", "")
    assert time.perf_counter() - started < 0.1
    gate.set()
    alerts.close(5.0)
    assert len(sent) <= 4 and any("fill x" in s for s in sent)


def test_only_the_configured_events_are_sent_and_none_without_urls() -> None:
    sent: list[str] = []

    def sender(title: str, _b: str, _k: str) -> bool:
        sent.append(title)
        return True

    only_fills = Alerts(_config("json://127.0.0.1:9/", events=("fill",)), None, sender)
    only_fills.notify("job_failed", "no", "")
    only_fills.notify("fill", "yes", "")
    only_fills.close(5.0)
    assert sent == ["alvh: yes"]
    off = Alerts(AlertsConfig(), None, sender)
    off.notify("fill", "never", "")
    off.close(1.0)
    assert not off.enabled and sent == ["alvh: yes"]


def test_config_checks_urls_without_echoing_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALVH_ALERTS__URLS", json.dumps(["nosuchservice://TOKEN123"]))
    with pytest.raises(ConfigError) as error:
        load_config(None)
    assert "alerts.urls" in str(error.value) and "TOKEN123" not in str(error.value)
    monkeypatch.setenv("ALVH_ALERTS__URLS", json.dumps(["json://127.0.0.1:9/?token=TOKEN123"]))
    config = load_config(None)
    assert config.alerts.enabled and "TOKEN123" not in config.to_json()


async def test_entry_halts_and_the_daily_summary_are_announced_once_each(tmp_path: Path) -> None:
    sent: list[tuple[str, str, str]] = []

    def sender(title: str, body: str, kind: str) -> bool:
        sent.append((title, body, kind))
        return True

    alerts = Alerts(_config("json://127.0.0.1:9/"), RecordingLog(), sender)
    engine = _engine(tmp_path, alerts)
    engine.entry_halt = "gateway positions differ from the journal: X"
    engine.entry_halt = "gateway positions differ from the journal: X"  # no repeat
    engine.entry_halt = None
    await engine.run_job(JobName.ENTRY)
    await engine.run_job(JobName.MARK)
    alerts.close(5.0)
    kinds = [k for _t, _b, k in sent]
    assert kinds == ["entry_halt", "entry_halt", "fill", "daily_summary"]
    assert sent[0][0] == "alvh: new risk halted" and sent[0][1].endswith("journal: X")
    assert sent[1][0] == "alvh: new risk allowed again"
    title, body, _ = sent[3]
    assert title == "alvh: 2026-11-20 close: net liquidation $500,000.00"
    assert "1 condor(s)" in body and "0 hedge layer(s)" in body
