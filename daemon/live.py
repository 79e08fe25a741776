"""``alvh run``: the trading engine against Interactive Brokers, on the wall clock.

The same :class:`~daemon.engine.TradingEngine` and job definitions as the
replay, driven by APScheduler's asyncio scheduler (America/New_York) instead
of the virtual clock, with the ib_async broker instead of the simulated one.

Start-up order: open the journal unbuffered (every decision is on disk before
its order is sent), restore open structures from the journal, build the
engine (its fill listener must exist before the broker connects, so fills
reported at connect are journaled), connect — the paper-account guard runs
here and a refusal exits non-zero before any order — reconcile positions with
the journal, schedule, then tell systemd READY and start the watchdog.

Push alerts (``[alerts]``, :mod:`daemon.alerts`) announce the start (at
READY), fills, entry halts, failing jobs, the daily summary and the stop with
its exit status; they are sent by a background thread and never delay a job.

SIGTERM or SIGINT stops the daemon at any phase within ``[service]
stop_grace_s`` (exit 0, the run finished in the journal): before READY the
start-up is abandoned, after READY a running job may finish until the grace
and is cancelled then; :class:`daemon.shutdown.Shutdown` does it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from daemon.alerts import Alerts
from daemon.brokers.base import (
    Broker,
    BrokerError,
    FatalBrokerError,
)
from daemon.calendars.event_rules import event_jobs, make_entry_guard
from daemon.calendars.exchange import default_calendar
from daemon.clock import NEW_YORK, OffsetClock
from daemon.config import AlvhConfig
from daemon.crashpoints import crash_point
from daemon.dryrun import DryRunBroker
from daemon.engine import TradingEngine
from daemon.exits import CONNECT_FAILURE_EVENTS, ExitStatus, connect_failure_status
from daemon.journal import Journal
from daemon.marketdata.live_signals import DailyBarSource, IBSignalSource
from daemon.reconcile import Reconciler, book_runs, restore
from daemon.scheduling.jobs import JobName, job_definitions
from daemon.service import LoopWatchdog, SdNotifier, ServiceHealth, status_head
from daemon.shutdown import Shutdown, stop_grace_s

#: Exit statuses of ``alvh run`` (the whole table: :class:`daemon.exits.ExitStatus`).
EXIT_OK = ExitStatus.OK
EXIT_UNSAFE_ACCOUNT = ExitStatus.UNSAFE_ACCOUNT
EXIT_BROKER = ExitStatus.BROKER

#: How far ahead macro-event jobs are scheduled; refreshed daily.
EVENT_HORIZON = timedelta(days=7)

#: Most seconds a stop waits for the last alerts (the stop alert) to be sent.
STOP_ALERT_WAIT_S = 5.0

#: Scheduler jobs that do not trade; the STATUS line's "next ..." skips them.
HOUSEKEEPING_JOBS = frozenset({"status", "event_jobs"})


def signal_source(
    broker: Any, journal: Journal, calendar: Any, now: Any, log: Any
) -> IBSignalSource | None:
    """The hedge signals' source of a live run: journaled rows plus the broker's daily bars.

    The broker (not the dry-run wrapper: a dry run reads real data) must
    offer daily history (:class:`~daemon.marketdata.live_signals.DailyBarSource`,
    as the IB adapter does); otherwise the hedge decides without signals.
    """
    needed = ("index_daily_closes", "vix_future_daily_closes", "nyse_breadth")
    if not all(callable(getattr(broker, name, None)) for name in needed):
        log.warning("signals_without_source", broker=getattr(broker, "name", "?"))
        return None
    bars: DailyBarSource = broker
    return IBSignalSource(bars, journal, calendar, now, log)


@dataclass(frozen=True, slots=True)
class LiveOptions:
    """Command-line choices for one ``alvh run``."""

    dry_run: bool = False
    now: datetime | None = None
    run_jobs: Sequence[JobName] = ()


async def run_live(
    config: AlvhConfig,
    log: Any,
    options: LiveOptions,
    broker: Broker | None = None,
    notifier: SdNotifier | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Run the daemon until SIGTERM/SIGINT (or ``stop`` is set); returns the exit status.

    Args:
        config: validated configuration (``[broker]`` says where IB listens).
        log: structlog bound logger.
        options: dry run, clock shift for drills, jobs to run at once.
        broker: a broker to use instead of building the IB adapter (tests).
        notifier: systemd notifier (default: from ``$NOTIFY_SOCKET``).
        stop: set it to stop the daemon (default: a new event set by signals).

    Returns:
        0 after a clean stop (SIGTERM/SIGINT or ``stop``, at any phase), 2
        when ``options.now`` is given in live mode (a usage mistake; ``alvh
        run`` refuses it before calling), 3 when the account guard refuses
        the accounts, 4 when the broker cannot be reached or leaves a
        start-up request unanswered.

    Raises:
        JournalError, CalendarFileError: the journal or an event calendar
            cannot be used (nothing was traded).
    """
    if options.now is not None and config.broker.trading_mode == "live":
        log.error("refused", reason="--now is for drills and is refused with trading_mode = live")
        return ExitStatus.USAGE
    notifier = notifier or SdNotifier()
    shutdown = Shutdown(stop or asyncio.Event(), stop_grace_s(config), log, notifier)
    shutdown.install_signal_handlers()
    alerts = Alerts(config.alerts, log)
    alerts.source = f"alvh {'dry-run' if options.dry_run else config.broker.trading_mode}"
    try:
        status = await shutdown.run(
            _serve(config, log, options, broker, notifier, shutdown, alerts)
        )
    except Exception as exc:  # a bug: say so, then let alvh run report it
        alerts.notify("stop", "crashed", f"{type(exc).__name__}: {exc}")
        await _close_alerts(alerts, config)
        raise
    why = shutdown.reason or "start-up ended"
    try:
        label = f"{int(status)} ({ExitStatus(status).name.lower()})"
    except ValueError:
        label = str(int(status))
    alerts.notify("stop", f"stopped, exit status {label}", f"stop reason: {why}")
    await _close_alerts(alerts, config)
    return status


async def _close_alerts(alerts: Alerts, config: AlvhConfig) -> None:
    """Give the queued alerts (the stop) a bounded moment, off the loop."""
    await asyncio.to_thread(alerts.close, min(config.alerts.send_timeout_s, STOP_ALERT_WAIT_S))


async def _serve(
    config: AlvhConfig,
    log: Any,
    options: LiveOptions,
    broker: Broker | None,
    notifier: SdNotifier,
    shutdown: Shutdown,
    alerts: Alerts,
) -> int:
    """Start up, then serve until a stop: the body that :meth:`Shutdown.run` supervises."""
    clock = OffsetClock(options.now) if options.now is not None else None
    now = clock.now if clock is not None else (lambda: datetime.now(UTC))
    calendar = default_calendar()
    macro = config.events.load_calendar()

    journal = Journal.open(config.journal.path, buffered=False)
    mode = "dry-run" if options.dry_run else config.broker.trading_mode
    run_id = journal.start_run(mode=mode, config_json=config.to_json())
    interrupted = journal.finish_interrupted_runs(run_id)
    log = log.bind(run_id=run_id, mode=mode)
    if interrupted:
        log.warning("interrupted_runs", runs=interrupted, reason="an earlier process was killed")
    shutdown.run_started(journal, run_id, log)
    if broker is None:
        from daemon.brokers.ib import IBBroker, IBSettings

        settings = IBSettings.from_config(
            config.broker,
            expiry_targets={config.condor.trading_class: config.condor.target_dte},
            # quote only the strikes the rules can pick (issue 9: line budget)
            strike_targets={
                config.condor.trading_class: (
                    config.condor.short_delta,
                    config.condor.wing_width,
                )
            },
            strike_bands={"VIX": (config.hedge.otm_min, config.hedge.otm_max)},
        )
        broker = IBBroker(settings, log=log, clock=now, fill_filter=journal.order_exists)
    shutdown.broker = broker
    dry_run: DryRunBroker | None = None
    if options.dry_run:  # fills its own orders, sends none (daemon.dryrun)
        dry_run = DryRunBroker(
            broker,
            log,
            journal,
            run_id,
            config.replay.costs(),
            config.replay.starting_cash,
            now,
        )
    trading_broker: Any = dry_run if dry_run is not None else broker
    engine = TradingEngine(
        trading_broker,
        journal,
        run_id,
        now,
        config.condor.to_rules(),
        config.hedge.to_rules(),
        log,
        entry_guard=make_entry_guard(macro, config.events, now) if config.events.enabled else None,
        is_session=calendar.is_session,
        session_close=calendar.session_close,
        settle_expired=True,
        signal_source=signal_source(broker, journal, calendar, now, log),
        signal_params=config.signals.to_params(),
        alerts=alerts,
        adjust_rules=config.adjust.to_rules(),
        risk_rules=config.risk.to_rules(),
        order_policy=config.broker.order_policy(),
    )
    if isinstance(engine.signal_source, IBSignalSource):
        engine.after_mark = engine.signal_source.record_close
    engine.book_ready = False
    log.info("starting", journal=str(config.journal.path))
    notifier.status(f"connecting to {config.broker.host}:{config.broker.port}")
    try:
        crash_point("connect")
        await broker.connect()
    except BrokerError as exc:
        status = connect_failure_status(exc)
        log.error(CONNECT_FAILURE_EVENTS[status], reason=str(exc))
        shutdown.failed(str(exc))
        return status
    crash_point("after_connect")

    # The book: only runs of this mode on this account (a paper book never
    # reaches a live account). Fills the gateway reported while connecting are
    # already journaled and are folded in here like every other fill.
    account = getattr(broker, "account_id", None) or config.broker.account
    if account:
        journal.set_run_account(run_id, account)
        alerts.source = f"alvh {mode} {account}"
    if dry_run is not None:
        dry_run.book_runs = lambda: book_runs(journal, mode, account)
    runs = book_runs(journal, mode, account)
    live_orders = restore(journal, runs, engine.portfolio)
    engine.restore_risk(
        [(row.session, row.net_liquidation) for run in runs for row in journal.daily(run)]
    )
    for ref, structure_id in live_orders.items():
        engine.executor.track(ref, structure_id)
    engine.book_ready = True
    crash_point("after_restore")
    log.info(
        "restored",
        account=account,
        open_structures=len(engine.portfolio.open_positions()),
        orders_not_final=len(live_orders),
    )
    reconciler = Reconciler(engine, config.broker.open_order_policy, log)
    report = await reconciler.run()
    if report.halt_reason is None:
        log.info("reconciled", positions=len(engine.portfolio.net_contracts()))
    engine.before_manage = reconciler.run

    health = ServiceHealth.from_config(
        config.service, broker_connected=lambda: bool(getattr(broker, "connected", True))
    )
    lock = asyncio.Lock()

    # A refusal no restart or retry can cure, met while serving (another client
    # took our client id during a reconnect): stop with its exit status.
    fatal: list[ExitStatus] = []

    async def run_job(job: JobName, trigger: str | None = None) -> None:
        async with lock:
            try:
                await shutdown.job(job.value, engine.run_job(job, trigger))
            except FatalBrokerError as exc:
                status = connect_failure_status(exc)
                log.error(CONNECT_FAILURE_EVENTS[status], reason=str(exc), job=job.value)
                health.job_finished(job.value, exc)
                alerts.notify("job_failed", f"job {job.value} failed; stopping", str(exc))
                fatal.append(status)
                shutdown.request_stop(CONNECT_FAILURE_EVENTS[status])
            except Exception as exc:  # a failed job must not stop the daemon
                log.exception("job_failed", job=job.value, error=str(exc))
                health.job_finished(job.value, exc)
                alerts.notify(
                    "job_failed", f"job {job.value} failed", f"{type(exc).__name__}: {exc}"
                )
            else:
                health.job_finished(job.value)
            finally:
                journal.flush(force=True)

    scheduler = AsyncIOScheduler(
        timezone=NEW_YORK,
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": config.schedule.misfire_grace_s,
        },
    )
    times = config.schedule.times()
    for job in job_definitions(**times, calendar=calendar):
        scheduler.add_job(run_job, job.trigger, args=[job.name], id=job.name.value)

    def schedule_events() -> None:
        start = now()
        for ev in event_jobs(start, start + EVENT_HORIZON, macro, config.events, calendar):
            scheduler.add_job(
                run_job,
                DateTrigger(run_date=ev.fire_time),
                args=[JobName(ev.kind.value), ev.describe()],
                id=ev.job_id,
                replace_existing=True,
            )

    if config.events.enabled:
        schedule_events()
        scheduler.add_job(
            schedule_events, CronTrigger(hour=6, minute=0, timezone=NEW_YORK), id="event_jobs"
        )
    scheduler.start()
    upcoming = sorted(
        (j.next_run_time, j.id) for j in scheduler.get_jobs() if j.next_run_time is not None
    )
    for when, job_id in upcoming[:6]:
        log.info("scheduled", job=job_id, next_run=when.isoformat())

    watchdog = LoopWatchdog.from_config(config.service, health.check, notifier)
    if watchdog is not None:

        def report_unhealthy(reason: str) -> None:
            notifier.status(f"unhealthy: {reason}")

        watchdog.on_skip = report_unhealthy
        watchdog.on_beat = lambda: journal.record_watchdog_beat(now())
        watchdog.start()

    async def send_status() -> None:  # a coroutine: APScheduler runs it on the loop
        pending = [
            j
            for j in scheduler.get_jobs()
            if j.next_run_time is not None and j.id not in HOUSEKEEPING_JOBS
        ]
        nxt = min(pending, key=lambda j: j.next_run_time) if pending else None
        head = status_head(mode, broker, config.broker.market_data_type)
        text = f"{head}: {len(engine.portfolio.open_positions())} open structure(s)"
        if health.last_job:
            text += f", last job {health.last_job} {'ok' if health.last_job_ok else 'FAILED'}"
        if nxt is not None:
            text += f", next {nxt.id} at {nxt.next_run_time:%Y-%m-%d %H:%M %Z}"
        notifier.status(text)

    scheduler.add_job(send_status, "interval", seconds=config.service.status_every_s, id="status")
    first = next((u for u in upcoming if u[1] not in HOUSEKEEPING_JOBS), None)
    head = status_head(mode, broker, config.broker.market_data_type)
    ready_text = f"{head}: next {first[1]} at {first[0]:%Y-%m-%d %H:%M %Z}" if first else head
    shutdown.serving(scheduler, watchdog)
    notifier.ready(ready_text)
    log.info("ready", status=ready_text)
    alerts.notify("start", "started", ready_text)
    for job_name in options.run_jobs:
        await run_job(job_name)
    await shutdown.wait()
    return fatal[0] if fatal else EXIT_OK
