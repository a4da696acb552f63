# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""present.py, the state=present engine, on its own: convergence of racing runs, results, many servers at once."""

from __future__ import annotations

import pytest

from ansible_collections.vps.cloud.plugins.module_utils import present
from ansible_collections.vps.cloud.plugins.module_utils.present import PresentOptions, ServerEntry, ensure_present
from ansible_collections.vps.cloud.plugins.module_utils.request import SnapshotRequest
from ansible_collections.vps.cloud.plugins.module_utils.results import entry_result
from ansible_collections.vps.cloud.plugins.module_utils.selection import CREATE, REUSE, PresentPlan
from ansible_collections.vps.cloud.plugins.module_utils.service import SnapshotError
from ansible_collections.vps.cloud.tests.unit.helpers import (
    NOW,
    POST,
    add_delete,
    add_list,
    add_post,
    add_server,
    build_service,
    clean,
    delete_call,
    describe,
    listing,
    new_snapshot,
    sent,
    server_call,
    snap,
)

OURS = new_snapshot(snapshot_id=802)
THEIRS = new_snapshot(snapshot_id=801)
RACE = (
    "Another run created snapshot 'before-update' on server 12345 at the same moment; both settle on the older one (id "
    "801), and this task deleted its own (id 802)."
)


def entry_with(snapshot, own=True):
    entry = ServerEntry(SnapshotRequest(12345, "before-update"))
    entry.snapshot = snapshot
    if own:
        entry.own_ids.add(snapshot["id"])
    return entry


# Convergence of racing runs: a fresh listing, what the entry follows, and what is deleted -------------------------------


@pytest.mark.parametrize(
    "own, listed, follows, deleted, notes",
    [
        (True, [new_snapshot("completed")], new_snapshot("completed"), [], []),
        (True, [OURS, THEIRS], THEIRS, [802], [RACE]),
        (True, [OURS, THEIRS, new_snapshot(snapshot_id=803)], THEIRS, [802], [RACE]),
        (False, [OURS, THEIRS], THEIRS, [], []),
        (True, [THEIRS], THEIRS, [], []),
        (True, [OURS, new_snapshot("failed", snapshot_id=801)], OURS, [], []),
        (True, [OURS, new_snapshot(snapshot_id=801, name="other")], OURS, [], []),
        (True, [OURS, new_snapshot(snapshot_id=801, server_id=999)], OURS, [], []),
    ],
    ids=[
        "completed",
        "a lower id wins",
        "the lowest of three",
        "reused, not ours: nothing deleted",
        "ours gone, theirs listed",
        "a failed lower id is no winner",
        "another name",
        "another server",
    ],
)
def test_racing_runs_settle_on_the_lowest_id_and_the_run_that_made_the_other_deletes_it(rsps, vt, own, listed, follows, deleted, notes):
    service = build_service(vt)
    for snapshot_id in deleted:
        add_delete(rsps, snapshot_id)
    entry = entry_with(OURS, own)
    entry.listing = listed

    present._follow(service, entry)

    assert entry.error is None
    assert entry.snapshot == follows
    assert entry.changes.deleted == [clean(OURS)] * len(deleted)
    assert entry.warnings == notes
    assert sent(rsps) == [delete_call(i) for i in deleted]


@pytest.mark.parametrize(
    "listed, message",
    [
        (
            [new_snapshot("failed")],
            "Snapshot %s on server 12345 ended failed, so it is no restore point. Run the task again: it "
            "deletes that snapshot and takes it again." % describe(new_snapshot("failed")),
        ),
        (
            [new_snapshot("error"), THEIRS],
            "Snapshot %s on server 12345 ended error, so it is no restore point. Run the task again: "
            "it deletes that snapshot and takes it again." % describe(new_snapshot("error")),
        ),
        ([], "Snapshot before-update (id 802) disappeared from server 12345 while waiting for it to complete."),
        ([new_snapshot(snapshot_id=801, server_id=999)], "Snapshot before-update (id 802) disappeared from server 12345 while waiting for it to complete."),
    ],
)
def test_a_snapshot_that_failed_or_vanished_fails_the_entry(vt, listed, message):
    entry = entry_with(OURS)
    entry.listing = listed

    present._follow(build_service(vt), entry)

    assert entry.error.message == message
    assert entry.error.details == ({"snapshot": clean(listed[0])} if listed and listed[0]["id"] == 802 else {})


def test_a_loser_that_cannot_delete_its_own_snapshot_fails_naming_the_deletion(rsps, vt):
    add_delete(rsps, 802, status=409, json={"detail": "busy"})
    entry = entry_with(OURS)
    entry.listing = [OURS, THEIRS]

    present._follow(build_service(vt), entry)

    assert entry.error.message == "Could not delete snapshot %s: busy (HTTP 409 on DELETE snapshots/802/)" % describe(OURS)
    assert entry.snapshot == OURS
    assert entry.warnings == []


# One result per server ------------------------------------------------------------------------------------------------

D1 = snap(701, "daily-1", created_at="2025-01-01T03:00:00Z")


def planned_entry(action, snapshot=None, preview=(), deleted=(), error=None, own=False, warnings=()):
    entry = ServerEntry(SnapshotRequest(12345, "before-update"))
    entry.plan = PresentPlan(action, snapshot=snapshot)
    entry.snapshot = snapshot
    entry.before = snapshot if action == REUSE else None
    entry.preview = list(preview)
    entry.changes.deleted = [clean(s) for s in deleted]
    if own:
        entry.own_ids.add(snapshot["id"])
    entry.error = error
    entry.warnings = list(warnings)
    return entry


@pytest.mark.parametrize(
    "entry, check_mode, retention, expected",
    [
        (planned_entry(REUSE, snap(801, "x")), False, None, dict(changed=False, msg="Ensured snapshot %s of server 12345." % describe(snap(801, "x")))),
        (planned_entry(REUSE, snap(801, "x")), False, 3, dict(changed=False, pruned=[], msg="Ensured snapshot %s of server 12345." % describe(snap(801, "x")))),
        (
            planned_entry(CREATE, new_snapshot(), own=True, deleted=[D1]),
            False,
            None,
            dict(
                changed=True, pruned=[clean(D1)], msg="Took snapshot %s of server 12345; deleted %s." % (describe(new_snapshot()), describe(D1, "19d 9h old"))
            ),
        ),
        (
            planned_entry(REUSE, snap(801, "x"), preview=[D1]),
            True,
            2,
            dict(
                changed=True,
                pruned=[clean(D1)],
                msg="Check mode: Snapshot %s of server 12345 exists; would delete %s." % (describe(snap(801, "x")), describe(D1, "19d 9h old")),
            ),
        ),
        (
            planned_entry(REUSE, snap(801, "x")),
            True,
            2,
            dict(changed=False, pruned=[], msg="Check mode: Snapshot %s of server 12345 exists." % describe(snap(801, "x"))),
        ),
        (
            planned_entry(CREATE, new_snapshot(), error=SnapshotError("It broke.", failure={"status": 500})),
            True,
            None,
            dict(changed=False, failed=True, failure={"status": 500}, msg="It broke."),
        ),
        (
            planned_entry(CREATE, new_snapshot(), deleted=[D1], error=SnapshotError("It broke.")),
            False,
            None,
            dict(
                changed=True,
                failed=True,
                pruned=[clean(D1)],
                msg="It broke. Before this failure the task made changes: It deleted %s." % describe(D1, "19d 9h old"),
            ),
        ),
    ],
    ids=[
        "ensured",
        "ensured, retention, nothing pruned",
        "took and pruned",
        "check mode: would prune",
        "check mode: nothing",
        "check mode failure",
        "failure after a deletion",
    ],
)
def test_entry_result(entry, check_mode, retention, expected):
    result = entry_result(entry, PresentOptions(retention=retention), check_mode, NOW)

    assert dict((key, result[key]) for key in expected) == expected
    assert set(result) - set(expected) == {"server_id", "snapshot", "diff", "created"}
    assert result["server_id"] == 12345
    assert result["created"] is (entry.plan.action == CREATE and not check_mode and entry.error is None and bool(entry.own_ids))


def test_a_failed_result_keeps_the_snapshot_of_the_error_when_the_entry_has_none():
    entry = planned_entry(CREATE, None, error=SnapshotError("Refused.", snapshot=clean(D1)))

    assert entry_result(entry, PresentOptions(), False, NOW)["snapshot"] == clean(D1)


def test_a_failed_result_shows_the_entrys_snapshot_over_the_errors():
    entry = planned_entry(CREATE, new_snapshot(), error=SnapshotError("Timed out.", snapshot=clean(D1)))

    assert entry_result(entry, PresentOptions(), False, NOW)["snapshot"] == clean(new_snapshot())


def test_warnings_are_returned_with_the_result():
    entry = planned_entry(REUSE, snap(801, "x"), warnings=["Look."])

    assert entry_result(entry, PresentOptions(), False, NOW)["warnings"] == ["Look."]


@pytest.mark.parametrize("listed, name", [([snap(700, "x")], "web-server-01"), ([dict(snap(700, "x"), server={"id": 1})], None), ([], None)])
def test_a_planned_snapshot_carries_the_server_name_the_listing_shows(listed, name):
    entry = ServerEntry(SnapshotRequest(12345, "n", "d"))
    entry.listing = listed

    assert present._planned(entry) == dict(
        id=None, server=dict(id=12345, name=name), name="n", status="in_progress", size_mb=None, created_at=None, description="d"
    )


def test_by_default_retention_counts_every_name_and_keeps_the_last_completed_snapshot(rsps, vt):
    service = build_service(vt)
    add_list(rsps, [snap(700 + i, "w%d" % i, status="in_progress") for i in range(4)] + [D1])

    entry = ensure_present(service, [SnapshotRequest(12345, "before-update")], PresentOptions(retention=1))[0]

    assert entry.error.message.startswith(
        "Cannot take snapshot 'before-update' of server 12345: the server has 5 snapshots, the provider's limit of 5, and "
        "retention cannot make room: only 0 match retention_match '*' and may be deleted; the server's last completed snapshot "
        "is kept until the new one has completed (protect_last_completed); snapshots in progress are never deleted."
    )


def test_by_default_a_creation_is_waited_for_1800_seconds(rsps, vt):
    add_list(rsps, [new_snapshot()])

    entry = ensure_present(build_service(vt), [SnapshotRequest(12345, "before-update")], PresentOptions())[0]

    assert entry.error.message.startswith("Timed out after 1800s (wait_timeout=1800)")


def test_a_wait_that_has_no_time_left_names_the_status_seen_last(vt):
    entry = ServerEntry(SnapshotRequest(12345, "before-update"))
    entry.snapshot = new_snapshot("snapshotting")

    present._await(build_service(vt), [entry], vt.now - 1, 60)

    assert entry.error.message == (
        "Timed out after 0s (wait_timeout=60) waiting for snapshot before-update (id 802) on server 12345 to complete; last seen "
        "status: snapshotting. %s" % present.RESUME_ADVICE
    )


# Many servers ---------------------------------------------------------------------------------------------------------


def test_the_shared_wait_polls_until_every_server_is_done_and_says_which_statuses_it_saw(rsps, vt):
    service = build_service(vt)
    add_list(rsps, [], server_id=None)
    for server_id in (1, 2):
        add_post(rsps, payload=new_snapshot(snapshot_id=800 + server_id, server_id=server_id), for_server=server_id)
    add_list(rsps, [new_snapshot("completed", snapshot_id=801, server_id=1), new_snapshot("snapshotting", snapshot_id=802, server_id=2)], server_id=None)
    add_list(rsps, [new_snapshot("snapshotting", snapshot_id=802, server_id=2)], server_id=2)

    entries = ensure_present(service, [SnapshotRequest(1, "before-update"), SnapshotRequest(2, "before-update")], PresentOptions(wait_timeout=30))

    assert entries[0].error is None
    assert entries[1].error.message.startswith(
        "Timed out after 30s (wait_timeout=30) waiting for 2 snapshots on 2 servers to complete; last seen status: snapshotting."
    )
    assert sent(rsps)[:4] == [listing(None), POST, POST, listing(None)]
    assert set(sent(rsps)[4:]) == {listing(2)}


def test_each_server_may_fail_three_polls_in_a_row_before_its_wait_gives_up(rsps, vt):
    service = build_service(vt, retries=0)
    service.account_pages = 9
    ours = [new_snapshot(snapshot_id=800 + server_id, server_id=server_id) for server_id in (1, 2)]
    entries = []
    for raw in ours:
        entry = entry_with(raw)
        entry.server_id = raw["server"]["id"]
        entries.append(entry)
    add_list(rsps, [], server_id=1, status=500, body={"detail": "down"})
    add_list(rsps, [], server_id=2, status=500, body={"detail": "down"})
    add_list(rsps, [ours[1]], server_id=2)
    add_list(rsps, [], server_id=2, status=500, body={"detail": "down"})
    add_list(rsps, [new_snapshot("completed", snapshot_id=802, server_id=2)], server_id=2)

    present._await(service, entries, vt.now + 600, 600)

    assert entries[0].error.message == ("Could not list snapshots: down (HTTP 500 on GET snapshots/) (3 polls in a row failed). " + present.RESUME_ADVICE)
    assert entries[0].error.details["failure"]["status"] == 500
    assert entries[1].error is None
    assert entries[1].snapshot["status"] == "completed"


def test_a_bug_while_reading_is_raised_not_taken_for_a_listing(vt, monkeypatch):
    service = build_service(vt)
    monkeypatch.setattr(service, "listings", lambda server_ids: {1: ZeroDivisionError("bug")})

    with pytest.raises(ZeroDivisionError):
        ensure_present(service, [SnapshotRequest(1, "n")], PresentOptions())


def test_a_bug_while_creating_is_raised_not_taken_for_a_failed_server(rsps, vt, monkeypatch):
    service = build_service(vt)
    add_list(rsps, [])
    monkeypatch.setattr(service, "create", lambda *args: {}["bug"])

    with pytest.raises(KeyError):
        ensure_present(service, [SnapshotRequest(12345, "n")], PresentOptions())


def test_the_shared_wait_counts_the_servers_it_waits_for_not_the_snapshots(rsps, vt):
    entries = []
    for snapshot_id, server_id, name in ((801, 1, "a"), (802, 1, "b"), (803, 2, "a")):
        entry = ServerEntry(SnapshotRequest(server_id, name))
        entry.snapshot = new_snapshot(snapshot_id=snapshot_id, server_id=server_id, name=name)
        entries.append(entry)
    add_list(rsps, [e.snapshot for e in entries], server_id=None)

    present._await(build_service(vt), entries, vt.now + 10, 10)

    assert entries[0].error.message.startswith(
        "Timed out after 10s (wait_timeout=10) waiting for 3 snapshots on 2 servers to complete; last seen status: in_progress."
    )


def test_many_servers_retake_a_failed_snapshot_of_the_same_name_as_one_server_does(rsps, vt):
    service = build_service(vt)
    broken = new_snapshot("failed", snapshot_id=801, server_id=1)
    add_list(rsps, [broken, new_snapshot("completed", snapshot_id=802, server_id=2)], server_id=None)
    add_server(rsps, "running", server_id=1)
    add_delete(rsps, 801)
    add_post(rsps, payload=new_snapshot(snapshot_id=803, server_id=1), for_server=1)
    add_list(rsps, [new_snapshot("completed", snapshot_id=803, server_id=1)], server_id=1)

    options = PresentOptions(wait_timeout=60)
    entries = ensure_present(service, [SnapshotRequest(1, "before-update"), SnapshotRequest(2, "before-update")], options)

    first, second = (entry_result(e, options, False, NOW) for e in entries)
    assert (first["changed"], first["created"], first["pruned"]) == (True, True, [clean(broken)])
    assert first["msg"].endswith("; deleted %s." % describe(broken, "3d 19h old"))
    assert first["warnings"] == [
        "Snapshot %s on server 1 ended failed, so it is no restore point: this task deletes it and takes snapshot 'before-update' again." % describe(broken)
    ]
    assert (second["changed"], "warnings" in second) == (False, False)
    assert sent(rsps) == [listing(None), server_call(1), delete_call(801), POST, listing(1)]


# A server's state while it is waited for ------------------------------------------------------------------------------


def test_a_server_in_a_failure_status_is_never_waited_for(rsps, vt):
    with pytest.raises(present.ServerFailedError) as caught:
        present.wait_until_idle(build_service(vt), 12345, 600, dict(id=12345, name="web", status="error"))

    assert caught.value.message == (
        "Server 12345 is in status 'error', a failure status: waiting for it to be running or "
        "stopped would not end it, so this task stops at once. Look at the server at the provider."
    )
    assert caught.value.details == {"server": {"id": 12345, "name": "web", "status": "error"}}
    assert vt.sleeps == []
    assert sent(rsps) == []


def test_an_unrecognised_server_status_is_noted_once_as_soon_as_it_is_seen(rsps, vt):
    notes = []
    add_server(rsps, "maintenance")
    add_server(rsps, "maintenance")
    add_server(rsps, "running")

    server = present.wait_until_idle(build_service(vt), 12345, 600, None, note=notes.append)

    assert server["status"] == "running"
    assert notes == [
        "Server 12345 reads status 'maintenance', which this collection does not know: it is taken for a "
        "transitional status and waited for (up to wait_timeout=600) until the server is running or stopped."
    ]
    assert sent(rsps) == [server_call()] * 3


def test_a_known_transitional_status_is_waited_for_without_a_note(rsps, vt):
    notes = []
    add_server(rsps, "running")

    server = present.wait_until_idle(build_service(vt), 12345, 600, dict(id=12345, status="stopping"), note=notes.append)

    assert (server["status"], notes, len(vt.sleeps)) == ("running", [], 1)


def test_a_server_not_read_yet_is_read_at_once_and_returned_without_a_wait_when_idle(rsps, vt):
    add_server(rsps, "stopped")

    server = present.wait_until_idle(build_service(vt), 12345, 600)

    assert server["status"] == "stopped"
    assert vt.sleeps == []
    assert sent(rsps) == [server_call()]


# Refusals before a creation went ahead ----------------------------------------------------------------------------------


def test_every_refusal_waited_out_is_told_in_order_and_an_unknown_status_names_the_wait_timeout_given(rsps, vt):
    service = build_service(vt)
    add_list(rsps, [])
    add_post(rsps, payload={"detail": "Busy."}, status=400)
    add_server(rsps, "snapshotting")
    add_server(rsps, "running")
    add_list(rsps, [])
    add_post(rsps, payload={"detail": "Busy."}, status=400)
    add_server(rsps, "maintenance")
    add_server(rsps, "running")
    add_list(rsps, [])
    add_post(rsps)
    add_list(rsps, [new_snapshot("completed")])
    options = PresentOptions(wait_timeout=600)

    entry = ensure_present(service, [SnapshotRequest(12345, "before-update")], options)[0]

    result = entry_result(entry, options, False, NOW)
    assert (result["changed"], result["created"], "failed" in result) == (True, True, False)
    # The second wait starts with less than wait_timeout left, but the warning names the wait_timeout the task was given.
    assert result["warnings"] == [
        "Server 12345 reads status 'maintenance', which this collection does not know: it is taken for a transitional "
        "status and waited for (up to wait_timeout=600) until the server is running or stopped.",
        "The provider refused snapshot 'before-update' on server 12345 before it accepted it: HTTP 400 (Busy.) while the "
        "server was snapshotting, so this task waited until it was idle and sent it again; then HTTP 400 (Busy.) while the "
        "server was maintenance, so this task waited until it was idle and sent it again.",
    ]
    assert sent(rsps) == [listing(), POST, server_call(), server_call(), listing(), POST, server_call(), server_call(), listing(), POST, listing()]
