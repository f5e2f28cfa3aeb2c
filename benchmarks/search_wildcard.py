"""The name filter on a 1 MB display name, the former regex against the linear matcher, in one
run: `.venv/bin/python benchmarks/search_wildcard.py [--cap SECONDS]`.

The former matcher (copied here as it was) is timed on growing names to show its growth, and on
the 1 MB name in a child process under a CPU limit of --cap seconds (default 120)."""

from __future__ import annotations

import argparse
import multiprocessing
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

from entra_pipeline.destinations.local import SEARCH_TOKEN, LocalInventory, wildcard_match
from entra_pipeline.store import open_store

SIZE = 1_000_000
PATTERNS = ("*M*Q", "*M*Q*", "*MMMMMMMMQ*", "M*M*M*")  # the last two pieces absent: a full scan


OLD_TOKEN = re.compile(r'(\w+):(?:"([^"]*)"|\(([^)]*)\)|(\S+))')  # the query parser's pattern before


def old_matches(value: str, pattern: str) -> bool:
    regex = "^" + re.escape(pattern).replace(r"\*", ".*") + "$"
    return re.match(regex, str(value), re.IGNORECASE) is not None


def cpu(function, *args) -> tuple[float, object]:
    start = time.process_time()
    result = function(*args)
    return time.process_time() - start, result


def _old_in_child(cap: int) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (cap, cap + 5))
    old_matches("M" * SIZE, "*M*Q")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cap", type=int, default=120, help="CPU seconds allowed to the old matcher on 1 MB")
    cap = parser.parse_args().cap
    name = "M" * SIZE
    for pattern in PATTERNS:
        took, found = cpu(wildcard_match, name, pattern)
        print(f"new  1 MB  {pattern:12} {took * 1000:8.2f} ms  match={found}")
    with tempfile.TemporaryDirectory() as folder:
        inventory = LocalInventory(open_store(Path(folder)))
        inventory.apply("big", "users", [("1", {"asset": {"assetDetail": {"name": name}}})], remove_absent=True)
        took, rows = cpu(inventory.search, 'name:"*M*Q"')
        print(f"new  1 MB  inventory.search('name:\"*M*Q\"') {took * 1000:.1f} ms, {len(rows)} rows")
    for size in (4_000, 8_000, 16_000, 32_000):
        took, _ = cpu(old_matches, "M" * size, "*M*Q")
        print(
            f"old  {size // 1000:>3} kB  *M*Q       {took:8.2f} s   (x {SIZE // size} in size: "
            f"about {took * (SIZE / size) ** 2 / 60:.0f} min at 1 MB if quadratic)"
        )
    for size in (40_000, 100_000):
        took_new, _ = cpu(SEARCH_TOKEN.findall, "a" * size)
        old = f"old {cpu(OLD_TOKEN.findall, 'a' * size)[0]:.2f} s, " if size <= 40_000 else "old not run, "
        print(f"query of {size:,} characters without a colon: {old}new {took_new * 1000:.2f} ms")
    child = multiprocessing.get_context("fork").Process(target=_old_in_child, args=(cap,))
    start = time.monotonic()
    child.start()
    child.join()
    verdict = "finished" if child.exitcode == 0 else f"killed by its CPU limit (exit {child.exitcode})"
    print(f"old  1 MB  *M*Q       {time.monotonic() - start:8.1f} s   {verdict}, limit {cap} s CPU")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
