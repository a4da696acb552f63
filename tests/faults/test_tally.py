# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The tally's own detectors, on made-up states and logs: a zero in the tally means nothing only if they can count."""

from __future__ import annotations

import pytest

from ansible_collections.vps.cloud.tests.faults.fault_harness import (
    epoch,
    lost_restore_points,
    silent_retries,
    unreported_deletions,
)

pytestmark = pytest.mark.timeout(30)

T0 = epoch("2025-01-01T00:00:00Z")


def snapshot(snapshot_id, server_id, status="completed", created="2025-01-01T00:00:00Z"):
    return {"id": snapshot_id, "server": {"id": server_id}, "status": status, "created_at": created, "name": "s%d" % snapshot_id}


def delete(snapshot_id, at):
    return {"method": "DELETE", "path": "/api/v1/snapshots/%d/" % snapshot_id, "status": 204, "time": T0 + at}


BEFORE = [snapshot(1, 10), snapshot(2, 10, "failed"), snapshot(3, 11), snapshot(4, 11)]


def test_a_server_left_without_any_completed_snapshot_is_a_lost_restore_point():
    after = [snapshot(2, 10, "failed"), snapshot(3, 11), snapshot(4, 11)]
    assert lost_restore_points(BEFORE, after, [delete(1, 5)]) == [(10, "had a completed snapshot before the case and has none after it")]


def test_the_last_one_deleted_before_the_new_one_completed_is_a_lost_restore_point():
    # The new snapshot (id 5) was created at 00:00:10 and completed at 00:00:11; the old one went at 00:00:05.
    after = [snapshot(2, 10, "failed"), snapshot(5, 10, created="2025-01-01T00:00:10Z"), snapshot(3, 11), snapshot(4, 11)]
    assert lost_restore_points(BEFORE, after, [delete(1, 5)]) == [(10, "its last completed snapshot 1 was deleted while it was the last one")]


def test_deleting_once_the_new_one_completed_or_while_another_remains_is_no_loss():
    after = [snapshot(2, 10, "failed"), snapshot(5, 10, created="2025-01-01T00:00:10Z"), snapshot(4, 11)]
    assert lost_restore_points(BEFORE, after, [delete(1, 20), delete(3, 21)]) == []


def test_a_deletion_the_case_asked_for_is_no_loss():
    after = [snapshot(2, 10, "failed"), snapshot(3, 11), snapshot(4, 11)]
    assert lost_restore_points(BEFORE, after, [delete(1, 5)], allowed={1}) == []


def test_a_deletion_no_result_lists_is_unreported():
    log = [delete(1, 5), delete(3, 6), dict(delete(4, 7), status=404)]
    assert unreported_deletions(log, [{"pruned": [{"id": 1}]}]) == [3]
    assert unreported_deletions(log, [{"results": [{"pruned": [{"id": 3}]}]}], allowed={1}) == []


def test_a_delete_answered_with_a_proxys_200_or_never_answered_is_a_deletion_too():
    """--non-json ... --methods DELETE logs 200; a dropped connection or a late answer logs the 204 the client never saw."""
    log = [
        dict(delete(1, 5), status=200, fault="non_json"),
        dict(delete(2, 6), fault="drop_after_apply"),
        dict(delete(3, 7), fault="late_answer"),
        dict(delete(4, 8), status=502, applied=False, fault="html_error"),
    ]
    assert unreported_deletions(log, [{"pruned": []}]) == [1, 2, 3]


def absent(snapshot_id, changed, msg):
    return {"changed": changed, "snapshot": {"id": snapshot_id}, "msg": msg}


def test_the_target_of_state_absent_is_reported_only_when_its_result_says_it_deleted_it():
    log = [delete(7, 5)]
    assert unreported_deletions(log, [absent(7, True, "Deleted snapshot t (id 7).")]) == []
    # The bug of issue 22: the DELETE was applied, the task said "Could not delete" or "nothing to delete".
    assert unreported_deletions(log, [dict(absent(7, False, "Could not delete snapshot t (id 7): no answer"), failed=True)]) == [7]
    assert unreported_deletions(log, [absent(7, False, "Deleted snapshot t (id 7).")]) == [7]
    assert unreported_deletions(log, [{"results": [absent(7, True, "Deleted snapshot t (id 7).")]}]) == []


def post(at, status, body, error=None):
    entry = {"method": "POST", "path": "/api/v1/snapshots/", "status": status, "time": T0 + at, "body": body}
    if error is not None:
        entry["error"] = error
    return entry


BODY = {"server_id": 10, "name": "pre"}
REFUSAL = "Server is busy (status: snapshotting); a snapshot can be taken when it is running or stopped."


def test_a_refused_post_sent_again_without_a_warning_is_a_silent_retry():
    log = [post(0, 400, BODY, REFUSAL), post(2, 201, BODY)]
    assert silent_retries(log, [{"changed": True, "msg": "Created."}]) == [("/api/v1/snapshots/", 400, REFUSAL)]
    # Said in msg only, or in a warning without the provider's words: still silent.
    assert silent_retries(log, [{"msg": REFUSAL}]) == [("/api/v1/snapshots/", 400, REFUSAL)]
    assert silent_retries(log, [{"warnings": ["The provider refused it once."]}]) == [("/api/v1/snapshots/", 400, REFUSAL)]


def test_a_refused_post_sent_again_with_the_providers_words_in_a_warning_is_seen():
    log = [post(0, 400, BODY, REFUSAL), post(2, 201, BODY)]
    warning = "The provider refused snapshot 'pre' on server 10 before it accepted it: HTTP 400 (%s)." % REFUSAL
    assert silent_retries(log, [{"warnings": [warning]}]) == []
    assert silent_retries(log, [{"warnings": [{"event": {"msg": warning}}]}]) == []  # ansible-core 2.19's structured form
    assert silent_retries(log, [{"results": [{"warnings": [warning]}]}]) == []


def test_a_refusal_not_sent_again_or_a_429_is_no_silent_retry():
    assert silent_retries([post(0, 400, BODY, REFUSAL)], [{}]) == []
    assert silent_retries([post(0, 400, BODY, REFUSAL), post(1, 201, dict(BODY, name="other"))], [{}]) == []
    assert silent_retries([post(0, 429, BODY, "Request was throttled."), post(2, 201, BODY)], [{}]) == []
    assert silent_retries([post(0, 502, BODY, "Bad Gateway"), post(2, 201, BODY)], [{}]) == []
