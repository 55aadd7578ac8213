"""``PerformanceAwareDataLadWrapper``: the seed's DataLad wrapper, each operation timed.

The timing wraps the method at class level; the collector is looked up on the instance at
call time (the seed's decorator needed ``self`` while the class body was being built).
Without a collector the timings go to every attached one (a running ``ConversionMonitor``).
Timings are named ``wrapper.<method>`` so they stay apart from the ``datalad.*`` timings of
the functions underneath.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from ..datalad_layer.wrapper import DataLadWrapper
from .metrics import PerformanceCollector, timed

F = TypeVar("F", bound=Callable[..., Any])


def _timed_method(func: F) -> F:
    name = f"wrapper.{func.__name__}"

    @functools.wraps(func)
    def wrapper(self: PerformanceAwareDataLadWrapper, *args: Any, **kwargs: Any) -> Any:
        with timed(name, self.performance_collector):
            return func(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class PerformanceAwareDataLadWrapper(DataLadWrapper):
    """DataLadWrapper whose operations record a timing (success or error) in a collector."""

    def __init__(self, performance_collector: PerformanceCollector | None = None) -> None:
        super().__init__()
        self.performance_collector = performance_collector

    safe_create_dataset = _timed_method(DataLadWrapper.safe_create_dataset)
    safe_install_subdataset = _timed_method(DataLadWrapper.safe_install_subdataset)
    safe_save = _timed_method(DataLadWrapper.safe_save)
    safe_get = _timed_method(DataLadWrapper.safe_get)
    check_dataset_integrity = _timed_method(DataLadWrapper.check_dataset_integrity)
    repair_dataset = _timed_method(DataLadWrapper.repair_dataset)
