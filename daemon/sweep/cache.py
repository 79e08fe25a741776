"""Finished sweep points on disk, keyed by what determines their result.

A point's key is the SHA-256 of its effective config JSON, the replay range,
the journal mode, and the versions of the code and of the bundled data
(:func:`versions`). Change any of them and the point runs again; rerun the
same sweep after an interruption and only the points without a result run.

Layout of ``OUT/cache/``:

* ``KEY.sqlite``: the point's results-only journal (runs, daily rows,
  positions; :mod:`daemon.journal.results_only`), readable by ``alvh
  journal`` and used by the walk-forward metrics;
* ``KEY.json``: its result (parameters, metrics, summary, timing), written
  last and atomically (temporary file + rename), so a point counts as finished
  only once both files are complete.

The code version is a hash of every ``.py`` file of the ``daemon`` and
``strategies`` packages: any code change invalidates the cache, also changes
that could not move a result (conservative by design). The data version is
a hash of the bundled market data and calendar files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["JOURNAL_MODE", "ResultCache", "point_key", "versions"]

#: Journal mode of sweep points (part of the key: a full journal would give the same
#: metrics, but the cached journal files differ).
JOURNAL_MODE = "results-only"


def _tree_hash(root: Path, patterns: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    files = sorted({p for pattern in patterns for p in root.rglob(pattern) if p.is_file()})
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


@cache
def versions() -> dict[str, str]:
    """``{"code": ..., "data": ...}``: short hashes of this process's code and bundled data.

    Computed once per process (about 20 ms). A worker reports its own, so a
    cluster whose workers run other code or data is refused rather than mixed.
    """
    import daemon
    import strategies

    daemon_root = Path(daemon.__file__).parent
    code = hashlib.sha256()
    for package in (daemon_root, Path(strategies.__file__).parent):
        code.update(_tree_hash(package, ("*.py",)).encode())
    data = hashlib.sha256()
    for folder in (daemon_root / "marketdata" / "bundle", daemon_root / "calendars" / "data"):
        data.update(_tree_hash(folder, ("*.csv", "*.json", "*.toml")).encode())
    return {"code": code.hexdigest()[:16], "data": data.hexdigest()[:16]}


def point_key(config_json: str, start: date, end: date, version: dict[str, str]) -> str:
    """The cache key of a point: a SHA-256 hex digest of everything that fixes its result."""
    canonical = json.dumps(
        {
            "config": json.loads(config_json),
            "start": start.isoformat(),
            "end": end.isoformat(),
            "journal": JOURNAL_MODE,
            "code": version["code"],
            "data": version["data"],
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class ResultCache:
    """The finished points of ``folder`` (created on first write)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def result_path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def journal_path(self, key: str) -> Path:
        return self.folder / f"{key}.sqlite"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored result of ``key``, or ``None`` when unfinished (or unreadable)."""
        path = self.result_path(key)
        if not path.is_file() or not self.journal_path(key).is_file():
            return None
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # a damaged result reruns
        return result if isinstance(result, dict) and result.get("key") == key else None

    def put(self, key: str, result: dict[str, Any], journal: bytes) -> None:
        """Store a finished point: its journal first, then its result (atomically).

        Raises:
            OSError: the folder cannot be written.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        _write_atomically(self.journal_path(key), journal)
        text = json.dumps({**result, "key": key}, sort_keys=True, indent=1, allow_nan=True)
        _write_atomically(self.result_path(key), text.encode("utf-8"))


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
