"""The ``alvh`` command line.

``alvh run`` trades through TWS / IB Gateway (paper unless the config file
says live or ``--live`` is given);
``alvh replay`` replays real history through the trading engine and journals
every decision, order and fill; ``alvh journal`` summarises a journal file;
``alvh calendar`` shows exchange sessions and macro events and imports
iCalendar schedules; ``alvh status`` reports a journal and ``alvh web``
serves a read-only dashboard of it; ``alvh report`` writes one run of a
journal as an HTML page with PNG charts (:mod:`daemon.report`); ``alvh study``
replays the method's variants over one range and writes a comparison page
(:mod:`daemon.study`); ``alvh sweep`` replays a grid of configs on Dask
(:mod:`daemon.sweep`).
Errors a user can fix (bad config, range outside the data, unreadable
journal) print one line to stderr and exit with status 2; a journal another
``alvh run`` or ``alvh replay`` holds (its ``.lock``) prints one line and exits
with status 5. :mod:`daemon.exits` has the whole table (``alvh --help`` shows it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import threading
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from daemon.exits import EXIT_STATUS_HELP, ExitStatus
from daemon.locking import JournalLock, JournalLocked, JournalLockError
from daemon.signals import latch_stop_signals, take_pending_stop

EXIT_USAGE = ExitStatus.USAGE


class CliError(Exception):
    """A user-fixable problem; printed as one line, exit status 2."""


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def version() -> str:
    """The installed package's version (``pyproject.toml``), ``"unknown"`` when not installed."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("alvh")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alvh",
        description="SPX iron condors with an Adaptive Layered VIX Hedge, "
        "on Interactive Brokers or replayed over real history.",
        epilog=EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"alvh {version()}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    replay = sub.add_parser("replay", help="replay real daily history through the engine")
    replay.add_argument("--start", type=_iso_date, required=True, help="first session, YYYY-MM-DD")
    replay.add_argument("--end", type=_iso_date, required=True, help="last session, YYYY-MM-DD")
    replay.add_argument("--config", type=Path, help="TOML config (default: built-in defaults)")
    replay.add_argument(
        "--journal", type=Path, help="SQLite journal to write (default: config journal.path)"
    )
    replay.add_argument(
        "--log-file",
        help="where the JSON event log goes: a file, or '-' for stdout "
        "(default: the journal path with .log appended)",
    )
    replay.add_argument(
        "--no-progress", action="store_true", help="no progress bar even on a terminal"
    )
    replay.add_argument(
        "--results-only",
        action="store_true",
        help="journal only the run, its daily rows and positions (no decisions, orders, "
        "fills or marks): smaller and faster, for sweeps; the summary is complete",
    )

    run = sub.add_parser(
        "run",
        help="trade through TWS / IB Gateway (paper by default) until SIGTERM",
        description="Trade through TWS / IB Gateway (paper by default) until SIGTERM or "
        "SIGINT, which stop it cleanly at any phase within [service] stop_grace_s. "
        "One daemon per journal: the journal's .lock file is held while it runs.",
        epilog=EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--config", type=Path, help="TOML config (default: built-in defaults)")
    run.add_argument("--host", help="override broker.host")
    run.add_argument("--port", type=_port, help="override broker.port")
    run.add_argument("--client-id", type=int, help="override broker.client_id")
    run.add_argument(
        "--live",
        action="store_true",
        help="trade live: sets broker.trading_mode = live (broker.account must still name "
        "a live account); the environment alone can never switch a paper config to live",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="send no order: fill each order at the gateway's quotes through the replay's "
        "fill model ([replay] costs) and keep the book in the journal as mode dry-run",
    )
    run.add_argument(
        "--run-job",
        action="append",
        default=[],
        choices=[j.value for j in _daily_jobs()],
        help="run this job once right after start-up (repeatable), then follow the schedule",
    )
    run.add_argument(
        "--now",
        type=_aware_datetime,
        help="drills only: pretend the clock reads this ISO time at start "
        "(refused in live trading)",
    )

    journal = sub.add_parser("journal", help="summarise a journal file")
    journal.add_argument("file", type=Path, help="journal SQLite file")
    journal.add_argument("--run", type=int, help="run id (default: the latest run)")
    journal.add_argument("--json", action="store_true", help="print one JSON object")

    from daemon import calendar_cli, modelcheck_cli, web
    from daemon import status as status_cmd
    from daemon.report import cli as report_cli
    from daemon.study import cli as study_cli
    from daemon.sweep import cli as sweep_cli

    status_cmd.add_parser(sub)
    web.add_parser(sub)
    calendar_cli.add_parser(sub)
    modelcheck_cli.add_parser(sub)
    report_cli.add_parser(sub)
    study_cli.add_parser(sub)
    sweep_cli.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``alvh`` console script; returns the exit status.

    ``alvh run`` ends with status 0 on SIGTERM or SIGINT at any moment: until
    :func:`daemon.live.run_live` installs its own handlers (while importing,
    building the parser, loading the config, taking the journal lock) a signal
    is latched (:mod:`daemon.signals`) and the command stops at the next safe
    point — nothing has been journaled or sent yet.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] != ["run"] or threading.current_thread() is not threading.main_thread():
        return _main(arguments)
    restore = latch_stop_signals()
    try:
        return _main(arguments)
    finally:
        restore()


def _main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "replay":
            return _replay(args)
        if args.command == "run":
            return _run(args)
        if args.command == "journal":
            return _journal(args)
        if args.command == "status":
            from daemon import status as status_cmd

            return status_cmd.run(args)
        if args.command == "web":
            from daemon import web

            return web.run(args)
        if args.command == "calendar":
            from daemon import calendar_cli

            return calendar_cli.run(args)
        if args.command == "model-check":
            from daemon import modelcheck_cli as mc_cli

            return mc_cli.run(args)
        if args.command == "report":
            from daemon.report import cli as report_cli

            return report_cli.run(args)
        if args.command == "study":
            from daemon.study import cli as study_cli

            return study_cli.run(args)
        if args.command == "sweep":
            from daemon.sweep import cli as sweep_cli

            return sweep_cli.run(args)
    except CliError as exc:
        print(f"alvh {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except JournalLocked as exc:
        print(f"alvh {args.command}: {exc}", file=sys.stderr)
        return ExitStatus.JOURNAL_LOCKED
    except KeyboardInterrupt:
        print(f"alvh {args.command}: interrupted", file=sys.stderr)
        return ExitStatus.INTERRUPTED
    raise AssertionError(f"unhandled command {args.command}")  # pragma: no cover


def _lock_journal(path: Path, command: str) -> JournalLock:
    """Take ``path``'s journal lock for this process (see :mod:`daemon.locking`).

    Raises:
        JournalLocked: another process holds it (exit status 5).
        CliError: the lock file cannot be created (exit status 2).
    """
    if str(path.parent) and not path.parent.is_dir():
        raise CliError(f"journal {path}: directory {path.parent} does not exist")
    try:
        return JournalLock.acquire(path, command=command)
    except JournalLocked:
        raise  # main() prints it: exit status 5
    except JournalLockError as exc:
        raise CliError(str(exc)) from None


def _replay(args: argparse.Namespace) -> int:
    from daemon.config import ConfigError, load_config

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise CliError(f"bad config: {exc}") from None
    journal_path: Path = args.journal or config.journal.path
    with _lock_journal(journal_path, "alvh replay"):
        return _replay_locked(args, config, journal_path)


def _replay_locked(args: argparse.Namespace, config: Any, journal_path: Path) -> int:
    from daemon.journal import Journal, JournalError
    from daemon.logs import configure_logging, get_logger
    from daemon.marketdata.loader import MarketDataError
    from daemon.replay import ReplayError, run_replay

    try:
        Journal.check_before_writing(journal_path)
    except JournalError as exc:
        raise CliError(str(exc)) from None
    log_target = args.log_file or f"{journal_path}.log"
    log_stream = sys.stdout if log_target == "-" else open_private_log(Path(log_target))
    try:
        # a replay's log file is read after the run: no flush per event
        # (stdout stays flushed, as it may be followed while the replay runs)
        configure_logging(
            config.logging.level,
            "json",
            log_stream,
            flush_each_event=log_stream is sys.stdout,
        )
        log = get_logger("alvh.replay")
        progress = _Progress(args.start, args.end, enabled=not args.no_progress)
        try:
            result = asyncio.run(
                run_replay(
                    config,
                    args.start,
                    args.end,
                    journal_path,
                    log,
                    on_session=progress.update,
                    results_only=args.results_only,
                )
            )
        except (ReplayError, MarketDataError, JournalError) as exc:
            raise CliError(str(exc)) from None
        finally:
            progress.close()
    finally:
        if log_stream is not sys.stdout:
            # Point logging back at stderr before the file it writes to is closed.
            configure_logging(config.logging.level, "auto", sys.stderr)
            log_stream.close()
    summary = result.summary
    print(f"replayed {result.sessions} sessions, run {result.run_id}, journal {journal_path}")
    if log_target != "-":
        print(f"event log: {log_target}")
    print(summary.render())
    from daemon.brokers.listings import listing_notes

    products = [("SPX", config.condor.trading_class), ("VIX", "VIX")]
    for note in listing_notes(args.start, products):
        print(note)
    return 0


def _run(args: argparse.Namespace) -> int:
    from daemon.calendars.macro import CalendarFileError
    from daemon.config import ConfigError, load_config
    from daemon.journal import Journal, JournalError
    from daemon.live import LiveOptions, run_live
    from daemon.logs import configure_logging, get_logger
    from daemon.scheduling.jobs import JobName

    try:
        config = load_config(args.config, live=args.live)
    except ConfigError as exc:
        raise CliError(f"bad config: {exc}") from None
    overrides = {
        key: value
        for key, value in (("host", args.host), ("port", args.port), ("client_id", args.client_id))
        if value is not None
    }
    if overrides:
        # validated like the file's values (model_copy alone would skip the checks)
        try:
            broker = type(config.broker).model_validate({**config.broker.model_dump(), **overrides})
        except ValueError as exc:  # pydantic's ValidationError
            problem = exc.errors(include_url=False)[0] if hasattr(exc, "errors") else {}
            key = ".".join(str(p) for p in problem.get("loc", ())) or "broker"
            message = str(problem.get("msg", exc)).removeprefix("Value error, ")
            raise CliError(f"--{key.replace('_', '-')}: {message}") from None
        config = config.model_copy(update={"broker": broker})
    if args.now is not None and config.broker.trading_mode == "live":
        # a usage mistake (status 2), not an unreachable gateway (status 4)
        raise CliError("--now is for drills and is refused with trading_mode = live")
    options = LiveOptions(
        dry_run=args.dry_run, now=args.now, run_jobs=tuple(JobName(j) for j in args.run_job)
    )
    with _lock_journal(config.journal.path, "alvh run"):  # before anything is written
        if take_pending_stop() is not None:
            return ExitStatus.OK  # stopped while starting: nothing written yet
        try:
            Journal.check_before_writing(config.journal.path)
        except JournalError as exc:
            raise CliError(str(exc)) from None
        configure_logging(config.logging.level, config.logging.format, sys.stdout)
        log = get_logger("alvh.run")
        try:
            return asyncio.run(run_live(config, log, options))
        except (JournalError, CalendarFileError) as exc:
            raise CliError(str(exc)) from None
        except Exception as exc:  # a bug: one line for the user, the traceback in the log
            log.error("crashed", error=f"{type(exc).__name__}: {exc}", exc_info=exc)
            print(
                f"alvh run: internal error: {type(exc).__name__}: {exc} (traceback in the log)",
                file=sys.stderr,
            )
            return ExitStatus.INTERNAL


def open_private_log(path: Path) -> Any:
    """Open the event log ``path`` for appending; a new file gets mode 0600 (owner only).

    Raises:
        CliError: the directory is missing or the file cannot be opened.
    """
    import os

    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    except FileNotFoundError:
        raise CliError(f"--log-file {path}: directory {path.parent} does not exist") from None
    except (OSError, ValueError) as exc:
        raise CliError(
            f"--log-file {path}: cannot open ({getattr(exc, 'strerror', None) or exc})"
        ) from None
    return os.fdopen(fd, "a", encoding="utf-8")


def _daily_jobs() -> list[Any]:
    from daemon.scheduling.jobs import JobName

    return [JobName.ENTRY, JobName.HEDGE_CHECK, JobName.MANAGE, JobName.MARK]


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, got {value}")
    return value


def _aware_datetime(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date-time: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a UTC offset, e.g. {text}-05:00")
    return value


def _close_quietly(journal: Any) -> None:
    """Close a read-only journal; a damaged file's close error adds nothing to the first one."""
    with contextlib.suppress(Exception):  # read-only: nothing to lose
        journal.close()


def _journal(args: argparse.Namespace) -> int:
    from daemon.journal import Journal, JournalError
    from daemon.journal.errors import DAMAGED_JOURNAL_ERRORS, damaged

    if not args.file.exists():
        raise CliError(f"{args.file}: no such journal file")
    try:
        journal = Journal.open(args.file, read_only=True)
    except JournalError as exc:
        raise CliError(str(exc)) from None
    try:
        summary = journal.summary(args.run)
    except JournalError as exc:
        raise CliError(str(exc)) from None
    except DAMAGED_JOURNAL_ERRORS as exc:
        raise CliError(str(damaged(args.file, exc))) from None
    finally:
        _close_quietly(journal)
    if args.json:
        print(json.dumps(summary.as_json(), sort_keys=True))
    else:
        print(summary.render())
    return 0


class _Progress:
    """A tqdm bar over the replay's sessions on a terminal; silent otherwise.

    It counts sessions, like the summary (``replayed N sessions``): the total
    is the number of NYSE sessions in the range (the replay may skip a few
    without SPX data, so the bar can stop just short of the total).
    """

    def __init__(self, start: date, end: date, enabled: bool) -> None:
        self._bar: Any = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(
                total=_session_count(start, end), unit="session", desc="replay", file=sys.stderr
            )

    def update(self, session: date) -> None:
        """One more session replayed (``run_replay`` calls it once per session)."""
        if self._bar is None:
            return
        self._bar.set_postfix_str(session.isoformat(), refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _session_count(start: date, end: date) -> int | None:
    """NYSE sessions from ``start`` to ``end`` inside the exchange calendar, ``None`` if unknown."""
    from daemon.calendars.exchange import CalendarError, default_calendar

    calendar = default_calendar()
    lo, hi = max(start, calendar.range_start), min(end, calendar.range_end)
    try:
        return len(calendar.sessions(lo, hi)) if lo <= hi else None
    except CalendarError:
        return None
