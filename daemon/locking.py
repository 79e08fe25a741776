"""One writer per journal: an exclusive ``flock`` on a sibling ``<journal>.lock`` file.

``alvh run`` and ``alvh replay`` take the lock before they write anything to
the journal and hold it until the process ends; a second writer on the same
journal fails at once (non-blocking) with :class:`JournalLocked`, whose
message is one line naming the lock file and the pid holding it. Readers
(``alvh status``, ``alvh journal``) take no lock: SQLite's WAL lets them read
while the daemon writes.

The lock is the kernel's ``flock(2)`` on the open file, not the file's
existence: it is released when the holder closes it or dies (even by
SIGKILL), so a lock file left behind by a killed process never blocks. The
file itself is never deleted (unlinking it would let two processes lock two
different files of the same name); it holds a line of JSON about its last
holder — ``{"pid": 1234, "started_at": "2026-11-20T20:30:00+00:00",
"command": "alvh run"}`` — read only to word the error message.

``flock`` locks are per open file description: a second :meth:`JournalLock.acquire`
in the same process conflicts too. They are not reliable on NFS; keep the
journal on a local filesystem.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

__all__ = [
    "JournalLock",
    "JournalLockError",
    "JournalLocked",
    "LockHolder",
    "lock_path",
]

#: Suffix added to the journal's file name for its lock file.
LOCK_SUFFIX = ".lock"


class JournalLockError(Exception):
    """The lock file cannot be created or locked (missing directory, permissions)."""


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who holds (or last held) a journal lock, as written in the lock file.

    Attributes:
        pid: process id of the holder.
        started_at: when it took the lock (UTC), ``None`` if unreadable.
        command: what it runs, e.g. ``"alvh run"``.
    """

    pid: int
    started_at: datetime | None = None
    command: str = ""

    def describe(self) -> str:
        """``pid 1234 (alvh run, since 2026-11-20 20:30:00 UTC)``."""
        details = [d for d in (self.command, self._since()) if d]
        return f"pid {self.pid}" + (f" ({', '.join(details)})" if details else "")

    def _since(self) -> str:
        if self.started_at is None:
            return ""
        return f"since {self.started_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


class JournalLocked(JournalLockError):
    """Another process holds the journal's lock.

    Attributes:
        lock_file: the lock file.
        holder: what the lock file says about its holder (``None`` while the
            holder has not written it yet, or if it is unreadable).
    """

    def __init__(self, lock_file: Path, holder: LockHolder | None) -> None:
        self.lock_file = lock_file
        self.holder = holder
        who = holder.describe() if holder is not None else "another process (pid not yet written)"
        super().__init__(f"journal in use: lock {lock_file} is held by {who}")


def lock_path(journal_path: Path | str) -> Path:
    """The lock file of a journal: the journal's path with ``.lock`` appended."""
    path = Path(journal_path)
    return path.with_name(path.name + LOCK_SUFFIX)


class JournalLock:
    """An exclusive, non-blocking lock on one journal, held until :meth:`release` or exit.

    Use :meth:`acquire` (also a context manager)::

        with JournalLock.acquire(config.journal.path, command="alvh run"):
            ...  # the only writer of this journal

    Attributes:
        path: the lock file.
        holder: what this process wrote into it.
    """

    def __init__(self, path: Path, fd: int, holder: LockHolder) -> None:
        self.path = path
        self.holder = holder
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, journal_path: Path | str, *, command: str) -> JournalLock:
        """Lock ``journal_path``'s lock file (creating it) and record this process in it.

        Args:
            journal_path: the journal (it need not exist yet; its directory must).
            command: what this process is, for the other side's message
                (e.g. ``"alvh run"``).

        Returns:
            The held lock.

        Raises:
            JournalLocked: another process holds it (one-line message naming
                the lock file and the holder's pid).
            JournalLockError: the lock file cannot be opened or locked.
        """
        path = lock_path(journal_path)
        try:
            fd = os.open(
                path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600
            )  # owner only, like the journal
        except OSError as exc:
            raise JournalLockError(f"cannot open lock file {path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise JournalLocked(path, holder) from None
        except OSError as exc:
            os.close(fd)
            raise JournalLockError(f"cannot lock {path}: {exc.strerror or exc}") from None
        holder = LockHolder(os.getpid(), datetime.now(UTC), command)
        record = {
            "pid": holder.pid,
            "started_at": holder.started_at.isoformat() if holder.started_at else None,
            "command": command,
        }
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        except OSError as exc:
            os.close(fd)  # closing releases the lock
            raise JournalLockError(
                f"cannot write lock file {path}: {exc.strerror or exc}"
            ) from None
        return cls(path, fd, holder)

    @property
    def held(self) -> bool:
        """Whether this object still holds the lock."""
        return self._fd is not None

    def release(self) -> None:
        """Release the lock (idempotent). The file stays; see the module docstring."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> JournalLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_holder(fd: int) -> LockHolder | None:
    """The holder recorded in an open lock file, or ``None`` if empty or unreadable."""
    try:
        raw = os.pread(fd, 4096, 0)
        data = json.loads(raw.decode("utf-8", "replace"))
        pid = int(data["pid"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    started: datetime | None = None
    with contextlib.suppress(TypeError, ValueError):
        started = datetime.fromisoformat(data.get("started_at"))
    return LockHolder(pid, started, str(data.get("command") or ""))
