"""Hostile upstream: answers no real Graph gives — a page far too big, JSON nested past the
parser's depth, headers carrying control characters, a nextLink that points back at itself —
each against whole runs. A run either ends Processed and equal to the truth, or Partially
Processed naming the entity it could not read, that entity's records untouched; never a crash,
never an endless run, never memory that grows with what the upstream sends."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from entra_pipeline.defs.runner import sync

from .conftest import connector_for
from .helpers import assert_inventory_is_the_truth, changes, inventory_snapshot

pytestmark = pytest.mark.slow  # ./dev test --quick leaves it out

# (fault, pull, (the entity it makes unreadable, the error the run must name) or None: read whole)
HOSTILE = [
    ("oversized=80~/users/delta", "delta", ("users", "ResponseTooLarge")),  # an 80 MiB page; the cap is 64
    ("nested=100000~/users/delta", "delta", ("users", "JsonTooDeep")),
    # Only a full pull lists the groups (expanded: at most 100 per page, 150 groups here); a delta
    # round fits one page.
    ("loop~/groups", "full", ("groups", "NextLinkLoop")),
    ("control-header", "delta", None),  # control characters in every answer's headers: ignored
    ("control-header=nul@0.2", "delta", None),  # a NUL the HTTP parser refuses: retried like a broken answer
]


def test_hostile_answers_end_in_the_truth_or_name_what_is_missing(make_sim, home):
    sim = make_sim(users=80, seed=61, groups=150, delta_members_per_page=10)
    connector = connector_for(sim, home)
    assert sync(connector, home).state == "Processed"
    for fault, pull, unreadable in HOSTILE:
        changes(sim)
        entity = unreadable[0] if unreadable else None
        kept = inventory_snapshot(home, connector, entity) if entity else None
        sim.faults.add(fault)
        outcome = sync(connector, home, full=pull == "full")
        sim.faults.clear()
        if unreadable is None:
            assert outcome.state == "Processed", (fault, outcome.warnings)
            assert_inventory_is_the_truth(sim, home, connector)
            continue
        assert outcome.state == "Partially Processed", (fault, outcome.state, outcome.warnings)
        named = [w for w in outcome.warnings if w.startswith(f"{entity} not fetched")]
        assert named and unreadable[1] in named[0], (fault, outcome.warnings)
        assert inventory_snapshot(home, connector, entity) == kept, fault  # nothing unread was removed
    assert sync(connector, home).state == "Processed"  # the changes held back arrive once Graph behaves
    assert_inventory_is_the_truth(sim, home, connector)


def test_a_runaway_answer_is_not_read_past_the_cap(make_sim, home):
    """A 300 MiB answer with no length: the sync process stops reading at the 64 MiB cap. Its
    peak memory shows it (a read of the whole answer would add 300 MiB or more at once)."""
    sim = make_sim(users=40, seed=62)
    connector = connector_for(sim, home)
    command = [sys.executable, "-m", "entra_pipeline.cli", "sync", "--home", str(home), "--connector", connector.name]
    clean = _peak_rss_mib(command)
    sim.faults.add("oversized=300~/users/delta")
    hostile = _peak_rss_mib(command)
    print(f"peak RSS of a sync: {clean:.0f} MiB clean, {hostile:.0f} MiB with a 300 MiB answer")
    assert hostile - clean < 200, (clean, hostile)
    assert sim.faults.rules[0].fired >= 1  # it was sent


def _peak_rss_mib(command: list[str]) -> float:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode in (0, 3), process.returncode  # Processed, or Partially Processed: no crash
    return usage.ru_maxrss / 1024
