"""``alvh web`` as a user starts it: a subprocess on 127.0.0.1 with an ephemeral port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

ALVH = [sys.executable, "-c", "import sys; from daemon.cli import main; sys.exit(main())"]


def start_server(
    journal: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """``alvh web --port 0`` as a subprocess; returns it and its base URL (from its first line)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ALVH_")}
    environ.update(env or {})
    proc = subprocess.Popen(
        [*ALVH, "web", "--journal", str(journal), "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    match = re.search(r"on (http://127\.0\.0\.1:\d+/)", line)
    if match is None:
        proc.kill()
        raise AssertionError(f"alvh web did not start: {line!r} {proc.stderr.read()!r}")
    return proc, match.group(1)


def stop_server(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=15)
    finally:
        if proc.returncode is None:
            proc.kill()
    assert proc.stderr is not None
    return code, proc.stderr.read()
