"""SIGINT and SIGTERM during a pull: the run stops, whichever library the signal lands in.

A signal's exception is raised in whatever frame is running. Inside the HTTP stack it can be
turned into a connection error (which the client would retry) or wrapped in an exception
group, and the run would go on, or fail with a library's words. While a pull runs, the
signal is also remembered: the client checks before each retry, and the pull raises the
interrupt when it ends, however the exception itself was handled on the way.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_stopped = threading.Event()


class Interrupted(KeyboardInterrupt):
    """The run was stopped by SIGINT or SIGTERM (a KeyboardInterrupt: no `except Exception` holds it)."""


def _stop(signum: int, frame: FrameType | None) -> None:
    _stopped.set()
    raise Interrupted()


def raise_if_stopped() -> None:
    if _stopped.is_set():
        raise Interrupted()


@contextmanager
def stoppable() -> Iterator[None]:
    """Within: SIGINT and SIGTERM raise Interrupted at once and are remembered; on the way out
    a remembered one is raised (whatever became of the first) and the previous handlers are
    back. Only the main thread can hold signal handlers: elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.getsignal(number) for number in SIGNALS}
    _stopped.clear()
    for number in SIGNALS:
        signal.signal(number, _stop)
    try:
        yield
    except BaseException:
        if _stopped.is_set():
            raise Interrupted() from None  # not the exception group or connection error it became
        raise
    finally:
        stopped = _stopped.is_set()
        _stopped.clear()
        for number, handler in previous.items():
            signal.signal(number, handler)
    if stopped:
        raise Interrupted()


def _only_stops(error: BaseException | None) -> bool:
    if isinstance(error, BaseExceptionGroup):
        return all(_only_stops(inner) for inner in error.exceptions)
    return isinstance(error, Interrupted)


def quiet_stopped_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """After a stop, tasks of the HTTP stack that ended with it are reported by asyncio as
    "exception never retrieved", with a traceback on stderr: the stop is said once, by the run."""

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if not _only_stops(context.get("exception")):
            loop.default_exception_handler(context)

    loop.set_exception_handler(handle)
