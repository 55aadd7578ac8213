"""The forked helper: forked ahead by `anc convert`, adopted by the conversion or ended."""

from __future__ import annotations

import os
import time

import psutil
import pytest

from agentic_neurodata_conversion.conversion import workers


@pytest.mark.slow  # the helpers import NeuroConv first
def test_a_helper_forked_ahead_is_adopted_once() -> None:
    ahead = workers.fork_ahead()
    assert workers.fork_ahead() is ahead  # one helper, however often asked
    with workers.HeavyWorker.take() as taken:
        assert taken is ahead and taken.pids
        assert taken.submit(os.getpid).result() in taken.pids
    with workers.HeavyWorker.take() as fresh:  # nothing ahead any more: a new helper
        assert fresh is not ahead and fresh.pids.isdisjoint(ahead.pids)


def test_a_helper_nobody_adopted_is_ended_mid_import() -> None:
    ahead = workers.fork_ahead()
    started = time.monotonic()
    workers.drop_ahead()
    # Importing NeuroConv alone takes over a second: ended, not waited for.
    assert time.monotonic() - started < 1.0
    assert not any(psutil.pid_exists(pid) for pid in ahead.pids)
    workers.drop_ahead()  # nothing left to end
