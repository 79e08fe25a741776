"""Write a generated reference document, or check that the committed one is current.

Shared by ``scripts/config_reference.py`` and ``scripts/cli_reference.py``
(``make docs`` writes both; ``tests/daemon/test_docs.py`` checks them).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path


def write_or_check(
    output: Path, root: Path, render: Callable[[], str], description: str, argv: list[str] | None
) -> int:
    """``--check``: exit status 1 (one line on stderr) when ``output`` differs; else write it."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != text:
            print(f"{output.relative_to(root)} is stale: run `make docs`", file=sys.stderr)
            return 1
        return 0
    output.write_text(text, encoding="utf-8")
    print(f"wrote {output.relative_to(root)}")
    return 0
