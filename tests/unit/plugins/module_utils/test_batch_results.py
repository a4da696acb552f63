# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""batch.py: how a failed batch's msg quotes its failures (the first ones whole or cut, then only labels)."""

from __future__ import annotations

import pytest

from ansible_collections.vps.cloud.plugins.module_utils.batch import FAILURE_MSG_CHARS, _finish
from ansible_collections.vps.cloud.plugins.module_utils.service import TaskFailed
from ansible_collections.vps.cloud.tests.unit.helpers import build_service

SUMMARY = "Snapshots: %d failed"
TAIL = " (every message is in results and by_host)."


def failed_msg(vt, messages):
    """The msg of a batch whose servers 101, 102, ... failed with `messages`."""
    results = [dict(changed=False, failed=True, server_id=101 + i, host=None, msg=message) for i, message in enumerate(messages)]
    with pytest.raises(TaskFailed) as caught:
        _finish(build_service(vt), results, {}, "snapshot", summary=SUMMARY % len(results), distinct=results)
    return caught.value.result["msg"]


def test_a_failure_of_up_to_600_characters_is_quoted_whole_and_a_longer_one_is_cut_there(vt):
    whole = "The provider refused it: " + "w" * (FAILURE_MSG_CHARS - 26) + "z"
    # The cut falls just after 'X. ;': the punctuation before it goes, the text does not.
    kept = "The provider refused it: " + "b" * (FAILURE_MSG_CHARS - 29) + "X"
    long = kept + ". ;, and a great deal more that only results hold."
    assert (len(whole), len(kept)) == (FAILURE_MSG_CHARS, FAILURE_MSG_CHARS - 3)

    assert failed_msg(vt, [whole, long]) == "Snapshots: 2 failed. Failed: server 101: %s; server 102: %s [cut here; the whole message is in results]." % (
        whole,
        kept,
    )


def test_only_a_failures_final_period_gives_way_to_the_separator(vt):
    messages = ["Snapshot pre-upgrade on server %d was still QUEUED_X." % (101 + i) for i in range(4)]

    assert failed_msg(vt, messages[:2]) == (
        "Snapshots: 2 failed. Failed: server 101: Snapshot pre-upgrade on server 101 was still QUEUED_X; "
        "server 102: Snapshot pre-upgrade on server 102 was still QUEUED_X."
    )
    assert failed_msg(vt, messages) == (
        "Snapshots: 4 failed. Failed: server 101: Snapshot pre-upgrade on server 101 was still QUEUED_X; "
        "server 102: Snapshot pre-upgrade on server 102 was still QUEUED_X; server 103: Snapshot pre-upgrade on server 103 was "
        "still QUEUED_X; and 1 more: server 104" + TAIL
    )


@pytest.mark.parametrize(
    "count, labels",
    [
        (13, "and 10 more: %s" % ", ".join("server %d" % i for i in range(104, 114))),
        (14, "and 11 more: %s and 1 other" % ", ".join("server %d" % i for i in range(104, 114))),
        (15, "and 12 more: %s and 2 others" % ", ".join("server %d" % i for i in range(104, 114))),
    ],
    ids=["ten more: all named", "eleven more: ten named, one other", "twelve more: ten named, two others"],
)
def test_after_three_quoted_failures_ten_more_are_named_and_the_rest_counted(vt, count, labels):
    msg = failed_msg(vt, ["Could not create it (HTTP 403 on POST snapshots/)"] * count)

    quoted = "; ".join("server %d: Could not create it (HTTP 403 on POST snapshots/)" % i for i in (101, 102, 103))
    assert msg == "Snapshots: %d failed. Failed: %s; %s%s" % (count, quoted, labels, TAIL)
