"""Issue #12: vps_snapshot_batch, many servers in one task: few requests, one result per server, the selection rules
of vps_snapshot, per-server failures, the provider's rate limit and edge faults without a duplicate.
"""

from __future__ import annotations

import math

import pytest

from ansible_collections.vps.cloud.tests.e2e.e2e_helpers import BATCH, SNAP
from ansible_collections.vps.cloud.tests.harness.seeding import seed
from ansible_collections.vps.cloud.tests.harness.simulator import (
    api_calls,
    calls,
    creation_posts,
    deleted_ids,
    names,
    of_server,
    writes,
)

pytestmark = pytest.mark.timeout(240)


def batch(**options):
    return {BATCH: options}


def mapping(server_ids):
    return dict(("host-%d" % server_id, server_id) for server_id in server_ids)


def assert_one_completed_each(sim, server_ids, name):
    for server_id in server_ids:
        mine = [s for s in of_server(sim, server_id) if s["name"] == name]
        assert [s["status"] for s in mine] == ["completed"], (server_id, mine)


# l. Present ------------------------------------------------------------------------------------------------------


def test_twenty_servers_in_one_task_with_few_requests(sim, play):
    """l: one task for 20 servers: at most 20 POSTs plus (5 + T/15) listings of every page, one result per host;
    a rerun sends no POST; check mode sends no POST or DELETE and returns the planned snapshots and a diff."""
    server_ids = sim.add_servers(20)
    sim.set_settings(page_size=10)
    hosts = mapping(server_ids)
    first = play([batch(servers=hosts, name="pre-upgrade", wait_timeout=120)])[0]
    log = api_calls(sim.request_log())
    assert not first.get("failed"), first["msg"]
    assert first["changed"] is True
    assert len(first["results"]) == 20 and sorted(first["by_host"]) == sorted(hosts)
    for host, server_id in hosts.items():
        entry = first["by_host"][host]
        assert entry["server_id"] == server_id and entry["changed"] is True and not entry.get("failed")
        assert entry["snapshot"]["status"] == "completed" and entry["snapshot"]["server"]["id"] == server_id
    assert first["failed_servers"] == []
    assert_one_completed_each(sim, server_ids, "pre-upgrade")

    waited = log[-1]["time"] - log[0]["time"]
    pages = math.ceil(20 / 10)
    posts = [c for c in log if c["method"] == "POST"]
    listings = [c for c in log if c["method"] == "GET"]
    assert len(posts) == 20
    assert len(listings) <= (5 + waited / 15) * pages, (len(listings), waited)
    assert all(c["path"] == "/api/v1/snapshots/" and "server_id" not in c["query"] for c in listings)
    assert first["requests"] == {"sent": len(log), "rate_limited": 0}

    sim.clear_log()
    run = play(
        [
            batch(servers=hosts, name="pre-upgrade"),
            dict(batch(servers=hosts, name="next-one"), check_mode=True),
        ],
        diff=True,
    )
    again, check = run.results
    assert again["changed"] is False and not again.get("failed"), again["msg"]
    assert all(r["changed"] is False for r in again["results"])
    assert check["changed"] is True and not check.get("failed"), check["msg"]
    for host, server_id in hosts.items():
        planned = check["by_host"][host]["snapshot"]
        assert planned["id"] is None and planned["name"] == "next-one" and planned["status"] == "in_progress"
        assert planned["server"]["id"] == server_id
    assert check["diff"]["before"][str(server_ids[0])] == {}
    assert check["diff"]["after"][str(server_ids[0])]["name"] == "next-one"
    assert writes(calls(sim)) == []


def test_retention_follows_the_same_rules_as_vps_snapshot(sim, play):
    """l: the same servers, snapshotted once by the batch and once by vps_snapshot, lose the same snapshots:
    failed ones first, the last completed one kept, an in-progress one never; one deletion before the POST."""
    twins = sim.add_servers(3)
    layouts = [
        ["a-1", "a-2", "a-3", "a-4", "a-5"],
        ["good", ("bad-1", "failed"), ("bad-2", "failed"), ("bad-3", "failed"), ("bad-4", "failed")],
        [("c-1", "in_progress"), "c-2", ("c-3", "failed")],
    ]
    for server_id, twin, layout in zip((101, 102, 103), twins, layouts):
        seed(sim, server_id, layout)
        seed(sim, twin, layout)
    options = dict(name="nightly", retention=2, wait_timeout=60)
    run = play([batch(servers=[101, 102, 103], **options)] + [{SNAP: dict(options, server_id=twin)} for twin in twins])
    batched, singles = run[0], run.results[1:]
    assert not batched.get("failed"), batched["msg"]
    for entry, single, twin in zip(batched["results"], singles, twins):
        assert not single.get("failed"), single["msg"]
        assert names(entry["pruned"]) == names(single["pruned"])
        assert names(of_server(sim, entry["server_id"])) == names(of_server(sim, twin))
        assert entry["changed"] is single["changed"] is True
    assert names(batched["results"][0]["pruned"]) == ["a-1", "a-2", "a-3", "a-4"]
    assert names(batched["results"][1]["pruned"]) == ["bad-1", "bad-2", "bad-3", "bad-4"]
    assert names(batched["results"][2]["pruned"]) == ["c-3"]
    assert names(of_server(sim, 101)) == ["a-5", "nightly"]
    assert names(of_server(sim, 102)) == ["good", "nightly"]
    assert names(of_server(sim, 103)) == ["c-1", "c-2", "nightly"]


def test_hosts_sharing_a_server_share_one_snapshot_and_check_mode_tells_the_truth(sim, play):
    """l: two hosts on one server get one snapshot (one POST) and the same result; check mode's pruned per host is the
    real run's."""
    seed(sim, 101, ["a-1", "a-2", "a-3", "a-4", "a-5"])
    seed(sim, 102, ["good", ("bad-1", "failed"), ("bad-2", "failed"), ("bad-3", "failed"), ("bad-4", "failed")])
    task = batch(servers={"web-a": 101, "web-b": 101, "db": 102}, name="nightly", retention=2, wait_timeout=60)
    check, real = play([dict(task, check_mode=True), task], diff=True).results
    assert not check.get("failed") and not real.get("failed"), (check.get("msg"), real.get("msg"))
    for host in ("web-a", "web-b", "db"):
        assert names(check["by_host"][host]["pruned"]) == names(real["by_host"][host]["pruned"]), host
    assert real["by_host"]["web-a"]["snapshot"]["id"] == real["by_host"]["web-b"]["snapshot"]["id"]
    assert names(real["by_host"]["web-a"]["pruned"]) == ["a-1", "a-2", "a-3", "a-4"]
    assert names(real["by_host"]["db"]["pruned"]) == ["bad-1", "bad-2", "bad-3", "bad-4"]
    assert [c["body"]["server_id"] for c in creation_posts(calls(sim))] in ([101, 102], [102, 101])


def test_one_server_failing_never_stops_the_others(sim, play):
    """l: a server that does not exist and a snapshot that ends failed: the task fails naming both servers, and
    every other server ends with its completed snapshot."""
    sim.set_faults(fail_next=1)
    hosts = {"web-1": 101, "ghost": 999, "web-2": 102, "db-1": 103}
    result = play([batch(servers=hosts, name="pre-upgrade", wait_timeout=60)])[0]
    assert result["failed"] is True and result["changed"] is True
    failed = sorted(result["failed_servers"])
    assert len(failed) == 2 and 999 in failed
    ended_failed = [s for s in failed if s != 999][0]
    assert "does not exist" in result["by_host"]["ghost"]["msg"]
    assert "server 999 (ghost)" in result["msg"] and "server %d" % ended_failed in result["msg"]
    assert "ended failed" in result["msg"]
    ok = [server_id for server_id in (101, 102, 103) if server_id != ended_failed]
    assert_one_completed_each(sim, ok, "pre-upgrade")
    for host, server_id in hosts.items():
        assert bool(result["by_host"][host].get("failed")) is (server_id in failed)


def test_rate_limited_provider_gets_no_duplicate_and_every_server_completes(sim, play):
    """l: the provider allows 5 requests per second (burst 5): every server completes, no duplicate, and the result
    counts the 429s the provider sent."""
    server_ids = sim.add_servers(20)
    sim.set_settings(rate_limit_rps=5, rate_limit_bucket=5)
    result = play([batch(servers=mapping(server_ids), name="pre-upgrade", wait_timeout=180)])[0]
    assert not result.get("failed"), result["msg"]
    assert_one_completed_each(sim, server_ids, "pre-upgrade")
    throttled = [c for c in sim.request_log() if c["status"] == 429]
    assert len(creation_posts(calls(sim), applied_only=True)) == 20
    assert throttled, "the rate limit was never hit: the test did not test it"
    assert result["requests"]["rate_limited"] == len(throttled)
    assert result["requests"]["sent"] == len(api_calls(sim.request_log()))


def test_dropped_and_refused_posts_are_never_applied_twice(sim, play):
    """l: POSTs dropped after being applied, and POSTs refused by the edge with 502/503: one snapshot per server."""
    server_ids = sim.add_servers(8)
    sim.set_faults(drop_after_post=3)
    sim.set_faults(error_rate=0.4, random_seed=4, methods=["POST"])
    result = play([batch(servers=server_ids, name="pre-upgrade", wait_timeout=90, api_retries=8, api_timeout=3)])[0]
    assert not result.get("failed"), result["msg"]
    assert_one_completed_each(sim, server_ids, "pre-upgrade")
    applied = creation_posts(calls(sim), applied_only=True)
    assert len(applied) == 8
    faults = [c["fault"] for c in creation_posts(calls(sim))]
    assert faults.count("drop_after_post") == 3 and "error_rate" in faults
    assert deleted_ids(calls(sim)) == []


def test_retention_out_of_range_is_refused_before_any_request(sim, play):
    """l: the same range as vps_snapshot (1 to 5): retention 0 fails naming the option and deletes nothing."""
    seed(sim, 101, ["a", "b", "c"])
    result = play([batch(servers=[101], name="nightly", retention=0)])[0]
    assert result.get("failed") is True, result["msg"]
    assert "retention must be between 1 and 5" in result["msg"]
    assert api_calls(sim.request_log()) == []
    assert names(of_server(sim, 101)) == ["a", "b", "c"]


# m. Absent --------------------------------------------------------------------------------------------------------


def test_absent_by_ids_and_by_server_and_name(sim, play):
    """m: snapshot_ids, and snapshots entries with server_id and name: check mode deletes nothing, the real run
    deletes exactly those, a missing one is no change, and a rerun changes nothing."""
    keep = seed(sim, 101, ["keep", "drop-1"])
    drop_102 = seed(sim, 102, ["drop-2", "keep"])
    drop_103 = seed(sim, 103, ["drop-3"])
    by_ids = batch(state="absent", snapshot_ids=[keep[1], drop_102[0], 424242])
    by_name = batch(state="absent", snapshots=[{"server_id": 103, "name": "drop-3", "host": "db-1"}, {"server_id": 101, "name": "never-was"}])
    run = play([dict(by_ids, check_mode=True), dict(by_name, check_mode=True), by_ids, by_name, by_ids, by_name], diff=True)
    check_ids, check_name, real_ids, real_name, again_ids, again_name = run.results
    assert check_ids["changed"] is True and check_name["changed"] is True
    assert [r["changed"] for r in check_ids["results"]] == [True, True, False]
    assert sorted(int(k) for k in check_ids["diff"]["before"]) == sorted([keep[1], drop_102[0]])

    assert not real_ids.get("failed"), real_ids["msg"]
    assert [r["changed"] for r in real_ids["results"]] == [True, True, False]
    assert real_ids["results"][2]["snapshot"] == {} and "nothing to delete" in real_ids["results"][2]["msg"]
    assert [r["server_id"] for r in real_ids["results"][:2]] == [101, 102]
    assert not real_name.get("failed"), real_name["msg"]
    assert [r["changed"] for r in real_name["results"]] == [True, False]
    assert real_name["by_host"]["db-1"]["snapshot"]["id"] == drop_103[0]

    assert again_ids["changed"] is False and again_name["changed"] is False
    assert sorted(deleted_ids(calls(sim))) == sorted([keep[1], drop_102[0], drop_103[0]])
    assert names(sim.snapshots()) == ["keep", "keep"]


# Issue 22: what happened at the provider is what the task reports --------------------------------------------------


def test_one_server_and_name_twice_is_taken_once_and_reported_once(sim, play):
    """Two entries for one server and name: one POST, one entry changed, the other the same snapshot not changed, and a
    warning because their descriptions differ; the summary counts the snapshot once."""
    task = batch(
        wait_timeout=60,
        snapshots=[
            {"server_id": 101, "name": "pre-upgrade", "host": "web-a", "description": "one"},
            {"server_id": 101, "name": "pre-upgrade", "host": "web-b", "description": "two"},
            {"server_id": 102, "name": "pre-upgrade", "host": "web-c"},
        ],
    )
    result = play([task])[0]
    assert not result.get("failed"), result["msg"]
    assert result["msg"] == "Snapshots: 2 taken; 3 entries for 2 servers."
    assert [(r["host"], r["changed"]) for r in result["results"]] == [("web-a", True), ("web-b", False), ("web-c", True)]
    assert result["by_host"]["web-b"]["snapshot"] == result["by_host"]["web-a"]["snapshot"]
    assert [w for w in result.get("warnings", []) if "different descriptions" in w], result.get("warnings")
    assert sorted(c["body"]["server_id"] for c in creation_posts(calls(sim))) == [101, 102]
    assert [s["description"] for s in of_server(sim, 101)] == ["one"]


def test_many_failing_servers_keep_the_message_short_and_every_detail_in_results(sim, play):
    """55 servers that do not exist: the task fails, msg names the first few and how many more, each entry has its own
    whole message, and the summary counts them."""
    hosts = dict(("ghost-%02d" % i, 9000 + i) for i in range(55))
    result = play([batch(servers=hosts, name="pre-upgrade", wait_timeout=60)])[0]
    assert result["failed"] is True
    assert len(result["failed_servers"]) == 55
    assert result["msg"].startswith("Snapshots: 55 failed. Failed: server 9000 (ghost-00): Server 9000 does not exist")
    assert "; and 52 more: " in result["msg"] and result["msg"].endswith("(every message is in results and by_host).")
    assert len(result["msg"]) < 2000, len(result["msg"])
    assert ".." not in result["msg"] and ".;" not in result["msg"]
    for host, server_id in hosts.items():
        assert "Server %d does not exist" % server_id in result["by_host"][host]["msg"]


def test_absent_refuses_retention_before_any_request(sim, play):
    """A deletion has no use for retention: refused, as vps_snapshot refuses it, instead of silently ignored."""
    seed(sim, 101, ["a"])
    result = play([batch(state="absent", servers=[101], name="a", retention=1)])[0]
    assert result.get("failed") is True
    assert result["msg"] == "retention is only used with state=present"
    assert api_calls(sim.request_log()) == []
    assert names(of_server(sim, 101)) == ["a"]
