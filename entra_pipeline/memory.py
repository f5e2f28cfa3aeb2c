"""The pipeline's bulk phases allocate millions of small dicts and lists (JSON objects, records)
that hold no reference cycles. Python's cyclic garbage collector still walks every live object
each time enough are allocated: at 100k users that was more than half of the transform's CPU
(BENCHMARKS.md). Reference counting frees all of this data, so the bulk phases pause the
cyclic collector and let it run once at the end for whatever cycles libraries made meanwhile:
over the young generations only, which hold everything allocated during the pause. A full
collection would also walk every long-lived object (Dagster's, the libraries') and cost about
a third of a second each time, a second per run whatever the tenant's size."""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


def without_cyclic_gc(function: Callable[P, T]) -> Callable[P, T]:
    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        if not gc.isenabled():  # nested, or paused by the caller
            return function(*args, **kwargs)
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            gc.enable()
            gc.collect(1)

    return wrapper
