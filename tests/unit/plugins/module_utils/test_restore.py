# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""restore.py on its own: joining a restore under way, the result of a restore, and following a server."""

from __future__ import annotations

import pytest

from ansible_collections.vps.cloud.plugins.module_utils.info import server_info
from ansible_collections.vps.cloud.plugins.module_utils.request import SnapshotRequest
from ansible_collections.vps.cloud.plugins.module_utils.restore import RestoreTask, SafetySnapshot, ensure_restored
from ansible_collections.vps.cloud.plugins.module_utils.results import restore_result
from ansible_collections.vps.cloud.plugins.module_utils.service import SnapshotError, TaskFailed
from ansible_collections.vps.cloud.tests.unit.helpers import (
    LIST,
    LIST_ALL,
    POST,
    SERVER,
    SERVER_ID,
    add_delete,
    add_list,
    add_post,
    add_restore,
    add_server,
    build_service,
    clean,
    describe,
    new_snapshot,
    restore_call,
    sent,
    server_view,
    snap,
)

GOLDEN = snap(801, "golden")
UNNAMED = (
    "Server 12345 was already restoring, from a snapshot the API does not name. This task started no second restore and "
    "followed that one; if it was not from snapshot %s, restore again once it has ended." % describe(GOLDEN)
)


def task_on(vt, server=None, wait=True, check_mode=False, timeout=100):
    task = RestoreTask(build_service(vt, check_mode=check_mode), wait, timeout)
    task.snapshot = GOLDEN
    task.server = task.server_before = server
    return task


@pytest.mark.parametrize(
    "server, joins, warnings",
    [
        (dict(id=SERVER_ID, status="running"), False, []),
        (dict(id=SERVER_ID, status="stopping"), False, []),
        (dict(id=SERVER_ID, status="restoring"), True, [UNNAMED]),
        (dict(id=SERVER_ID, status="restoring", restoring_from="801"), True, [UNNAMED]),
        (dict(id=SERVER_ID, status="restoring", restoring_from={"name": "golden"}), True, [UNNAMED]),
        (dict(id=SERVER_ID, status="restoring", restoring_from={"id": 801}), True, []),
        (dict(id=SERVER_ID, status="restoring", restoring_from={"id": 799}), False, []),
    ],
)
def test_a_restore_under_way_is_joined_unless_the_api_names_another_source(vt, server, joins, warnings):
    task = task_on(vt, server)

    assert task.joins_running_restore() is joins
    assert task.warnings == warnings


@pytest.mark.parametrize("joined, check_mode, changed", [(False, False, False), (False, True, True), (True, True, False)])
def test_a_result_without_a_change_reports_none(vt, joined, check_mode, changed):
    task = task_on(vt, dict(id=SERVER_ID, name="web-server-01", status="restoring", extra=1))
    task.joined = joined

    result = restore_result(task, check_mode, 0)

    assert result["changed"] is changed
    assert result["server"] == server_view("restoring")
    assert result["snapshot"] == clean(GOLDEN)
    assert result["diff"]["before"] == {"server": server_view("restoring")}
    assert ("restored_from" in result["diff"]["after"]) is not joined
    assert "warnings" not in result


def test_a_result_before_the_server_was_seen_has_an_empty_before(vt):
    task = task_on(vt)
    task.warnings.append("Hm.")

    result = restore_result(task, False, 0)

    assert result["diff"] == {
        "before": {},
        "after": {"server": {"id": None, "name": None, "status": None}, "restored_from": {"id": 801, "name": "golden", "created_at": "2025-01-15T18:30:00Z"}},
    }
    assert result["warnings"] == ["Hm."]


def test_a_failure_before_the_snapshot_is_known_reports_only_the_failure(rsps, vt):
    add_list(rsps, [], server_id=None, status=401, body={"detail": "No."})

    with pytest.raises(TaskFailed) as caught:
        ensure_restored(build_service(vt), SnapshotRequest(snapshot_id=801))

    assert caught.value.result == {
        "failed": True,
        "changed": False,
        "failure": {"status": 401, "message": "No.", "method": "GET", "path": "snapshots/", "url": "https://api.vps.test/api/v1/snapshots/"},
        "msg": "Could not list snapshots: No. (HTTP 401 on GET snapshots/)",
    }


@pytest.mark.parametrize("check", ["changes", "snapshot"])
def test_a_failed_safety_snapshot_reports_its_changes_and_both_snapshots(rsps, vt, check):
    service = build_service(vt)
    add_list(rsps, [GOLDEN], server_id=None)
    add_server(rsps, "running")
    add_list(rsps, [GOLDEN])
    add_post(rsps, payload=new_snapshot(name="safe"))
    add_list(rsps, [GOLDEN, new_snapshot("failed", name="safe")])

    with pytest.raises(TaskFailed) as caught:
        ensure_restored(service, SnapshotRequest(snapshot_id=801), safety=SafetySnapshot("safe"))

    result = caught.value.result
    assert result["safety_snapshot"] == clean(new_snapshot("failed", name="safe"))
    if check == "snapshot":
        assert result["snapshot"] == clean(GOLDEN)
    else:
        assert result["changed"] is True
        assert result["msg"].endswith(" Before this failure the task made changes: It created %s." % describe(new_snapshot(name="safe")))
        assert sent(rsps) == [LIST_ALL, SERVER, LIST, POST, LIST]


def test_by_default_a_restore_waits_1800_seconds_and_its_safety_snapshot_counts_every_name(rsps, vt):
    service = build_service(vt)
    older = snap(700, "older", created_at="2025-01-01T00:00:00Z")
    add_list(rsps, [GOLDEN, older], server_id=None)
    add_server(rsps, "running")
    add_list(rsps, [GOLDEN, older])
    add_post(rsps, payload=new_snapshot("completed", name="safe"))
    add_delete(rsps, 700)
    add_server(rsps, "running")
    add_restore(rsps)
    add_server(rsps, "restoring")

    with pytest.raises(TaskFailed) as caught:
        ensure_restored(service, SnapshotRequest(snapshot_id=801), safety=SafetySnapshot("safe", retention=2))

    assert caught.value.result["pruned"] == [clean(older)]
    assert caught.value.result["msg"].startswith("Timed out after 1800s (wait_timeout=1800)")


def test_by_default_a_safety_snapshot_keeps_the_last_completed_snapshot(rsps, vt):
    service = build_service(vt)
    listing = [GOLDEN] + [snap(790 + i, "w%d" % i, status="in_progress") for i in range(3)] + [snap(800, "newest", created_at="2025-01-19T00:00:00Z")]
    add_list(rsps, listing, server_id=None)
    add_server(rsps, "running")
    add_list(rsps, listing)

    with pytest.raises(TaskFailed) as caught:
        ensure_restored(service, SnapshotRequest(snapshot_id=801), safety=SafetySnapshot("safe", retention=1))

    assert "(protect_last_completed)" in caught.value.result["msg"]


def test_a_restore_task_by_default_keeps_the_last_completed_snapshot(rsps, vt):
    listing = [GOLDEN] + [snap(790 + i, "w%d" % i, status="in_progress") for i in range(3)] + [snap(800, "newest", created_at="2025-01-19T00:00:00Z")]
    add_list(rsps, listing)
    task = RestoreTask(build_service(vt), True, 100)
    task.snapshot = GOLDEN
    task.server = dict(id=SERVER_ID, status="running")

    entry = task.take_safety_snapshot(SafetySnapshot("safe", retention=1))

    assert "(protect_last_completed)" in entry.error.message


def test_the_restore_follows_a_restore_it_could_not_confirm_then_saw(rsps, vt):
    service = build_service(vt)
    add_list(rsps, [GOLDEN], server_id=None)
    add_server(rsps, "stopped")
    add_restore(rsps, status=502, json={"detail": "gw"})
    add_server(rsps, "restoring")
    add_server(rsps, "stopped")

    result = ensure_restored(service, SnapshotRequest(snapshot_id=801))

    assert result["server"] == server_view("stopped")
    assert sent(rsps) == [LIST_ALL, SERVER, restore_call(), SERVER, SERVER]


def test_a_restore_the_provider_accepts_shows_restoring_whatever_its_answer_says(rsps, vt):
    task = task_on(vt, dict(id=SERVER_ID, name="web-server-01", status="running"), wait=False)
    add_restore(rsps, json={"server": {"status": "running", "ipv4": "x"}})

    assert task.start() == dict(id=SERVER_ID, name="web-server-01", status="restoring", ipv4="x")


def test_a_busy_answer_to_the_restore_keeps_the_provider_status(rsps, vt):
    task = task_on(vt, dict(id=SERVER_ID, name="web-server-01", status="running"), wait=False)
    add_restore(rsps, json={"server": {"status": "stopping"}})

    assert task.start()["status"] == "stopping"


def test_wait_until_idle_says_why_no_restore_was_started(vt):
    task = task_on(vt, dict(id=SERVER_ID, status="starting"), timeout=0)

    with pytest.raises(SnapshotError) as caught:
        task.wait_until_idle("Because.")

    assert caught.value.message == (
        "Timed out after 0s (wait_timeout=0) waiting for server 12345 to be running or stopped; last seen status: starting. No restore was started. Because."
    )


@pytest.mark.parametrize("status, state", [("running", "stable"), ("restoring", "restoring"), ("rebooting", "busy"), ("error", "failed")])
def test_server_info_classifies_what_it_reads(rsps, vt, status, state):
    add_server(rsps, status, ipv4="x")

    assert server_info(build_service(vt), SERVER_ID) == dict(changed=False, server=server_view(status), state=state)
    assert vt.sleeps == []


@pytest.mark.parametrize("timeout", [12, None])
def test_server_info_waits_within_wait_timeout(rsps, vt, timeout):
    add_server(rsps, "restoring")

    with pytest.raises(SnapshotError) as caught:
        if timeout:
            server_info(build_service(vt), SERVER_ID, wait=True, wait_timeout=timeout)
        else:
            server_info(build_service(vt), SERVER_ID, wait=True)

    waited = timeout or 1800
    assert caught.value.message.startswith("Timed out after %ds (wait_timeout=%d)" % (waited, waited))
    assert vt.elapsed() == waited


def test_wait_until_idle_does_not_wait_for_a_server_that_turns_to_a_failure_status(rsps, vt):
    task = task_on(vt, dict(id=SERVER_ID, name="web-server-01", status="starting"), timeout=600)
    add_server(rsps, "error")

    task.wait_until_idle("Because.")

    assert task.server["status"] == "error"
    assert task.warnings == [
        "Server 12345 was in status 'error', a failure status that no wait would end: the restore from snapshot %s was asked for "
        "at once, since restoring is the way out of a broken server and only the provider knows whether it allows it." % describe(GOLDEN)
    ]
    assert len(vt.sleeps) == 1


FROZEN = snap(781, "pre-upgrade-1", created_at="2025-01-10T00:00:00Z", description="x [vps.cloud quiesce: freeze held until completed]")
SYNCED = snap(782, "pre-upgrade-2", created_at="2025-01-11T00:00:00Z", description="x [vps.cloud quiesce: sync]")


def test_by_default_a_restore_by_name_match_takes_the_newest_completed_match_quiesced_or_not(rsps, vt):
    add_list(rsps, [SYNCED, FROZEN])
    add_server(rsps, "running")
    add_restore(rsps, snapshot_id=782)

    result = ensure_restored(build_service(vt), SnapshotRequest(server_id=SERVER_ID, name_match="pre-upgrade-*"), wait=False)

    assert result["snapshot"] == clean(SYNCED)
    assert sent(rsps) == [LIST, SERVER, restore_call(782)]


def test_a_restore_task_by_default_resolves_a_name_match_to_the_newest_completed_match(rsps, vt):
    add_list(rsps, [SYNCED, FROZEN])
    task = RestoreTask(build_service(vt), True, 100)

    assert task.resolve(SnapshotRequest(server_id=SERVER_ID, name_match="pre-upgrade-*")) == SYNCED
    assert task.snapshot == SYNCED
