"""Exit statuses of the ``alvh`` command: one table for the code, ``--help`` and the README.

systemd's unit (``deploy/alvh.service``) keys on them: ``Restart=on-failure``
restarts on any non-zero status except those in ``RestartPreventExitStatus=``
(:data:`NO_RESTART`), which a restart cannot cure.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "CONNECT_FAILURE_EVENTS",
    "EXIT_STATUS_HELP",
    "NO_RESTART",
    "ExitStatus",
    "connect_failure_status",
]


class ExitStatus(IntEnum):
    """What ``alvh`` returns to its caller (an ``int``; ``sys.exit`` takes it as is)."""

    #: Done; for ``alvh run`` also a clean stop on SIGTERM/SIGINT at any phase.
    OK = 0
    #: A bug: one line on stderr, the traceback in the daemon's JSON log.
    INTERNAL = 1
    #: A mistake the user can fix: bad config, date range, journal file or path.
    USAGE = 2
    #: ``alvh run``: refused for safety: the account guard refused the accounts the
    #: login manages, or live mode was offered delayed market data.
    UNSAFE_ACCOUNT = 3
    #: ``alvh run``: the gateway was unreachable or left a start-up request unanswered.
    BROKER = 4
    #: ``alvh run`` / ``alvh replay``: another process holds the journal's lock.
    JOURNAL_LOCKED = 5
    #: ``alvh run``: IB says the API client id is in use by another client (error 326).
    CLIENT_ID_IN_USE = 6
    #: Interrupted by Ctrl-C outside ``alvh run`` (which stops cleanly with 0).
    INTERRUPTED = 130


#: Statuses after which systemd must not restart ``alvh run`` (the unit's
#: ``RestartPreventExitStatus=``; ``tests/service/test_unit_file.py`` checks they agree).
NO_RESTART = (ExitStatus.UNSAFE_ACCOUNT, ExitStatus.JOURNAL_LOCKED, ExitStatus.CLIENT_ID_IN_USE)

#: The table printed by ``alvh --help`` and ``alvh run --help`` (the README has the same).
EXIT_STATUS_HELP = """\
exit status:
  0    done; alvh run: stopped cleanly on SIGTERM/SIGINT (at any phase)
  1    internal error (one line on stderr, the traceback in the log)
  2    a mistake you can fix: bad config, date range, journal file or path
  3    alvh run: refused for safety (account not paper / not the configured live
       account, or delayed market data in live mode)
  4    alvh run: gateway unreachable, or a start-up request went unanswered
  5    alvh run / replay: the journal is in use (its .lock is held by another process)
  6    alvh run: the IB client id is in use by another API client (IB error 326)
  130  interrupted (Ctrl-C) outside alvh run"""


def connect_failure_status(exc: BaseException) -> ExitStatus:
    """The exit status of ``alvh run`` when connecting to the gateway failed with ``exc``.

    A safety refusal (account guard, delayed data in live mode) and a client id
    in use are not cured by a restart; anything else (unreachable, unanswered)
    may be. Errors are matched by class name so this table imports no broker.
    """
    kind = type(exc).__name__
    if kind in ("UnsafeAccountError", "DelayedDataRefusedError"):
        return ExitStatus.UNSAFE_ACCOUNT
    if kind == "ClientIdInUseError":
        return ExitStatus.CLIENT_ID_IN_USE
    return ExitStatus.BROKER


#: The error-level log event ``alvh run`` writes for each connect-failure status.
CONNECT_FAILURE_EVENTS = {
    ExitStatus.UNSAFE_ACCOUNT: "unsafe_account",
    ExitStatus.CLIENT_ID_IN_USE: "client_id_in_use",
    ExitStatus.BROKER: "broker_unavailable",
}
