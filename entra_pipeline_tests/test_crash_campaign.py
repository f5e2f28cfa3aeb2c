"""The kill campaign: the pipeline process SIGKILLed at seeded random points across full and
delta runs (in the middle of the pull at a random page, between raw files, between record
sets, inside the inventory transaction, around each entity's delivery, before the links
commit), one to three kills in a row with the tenant changing in between, then a run to
completion: the inventory must equal the simulator's truth every time, and a last run with
nothing changed must change nothing (no record lost, none doubled, delta state consistent).

Killed runs run the sync's own steps (entra_pipeline.sync.pipeline, what the Dagster asset runs)
without Dagster's run and event storage: every kill point is in those steps, and a bare run
costs a fraction of a Dagster run's bookkeeping, so CI can afford 52 kills (50 asked).
Every eighth recovery, and the last quiet run, go through the CLI as a Dagster run: the
operator's path recovers from the same kills. (The 12 targeted kill tests in test_delta,
test_inventory and test_qualys kill Dagster runs.)

ENTRA_CRASH_KILLS (default 52) and ENTRA_CRASH_SEED choose the sample; a larger campaign:
`ENTRA_CRASH_KILLS=500 ./dev test entra_pipeline_tests/test_crash_campaign.py -o timeout=0 -s`.
"""

from __future__ import annotations

import pytest

from .kill_campaign import campaign

pytestmark = pytest.mark.slow  # ./dev test --quick leaves it out


@pytest.mark.timeout(1200)
def test_killed_anywhere_any_number_of_times_the_next_run_leaves_the_truth(make_sim, home):
    campaign(make_sim, home, "SQLite")
