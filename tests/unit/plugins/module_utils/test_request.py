# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The request every module hands the engines, the entry that follows it, and for_each: a failure of one target
ends that target only, and a bug of the collection is never swallowed."""

from __future__ import annotations

import pytest

from ansible_collections.vps.cloud.plugins.module_utils.request import Entry, SnapshotRequest, for_each
from ansible_collections.vps.cloud.plugins.module_utils.results import task_result
from ansible_collections.vps.cloud.plugins.module_utils.service import SnapshotError, TaskFailed
from ansible_collections.vps.cloud.tests.unit.helpers import build_service


def entries(*server_ids):
    return [Entry(SnapshotRequest(server_id, "n")) for server_id in server_ids]


def test_a_request_from_a_single_task_s_options():
    request = SnapshotRequest.from_params(dict(server_id=101, name="n", description="d", snapshot_id=None, name_match=None, state="present", wait=True))
    assert (request.server_id, request.name, request.description, request.snapshot_id, request.name_match, request.host) == (101, "n", "d", None, None, None)
    assert SnapshotRequest.from_params(dict(name_match="pre-*", server_id=7)).name_match == "pre-*"


def test_requests_naming_the_same_snapshot_the_same_way_share_a_target():
    assert SnapshotRequest(101, "n", "one", host="a").target() == SnapshotRequest(101, "n", "two", host="b").target()
    assert SnapshotRequest(snapshot_id=801).target() == (801, None, None)
    assert SnapshotRequest(snapshot_id=801).target() != SnapshotRequest(server_id=101, name="n").target()


def test_an_entry_keeps_the_first_error_and_its_warnings():
    entry = entries(101)[0]
    assert entry.active and (entry.server_id, entry.name) == (101, "n") and not entry.changes
    first, second = SnapshotError("first"), SnapshotError("second")
    entry.fail(first)
    entry.fail(second)
    entry.note("look")
    assert (entry.active, entry.error, entry.warnings) == (False, first, ["look"])


@pytest.mark.parametrize("concurrency", [1, 4])
@pytest.mark.parametrize("count", [1, 3])
def test_a_failed_step_ends_that_entry_only(vt, concurrency, count):
    targets = entries(*range(101, 101 + count))
    done = []

    def step(entry):
        if entry.server_id == 101:
            raise SnapshotError("server 101 failed")
        done.append(entry.server_id)

    for_each(build_service(vt, concurrency=concurrency), targets, step)
    assert targets[0].error.message == "server 101 failed"
    assert sorted(done) == list(range(102, 101 + count))
    assert all(entry.active for entry in targets[1:])


@pytest.mark.parametrize("count", [1, 3])
def test_a_bug_in_a_step_surfaces(vt, count):
    def step(entry):
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        for_each(build_service(vt, concurrency=2), entries(*range(101, 101 + count)), step)


def test_entries_that_already_failed_are_left_alone(vt):
    targets = entries(101, 102, 103)
    targets[1].fail(SnapshotError("read failed"))
    seen = []
    for_each(build_service(vt, concurrency=2), targets, lambda entry: seen.append(entry.server_id))
    assert sorted(seen) == [101, 103]
    assert targets[1].error.message == "read failed"


def test_a_single_task_s_result_is_returned_or_raised_without_its_failed_flag():
    assert task_result(dict(changed=True, msg="done")) == dict(changed=True, msg="done")
    with pytest.raises(TaskFailed) as info:
        task_result(dict(changed=True, failed=True, msg="broke"))
    assert info.value.result == dict(changed=True, msg="broke")
    assert task_result(dict(changed=False, failed=False, msg="fine")) == dict(changed=False, msg="fine")
