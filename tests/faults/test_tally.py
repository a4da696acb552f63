# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The tally's own detectors, on made-up states and logs: a zero in the tally means nothing only if they can count."""

from __future__ import annotations

import pytest

from fault_harness import epoch, lost_restore_points, unreported_deletions

pytestmark = pytest.mark.timeout(30)

T0 = epoch("2025-01-01T00:00:00Z")


def snapshot(snapshot_id, server_id, status="completed", created="2025-01-01T00:00:00Z"):
    return {"id": snapshot_id, "server": {"id": server_id}, "status": status, "created_at": created, "name": "s%d" % snapshot_id}


def delete(snapshot_id, at):
    return {"method": "DELETE", "path": "/api/v1/snapshots/%d/" % snapshot_id, "status": 204, "time": T0 + at}


BEFORE = [snapshot(1, 10), snapshot(2, 10, "failed"), snapshot(3, 11), snapshot(4, 11)]


def test_a_server_left_without_any_completed_snapshot_is_a_lost_restore_point():
    after = [snapshot(2, 10, "failed"), snapshot(3, 11), snapshot(4, 11)]
    assert lost_restore_points(BEFORE, after, [delete(1, 5)]) == [
        (10, "had a completed snapshot before the case and has none after it")]


def test_the_last_one_deleted_before_the_new_one_completed_is_a_lost_restore_point():
    # The new snapshot (id 5) was created at 00:00:10 and completed at 00:00:11; the old one went at 00:00:05.
    after = [snapshot(2, 10, "failed"), snapshot(5, 10, created="2025-01-01T00:00:10Z"), snapshot(3, 11), snapshot(4, 11)]
    assert lost_restore_points(BEFORE, after, [delete(1, 5)]) == [
        (10, "its last completed snapshot 1 was deleted while it was the last one")]


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
