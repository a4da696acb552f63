# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""results.py on its own: what a task returns from what its engine recorded (messages, counts, check mode)."""

from __future__ import annotations

import pytest

from ansible_collections.vps.cloud.plugins.module_utils.absent import DeletionEntry
from ansible_collections.vps.cloud.plugins.module_utils.batch import batch_prune
from ansible_collections.vps.cloud.plugins.module_utils.request import SnapshotRequest
from ansible_collections.vps.cloud.plugins.module_utils.results import counted_prune, prune_result
from ansible_collections.vps.cloud.plugins.module_utils.service import TaskFailed
from ansible_collections.vps.cloud.tests.unit.helpers import NOW, add_list, build_service, clean, describe, snap

AGE = "4d 17h old"
A = snap(801, "a", server_id=101)
B = snap(802, "b", server_id=101)
C = snap(803, "c", server_id=101)
D = snap(804, "d", server_id=101)


def deletion(doomed=(), deleted=(), gone=()):
    entry = DeletionEntry(SnapshotRequest(server_id=101))
    entry.to_delete = list(doomed)
    entry.changes.deleted = [clean(s) for s in deleted]
    entry.changes.gone = [clean(s) for s in gone]
    return entry


# Prune ----------------------------------------------------------------------------------------------------------------


def test_a_prune_message_counts_its_deletions_those_gone_before_them_and_tells_each_lost_answer():
    entry = deletion([A, B, C, D], deleted=[A, B], gone=[C, D])
    entry.changes.answers_lost = {801: ("Read timed out.", "sent again, it was answered 404"), 802: ("HTTP 502", "the server's listing no longer holds it")}

    result = prune_result(entry, False, NOW)

    assert (result["changed"], result["pruned"], result["already_gone"]) == (True, [clean(A), clean(B)], [clean(C), clean(D)])
    assert result["msg"] == (
        "Server 101: deleted 2 snapshot(s): %s; %s, and 2 already gone (deleted by someone else before this task's DELETE): %s; %s. "
        "The answer to the DELETE of %s was lost (Read timed out.); sent again, it was answered 404. "
        "The answer to the DELETE of %s was lost (HTTP 502); the server's listing no longer holds it."
        % (describe(A, AGE), describe(B, AGE), describe(C, AGE), describe(D, AGE), describe(A), describe(B))
    )


def test_a_prune_in_check_mode_with_nothing_to_delete_says_so_in_one_sentence():
    result = prune_result(deletion(), True, NOW)

    assert (result["changed"], result["pruned"], result["msg"]) == (False, [], "Server 101: would delete 0 snapshot(s).")


def test_a_failed_prune_in_check_mode_opens_its_message_with_what_it_would_have_done(rsps, vt):
    service = build_service(vt, check_mode=True, retries=0)
    service.account_pages = 9
    add_list(rsps, [], server_id=101, status=500, body={"detail": "down"})
    add_list(rsps, [snap(901, "old", server_id=102, created_at="2025-01-10T00:00:00Z"), snap(902, "new", server_id=102)], server_id=102)
    params = dict(match="*", keep=1, older_than_days=None, protect_last_completed=True, wait=True, wait_timeout=60)

    with pytest.raises(TaskFailed) as caught:
        counted_prune(lambda: batch_prune(service, [("web1", 101), ("web2", 102)], params), True)

    assert caught.value.result["msg"] == (
        "Prune (check mode): would delete 1 snapshot(s) on 1 server(s), 1 server(s) failed. The prune failed for 1 of 2: "
        "server 101 (web1): Could not list snapshots: down (HTTP 500 on GET snapshots/)"
    )
