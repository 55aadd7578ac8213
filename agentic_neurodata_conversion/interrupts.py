"""SIGINT and SIGTERM for long commands: one exception, quiet libraries, no orphaned workers.

``install()`` (called by the CLI) makes both signals raise ``KeyboardInterrupt`` in the main
thread, so a terminal's Ctrl-C and a scheduler's SIGTERM take one path. Whoever catches it
calls ``end_children()`` before touching the dataset: a ``datalad run`` interrupted in Python
keeps its command running, and a conversion script still writing the NWB file would race
the clean-up. ``shielded()`` keeps a second signal from cutting that clean-up short.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Collection, Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# How long terminated children get before they are killed.
TERMINATE_GRACE_S = 5.0

_received: list[str] = []


def _raise(signum: int, _frame: object) -> None:
    _received.append(signal.Signals(signum).name)
    # DataLad logs its own shutdown as warnings ("One more exception was received ..."):
    # the front end prints one line instead. No import here: the signal may arrive in the
    # middle of one, and without logging loaded there is no DataLad to quieten.
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.getLogger("datalad").setLevel(logging.CRITICAL)
    raise KeyboardInterrupt(signal.Signals(signum).name)


def install() -> dict[int, object]:
    """SIGINT and SIGTERM raise KeyboardInterrupt (also when SIGINT came in ignored, as it
    does for background jobs of a non-interactive shell); returns the handlers replaced,
    for ``restore``."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    _received.clear()
    return {sig: signal.signal(sig, _raise) for sig in SIGNALS}


def restore(saved: dict[int, object]) -> None:
    for sig, handler in saved.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]


def received() -> bool:
    """Whether SIGINT or SIGTERM arrived since ``install``."""
    return bool(_received)


def last_signal() -> str:
    """The name of the last signal received (``SIGINT`` when interrupted otherwise)."""
    return _received[-1] if _received else "SIGINT"


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Ignore further SIGINT/SIGTERM while the block records an interruption."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, _note) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _note(signum: int, _frame: object) -> None:
    _received.append(signal.Signals(signum).name)


def ignore_in_worker() -> None:
    """For forked helper processes: the parent decides when they end (``end_children``), so
    a terminal's Ctrl-C, which reaches the whole process group, prints no traceback there,
    and SIGTERM ends them quietly (a fork inherits the parent's raising handler)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def current_children() -> frozenset[int]:
    """Pids of this process's descendants now: the ones ``end_children`` should spare."""
    import psutil

    return frozenset(c.pid for c in psutil.Process().children(recursive=True))


def end_children(spare: Collection[int] = (), grace_s: float = TERMINATE_GRACE_S) -> list[int]:
    """Terminate every descendant of this process but SPARE, kill those still alive after
    GRACE_S; return their pids. SPARE keeps what the caller did not start (a test runner's
    browser, a server's other work).

    The ended processes are not reaped: their owners (multiprocessing, subprocess, DataLad's
    runner) do that, and one whose child was reaped behind its back waits for it forever.
    """
    import psutil

    children = [c for c in psutil.Process().children(recursive=True) if c.pid not in spare]
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    alive = _until_ended(children, grace_s)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()
    _until_ended(alive, grace_s)
    return [c.pid for c in children]


def _until_ended(processes: list, timeout_s: float) -> list:
    """Poll until every process has exited (a zombie counts as exited); the rest."""
    import psutil

    deadline = time.monotonic() + timeout_s
    while True:
        alive = []
        for proc in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                if proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(proc)
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.02)
