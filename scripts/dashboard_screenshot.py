"""Take the README's dashboard screenshot: a 2019 replay shown by ``alvh web`` in headless Chromium.

Usage (needs Debian's ``chromium`` and ``chromium-driver``)::

    .venv/bin/python scripts/dashboard_screenshot.py [--out docs/dashboard.png]

Replays 2019-01-02..2019-12-31 at the defaults into a temporary journal,
serves it with ``alvh web`` on 127.0.0.1 and saves a 1200 px wide PNG of the
dashboard's first 1,300 px.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1200,1300",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/dashboard.png"))
    args = parser.parse_args(argv)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    alvh = str(Path(sys.executable).with_name("alvh"))
    with tempfile.TemporaryDirectory() as tmp:
        journal = Path(tmp) / "replay-2019.sqlite"
        subprocess.run(
            [
                alvh,
                "replay",
                "--start",
                "2019-01-02",
                "--end",
                "2019-12-31",
                "--journal",
                str(journal),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        port = _free_port()
        server = subprocess.Popen([alvh, "web", "--journal", str(journal), "--port", str(port)])
        try:
            url = f"http://127.0.0.1:{port}/"
            for _ in range(100):
                try:
                    urllib.request.urlopen(url + "healthz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            options = webdriver.ChromeOptions()
            options.binary_location = CHROMIUM
            for flag in FLAGS:
                options.add_argument(flag)
            options.add_argument(f"--user-data-dir={Path(tmp) / 'profile'}")
            driver = webdriver.Chrome(
                service=Service(executable_path=CHROMEDRIVER), options=options
            )
            try:
                driver.get(url)
                driver.save_screenshot(str(args.out))
            finally:
                driver.quit()
        finally:
            server.terminate()
            server.wait(timeout=10)
            shutil.rmtree(Path(tmp) / "profile", ignore_errors=True)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
