"""vps_snapshot_info through real playbooks: the simulator's request log, and listings past the 5-per-server limit.

The rhythm (failure messages, each filter, order, fields, check mode) is in the ansible-test integration target
tests/integration/targets/vps_snapshot_info.
"""

from ansible_collections.vps.cloud.tests.e2e.e2e_helpers import SERVERS, TOKEN, play_on
from ansible_collections.vps.cloud.tests.harness.simulator import Simulator, calls


def test_bad_option_sends_no_request(sim, play):
    run = play([{"vps.cloud.vps_snapshot_info": {"server_id": -3}}])
    assert run[0]["failed"] is True
    assert calls(sim) == []


def test_lists_every_server_and_filters_at_the_api(sim, play):
    sim.add_snapshots(101, 5)
    sim.add_snapshots(102, 4)
    sim.add_snapshots(103, 3)
    run = play(
        [
            {"vps.cloud.vps_snapshot_info": {}},
            {"vps.cloud.vps_snapshot_info": {"server_id": 102}},
        ]
    )
    everything, server_102 = run.results
    assert len(everything["snapshots"]) == 12
    created = [s["created_at"] for s in everything["snapshots"]]
    assert created == sorted(created, reverse=True)
    assert [s["server"]["id"] for s in server_102["snapshots"]] == [102] * 4
    # server_id is the API's filter, sent once, not a filter applied to the whole account's list.
    filtered = [c for c in calls(sim, "GET") if c["query"].get("server_id") == "102"]
    assert len(filtered) == 1


def test_follows_next_through_several_pages(tmp_path):
    with Simulator(tokens=[TOKEN], servers=SERVERS, page_size=2) as small_pages:
        small_pages.add_snapshots(101, 5)
        small_pages.add_snapshots(102, 2)
        run = play_on(small_pages, tmp_path, [{"vps.cloud.vps_snapshot_info": {}}], check=True)
        assert len(run[0]["snapshots"]) == 7
        assert len({s["id"] for s in run[0]["snapshots"]}) == 7
        pages = calls(small_pages, "GET")
        assert len(pages) == 4
        assert [c["query"].get("page") for c in pages] == [None, "2", "3", "4"]
