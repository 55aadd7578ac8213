"""Dependency-free timing hooks for any layer: ``@timed("datalad.save")``, ``with timed(...)``.

Lower layers mark what to time; ``monitoring.metrics`` registers a listener that records the
timings. Without listeners a timed call costs one check of an empty tuple, so the datalad
layer can be decorated unconditionally.

Names are ``<kind>.<what>``; the first part says what a timing measures:
``stage.*`` a pipeline stage, ``conversion`` a whole conversion, ``query.*`` a provenance or
metadata look-up, anything else (``datalad.*``, ``git.*``, ``annex.*``) an operation.

Each listener is called as ``listener(name, seconds, error)``; ``error`` is the exception
that ended the block (``None`` on success) and is re-raised afterwards. A listener that
raises is dropped from that call only; it never changes the outcome of the timed code.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable
from time import perf_counter
from typing import Any, TypeVar

Listener = Callable[[str, float, BaseException | None], None]
F = TypeVar("F", bound=Callable[..., Any])

# A tuple replaced on change (never mutated), so readers need no lock.
_listeners: tuple[Listener, ...] = ()


def add_listener(listener: Listener) -> None:
    """Call LISTENER after every timed block (once, even if added twice)."""
    global _listeners
    if listener not in _listeners:
        _listeners = (*_listeners, listener)


def remove_listener(listener: Listener) -> None:
    """Stop calling LISTENER; unknown listeners are ignored."""
    global _listeners
    _listeners = tuple(x for x in _listeners if x != listener)


def listening() -> bool:
    return bool(_listeners)


def _notify(
    targets: tuple[Listener, ...], name: str, seconds: float, error: BaseException | None
) -> None:
    for listener in targets:
        # a broken listener must not change the outcome of the timed code
        with contextlib.suppress(Exception):
            listener(name, seconds, error)


class timed:  # lower case: used like a function, @timed("x") / with timed("x")
    """Time a function, method or ``with`` block under NAME and report it to the listeners.

    LISTENER, when given, receives the timing instead of the registered listeners (to record
    into one specific collector). As a decorator it works on plain functions, methods,
    static/class methods' underlying functions and coroutine functions; each call is timed.
    As a context manager one instance may be re-entered (nested) in one thread; use one
    instance per thread.
    """

    __slots__ = ("_listener", "_starts", "name")

    def __init__(self, name: str, listener: Listener | None = None) -> None:
        self.name = name
        self._listener = listener
        self._starts: list[float | None] = []

    def _targets(self) -> tuple[Listener, ...]:
        return (self._listener,) if self._listener is not None else _listeners

    def __enter__(self) -> timed:
        self._starts.append(perf_counter() if self._targets() else None)
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        start = self._starts.pop()
        if start is not None:
            _notify(self._targets(), self.name, perf_counter() - start, exc)

    def __call__(self, func: F) -> F:
        name = self.name

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                targets = self._targets()
                if not targets:
                    return await func(*args, **kwargs)
                start = perf_counter()
                try:
                    result = await func(*args, **kwargs)
                except BaseException as exc:
                    _notify(targets, name, perf_counter() - start, exc)
                    raise
                _notify(targets, name, perf_counter() - start, None)
                return result

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            targets = self._targets()
            if not targets:
                return func(*args, **kwargs)
            start = perf_counter()
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                _notify(targets, name, perf_counter() - start, exc)
                raise
            _notify(targets, name, perf_counter() - start, None)
            return result

        return wrapper  # type: ignore[return-value]
