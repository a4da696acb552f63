# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""batch.py: the engines' entries put together into one result (the options become requests in test_options.py)."""

from __future__ import annotations

import pytest

from ansible_collections.vps.cloud.plugins.module_utils.batch import batch_absent, batch_present, batch_prune, present_options
from ansible_collections.vps.cloud.plugins.module_utils.request import SnapshotRequest
from ansible_collections.vps.cloud.plugins.module_utils.service import TaskFailed
from ansible_collections.vps.cloud.tests.unit.helpers import (
    LIST_ALL,
    add_list,
    add_post,
    add_server,
    build_service,
    clean,
    describe,
    listing,
    new_snapshot,
    sent,
    server_call,
    snap,
)

NAME = "pre-upgrade"


@pytest.mark.parametrize(
    "given, expected",
    [
        (dict(wait=True, wait_timeout=60), (None, "*", None, True, True, 60, False, True)),
        (
            dict(wait=False, wait_timeout=5, retention=2, retention_match=None, resume_match="r-*", protect_last_completed=False, retake_failed=False),
            (2, "*", "r-*", False, False, 5, False, False),
        ),
        (
            dict(wait=True, wait_timeout=5, retention_match="d-*", protect_last_completed=True, wait_for="first", retake_failed=True),
            (None, "d-*", None, True, True, 5, True, True),
        ),
    ],
)
def test_present_options_from_the_module_parameters(given, expected):
    options = present_options(given)

    assert (
        options.retention,
        options.retention_match,
        options.resume_match,
        options.protect_last_completed,
        options.wait,
        options.wait_timeout,
        options.wait_for_first,
        options.retake_failed,
    ) == expected


def test_a_failed_entry_by_snapshot_id_is_named_by_its_id(rsps, vt):
    service = build_service(vt)
    add_list(rsps, [], server_id=None, status=401, body={"detail": "No."})
    requests = [SnapshotRequest(snapshot_id=801)]

    with pytest.raises(TaskFailed) as caught:
        batch_absent(service, requests, dict(wait=True, wait_timeout=10))

    assert caught.value.result["msg"] == ("Deletions: 1 failed. Failed: snapshot 801: Could not list snapshots: No. (HTTP 401 on GET snapshots/).")
    assert sent(rsps) == [LIST_ALL]


def made(server_id=101, status="in_progress", description=None):
    return new_snapshot(status, name=NAME, snapshot_id=800 + server_id, description=description, server_id=server_id)


def test_entries_without_a_host_are_named_by_their_index_in_the_warning_and_in_the_shared_result(rsps, vt):
    service = build_service(vt)
    add_list(rsps, [], server_id=101)
    add_post(rsps, payload=made())
    requests = [SnapshotRequest(server_id=101, name=NAME), SnapshotRequest(server_id=101, name=NAME, description="second")]

    result = batch_present(service, requests, dict(wait=False, wait_timeout=60))

    assert result["warnings"] == [
        "server 101: snapshot 'pre-upgrade' is asked for twice in this batch with different descriptions, none for entry 0 "
        "and 'second' for entry 1: it is taken once, with none."
    ]
    # The second entry shares the first one's snapshot: no change, no creation, no prune, a diff without a change.
    assert result["results"][1] == dict(
        changed=False,
        created=False,
        server_id=101,
        host=None,
        snapshot=clean(made()),
        diff=dict(before=clean(made()), after=clean(made())),
        msg="The same snapshot as entry 0 (one snapshot per server in a batch): %s." % describe(made()),
    )
    assert result["msg"] == "Snapshots: 1 taken; 1 still in progress; 2 entries for 1 server."
    assert sent(rsps) == [listing(101), ("POST", "/snapshots/")]


OLD = [snap(700 + i, "daily-%d" % i, created_at="2025-01-1%dT10:00:00Z" % i, server_id=101) for i in range(1, 4)]


def test_in_check_mode_the_summary_counts_the_others_to_delete_and_a_shared_entry_prunes_nothing(rsps, vt):
    service = build_service(vt, check_mode=True)
    add_list(rsps, OLD, server_id=101)
    add_server(rsps, "running", server_id=101)
    requests = [SnapshotRequest(server_id=101, name=NAME, host="a"), SnapshotRequest(server_id=101, name=NAME, host="b")]

    result = batch_present(service, requests, dict(wait=True, wait_timeout=60, retention=2))

    owner, shared = result["results"]
    assert owner["pruned"] == [clean(OLD[0]), clean(OLD[1])]
    assert (shared["changed"], shared["pruned"], shared["diff"]) == (False, [], dict(before=owner["snapshot"], after=owner["snapshot"]))
    assert result["msg"] == "Check mode, snapshots: 1 to take; 2 others to delete (see pruned); 2 entries for 1 server."
    assert sent(rsps) == [listing(101), server_call(101)]


A = snap(801, NAME, server_id=101)


def test_in_check_mode_a_missing_snapshot_counts_as_already_gone(rsps, vt):
    service = build_service(vt, check_mode=True)
    add_list(rsps, [A], server_id=None)

    result = batch_absent(service, [SnapshotRequest(snapshot_id=801), SnapshotRequest(snapshot_id=999)], dict(wait=True, wait_timeout=60))

    assert result["msg"] == "Check mode, deletions: 1 to delete, 1 already gone."
    assert sent(rsps) == [LIST_ALL]


def test_a_second_entry_for_one_snapshot_shares_its_deletion_without_a_preview_or_a_diff_of_its_own(rsps, vt):
    service = build_service(vt, check_mode=True)
    add_list(rsps, [A], server_id=None)

    result = batch_absent(service, [SnapshotRequest(snapshot_id=801, host="a"), SnapshotRequest(snapshot_id=801, host="b")], dict(wait=True, wait_timeout=60))

    owner, shared = result["results"]
    assert owner["preview"] and owner["diff"] == dict(before=clean(A), after={})
    assert shared == dict(
        changed=False,
        snapshot=clean(A),
        diff=dict(before={}, after={}),
        host="b",
        snapshot_id=801,
        server_id=101,
        msg="The same snapshot as the entry for a (one deletion per snapshot in a batch): %s" % owner["msg"],
    )
    assert result["diff"] == dict(before={"801": clean(A)}, after={})


def test_a_failed_prune_quotes_the_failure_as_it_ends(rsps, vt):
    service = build_service(vt)
    add_list(rsps, [], server_id=101, status=401, body={"detail": "No."})

    with pytest.raises(TaskFailed) as caught:
        batch_prune(service, [("web-1", 101)], dict(match="*", keep=1, older_than_days=None, protect_last_completed=True, wait=True, wait_timeout=60))

    assert caught.value.result["msg"] == "The prune failed for 1 of 1: server 101 (web-1): Could not list snapshots: No. (HTTP 401 on GET snapshots/)"
