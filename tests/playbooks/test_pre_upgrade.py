# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vps.cloud.pre_upgrade: snapshot -> upgrade -> health check -> roll back on failure, as a user runs it."""

import re

import pytest

from ansible_collections.vps.cloud.tests.harness.background import Concurrent
from ansible_collections.vps.cloud.tests.harness.playbook import Runner, write_inventory
from ansible_collections.vps.cloud.tests.harness.seeding import add_snapshot
from ansible_collections.vps.cloud.tests.harness.simulator import (
    calls,
    creation_posts,
    deleted_ids,
    deletes,
    listings,
    of_server,
    restore_posts,
    restored_ids,
)
from ansible_collections.vps.cloud.tests.playbooks.pb_helpers import FILES, simulator

pytestmark = pytest.mark.timeout(600)

UPGRADE = "pre_upgrade_tasks_file=%s" % (FILES / "upgrade.yml")
HEALTH = "pre_upgrade_health_tasks_file=%s" % (FILES / "health.yml")


def by_id_of(snapshots, snapshot_id):
    return [s for s in snapshots if s["id"] == snapshot_id]


def batch_shape(entries):
    """The request log of one batch snapshot task: [(method, 'account' | server_id | path)], in order."""
    shape = []
    for e in entries:
        query = e.get("query") or {}
        if e["method"] == "GET" and e["path"].endswith("/snapshots/"):
            shape.append(("GET", "server %s" % query["server_id"] if "server_id" in query else "account"))
        else:
            shape.append((e["method"], e["path"]))
    return shape


def assert_one_batch_task(entries, server_ids):
    """The snapshots of `server_ids` were taken by one batch task: one account-wide listing, then one POST per server,
    then shared account-wide polls; never one listing per server."""
    shape = batch_shape(entries)
    posts = creation_posts(entries)
    assert sorted(p["body"]["server_id"] for p in posts) == sorted(server_ids), shape
    first_post = entries.index(posts[0])
    last_post = entries.index(posts[-1])
    before, during, after = shape[:first_post], shape[first_post : last_post + 1], shape[last_post + 1 :]
    assert before == [("GET", "account")], shape
    assert all(kind == ("POST", "/api/v1/snapshots/") for kind in during), shape
    polls = [kind for kind in after if kind[0] == "GET"]
    assert polls and all(kind == ("GET", "account") for kind in polls), shape
    assert not [e for e in entries if e["method"] == "GET" and "server_id" in (e.get("query") or {})], shape


ROLLBACK_HOSTS = {
    "ok-1": {"vps_server_id": 101},
    "fail-1": {"vps_server_id": 102, "upgrade_mode": "fail"},
    "stopped-1": {"vps_server_id": 103, "upgrade_mode": "fail"},
    "gone-1": {"vps_server_id": 104, "upgrade_mode": "unreachable"},
    "sick-1": {"vps_server_id": 105, "upgrade_mode": "breaks_health"},
}
FAILED_HOSTS = ["fail-1", "gone-1", "sick-1", "stopped-1"]
THREE = {"web-1": 101, "web-2": 102, "web-3": 103}


def seed_check(sim):
    """Snapshots for the check scenario: one of another server, and ok-1's two older pre-upgrade snapshots."""
    return {
        "keep": add_snapshot(sim, 105, "weekly-1"),
        "old-1": add_snapshot(sim, 101, "pre-upgrade-20250101-000000", days_old=3),
        "old-2": add_snapshot(sim, 101, "pre-upgrade-20250102-000000", days_old=2),
    }


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory):
    """Four independent pre_upgrade runs, each against its own simulator, at the same time:
    happy     three hosts, upgrade and health check pass
    rollback  five hosts: one upgrades, four fail in the four ways a rollback can end (server 103 comes back stopped
              after its restore, and the API has no way to start it)
    check     --check on a mapped host, a host without vps_server_id, and a host whose server does not exist (the
              account has a snapshot of another server: that is how the API can tell a missing server); the mapped
              host's server already has the two pre-upgrade snapshots that pre_upgrade_retention (2) keeps
    serial    -e pre_upgrade_serial=1 -e pre_upgrade_keep_snapshot=true on three hosts
    """
    together = Concurrent(tmp_path_factory.mktemp("pre_upgrade"), simulator)
    try:
        together.start("happy", "vps.cloud.pre_upgrade", THREE, [UPGRADE, HEALTH])
        together.start(
            "rollback",
            "vps.cloud.pre_upgrade",
            ROLLBACK_HOSTS,
            [UPGRADE, HEALTH, "pre_upgrade_reconnect_timeout=3"],
            settings={"after_restore_by_server": {103: "stopped"}},
        )
        together.start("check", "vps.cloud.pre_upgrade", {"ok-1": 101, "nomap-1": None, "ghost-1": 999}, [UPGRADE, HEALTH], check=True, setup=seed_check)
        together.start("serial", "vps.cloud.pre_upgrade", THREE, ["pre_upgrade_serial=1", "pre_upgrade_keep_snapshot=true"])
        yield together.finish()
    finally:
        together.close()


# Happy path ---------------------------------------------------------------------------------------


def test_happy_path_snapshots_each_server_once_in_one_batch_task_then_deletes_them(scenarios):
    happy = scenarios["happy"]
    run, log = happy.run, happy.log
    assert run.rc == 0, run
    assert run.ok_hosts() == ["web-1", "web-2", "web-3"], run
    for host, server in (("web-1", 101), ("web-2", 102), ("web-3", 103)):
        assert run.said(host, "UPGRADED: %s (server %s) passed the health check" % (host, server)), run
        assert run.said(host, "was deleted"), run
        assert run.said(host, "Deleted 1 snapshot(s) of server %s (%s):" % (server, host)), run
        assert run.facts(host).get("pre_upgrade_outcome") == "upgraded", run.facts(host)
        assert run.cached_facts(host).get("pre_upgrade_outcome") == "upgraded", "cacheable, for AWX and report"
        health = [e["event"] for e in run.host_events(host) if e["task"] in ("The host answers", "The application answers")]
        assert health == ["ok", "ok"], health
    # The provider saw one snapshot per server, by one batch task, and one deletion of each at the end.
    posts = creation_posts(log)
    assert len(posts) == 3, batch_shape(log)
    # Each host names its snapshot when the run starts (pre-upgrade-<UTC timestamp>).
    assert all(re.match(r"^pre-upgrade-\d{8}-\d{6}$", p["body"]["name"]) for p in posts), posts
    snapshot_phase = log[: log.index(deletes(log)[0])]
    assert_one_batch_task(snapshot_phase, [101, 102, 103])
    assert len(deletes(log)) == 3 and len(set(deleted_ids(log, gone_too=True))) == 3, batch_shape(log)
    assert not restore_posts(log)
    assert happy.snapshots == [], "every pre-upgrade snapshot is deleted after a successful upgrade"
    assert all(s["status"] == "running" for s in happy.servers)


# Rollbacks: one run, five hosts, every outcome -----------------------------------------------------


@pytest.fixture(scope="module")
def rollback_run(scenarios):
    rollback = scenarios["rollback"]
    return rollback.run, rollback.log, rollback.snapshots, rollback.servers


def test_failed_upgrades_restore_only_their_own_servers_once_each_and_fail_the_play(rollback_run):
    run, log, snapshots, _servers = rollback_run
    assert run.rc != 0, run
    assert run.failed_hosts() == FAILED_HOSTS, run
    assert run.ok_hosts() == ["ok-1"], run
    assert run.said("ok-1", "UPGRADED: ok-1 (server 101) passed the health check"), run
    # One snapshot per host, one creation POST per server, one restore POST per failed host, none for ok-1.
    assert sorted(p["body"]["server_id"] for p in creation_posts(log)) == [101, 102, 103, 104, 105]
    snapshot_of = dict((s["server"]["id"], s["id"]) for s in snapshots)
    restored = restored_ids(log)
    assert len(restore_posts(log)) == 4, restore_posts(log)
    assert sorted(restored) == sorted(snapshot_of[sid] for sid in (102, 103, 104, 105)), (restored, snapshots)
    # The failed hosts' snapshots are kept (completed), ok-1's was deleted: nothing else was deleted.
    assert sorted(s["server"]["id"] for s in snapshots) == [102, 103, 104, 105], snapshots
    assert all(s["status"] == "completed" for s in snapshots), snapshots
    ok_snapshot = [p for p in creation_posts(log) if p["body"]["server_id"] == 101]
    assert len(deletes(log)) == 1 and not by_id_of(snapshots, deleted_ids(log, gone_too=True)[0]), deletes(log)
    assert 101 not in snapshot_of and len(ok_snapshot) == 1
    for host in FAILED_HOSTS:
        assert run.facts(host).get("pre_upgrade_outcome", "").startswith("rolled back"), (host, run.facts(host))
        assert run.said(host, "UPGRADE FAILED on %s" % host), run


def test_rollback_outcome_rolled_back_and_healthy(rollback_run):
    run, _log, _snapshots, servers = rollback_run
    assert run.said("fail-1", "ROLLED BACK (rolled back and healthy): the upgrade of fail-1 failed, so server 102 was restored"), run
    assert run.said("fail-1", "which is kept"), run
    assert run.facts("fail-1")["pre_upgrade_outcome"] == "rolled back and healthy"
    assert run.facts("fail-1")["snapshot_guard_outcome_detail"] == "the health check passes again"
    assert dict((s["id"], s["status"]) for s in servers)[102] == "running"


def test_rollback_outcome_did_not_come_back_when_the_api_shows_the_server_stopped(rollback_run):
    run, _log, _snapshots, servers = rollback_run
    facts = run.facts("stopped-1")
    assert facts["pre_upgrade_outcome"] == "rolled back but the host did not come back", facts
    detail = facts["snapshot_guard_outcome_detail"]
    assert "the API shows the server stopped after the restore" in detail, detail
    assert "the API offers no way to start a server, so nothing was started" in detail, detail
    assert run.said("stopped-1", "ROLLED BACK (rolled back but the host did not come back)"), run
    assert run.said("stopped-1", "nothing was started"), run
    assert dict((s["id"], s["status"]) for s in servers)[103] == "stopped", "nothing may start the server"


def test_rollback_outcome_did_not_come_back_when_the_host_does_not_answer(rollback_run):
    run, _log, _snapshots, _servers = rollback_run
    facts = run.facts("gone-1")
    assert facts["pre_upgrade_outcome"] == "rolled back but the host did not come back", facts
    assert "the host did not answer within 3 s" in facts["snapshot_guard_outcome_detail"], facts
    assert run.said("gone-1", "ROLLED BACK (rolled back but the host did not come back)"), run


def test_rollback_outcome_rolled_back_but_unhealthy(rollback_run):
    run, _log, _snapshots, _servers = rollback_run
    facts = run.facts("sick-1")
    assert facts["pre_upgrade_outcome"] == "rolled back but unhealthy", facts
    detail = facts["snapshot_guard_outcome_detail"]
    assert detail.startswith("the health check still fails"), detail
    assert "does not answer" in detail, detail
    assert run.said("sick-1", "ROLLED BACK (rolled back but unhealthy)"), run
    # The health check failed twice: after the upgrade, and again after the rollback.
    health = [e for e in run.host_events("sick-1") if e["task"].endswith("The application answers") and e["event"] == "failed"]
    assert len(health) == 2, [e["task"] for e in run.host_events("sick-1")]


# Check mode ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def check_run(scenarios):
    check = scenarios["check"]
    return check.run, check.log, check.snapshots, check.prepared


def test_check_mode_sends_nothing_but_reads(check_run):
    run, log, snapshots, seeded = check_run
    assert run.rc != 0, run
    assert set(e["method"] for e in log) == {"GET"}, [(e["method"], e["path"]) for e in log]
    assert sorted(s["id"] for s in snapshots) == sorted(seeded.values())
    assert run.said("ok-1", "Check mode: would take snapshot"), run


def test_check_mode_host_without_server_id_fails_with_a_clear_message(check_run):
    run = check_run[0]
    assert "nomap-1" in run.failed_hosts(), run
    nomap = " ".join(run.messages("nomap-1"))
    assert "Host nomap-1 has no valid vps_server_id" in nomap, nomap
    assert "is undefined" not in nomap and "is undefined" not in run.stdout, run


def test_check_mode_fails_a_host_whose_server_does_not_exist_like_the_real_run(check_run):
    run = check_run[0]
    assert "ghost-1" in run.failed_hosts(), run
    ghost = " ".join(run.messages("ghost-1"))
    assert "No snapshot of server 999 (ghost-1)" in ghost and "Server 999 does not exist" in ghost, ghost


def test_check_mode_passes_a_good_host(check_run):
    run = check_run[0]
    assert run.ok_hosts() == ["ok-1"], run
    assert run.facts("ok-1").get("pre_upgrade_outcome") == "would upgrade", run.facts("ok-1")
    assert run.said("ok-1", "UPGRADED: ok-1 (server 101) passed the health check; snapshot"), run


def test_check_mode_says_the_same_about_deleting_the_snapshot_in_every_task_as_a_real_run_does(check_run):
    """A real run deletes, on success, the snapshot it took (and, by retention, the oldest pre-upgrade one): the plan,
    the retention, the cleanup and the last word of --check say so, and none of them says that nothing goes."""
    run, _log, _snapshots, _seeded = check_run
    (name,) = set(re.findall(r"Would snapshot server 101 as (pre-upgrade-\d{8}-\d{6}) and wait for it[.]", run.stdout))
    assert run.said("ok-1", "On success: would delete the snapshot."), run
    # Retention: a preview, not something done.
    assert run.said("ok-1", "Would delete, to keep the retention: pre-upgrade-20250101-000000."), run
    assert not [m for m in run.messages("ok-1") if "Pruned:" in m], run.messages("ok-1")
    # The cleanup names the snapshot this run would take, only planned in check mode, as the one it would delete.
    assert run.said("ok-1", "Check mode: would delete 1 snapshot(s) of server 101 (ok-1):"), run
    assert run.said("ok-1", "id none  %s  planned" % name), run
    assert [s["name"] for s in run.facts("ok-1")["snapshot_guard_deleted"]] == [name], run.facts("ok-1")
    assert run.said("ok-1", "snapshot %s (check mode: nothing was quiesced) would be deleted." % name), run
    assert not [m for m in run.messages("ok-1") if "would delete 0" in m or "kept" in m], run.messages("ok-1")


# Messages -----------------------------------------------------------------------------------------

SLOPPY = re.compile(r"(?<![.])[.][.](?![.])|[.];")


def test_messages_end_their_sentences_once(scenarios):
    """No ".." or ".;" where a message quotes another that ends with a full stop (a rollback's detail, a module's
    message, a health check's failure), in any of the scenarios' hosts, rollbacks included."""
    sloppy = []
    for name, outcome in scenarios.items():
        for host in outcome.run.recap:
            sloppy += [(name, host, m) for m in outcome.run.messages(host) if SLOPPY.search(m)]
    assert not sloppy, sloppy


# Rolling upgrades ---------------------------------------------------------------------------------


def test_serial_1_takes_each_batch_with_one_task_and_keep_snapshot_keeps_them(scenarios):
    serial = scenarios["serial"]
    run, log = serial.run, serial.log
    assert run.rc == 0, run
    batch_tasks = run.task_results("Snapshot the servers of this batch of hosts on the controller, and wait once for all")
    # One batch task per serial batch, each for its own host only.
    assert [e["host"] for e in batch_tasks] == ["web-1", "web-2", "web-3"], [(e["host"], e["event"]) for e in batch_tasks]
    assert [sorted(e["result"]["by_host"]) for e in batch_tasks] == [["web-1"], ["web-2"], ["web-3"]]
    # The provider saw the batches one after the other: batch n's requests all come before batch n+1's creation.
    posts = creation_posts(log)
    assert [p["body"]["server_id"] for p in posts] == [101, 102, 103], posts
    for earlier, later in zip(posts, posts[1:]):
        between = [e for e in log if earlier["seq"] < e["seq"] < later["seq"]]
        assert listings(between, server_id=earlier["body"]["server_id"]), "batch waited for its snapshot"
    for later_post in posts[1:]:
        mine = later_post["body"]["server_id"]
        earlier_requests = [e for e in log if e["seq"] < later_post["seq"]]
        assert len(listings(earlier_requests, server_id=mine)) == 1, "one listing of the server before its creation"
    # pre_upgrade_keep_snapshot=true: nothing deleted, one completed snapshot per server.
    assert not deletes(log) and not restore_posts(log)
    assert sorted((s["server"]["id"], s["status"]) for s in serial.snapshots) == [(101, "completed"), (102, "completed"), (103, "completed")]
    for host in ("web-1", "web-2", "web-3"):
        assert run.said(host, "was kept"), run


# Two runs at once ---------------------------------------------------------------------------------


def test_two_runs_at_once_with_the_same_name_converge_on_one_snapshot(tmp_path):
    with simulator(create_seconds=2) as sim:
        sim.set_faults(latency=0.5)
        runner = Runner(sim, tmp_path)
        inventory = write_inventory(tmp_path / "inventory.yml", {"web-1": 101})
        extra = ["pre_upgrade_snapshot_name=same-name-x", "pre_upgrade_keep_snapshot=true"]
        first = runner.start("vps.cloud.pre_upgrade", inventory, extra)
        second = runner.start("vps.cloud.pre_upgrade", inventory, extra)
        try:
            runs = [first.wait(), second.wait()]
        finally:
            first.close()
            second.close()
        log = calls(sim)

        for run in runs:
            assert run.rc == 0, run
        left = [s for s in sim.snapshots() if s["name"] == "same-name-x"]
        assert len(left) == 1 and left[0]["status"] == "completed", sim.snapshots()
        reported = []
        for run in runs:
            found = re.findall(r"snapshot 'same-name-x' \(id (\d+), status completed\) of server 101 for web-1", run.stdout)
            assert len(found) == 1, run
            reported.append(int(found[0]))
        assert reported == [left[0]["id"], left[0]["id"]], (reported, left)
        # At most one creation per run; a second snapshot, if both created one, was deleted by the run that made it.
        posts = creation_posts(log)
        assert 1 <= len(posts) <= 2, posts
        if len(posts) == 1:
            assert not deletes(log), log
        else:
            assert len(deletes(log)) == 1 and deleted_ids(log, gone_too=True) != [left[0]["id"]], log
        assert not restore_posts(log)
        assert of_server(sim, 101) == left
