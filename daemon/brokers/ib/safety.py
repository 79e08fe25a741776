"""The account guard: never trade a live account unless the configuration says so.

After connecting, the adapter reads the accounts TWS / IB Gateway manages and
calls :func:`check_accounts` before it sends anything that could become an
order. Paper accounts start with ``DU`` (``DF`` for paper FA masters).
"""

from __future__ import annotations

from collections.abc import Sequence

from daemon.brokers.base import FatalBrokerError

#: Prefixes of Interactive Brokers paper-trading account ids.
PAPER_PREFIXES = ("DU", "DF")


class UnsafeAccountError(FatalBrokerError):
    """The connected login could trade money the configuration did not allow.

    The daemon logs it and exits non-zero; no order has been sent.
    """


def is_paper(account: str) -> bool:
    """Whether ``account`` is a paper-trading account id (``DU...``)."""
    return account.strip().upper().startswith(PAPER_PREFIXES)


def check_accounts(
    managed: Sequence[str], trading_mode: str, configured_account: str | None
) -> str:
    """Decide which account to trade, or refuse.

    Args:
        managed: the account ids TWS reports for this login.
        trading_mode: ``"paper"`` or ``"live"`` (``broker.trading_mode``).
        configured_account: ``broker.account`` (required for live trading).

    Returns:
        The account id every order will carry.

    Raises:
        UnsafeAccountError: no account is reported; live mode without a named
            live account, or the named account is not managed by this login;
            paper mode and some managed account is not a paper account; or
            several accounts and none configured.
    """
    accounts = [a.strip() for a in managed if a.strip()]
    if not accounts:
        raise UnsafeAccountError("TWS/Gateway reported no managed accounts; refusing to trade")
    wanted = configured_account.strip() if configured_account else None
    if trading_mode == "live":
        if not wanted:
            raise UnsafeAccountError(
                "broker.trading_mode is 'live' but broker.account names no live account"
            )
        if wanted not in accounts:
            raise UnsafeAccountError(
                f"broker.account {wanted!r} is not managed by this login "
                f"(managed: {', '.join(accounts)})"
            )
        if is_paper(wanted):
            raise UnsafeAccountError(f"broker.account {wanted!r} is a paper account in live mode")
        return wanted
    live = [a for a in accounts if not is_paper(a)]
    if live:
        raise UnsafeAccountError(
            f"connected login manages live account(s) {', '.join(live)} but "
            "broker.trading_mode is not 'live' with that account named; refusing to trade "
            "(connect to the paper Gateway, port 4002, or configure live trading explicitly)"
        )
    if wanted:
        if wanted not in accounts:
            raise UnsafeAccountError(
                f"broker.account {wanted!r} is not managed by this login "
                f"(managed: {', '.join(accounts)})"
            )
        return wanted
    if len(accounts) > 1:
        raise UnsafeAccountError(
            f"login manages several accounts ({', '.join(accounts)}); set broker.account"
        )
    return accounts[0]
