"""Read a user-supplied file with a size and a time limit.

Every file ``alvh`` reads on a user's say-so (config, calendar CSV and
``.ics``, option-chain CSV, data-bundle CSV) goes through :func:`read_limited`:

* only a regular file is read: ``user_calendar = /dev/zero``, a FIFO or a
  directory is refused at once (the file is opened non-blocking, so a FIFO
  without a writer cannot hang the open);
* at most ``max_bytes`` are read: a larger file is refused, never loaded;
* reading stops with an error after ``timeout_s`` seconds (a stalled network
  file system), checked between chunks of :data:`CHUNK` bytes.

The limits per kind of file are the ``MAX_*`` constants below; each is far
above the largest real file of its kind (noted next to it). Parsers are linear
in the input, so the size limit also bounds the parse time.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Final

__all__ = [
    "CHUNK",
    "DEFAULT_TIMEOUT_S",
    "MAX_BUNDLE_FILE_BYTES",
    "MAX_CALENDAR_BYTES",
    "MAX_CHAIN_BYTES",
    "MAX_CONFIG_BYTES",
    "LimitedReadError",
    "read_limited",
    "read_limited_text",
]

#: A config file (the example is 6 KiB).
MAX_CONFIG_BYTES: Final = 1 << 20
#: A calendar CSV or ``.ics`` file (the shipped calendar is 40 KiB).
MAX_CALENDAR_BYTES: Final = 16 << 20
#: A Cboe chain download (the largest seen is 1.6 MiB).
MAX_CHAIN_BYTES: Final = 64 << 20
#: One data-bundle CSV (the largest, spx.csv, is 390 KiB).
MAX_BUNDLE_FILE_BYTES: Final = 64 << 20
#: Seconds a read may take before it is abandoned.
DEFAULT_TIMEOUT_S: Final = 30.0
#: Bytes read per system call.
CHUNK: Final = 1 << 20


class LimitedReadError(ValueError):
    """The file cannot be read within the limits; ``str()`` is the problem (no path).

    Attributes:
        missing: the file does not exist (callers say "file not found").
    """

    def __init__(self, problem: str, *, missing: bool = False) -> None:
        super().__init__(problem)
        self.missing = missing


def _size_text(n: int) -> str:
    return f"{n / (1 << 20):g} MiB" if n >= 1 << 20 else f"{n} bytes"


def read_limited(
    path: Path | str, max_bytes: int, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> bytes:
    """The whole content of the regular file ``path``, at most ``max_bytes`` long.

    Raises:
        LimitedReadError: missing (``missing=True``), not a regular file,
            unreadable (the OS reason), larger than ``max_bytes``, or slower
            than ``timeout_s`` seconds.
    """
    deadline = time.monotonic() + timeout_s
    try:
        fd = os.open(os.fspath(path), os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise LimitedReadError("file not found", missing=True) from None
    except ValueError:  # a NUL in the path
        raise LimitedReadError("cannot read file (the path contains a NUL character)") from None
    except OSError as exc:
        raise LimitedReadError(f"cannot read file ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else "a device, pipe or socket"
            raise LimitedReadError(f"not a regular file ({kind})")
        if info.st_size > max_bytes:
            raise LimitedReadError(
                f"file too large ({_size_text(info.st_size)}, at most {_size_text(max_bytes)})"
            )
        chunks: list[bytes] = []
        total = 0
        while True:
            try:
                chunk = os.read(fd, CHUNK)
            except BlockingIOError:  # pragma: no cover - regular files do not block
                chunk = b""
            except OSError as exc:
                raise LimitedReadError(f"cannot read file ({exc.strerror or exc})") from None
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:  # the file grew while being read
                raise LimitedReadError(f"file too large (more than {_size_text(max_bytes)})")
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise LimitedReadError(f"reading took longer than {timeout_s:g} s")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_limited_text(
    path: Path | str, max_bytes: int, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> str:
    """:func:`read_limited` decoded as UTF-8 (a leading byte-order mark dropped).

    Raises:
        LimitedReadError: as :func:`read_limited`, or the bytes are not UTF-8
            (the message gives the line and byte offset).
    """
    raw = read_limited(path, max_bytes, timeout_s=timeout_s)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LimitedReadError(f"line {line}: not UTF-8 text (byte {exc.start})") from None
