"""Start the Streamlit dashboard (``dashboard/app.py``) on a store: what ``evalkit dashboard``
runs. The app binds to 127.0.0.1 unless told otherwise and takes the store from ``--db``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .redact import mask_url
from .resources import data_dir


def app_path() -> Path:
    """The dashboard's entry point (in the source tree or the installed wheel)."""
    return data_dir("dashboard") / "app.py"


def store_arg(db: str) -> str:
    """A store URL from a URL or a SQLite file path (relative paths resolved here, since the
    app runs in its own process)."""
    return db if "://" in db else f"sqlite:///{Path(db).expanduser().resolve()}"


def _has_password(url: str) -> bool:
    return mask_url(url) != url


def command(db_url: str, host: str = "127.0.0.1", port: int = 8501,
            headless: bool = True) -> list[str]:
    """The ``python -m streamlit run …`` command line ``launch`` runs. A store URL with a
    password is not put on the command line (``ps`` shows it to every user): ``launch`` hands
    it over in ``EVALKIT_DB`` instead."""
    cmd = [sys.executable, "-m", "streamlit", "run", str(app_path()),
           "--server.address", host, "--server.port", str(int(port)),
           "--server.headless", "true" if headless else "false",
           "--browser.gatherUsageStats", "false"]
    url = store_arg(db_url)
    return cmd if _has_password(url) else [*cmd, "--", "--db", url]


def launch(db_url: str, host: str = "127.0.0.1", port: int = 8501,
           headless: bool = True) -> int:
    """Run the dashboard until it stops (Ctrl-C ends it cleanly); returns its exit code."""
    env = {**os.environ, "EVALKIT_DB": store_arg(db_url)}
    proc = subprocess.Popen(command(db_url, host, port, headless), env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()
