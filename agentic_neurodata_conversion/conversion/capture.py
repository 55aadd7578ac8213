"""What a command prints while ``datalad run`` executes it: kept in a log, shown on stderr.

DataLad starts the command with this process's descriptors 1 and 2, so keeping its output
without wrapping the recorded command (which ``datalad rerun`` must run unchanged) means
pointing those descriptors at pipes for the duration of the run. One thread per pipe copies
what arrives into the log and onto the original stderr, so the user still sees it as it
comes (and stdout stays free for the result). DataLad's own log lines go to the original
stderr meanwhile: the log holds the command's output only. Not for a process whose
descriptors 1 and 2 carry a protocol (the MCP stdio server).
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

_CHUNK = 1 << 16
_LINE_LIMIT = 1 << 20  # a longer line (no newline) is written as it is
TAIL_BYTES = 1 << 16  # of stderr, for its last line
# How long the copying threads get to drain the pipes once the command has ended; a process
# the command left running in the background can hold them open for ever.
DRAIN_S = 5.0


@dataclass
class Captured:
    """The log the output went to, and the end of what the command wrote to stderr."""

    log: Path
    stderr_tail: bytearray = field(default_factory=bytearray)
    complete: bool = True  # False: something still held the pipes when the run ended

    def last_error_line(self) -> str:
        """The last non-empty line the command wrote to stderr ('' if none)."""
        text = self.stderr_tail.decode(errors="replace")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        return lines[-1] if lines else ""


@contextlib.contextmanager
def captured_output(log: Path, *, echo: bool = True) -> Iterator[Captured]:
    """Send what child processes started in the block print to LOG (and, with ECHO, to
    this process's stderr as it was before the block)."""
    captured = Captured(log)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    sink = open(log, "ab")  # noqa: SIM115  # closed below, once the threads are done
    terminal = open(saved[2], "w", closefd=False, buffering=1)  # noqa: SIM115
    handlers = _datalad_handlers()
    thread = None
    try:
        pipes: dict[int, bytearray | None] = {}
        for fd in (1, 2):
            read_end, write_end = os.pipe()
            os.dup2(write_end, fd)
            os.close(write_end)
            pipes[read_end] = captured.stderr_tail if fd == 2 else None
        echo_fd = saved[2] if echo else None
        thread = threading.Thread(target=_pump, args=(pipes, sink, echo_fd), daemon=True)
        thread.start()
        for handler in handlers:
            handler.setStream(terminal)
        yield captured
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        for fd in (1, 2):
            os.dup2(saved[fd], fd)  # drops our write ends: the threads see EOF
        for handler, stream in handlers.items():
            handler.setStream(stream)
        if thread is not None:
            thread.join(DRAIN_S)
        captured.complete = thread is None or not thread.is_alive()
        if captured.complete:
            sink.close()
        terminal.close()
        if captured.complete:  # a thread still running may write to saved[2]: leave it open
            for fd in saved.values():
                os.close(fd)


def _pump(pipes: dict[int, bytearray | None], sink: BinaryIO, echo_fd: int | None) -> None:
    """Copy the pipes (read end -> the tail kept of it: stderr's) until both are closed:
    everything onto the terminal at once, whole lines into the log. One reader, and a
    stream in the middle of a line read first, so the log keeps the order the lines were
    written in (as near as two pipes tell it) and never splits one."""
    pending = {fd: bytearray() for fd in pipes}
    selector = selectors.DefaultSelector()
    for fd in pipes:
        selector.register(fd, selectors.EVENT_READ)
    try:
        while selector.get_map():
            ready = sorted((key.fd for key, _ in selector.select()), key=lambda fd: not pending[fd])
            for fd in ready:
                chunk = os.read(fd, _CHUNK)
                if not chunk:
                    selector.unregister(fd)
                    os.close(fd)
                    _write(sink, pending[fd], pipes[fd])
                    continue
                if echo_fd is not None:
                    with contextlib.suppress(OSError):  # a closed terminal: the log gets it
                        os.write(echo_fd, chunk)
                buffer = pending[fd]
                buffer += chunk
                cut = buffer.rfind(b"\n") + 1 if len(buffer) < _LINE_LIMIT else len(buffer)
                _write(sink, buffer[:cut], pipes[fd])
                del buffer[:cut]
    except (OSError, ValueError):  # the log closed under a reader that outlived the run
        pass
    finally:
        selector.close()


def _write(sink: BinaryIO, data: bytes | bytearray, tail: bytearray | None) -> None:
    if not data:
        return
    sink.write(data)
    sink.flush()
    if tail is not None:
        tail.extend(data)
        del tail[:-TAIL_BYTES]


def _datalad_handlers() -> dict[logging.StreamHandler, object]:
    """DataLad's log handlers writing to descriptor 2, with their streams."""
    found: dict[logging.StreamHandler, object] = {}
    for handler in logging.getLogger("datalad").handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(
            handler, logging.FileHandler
        ):
            with contextlib.suppress(AttributeError, OSError, ValueError):
                if handler.stream.fileno() == 2:
                    found[handler] = handler.stream
    return found
