# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""batch.py: the engines' entries put together into one result (the options become requests in test_options.py)."""

from __future__ import annotations

import pytest

from ansible_collections.vps.cloud.plugins.module_utils.batch import batch_absent, present_options
from ansible_collections.vps.cloud.plugins.module_utils.request import SnapshotRequest
from ansible_collections.vps.cloud.plugins.module_utils.service import TaskFailed
from ansible_collections.vps.cloud.tests.unit.helpers import LIST_ALL, add_list, build_service, sent


@pytest.mark.parametrize(
    "given, expected",
    [
        (dict(wait=True, wait_timeout=60), (None, "*", None, True, True, 60)),
        (
            dict(wait=False, wait_timeout=5, retention=2, retention_match=None, resume_match="r-*", protect_last_completed=False),
            (2, "*", "r-*", False, False, 5),
        ),
        (dict(wait=True, wait_timeout=5, retention_match="d-*", protect_last_completed=True), (None, "d-*", None, True, True, 5)),
    ],
)
def test_present_options_from_the_module_parameters(given, expected):
    options = present_options(given)

    assert (options.retention, options.retention_match, options.resume_match, options.protect_last_completed, options.wait, options.wait_timeout) == expected


def test_a_failed_entry_by_snapshot_id_is_named_by_its_id(rsps, vt):
    service = build_service(vt)
    add_list(rsps, [], server_id=None, status=401, body={"detail": "No."})
    requests = [SnapshotRequest(snapshot_id=801)]

    with pytest.raises(TaskFailed) as caught:
        batch_absent(service, requests, dict(wait=True, wait_timeout=10))

    assert caught.value.result["msg"] == ("Deletions: 1 failed. Failed: snapshot 801: Could not list snapshots: No. (HTTP 401 on GET snapshots/).")
    assert sent(rsps) == [LIST_ALL]
