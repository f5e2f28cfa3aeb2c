"""The pipeline's Graph client against the simulator's faults: retries that honour Retry-After,
back off without one, retry 500/502 too; paging that survives expired page tokens and refuses
to loop forever; per-page timeouts."""

from __future__ import annotations

import asyncio
import email.utils
import time

import pytest

from entra_pipeline.graph.client import ClientSettings, GraphClient, GraphError, GraphPagingError
from entra_pipeline.retry import retry_after_seconds

from .conftest import connector_for

FAST = ClientSettings(backoff_base=0.01, backoff_cap=0.05, page_timeout=3.0, max_attempts=5)


def run(sim, home, work, settings=FAST):
    connector = connector_for(sim, home)

    async def main():
        async with GraphClient(connector, connector.secret(home), settings) as client:
            return await work(client), client.stats

    return asyncio.run(main())


def test_retry_after_parsing():
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("2.128") == pytest.approx(2.128)  # Microsoft's own sample is fractional
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= retry_after_seconds(future) <= 31
    assert retry_after_seconds("") is None and retry_after_seconds("soon") is None


@pytest.mark.parametrize(
    "fault",
    ["500@#1", "502@#1", "503@#1", "504@#1", "reset@#1", "malformed@#1", "truncated@#1", "429-no-retry-after@#1"],
)
def test_transient_failures_are_retried(make_sim, home, fault):
    sim = make_sim(users=30, faults=(fault,))
    page, stats = run(sim, home, lambda client: client.get("/organization"))
    assert page["value"][0]["id"] == sim.info.tenant_id
    assert stats.retries == 1 and sim.stats()["faults_injected"]


def test_throttling_is_waited_out_as_told(make_sim, home):
    sim = make_sim(users=20, tenant_size="S")
    now = [1000.0]
    sim.throttle.clock = lambda: now[0]

    async def drain_then_read(client: GraphClient):
        for _ in range(1750):  # 3,500 RU of GET users at 2 RU
            await client.get("/users?$top=999")

        async def refill_later():
            await asyncio.sleep(0.3)
            now[0] += 1.0  # the bucket refills while the client waits

        asyncio.get_running_loop().create_task(refill_later())
        return await client.get("/users?$top=999")

    page, stats = run(sim, home, drain_then_read, ClientSettings(concurrency=1))
    assert len(page["value"]) == 20 and stats.throttled >= 1 and stats.retries >= 1


def test_permission_errors_are_not_retried(make_sim, home):
    sim = make_sim(users=20, faults=("forbidden=applications",))
    with pytest.raises(GraphError) as caught:
        run(sim, home, lambda client: client.get("/applications"))
    assert caught.value.status == 403 and caught.value.code == "Authorization_RequestDenied"
    assert sim.stats()["endpoints"]["GET /applications"]["requests"] == 1


def test_an_expired_page_token_restarts_the_listing_and_loses_nothing(make_sim, home):
    sim = make_sim(users=250, faults=("expired-page-token@#2~/users",))
    (items, _), stats = run(sim, home, lambda client: client.all_pages("/users?$top=50&$select=id"))
    assert sorted(u["id"] for u in items) == sorted(sim.tenant.users)
    assert sim.stats()["faults_injected"] == {"expired-page-token": 1}


def test_a_next_link_that_loops_once_is_followed_without_duplicates(make_sim, home):
    sim = make_sim(users=250, faults=("loop@#2~/users",))
    (items, _), _ = run(sim, home, lambda client: client.all_pages("/users?$top=50&$select=id"))
    assert sorted(u["id"] for u in items) == sorted(sim.tenant.users)


def test_a_next_link_that_loops_forever_is_an_error_not_a_hang(make_sim, home):
    sim = make_sim(users=250, faults=("loop~/users",))
    with pytest.raises(GraphPagingError, match="nextLink keeps pointing back"):
        run(sim, home, lambda client: client.all_pages("/users?$top=50&$select=id"))


def test_a_page_slower_than_the_timeout_is_retried(make_sim, home):
    # The first answer comes after 12 s, past the 4 s timeout; the retry's answer is immediate.
    # The margins are wide both ways: on a loaded 2-core CI machine an immediate answer took
    # over 1 s, and a 1 s timeout counted it as a second slow page.
    sim = make_sim(users=30, faults=("slow=12@#1",))
    page, stats = run(
        sim,
        home,
        lambda client: client.get("/organization"),
        ClientSettings(page_timeout=4.0, backoff_base=0.01, max_attempts=3),
    )
    assert page["value"] and stats.retries == 1


def test_giving_up_after_the_attempts_names_the_error(make_sim, home):
    sim = make_sim(users=30, faults=("503~/organization",))
    with pytest.raises(GraphError, match="503 ServiceUnavailable"):
        run(sim, home, lambda client: client.get("/organization"))
    assert sim.stats()["endpoints"]["GET /organization"]["requests"] == FAST.max_attempts
