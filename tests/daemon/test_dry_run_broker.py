"""The dry run's broker: the replay's fill model on the gateway's quotes, its own book.

The scripted broker plays the gateway: it has real positions and a working
order of its own, which a dry run must neither touch nor compare with. Nothing
may reach its ``place_order`` or ``cancel_order``.
"""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

from daemon.brokers.base import Fill, Position
from daemon.brokers.fill_model import SimulationCosts, leg_fill_price
from daemon.clock import NEW_YORK
from daemon.dryrun import DryRunBroker, journal_book
from daemon.engine import TradingEngine
from daemon.journal import Journal
from daemon.reconcile import Reconciler, book_runs, restore
from daemon.scheduling.jobs import JobName
from strategies.plan import Plan
from strategies.rules import CondorRules, HedgeRules
from tests.daemon.rig import CONDOR, EXPIRY, LP, SESSION, VIX_CALL, open_decision, rows
from tests.daemon.rig import start as start_paper
from tests.daemon.scripted_broker import (
    Gateway,
    ManualClock,
    RecordingLog,
    ScriptedBroker,
    leg_quote,
)

COSTS = SimulationCosts()
ACCOUNT = "DU123"
#: Quotes of the condor's legs (bid, ask): a 2.90 mid credit, 0.20 wide.
QUOTES = {leg.contract: leg_quote(leg.contract, m - 0.1, m + 0.1) for leg, m in zip(
    CONDOR, (2.0, 3.5, 3.0, 1.6), strict=True
)}  # fmt: skip


class DryRig:
    """A dry-run daemon on ``path``: engine over :class:`DryRunBroker` over the gateway."""

    def __init__(self, path: Path, gateway: Gateway, clock: ManualClock) -> None:
        self.log = RecordingLog()
        self.journal = Journal.open(path, buffered=False)
        self.run_id = self.journal.start_run("dry-run")
        self.gateway_broker = ScriptedBroker(clock.now, gateway)
        self.gateway_broker.quotes = dict(QUOTES)
        self.broker = DryRunBroker(
            self.gateway_broker, self.log, self.journal, self.run_id, COSTS, 100_000.0, clock.now
        )
        self.engine = TradingEngine(
            self.broker,  # type: ignore[arg-type]
            self.journal,
            self.run_id,
            clock.now,
            CondorRules(),
            HedgeRules(),
            self.log,
            settle_expired=True,
        )
        self.journal.set_run_account(self.run_id, ACCOUNT)
        self.broker.book_runs = lambda: book_runs(self.journal, "dry-run", ACCOUNT)
        for ref, sid in restore(
            self.journal, book_runs(self.journal, "dry-run", ACCOUNT), self.engine.portfolio
        ).items():
            self.engine.executor.track(ref, sid)
        self.reconciler = Reconciler(self.engine, "adopt", self.log)
        self.engine.before_manage = self.reconciler.run

    async def open_condor(self, quantity: int = 2) -> str:
        await self.engine.executor.execute(Plan.of(open_decision(quantity)))
        [row] = rows(self.journal.path, "SELECT id FROM positions WHERE run_id = ?", self.run_id)
        return str(row["id"])


def _gateway_with_its_own_business() -> Gateway:
    """A paper account holding real options and working a real order of another client."""
    gateway = Gateway(account_id=ACCOUNT)
    gateway.positions = [Position(VIX_CALL, 7, 1.0), Position(LP, -3, 2.0)]
    return gateway


def _clock() -> ManualClock:
    return ManualClock(datetime.combine(SESSION, time(15, 30), NEW_YORK))


async def test_orders_fill_at_the_quotes_through_the_replay_model_and_nothing_is_sent(
    tmp_path: Path,
) -> None:
    rig = DryRig(tmp_path / "j.sqlite", _gateway_with_its_own_business(), _clock())
    structure = await rig.open_condor(quantity=2)
    fills = rows(rig.journal.path, "SELECT * FROM fills ORDER BY rowid")
    assert [f["exec_id"] for f in fills] == [f"dry-r{rig.run_id}-{n}" for n in (1, 2, 3, 4)]
    for fill, leg in zip(fills, CONDOR, strict=True):
        assert fill["order_ref"] == structure and fill["quantity"] == 2 * leg.ratio
        assert fill["price"] == leg_fill_price(QUOTES[leg.contract], leg.ratio, COSTS)
        assert fill["commission"] == 2 * COSTS.per_contract(leg.contract)
    [order] = rows(rig.journal.path, "SELECT * FROM orders")
    assert (order["status"], order["filled_quantity"]) == ("filled", 2)
    # the credit is the mid less half of the half spread on each leg: 2.90 - 4 x 0.05
    assert abs(order["avg_price"] - (-2.70)) < 1e-9
    assert rig.engine.portfolio.structures[structure].held_units == 2
    assert rig.gateway_broker.placed == [] and rig.gateway_broker.cancels == []
    # only market data and the connection pass through to the gateway
    assert rig.broker.connected and not hasattr(rig.broker, "deliver_pending")


async def test_reconciliation_compares_the_book_with_its_own_journal_not_the_gateway(
    tmp_path: Path,
) -> None:
    rig = DryRig(tmp_path / "j.sqlite", _gateway_with_its_own_business(), _clock())
    await rig.open_condor()
    report = await rig.reconciler.run()
    assert report.halt_reason is None and not report.position_differences
    assert rig.engine.entry_halt is None
    # a fill in the journal that the book does not hold (an unrouted fill) is a difference
    stray = Fill("dry-stray-1", "nobody", VIX_CALL, 3, 1.0, 1.0, _clock().now())
    assert rig.journal.record_fill(stray, rig.run_id)
    report = await rig.reconciler.run()
    assert report.position_differences == [(VIX_CALL, 0, 3)]
    assert rig.engine.entry_halt and "differ" in rig.engine.entry_halt
    assert rig.gateway_broker.resyncs == 0 and rig.gateway_broker.cancels == []


async def test_a_dry_run_book_never_reaches_paper_and_paper_never_reaches_a_dry_run(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    paper = await start_paper(path, account=ACCOUNT)
    paper_structure = await paper.open()
    paper.close()
    dry = DryRig(path, Gateway(account_id=ACCOUNT), _clock())
    assert dry.engine.portfolio.open_positions() == []
    dry_structure = await dry.open_condor()
    dry.journal.close()
    again = DryRig(path, Gateway(account_id=ACCOUNT), _clock())
    assert [p.id for p in again.engine.portfolio.open_positions()] == [dry_structure]
    again.journal.close()
    paper = await start_paper(path, account=ACCOUNT, gateway=paper.broker.gateway)
    assert [p.id for p in paper.portfolio.open_positions()] == [paper_structure]
    assert paper.report is not None and paper.report.halt_reason is None


async def test_expired_dry_run_options_settle_like_live_and_leave_the_book(
    tmp_path: Path,
) -> None:
    gateway = Gateway(account_id=ACCOUNT)
    clock = _clock()
    rig = DryRig(tmp_path / "j.sqlite", gateway, clock)
    structure = await rig.open_condor()
    # SPX settles at 4120 on expiry: the 4100 call is 20 in the money, the rest expire
    gateway.settlement_prices = {leg.contract: 4120.0 for leg in CONDOR}
    clock.current = datetime.combine(EXPIRY, time(16, 30), NEW_YORK)
    await rig.engine.run_job(JobName.MANAGE)
    settlements = rows(rig.journal.path, "SELECT * FROM settlements")
    assert len(settlements) == 4 and {s["settlement_price"] for s in settlements} == {4120.0}
    [position] = rows(rig.journal.path, "SELECT * FROM positions WHERE id = ?", structure)
    assert position["closed_session"] == EXPIRY.isoformat()
    net, _cash = journal_book(rig.journal, [rig.run_id])
    assert net == {} and await rig.broker.positions() == []
    assert rig.engine.entry_halt is None
    assert rig.gateway_broker.placed == []


async def test_a_leg_without_a_two_sided_quote_is_not_filled_and_halts_nothing(
    tmp_path: Path,
) -> None:
    rig = DryRig(tmp_path / "j.sqlite", Gateway(account_id=ACCOUNT), _clock())
    del rig.gateway_broker.quotes[LP]  # the scripted gateway answers NaN
    await rig.engine.executor.execute(Plan.of(open_decision(2)))
    [order] = rows(rig.journal.path, "SELECT * FROM orders")
    assert order["status"] == "cancelled" and "no two-sided quote" in order["reason"]
    assert rows(rig.journal.path, "SELECT * FROM fills") == []
    assert rig.engine.entry_halt is None and rig.engine.portfolio.open_positions() == []


async def test_the_account_is_starting_cash_plus_the_books_cash_and_marks(tmp_path: Path) -> None:
    rig = DryRig(tmp_path / "j.sqlite", Gateway(account_id=ACCOUNT), _clock())
    await rig.open_condor(quantity=2)
    account = await rig.broker.account()
    commissions = sum(2 * COSTS.per_contract(leg.contract) for leg in CONDOR)
    assert abs(account.cash - (100_000.0 + 2.70 * 2 * 100 - commissions)) < 1e-6
    marked = sum(2 * leg.ratio * QUOTES[leg.contract].mid * 100 for leg in CONDOR)
    assert abs(account.net_liquidation - (account.cash + marked)) < 1e-6
