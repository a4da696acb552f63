"""Issue #12 (m): vps_snapshot_prune by count and by age, with the collection's selection rules: failed ones go
first and never count, an in-progress one never goes, the last restore point stays unless allowed; check mode
previews each snapshot with its id, name, status and age.
"""

from __future__ import annotations

import re

import pytest

from ansible_collections.vps.cloud.tests.e2e.e2e_helpers import PRUNE
from ansible_collections.vps.cloud.tests.harness.seeding import seed
from ansible_collections.vps.cloud.tests.harness.simulator import calls, deleted_ids, names, of_server, writes

pytestmark = pytest.mark.timeout(180)


def prune(**options):
    return {PRUNE: options}


@pytest.fixture
def seeded(sim):
    """101: daily-? names for keep; 102-104: old and new ones for older_than_days. Returns {name: id} per server."""
    ids = {}
    ids[101] = dict(
        zip(["daily-1", "daily-2", "daily-3", "daily-4", "daily-10"], seed(sim, 101, ["daily-1", "daily-2", "daily-3", ("daily-4", "failed"), "daily-10"]))
    )
    ids[102] = {}
    for name, status, days in (("old-0", "in_progress", 12), ("old-1", "completed", 10), ("old-2", "failed", 9), ("new-1", "completed", 0)):
        ids[102][name] = seed(sim, 102, [(name, status)], days_old=days)[0]
    [server_104] = sim.add_servers(1)
    for server_id in (103, server_104):
        ids[server_id] = {"old-a": seed(sim, server_id, ["old-a"], days_old=10)[0], "old-b": seed(sim, server_id, ["old-b"], days_old=8)[0]}
    return ids


def test_check_mode_previews_and_deletes_nothing(sim, play, seeded):
    """m: keep with a '?' pattern, older_than_days, and protect_last_completed: check mode lists what would go, one
    line per snapshot with server, id, name, status and age, and sends no DELETE."""
    run = play(
        [
            prune(servers={"web-01": 101}, match="daily-?", keep=1),
            prune(servers=[102, 103], older_than_days=7),
            prune(servers=[104], older_than_days=7, protect_last_completed=False),
        ],
        check=True,
        diff=True,
    )
    by_keep, by_age, unprotected = run.results
    for result in run.results:
        assert not result.get("failed"), result["msg"]
        assert result["changed"] is True
    assert writes(calls(sim)) == []
    assert len(sim.snapshots()) == 5 + 4 + 2 + 2

    assert names(by_keep["pruned"]) == ["daily-1", "daily-2", "daily-4"]
    assert names(by_keep["by_host"]["web-01"]["kept"]) == ["daily-3"]
    line = "server 101: id %d  daily-4  failed  " % seeded[101]["daily-4"]
    assert any(p.startswith(line) and re.search(r"\d+m old$", p) for p in by_keep["preview"]), by_keep["preview"]
    assert len(by_keep["preview"]) == 3
    assert "daily-1" in by_keep["diff"]["before"] and by_keep["diff"]["after"] == ""

    assert names(by_age["pruned"]) == ["old-1", "old-2", "old-a"]
    assert "server 102: id %d  old-1  completed  10d 0h old" % seeded[102]["old-1"] in by_age["preview"]
    assert "server 102: id %d  old-2  failed  9d 0h old" % seeded[102]["old-2"] in by_age["preview"]
    assert "server 103: id %d  old-a  completed  10d 0h old" % seeded[103]["old-a"] in by_age["preview"]
    assert names(unprotected["pruned"]) == ["old-a", "old-b"]


def test_prune_deletes_exactly_what_the_rules_allow(sim, play, seeded):
    """m: the real run deletes what check mode previewed: failed first and not counted, never an in-progress one,
    never the last restore point unless protect_last_completed is false; a rerun deletes nothing."""
    run = play(
        [
            prune(servers={"web-01": 101}, match="daily-?", keep=1),
            prune(servers=[102, 103], older_than_days=7),
            prune(servers=[104], older_than_days=7, protect_last_completed=False),
            prune(servers={"web-01": 101}, match="daily-?", keep=1),
            prune(servers=[102, 103], older_than_days=7),
        ]
    )
    by_keep, by_age, unprotected, again_keep, again_age = run.results
    assert not by_keep.get("failed") and not by_age.get("failed") and not unprotected.get("failed")
    assert names(by_keep["pruned"]) == ["daily-1", "daily-2", "daily-4"]
    assert "deleted 3 snapshot(s)" in by_keep["results"][0]["msg"]
    assert names(of_server(sim, 101)) == ["daily-10", "daily-3"]
    assert names(of_server(sim, 102)) == ["new-1", "old-0"]
    assert names(of_server(sim, 103)) == ["old-b"]
    assert of_server(sim, 104) == []
    assert names(unprotected["pruned"]) == ["old-a", "old-b"]
    assert [r["changed"] for r in by_age["results"]] == [True, True]
    assert again_keep["changed"] is False and again_age["changed"] is False
    assert again_keep["pruned"] == [] and again_age["pruned"] == []
    gone = [seeded[101][n] for n in ("daily-1", "daily-2", "daily-4")]
    gone += [seeded[102]["old-1"], seeded[102]["old-2"], seeded[103]["old-a"]] + list(seeded[104].values())
    assert sorted(deleted_ids(calls(sim))) == sorted(gone)
    # Each server's failed one goes before its completed ones.
    order = deleted_ids(calls(sim))
    assert order.index(seeded[101]["daily-4"]) < order.index(seeded[101]["daily-1"])
    assert order.index(seeded[102]["old-2"]) < order.index(seeded[102]["old-1"])


def test_bad_prune_options_fail_before_any_request(sim, play):
    """m: neither keep nor older_than_days, a negative keep, an empty server list: clear messages, no request."""
    run = play(
        [
            prune(servers=[101]),
            prune(servers=[101], keep=-1),
            prune(servers=[], keep=1),
            prune(servers={"web-01": "abc"}, keep=1),
        ]
    )
    messages = [r["msg"] for r in run.results]
    assert all(r["failed"] for r in run.results)
    assert "keep" in messages[0] and "older_than_days" in messages[0]
    assert "keep must be 0 or more, got -1" in messages[1]
    assert "servers is empty" in messages[2]
    assert "servers[web-01] must be a positive integer server id, got 'abc'" in messages[3]
    assert sim.request_log() == []


def test_keep_zero_still_keeps_the_last_restore_point(sim, play):
    """m: keep: 0 deletes every matching snapshot but the server's newest completed one (protect_last_completed)."""
    seed(sim, 101, ["a", ("b", "failed"), "c", ("d", "in_progress")])
    result = play([prune(servers=[101], keep=0)])[0]
    assert not result.get("failed"), result["msg"]
    assert names(result["pruned"]) == ["a", "b"]
    assert names(of_server(sim, 101)) == ["c", "d"]
