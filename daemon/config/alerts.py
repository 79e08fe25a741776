"""``[alerts]``: push alerts through apprise (see :mod:`daemon.alerts`)."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, SecretStr, field_validator

from daemon.config.base import Section

AlertKind = Literal["fill", "entry_halt", "job_failed", "start", "stop", "daily_summary"]
"""What an alert is about:

* ``fill``: an order filled (one alert per order; a fill reported outside an
  order, e.g. at reconnect, one per fill);
* ``entry_halt``: new risk halted (reconciliation differences, an order of
  unknown fate, and any gate that sets the engine's entry halt) or resumed;
* ``job_failed``: a scheduled job raised;
* ``start``, ``stop``: the daemon is ready / stopped (with its exit status);
* ``daily_summary``: after the mark job, the day's account and open structures.
"""

#: Every alert kind, in the order of :data:`AlertKind`.
ALERT_KINDS: tuple[AlertKind, ...] = get_args(AlertKind)

#: Longest apprise URL accepted, characters.
MAX_URL_LENGTH = 2048


class AlertsConfig(Section):
    """``[alerts]``: where and which push alerts go.

    ``urls``: apprise URLs (https://github.com/caronc/apprise/wiki), e.g.
    ``"ntfys://ntfy.sh/my-topic"``, ``"tgram://BOT_TOKEN/CHAT_ID"``,
    ``"mailtos://user:pass@example.com"``; empty (the default) sends nothing.
    They are secrets: the journal's copy of the config shows them masked.
    ``events``: the :data:`AlertKind` values to send. ``max_per_minute``: at
    most this many alerts in any 60 s; the rest are counted and summarised in
    one alert once the window allows. ``send_timeout_s``: seconds one send may
    take before it is abandoned (logged; the next alert goes on).
    ``queue_size``: alerts waiting to be sent; beyond it new ones are dropped
    and counted in the next summary.
    """

    urls: tuple[SecretStr, ...] = ()
    events: tuple[AlertKind, ...] = ALERT_KINDS
    max_per_minute: int = Field(default=10, ge=1, le=600)
    send_timeout_s: float = Field(default=10.0, gt=0.0, le=120.0)
    queue_size: int = Field(default=100, ge=1, le=10_000)

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        for i, url in enumerate(value):
            text = url.get_secret_value()
            if not text or len(text) > MAX_URL_LENGTH:
                raise ValueError(f"url {i + 1}: must be 1 to {MAX_URL_LENGTH} characters")
            if any(ch.isspace() or not ch.isprintable() for ch in text) or "://" not in text:
                # never echo the URL: it may carry a token
                raise ValueError(f"url {i + 1}: not an apprise URL ('scheme://...', no spaces)")
            # Imported here: apprise costs ~17 MB resident, and only a config
            # that names alert URLs needs it (replay and sweeps never do).
            import apprise

            if apprise.Apprise.instantiate(text) is None:
                raise ValueError(f"url {i + 1}: apprise supports no such service or URL form")
        return value

    @field_validator("events")
    @classmethod
    def _no_repeats(cls, value: tuple[AlertKind, ...]) -> tuple[AlertKind, ...]:
        if len(set(value)) != len(value):
            raise ValueError("lists an event twice")
        return value

    @property
    def enabled(self) -> bool:
        """Whether any alert can be sent (a URL and an event)."""
        return bool(self.urls) and bool(self.events)

    def url_texts(self) -> list[str]:
        """The URLs in clear (for apprise only; never log them)."""
        return [url.get_secret_value() for url in self.urls]
