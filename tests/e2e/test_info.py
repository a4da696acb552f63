"""vps_snapshot_info through real playbooks."""

from conftest import calls


def test_bad_token_fails_with_the_providers_words(play):
    run = play([{"vps.cloud.vps_snapshot_info": {"api_token": "wrong-token"}}])
    result = run[0]
    assert result["failed"] is True
    assert "HTTP 401" in result["msg"]
    assert "wrong-token" not in run.stdout


def test_bad_option_fails_before_any_request(sim, play):
    run = play([{"vps.cloud.vps_snapshot_info": {"server_id": -3}}])
    assert run[0]["failed"] is True
    assert run[0]["msg"] == "server_id must be a positive integer, got -3"
    assert calls(sim) == []


def test_lists_across_pages_newest_first(sim, play):
    sim.add_snapshots(101, 5)
    sim.add_snapshots(102, 4)
    sim.add_snapshots(103, 3)
    run = play([
        {"vps.cloud.vps_snapshot_info": {}},
        {"vps.cloud.vps_snapshot_info": {"server_id": 102}},
        {"vps.cloud.vps_snapshot_info": {"server_id": 101, "name": "bulk-2"}},
        {"vps.cloud.vps_snapshot_info": {"status": "in_progress"}},
    ])
    everything, server_102, named, in_progress = run.results
    assert everything["changed"] is False
    assert len(everything["snapshots"]) == 12
    created = [s["created_at"] for s in everything["snapshots"]]
    assert created == sorted(created, reverse=True)
    assert set(everything["snapshots"][0]) == {"id", "server", "name", "status", "size_mb", "created_at", "description"}
    assert set(everything["snapshots"][0]["server"]) == {"id", "name"}
    assert [s["server"]["id"] for s in server_102["snapshots"]] == [102] * 4
    assert [s["name"] for s in named["snapshots"]] == ["bulk-2"]
    assert in_progress["snapshots"] == []
    filtered = [c for c in calls(sim, "GET") if c["query"].get("server_id") == "102"]
    assert len(filtered) == 1


def test_follows_next_through_several_pages(tmp_path):
    from conftest import SERVERS, TOKEN, Simulator, run_playbook
    with Simulator(tokens=[TOKEN], servers=SERVERS, page_size=2) as small_pages:
        small_pages.add_snapshots(101, 5)
        small_pages.add_snapshots(102, 2)
        run = run_playbook(small_pages, tmp_path, [{"vps.cloud.vps_snapshot_info": {}}], check=True)
        assert len(run[0]["snapshots"]) == 7
        assert len({s["id"] for s in run[0]["snapshots"]}) == 7
        pages = calls(small_pages, "GET")
        assert len(pages) == 4
        assert [c["query"].get("page") for c in pages] == [None, "2", "3", "4"]
