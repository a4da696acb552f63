# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""absent.py on its own: which snapshot a task names, deleting and pruning many servers, their results."""

from __future__ import annotations

import pytest

from ansible_collections.vps.cloud.plugins.module_utils.absent import DeletionEntry, ensure_absent, ensure_pruned, find_target
from ansible_collections.vps.cloud.plugins.module_utils.request import SnapshotRequest
from ansible_collections.vps.cloud.plugins.module_utils.results import absent_result, prune_diff, prune_result
from ansible_collections.vps.cloud.plugins.module_utils.service import SnapshotError
from ansible_collections.vps.cloud.tests.unit.helpers import (
    LIST_ALL,
    NOW,
    add_delete,
    add_list,
    add_server,
    build_service,
    clean,
    delete_call,
    describe,
    listing,
    sent,
    snap,
    url,
)

A = snap(801, "a", server_id=101)
A2 = snap(802, "a", server_id=101)
B = snap(803, "b", server_id=102)
LISTED = [A, A2, B]


@pytest.mark.parametrize(
    "snapshot_id, server_id, name, found",
    [
        (801, None, None, A),
        (801, 101, None, A),
        (999, None, None, None),
        (999, 101, None, None),
        (None, 102, "b", B),
        (None, 101, "b", None),
        (None, 101, "zzz", None),
    ],
)
def test_find_target_by_id_or_by_server_and_name(snapshot_id, server_id, name, found):
    assert find_target(LISTED, snapshot_id, server_id, name, account=lambda: LISTED) == found


def test_a_snapshot_id_of_another_server_names_the_server_it_belongs_to():
    with pytest.raises(SnapshotError) as caught:
        find_target(LISTED, 803, 101)

    assert caught.value.message == (
        "Snapshot %s belongs to server 102 (web-server-01), not to server 101. Give the server_id it belongs to, or leave server_id out." % describe(B)
    )
    assert caught.value.details == {"snapshot": clean(B)}


def test_a_snapshot_id_missing_from_a_servers_listing_is_looked_for_in_the_account():
    with pytest.raises(SnapshotError) as caught:
        find_target([A], 803, 101, account=lambda: LISTED)

    assert caught.value.message.startswith("Snapshot %s belongs to server 102" % describe(B))


def test_a_snapshot_id_missing_from_a_stale_listing_of_its_own_server_is_found_in_the_account():
    # The server's listing was read before the snapshot showed in it (others changed the account meanwhile).
    assert find_target([A], 802, 101, account=lambda: LISTED) == A2


def test_namesakes_are_never_picked():
    with pytest.raises(SnapshotError) as caught:
        find_target(LISTED, None, 101, "a")

    assert caught.value.message == (
        "Server 101 has 2 snapshots named 'a' (ids 801, 802); refer to one of them with snapshot_id rather than let the module pick."
    )
    assert caught.value.details == {"snapshots": [clean(A), clean(A2)]}


# Deleting -------------------------------------------------------------------------------------------------------------


def test_targets_by_id_are_read_from_one_account_listing(rsps, vt):
    service = build_service(vt)
    add_list(rsps, LISTED, server_id=None)
    add_delete(rsps, 801)
    add_delete(rsps, 803)

    entries = ensure_absent(service, [SnapshotRequest(snapshot_id=801), SnapshotRequest(server_id=102, name="b"), SnapshotRequest(snapshot_id=999)], wait=False)

    assert [e.to_delete for e in entries] == [[A], [B], []]
    assert [e.changes.deleted for e in entries] == [[clean(A)], [clean(B)], []]
    assert sent(rsps) == [LIST_ALL, delete_call(801), delete_call(803)]


def test_a_failed_account_listing_fails_every_target(rsps, vt):
    service = build_service(vt)
    add_list(rsps, [], server_id=None, status=401, body={"detail": "No."})

    entries = ensure_absent(service, [SnapshotRequest(snapshot_id=801), SnapshotRequest(server_id=102, name="b")])

    assert [e.error.message for e in entries] == ["Could not list snapshots: No. (HTTP 401 on GET snapshots/)"] * 2


def test_each_server_deletes_in_order_and_stops_at_its_first_failure(rsps, vt):
    service = build_service(vt, concurrency=2)
    add_list(rsps, [A, A2, snap(804, "c", server_id=102), snap(805, "d", server_id=102)], server_id=None)
    add_delete(rsps, 801, status=409, json={"detail": "busy"})
    add_delete(rsps, 804)
    add_delete(rsps, 805)

    entries = ensure_pruned(service, [101, 102], "*", keep=0, protect_last_completed=False, wait=False)

    assert entries[0].error.message.startswith("Could not delete snapshot %s: busy" % describe(A))
    assert entries[0].changes.deleted == []
    assert [s["id"] for s in entries[1].changes.deleted] == [804, 805]
    assert delete_call(802) not in sent(rsps)


def test_in_check_mode_nothing_is_deleted(rsps, vt):
    service = build_service(vt, check_mode=True)
    add_list(rsps, [A, A2], server_id=101)

    entries = ensure_pruned(service, [101], "*", keep=1)

    assert [s["id"] for s in entries[0].to_delete] == [801]
    assert sent(rsps) == [listing(101)]


@pytest.mark.parametrize("polls, failed", [(2, [False, False]), (0, [False, True])], ids=["gone at the second poll", "timeout"])
def test_the_wait_covers_every_server_in_one_listing_per_poll(rsps, vt, polls, failed):
    service = build_service(vt, concurrency=1)
    add_list(rsps, [A, A2, B, snap(806, "e", server_id=102)], server_id=None)
    add_delete(rsps, 801)
    add_delete(rsps, 803)
    add_list(rsps, [A2, B, snap(806, "e", server_id=102)], server_id=None)
    add_list(rsps, [B, snap(806, "e", server_id=102)], server_id=102)
    if polls:
        add_list(rsps, [snap(806, "e", server_id=102)], server_id=102)

    entries = ensure_pruned(service, [101, 102], "*", keep=1, wait_timeout=20)

    assert [e.error is not None for e in entries] == failed
    if polls:
        # Once server 101's deletion is gone, only server 102 is read.
        assert sent(rsps) == [LIST_ALL, delete_call(801), delete_call(803), LIST_ALL, listing(102), listing(102)]
    else:
        assert (
            "Timed out after 20s (wait_timeout=20) waiting for 2 deleted snapshot(s) to disappear; last seen status: still "
            "listed: 803." in entries[1].error.message
        )


@pytest.mark.parametrize("engine", ["absent", "prune"])
def test_a_server_whose_listing_failed_does_not_stop_the_next_one(rsps, vt, engine):
    service = build_service(vt, retries=0)
    service.account_pages = 9
    add_list(rsps, [], server_id=101, status=500, body={"detail": "down"})
    add_list(rsps, [B], server_id=102)
    add_delete(rsps, 803)

    if engine == "absent":
        entries = ensure_absent(service, [SnapshotRequest(server_id=101, name="a"), SnapshotRequest(server_id=102, name="b")], wait=False)
    else:
        entries = ensure_pruned(service, [101, 102], "*", keep=0, protect_last_completed=False, wait=False)

    assert entries[0].error.message == "Could not list snapshots: down (HTTP 500 on GET snapshots/)"
    assert entries[1].changes.deleted == [clean(B)]


def test_prune_by_default_keeps_the_last_completed_and_waits_up_to_1800_seconds(rsps, vt):
    service = build_service(vt)
    add_list(rsps, [A, A2, snap(804, "c", created_at="2025-01-19T00:00:00Z", server_id=101)], server_id=101)
    add_delete(rsps, 801)
    add_delete(rsps, 802)

    entry = ensure_pruned(service, [101], "*", keep=0)[0]

    assert [s["id"] for s in entry.changes.deleted] == [801, 802]
    assert "waiting for 2 deleted snapshot(s) to disappear; last seen status: still listed: 801, 802." in entry.error.message
    assert vt.elapsed() == 1800
    assert [call for call in sent(rsps) if call[0] == "DELETE"] == [delete_call(801), delete_call(802)]


def test_absent_by_default_waits_up_to_1800_seconds(rsps, vt):
    add_list(rsps, [A], server_id=None)
    add_delete(rsps, 801)
    add_list(rsps, [A], server_id=101)

    entry = ensure_absent(build_service(vt), [SnapshotRequest(snapshot_id=801)])[0]

    assert entry.error.message.startswith("Timed out after 1800s (wait_timeout=1800)")


def test_a_target_that_cannot_be_named_does_not_stop_the_next_one(rsps, vt):
    add_list(rsps, LISTED, server_id=None)
    add_delete(rsps, 803)

    entries = ensure_absent(build_service(vt), [SnapshotRequest(server_id=101, name="a"), SnapshotRequest(snapshot_id=803)], wait=False)

    assert entries[0].error.message.startswith("Server 101 has 2 snapshots named 'a'")
    assert entries[1].changes.deleted == [clean(B)]


@pytest.mark.parametrize("engine", ["absent", "prune"])
def test_in_check_mode_a_failed_listing_is_reported(rsps, vt, engine):
    service = build_service(vt, check_mode=True, retries=0)
    add_list(rsps, [], server_id=101, status=500, body={"detail": "down"})

    if engine == "absent":
        result = absent_result(ensure_absent(service, [SnapshotRequest(server_id=101, name="a")])[0], True, NOW)
    else:
        result = prune_result(ensure_pruned(service, [101], "*", keep=1)[0], True, NOW)

    assert result["msg"] == "Could not list snapshots: down (HTTP 500 on GET snapshots/)"
    assert result["changed"] is False


def test_pruning_a_server_that_does_not_exist_fails_naming_it(rsps, vt):
    add_list(rsps, [], server_id=99999)
    add_server(rsps, http_status=404, body={"detail": "Not found."}, server_id=99999)
    add_list(rsps, [B], server_id=None)  # another server of the account...
    add_server(rsps, server_id=102)  # ...can be read, so the endpoint exists and 99999 does not

    result = prune_result(ensure_pruned(build_service(vt), [99999], "*", keep=0)[0], False, NOW)

    assert result["failed"] is True
    assert result["msg"] == (
        "Server 99999 does not exist: GET servers/99999/ answered HTTP 404, while other servers of the account can be read. Check server_id."
    )
    assert (result["changed"], result["pruned"]) == (False, [])


@pytest.mark.parametrize("http_status", [200, 500])
def test_pruning_a_server_without_snapshots_reads_it_and_goes_on(rsps, vt, http_status):
    add_list(rsps, [], server_id=101)
    add_server(rsps, server_id=101, http_status=http_status, body=None if http_status == 200 else {"detail": "down"})

    result = prune_result(ensure_pruned(build_service(vt), [101], "*", keep=0)[0], False, NOW)

    assert "failed" not in result
    assert (result["changed"], result["pruned"], result["kept"]) == (False, [], [])
    assert [c.request.url for c in rsps.calls][-1] == url("servers/101/")


def test_a_failed_deletion_is_still_named_when_the_wait_times_out(rsps, vt):
    add_list(rsps, [A, A2, snap(804, "c", created_at="2025-01-19T00:00:00Z", server_id=101)], server_id=101)
    add_delete(rsps, 801)
    add_delete(rsps, 802, status=409, json={"detail": "In use."})

    entry = ensure_pruned(build_service(vt), [101], "*", keep=0, wait_timeout=30)[0]

    assert entry.error.message.startswith("Could not delete snapshot %s: In use." % describe(A2))


# Results --------------------------------------------------------------------------------------------------------------


def deletion(doomed=(), deleted=(), error=None, kept=(), gone=()):
    entry = DeletionEntry(SnapshotRequest(server_id=101))
    entry.to_delete = list(doomed)
    entry.changes.deleted = [clean(s) for s in deleted]
    entry.changes.gone = [clean(s) for s in gone]
    entry.kept = list(kept)
    entry.error = error
    return entry


@pytest.mark.parametrize(
    "entry, check_mode, expected",
    [
        (deletion([A], [A]), False, dict(changed=True, msg="Deleted snapshot %s." % describe(A, "4d 17h old"), preview=["id 801  a  completed  4d 17h old"])),
        (
            deletion([A]),
            True,
            dict(changed=True, msg="Check mode: would delete snapshot %s." % describe(A, "4d 17h old"), preview=["id 801  a  completed  4d 17h old"]),
        ),
        # Gone at this task's first DELETE (404): someone else's deletion, not reported as this task's (issue 22).
        (
            deletion([A], gone=[A]),
            False,
            dict(
                changed=False,
                preview=[],
                msg=(
                    "Snapshot %s was already gone: the API answered this task's first DELETE with 404, so someone else deleted it first. "
                    "This task deleted nothing." % describe(A, "4d 17h old")
                ),
            ),
        ),
        (deletion(), True, dict(changed=False, msg="No such snapshot; nothing to delete.", preview=[])),
        (
            deletion([A], [A], SnapshotError("Slow.", failure={"status": 500})),
            False,
            dict(
                changed=True,
                failed=True,
                failure={"status": 500},
                preview=["id 801  a  completed  4d 17h old"],
                msg="Slow. Before this failure the task made changes: It deleted %s." % describe(A, "4d 17h old"),
            ),
        ),
        (deletion([A], [], SnapshotError("Refused.")), False, dict(changed=False, failed=True, msg="Refused.", preview=[])),
    ],
)
def test_absent_result(entry, check_mode, expected):
    result = absent_result(entry, check_mode, NOW)

    assert dict((key, result[key]) for key in expected) == expected
    assert result["snapshot"] == (clean(A) if entry.to_delete else {})
    assert result["diff"] == {"before": result["snapshot"], "after": {}}


@pytest.mark.parametrize(
    "entry, check_mode, expected",
    [
        (
            deletion([A, A2], [A, A2], kept=[B, A]),
            False,
            dict(
                changed=True,
                pruned=[clean(A), clean(A2)],
                kept=[clean(B), clean(A)],
                msg="Server 101: deleted 2 snapshot(s): %s; %s." % (describe(A, "4d 17h old"), describe(A2, "4d 17h old")),
            ),
        ),
        (deletion([A]), True, dict(changed=True, pruned=[clean(A)], msg="Server 101: would delete 1 snapshot(s): %s" % describe(A, "4d 17h old"))),
        (deletion([A]), False, dict(changed=False, pruned=[], msg="Server 101: deleted 0 snapshot(s).")),
        (
            deletion([A], [A], SnapshotError("Slow.", snapshot={})),
            False,
            dict(changed=True, failed=True, snapshot={}, msg="Slow. Before this failure the task made changes: It deleted %s." % describe(A, "4d 17h old")),
        ),
    ],
)
def test_prune_result(entry, check_mode, expected):
    result = prune_result(entry, check_mode, NOW)

    assert dict((key, result[key]) for key in expected) == expected
    assert result["server_id"] == 101
    assert result["preview"] == ["id %s  a  completed  4d 17h old" % s["id"] for s in result["pruned"]]


def test_prune_diff_lists_what_went_or_would_go_per_server():
    entries = [deletion([A, A2], [A]), deletion([B], [B])]

    assert prune_diff(entries, False, NOW)["before"] == "server 101: %s\nserver 101: %s\n" % (describe(A, "4d 17h old"), describe(B, "4d 17h old"))
    assert prune_diff(entries, True, NOW)["before"].count("\n") == 3
