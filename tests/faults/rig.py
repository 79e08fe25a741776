"""An in-process daemon against the fake TWS, wired as ``alvh run`` wires it.

:func:`start` mirrors :func:`daemon.live.run_live`'s start-up without the
scheduler and the service plumbing: open the journal unbuffered, start a run,
build the real :class:`~daemon.brokers.ib.IBBroker` (fill filter: the
journal's orders) and the :class:`~daemon.engine.TradingEngine` (book not
ready, live expiry settlement on), connect (a refusal is logged, finishes the run
and sets run_live's exit status), record the account, restore
the book from the runs of the same mode and account, track the orders whose
fate is not final, reconcile, and reconcile again before every manage job.
:meth:`Daemon.job` runs a job as run_live's ``run_job`` does (an exception is
logged as ``job_failed`` and the daemon goes on); :meth:`Daemon.stop` is its
clean shutdown, :meth:`Daemon.kill` a SIGKILL (the socket closes, the run is
not finished). A restart is a new :func:`start` on the same journal file and
the same :class:`~tests.fake_tws.FakeTWS`.

Every timeout is short (see :func:`broker_config`), so a fault costs a second
or two, not minutes.

Gateway and journal are read independently of the daemon: the gateway through
the fake's inspection methods, the journal through a separate ``sqlite3``
connection (what a crash would leave) and by folding it as a restart does.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from daemon.brokers.base import BrokerError
from daemon.brokers.ib import IBBroker, IBSettings
from daemon.brokers.ib.executions import REVERSAL_SUFFIX
from daemon.calendars.exchange import default_calendar
from daemon.clock import NEW_YORK, OffsetClock
from daemon.config import BrokerConfig
from daemon.engine import TradingEngine
from daemon.exits import CONNECT_FAILURE_EVENTS, connect_failure_status
from daemon.journal import Journal, legs_from_json
from daemon.reconcile import OpenOrderPolicy, Reconciler, ReconcileReport, book_runs, restore
from daemon.scheduling.jobs import JobName
from strategies.domain import Leg, OptionContract, Right
from strategies.portfolio import Portfolio
from strategies.rules import CondorRules, HedgeRules
from tests.daemon.rig import rows
from tests.fake_tws import FakeTWS, Scenario

HOST = "127.0.0.1"
ACCOUNT = "DU1234567"
MODE = "paper"

#: Day 1 (a Friday): the entry job opens a condor on the 14-DTE SPXW expiry.
ENTRY_DAY = date(2026, 11, 20)
ENTRY_TIME = datetime(2026, 11, 20, 15, 30, tzinfo=NEW_YORK)
#: The expiry the entry picks (target 14 DTE).
EXPIRY = date(2026, 12, 4)
#: Two days before that expiry: the condor is at its DTE floor (exit_dte = 2).
FLOOR_TIME = datetime(2026, 12, 2, 15, 45, tzinfo=NEW_YORK)
#: The expiry session after its close and the gateway's expiry cut-off (16:30).
AFTER_EXPIRY = datetime(2026, 12, 4, 17, 0, tzinfo=NEW_YORK)

#: Rules that size the condor at exactly 6 (the issue's 6-lot condor).
SIX_LOTS = CondorRules(max_contracts=6, max_loss_pct_of_net_liq=100.0)

#: Exit statuses of ``alvh run`` (daemon.live).
EXIT_OK, EXIT_UNSAFE_ACCOUNT, EXIT_BROKER, EXIT_CLIENT_ID_IN_USE = 0, 3, 4, 6

#: Bound of one test, seconds.
TEST_TIMEOUT = 60.0

#: Journal order states in which an order may still fill.
LIVE_STATES = ("intent", "submitted", "working", "partially_filled", "unknown")


class DrillClock:
    """``alvh run --now``'s clock (:class:`OffsetClock`) that a test can move.

    Runs at the normal rate from the last :meth:`set`; the fake gateway reads
    the same clock (execution times, expiries, daily bars).
    """

    def __init__(self, start: datetime) -> None:
        self._clock = OffsetClock(start)

    def set(self, when: datetime) -> None:
        self._clock = OffsetClock(when)

    def now(self) -> datetime:
        return self._clock.now()


@dataclass
class RecordingLog:
    """A structlog-like logger recording ``(level, event, fields)``; ``bind`` returns itself."""

    records: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def bind(self, **_fields: Any) -> RecordingLog:
        return self

    def __getattr__(self, level: str) -> Callable[..., None]:
        if level.startswith("__"):
            raise AttributeError(level)

        def record(event: str, **fields: Any) -> None:
            self.records.append((level, event, fields))

        return record

    def events(self, event: str) -> list[dict[str, Any]]:
        """Fields of every record of ``event``."""
        return [f for _, e, f in self.records if e == event]

    def at(self, *levels: str) -> list[tuple[str, dict[str, Any]]]:
        """(event, fields) of every record at one of ``levels``."""
        return [(e, f) for lvl, e, f in self.records if lvl in levels]


def broker_config(port: int, **overrides: Any) -> BrokerConfig:
    """``[broker]`` of the fault tests: the fake's port and short timeouts (seconds)."""
    values: dict[str, Any] = {
        "host": HOST,
        "port": port,
        "client_id": 17,
        "connect_timeout_s": 5.0,
        "request_timeout_s": 2.0,
        "quote_timeout_s": 1.0,
        "walk_interval_s": 0.1,
        "walk_timeout_s": 1.0,
        "commission_wait_s": 1.0,
        "connect_attempts": 2,
        "reconnect_initial_s": 0.05,
        "reconnect_max_s": 0.2,
        "link_grace_s": 5.0,
        "order_disconnect_grace_s": 10.0,
    }
    values.update(overrides)
    return BrokerConfig(**values)


def ib_settings(config: BrokerConfig, rules: CondorRules, cancel_wait_s: float) -> IBSettings:
    """As run_live builds them (``from_config`` with the condor's target DTE), with a
    short wait for cancel confirmations (not a config key; 10 s by default)."""
    settings = IBSettings.from_config(
        config, expiry_targets={rules.trading_class: rules.target_dte}
    )
    return replace(
        settings,
        walk=replace(settings.walk, cancel_wait_s=cancel_wait_s),
        stop_cancel_wait_s=cancel_wait_s,
    )


def scenario(**fields: Any) -> Scenario:
    """The gateway of day 1 (one paper account); fault fields as keyword arguments."""
    fields.setdefault("accounts", [ACCOUNT])
    fields.setdefault("today", ENTRY_DAY)
    return Scenario(**fields)


@dataclass
class Daemon:
    """One in-process ``alvh run``: journal, IB broker, engine, reconciler."""

    path: Path
    tws: FakeTWS
    clock: DrillClock
    log: RecordingLog
    journal: Journal
    run_id: int
    broker: IBBroker
    engine: TradingEngine
    reconciler: Reconciler | None = None
    report: ReconcileReport | None = None
    account: str | None = None
    exit_status: int | None = None

    async def job(self, name: JobName, trigger: str | None = None) -> bool:
        """Run one job as run_live's ``run_job``; False when it failed (``job_failed``)."""
        try:
            await self.engine.run_job(name, trigger)
        except Exception as exc:  # a failed job must not stop the daemon
            self.log.exception("job_failed", job=name.value, error=str(exc))
            return False
        finally:
            self.journal.flush(force=True)
        return True

    async def reconcile(self) -> ReconcileReport:
        """One reconciliation (what every manage job starts with)."""
        assert self.reconciler is not None
        self.report = await self.reconciler.run()
        return self.report

    async def stop(self) -> None:
        """run_live's shutdown: disconnect, finish the run, close the journal."""
        await self.broker.disconnect()
        self.journal.finish_run(self.run_id, self.journal.summary(self.run_id))
        self.journal.close()

    async def kill(self) -> None:
        """SIGKILL: the socket closes; the run is left unfinished."""
        await self.broker.disconnect()
        self.journal.close()

    @property
    def halt(self) -> str | None:
        return self.engine.entry_halt

    def failures(self) -> list[dict[str, Any]]:
        """``job_failed`` records and anything logged with a traceback."""
        return [f for lvl, _e, f in self.log.records if lvl == "exception"]


async def start(
    path: Path,
    tws: FakeTWS,
    clock: DrillClock,
    *,
    condor_rules: CondorRules = SIX_LOTS,
    hedge_rules: HedgeRules | None = None,
    policy: OpenOrderPolicy = "adopt",
    cancel_wait_s: float = 1.0,
    **config: Any,
) -> Daemon:
    """Start a daemon on ``path`` against ``tws``; ``config``: ``[broker]`` keys."""
    log = RecordingLog()
    journal = Journal.open(path, buffered=False)
    run_id = journal.start_run(mode=MODE)
    settings = ib_settings(broker_config(tws.port, **config), condor_rules, cancel_wait_s)
    broker = IBBroker(settings, log=log, clock=clock.now, fill_filter=journal.order_exists)
    # The fake does not enforce IB's 50 messages/s; without ib_async's pacing an
    # entry's ~250 market-data messages take well under a second instead of 5.
    broker.ib.client.MaxRequests = 0
    calendar = default_calendar()
    engine = TradingEngine(
        broker,
        journal,
        run_id,
        clock.now,
        condor_rules,
        hedge_rules or HedgeRules(),
        log,
        is_session=calendar.is_session,
        session_close=calendar.session_close,
        settle_expired=True,
    )
    engine.book_ready = False
    daemon = Daemon(path, tws, clock, log, journal, run_id, broker, engine)
    try:
        await broker.connect()
    except BrokerError as exc:
        status = connect_failure_status(exc)  # the mapping run_live uses
        log.error(CONNECT_FAILURE_EVENTS[status], reason=str(exc))
        journal.finish_run(run_id, {"error": str(exc)})
        journal.close()
        daemon.exit_status = int(status)
        return daemon
    account = broker.account_id
    assert account is not None
    daemon.account = account
    journal.set_run_account(run_id, account)
    live_orders = restore(journal, book_runs(journal, MODE, account), engine.portfolio)
    for ref, structure_id in live_orders.items():
        engine.executor.track(ref, structure_id)
    engine.book_ready = True
    daemon.reconciler = Reconciler(engine, policy, log)
    await daemon.reconcile()
    engine.before_manage = daemon.reconcile
    return daemon


# --------------------------------------------------------------------------- the journal


def order_row(path: Path, ref: str) -> dict[str, Any]:
    [row] = rows(path, "SELECT * FROM orders WHERE order_ref = ?", ref)
    return row


def order_rows(path: Path) -> list[dict[str, Any]]:
    return rows(path, "SELECT * FROM orders ORDER BY rowid")


def events(path: Path, ref: str) -> list[str]:
    """The order's journaled states, oldest first."""
    return [
        r["state"]
        for r in rows(path, "SELECT state FROM order_events WHERE order_ref = ? ORDER BY id", ref)
    ]


def fill_rows(path: Path, ref: str | None = None) -> list[dict[str, Any]]:
    if ref is None:
        return rows(path, "SELECT * FROM fills ORDER BY rowid")
    return rows(path, "SELECT * FROM fills WHERE order_ref = ? ORDER BY rowid", ref)


def position_rows(path: Path) -> list[dict[str, Any]]:
    return rows(path, "SELECT * FROM positions ORDER BY rowid")


def decision_rows(path: Path, rule: str | None = None) -> list[dict[str, Any]]:
    if rule is None:
        return rows(path, "SELECT * FROM decisions ORDER BY rowid")
    return rows(path, "SELECT * FROM decisions WHERE rule = ? ORDER BY rowid", rule)


def settlement_rows(path: Path) -> list[dict[str, Any]]:
    return rows(path, "SELECT * FROM settlements ORDER BY id")


def opened(path: Path, rule: str = "condor_entry") -> list[str]:
    """Ids of the decisions of ``rule`` that opened a structure (= their orderRefs)."""
    return [str(d["id"]) for d in decision_rows(path, rule) if d["action"] == "open"]


def entry_ref(path: Path) -> str:
    """The orderRef (= structure id) of the one condor entry that opened."""
    [ref] = opened(path)
    return ref


def legs_of(path: Path, decision_id: str) -> tuple[Leg, ...]:
    """The legs a decision traded (or would have)."""
    [row] = rows(path, "SELECT legs_json FROM decisions WHERE id = ?", decision_id)
    return legs_from_json(row["legs_json"])


def holding(legs: Iterable[Leg], units: int) -> dict[OptionContract, int]:
    """Signed contracts of ``units`` combo units of ``legs``."""
    return {leg.contract: leg.ratio * units for leg in legs}


def folded_book(path: Path, account: str = ACCOUNT) -> Portfolio:
    """The book a restart would rebuild from the file."""
    journal = Journal.open(path, read_only=True)
    try:
        portfolio = Portfolio()
        restore(journal, book_runs(journal, MODE, account), portfolio)
    finally:
        journal.close()
    return portfolio


# --------------------------------------------------------------------------- the gateway


def option_of(tws: FakeTWS, con_id: int) -> OptionContract:
    """The domain contract of a fake conId."""
    spec = tws.scenario.contract_by_id(con_id)
    assert spec is not None and spec.sec_type == "OPT", con_id
    return OptionContract(
        spec.symbol,
        spec.trading_class,
        datetime.strptime(spec.last_trade_date[:8], "%Y%m%d").date(),
        spec.strike,
        Right.CALL if spec.right == "C" else Right.PUT,
    )


def con_id_of(tws: FakeTWS, contract: OptionContract) -> int:
    """The fake's conId of a domain option."""
    return tws.scenario.option(
        contract.trading_class,
        contract.expiry.strftime("%Y%m%d"),
        contract.strike,
        contract.right.value,
    ).con_id


def gateway_positions(tws: FakeTWS) -> dict[OptionContract, int]:
    """Signed option positions at the gateway, by domain contract."""
    return {
        option_of(tws, con_id): round(qty)
        for con_id, qty in tws.position_quantities(ACCOUNT).items()
        if qty
    }


def leg_executions(tws: FakeTWS, ref: str | None = None) -> list[Any]:
    """The gateway's option (leg) executions, of ``ref`` if given."""
    return [
        e
        for e in tws.executions
        if e.contract.sec_type == "OPT" and (ref is None or e.order_ref == ref)
    ]


def gateway_orders(tws: FakeTWS, ref: str) -> list[Any]:
    """Every order the gateway saw with orderRef ``ref``."""
    return [o for o in tws.orders if o.order_ref == ref]


def assert_agree(daemon: Daemon) -> None:
    """The invariants every fault must leave, read from the gateway and the file.

    Gateway positions equal the journal's (folded as a restart folds it) and
    the running book's; nothing is working at the gateway and no journaled
    order is in a state that may still fill; a structure's row is closed
    exactly when it holds nothing; every leg execution at the gateway is
    journaled exactly once (a corrected one together with its reversal); no
    orderRef became two orders; the file's integrity check is ok.
    """
    tws, path = daemon.tws, daemon.path
    gateway = gateway_positions(tws)
    book = folded_book(path)
    assert book.net_contracts() == gateway
    assert daemon.engine.portfolio.net_contracts() == gateway
    assert tws.open_orders() == []
    not_final = [
        (r["order_ref"], r["status"]) for r in order_rows(path) if r["status"] in LIVE_STATES
    ]
    assert not_final == []
    for row in position_rows(path):
        holds = not book.structures[row["id"]].is_flat
        assert (row["closed_session"] is None) == holds, row
    journaled = Counter(r["exec_id"] for r in fill_rows(path))
    assert all(n == 1 for n in journaled.values()), journaled
    reversals = {x for x in journaled if x.endswith(REVERSAL_SUFFIX)}
    assert set(journaled) - reversals == {e.exec_id for e in leg_executions(tws)}
    ib_orders = {(o.order_ref, o.client_id, o.order_id) for o in tws.orders}
    per_ref = Counter(ref for ref, _client, _order_id in ib_orders)
    assert all(n == 1 for n in per_ref.values()), per_ref
    [integrity] = rows(path, "PRAGMA integrity_check")
    assert list(integrity.values()) == ["ok"]


@asynccontextmanager
async def gateway(
    at: datetime = ENTRY_TIME, timeout: float = TEST_TIMEOUT, **faults: Any
) -> AsyncIterator[tuple[FakeTWS, DrillClock]]:
    """A fake TWS on day 1 whose clock is the drill clock (set to ``at``); ``faults``:
    :class:`~tests.fake_tws.Scenario` fields. The whole test is bounded by ``timeout``."""
    clock = DrillClock(at)
    async with asyncio.timeout(timeout), FakeTWS(scenario(clock=clock.now, **faults)) as tws:
        yield tws, clock


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``predicate`` until it holds (TimeoutError otherwise)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)
