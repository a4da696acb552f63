# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Changes, the journal of one task: the sentence a user reads about what it deleted, and that the answer to a DELETE
was lost when it was (the deletion then known only from a later 404 or the listing). How the service fills the journal
is tested in test_service.py.
"""

from __future__ import annotations

from ansible_collections.vps.cloud.plugins.module_utils.service import Changes, with_changes_made
from ansible_collections.vps.cloud.tests.unit.helpers import NOW, clean, describe, snap

OLD = clean(snap(700, "old", created_at="2025-01-10T12:00:00Z"))
OLDER = clean(snap(701, "older", created_at="2025-01-05T12:00:00Z"))
LOST = "no answer within api_timeout=30s talking to api.vps.test: Read timed out."
FOUND = "sent again, it was answered 404"


def test_a_deletion_whose_answer_was_lost_says_so_with_the_reason_in_the_summary():
    changes = Changes()
    changes.deleted.append(OLD)
    changes.answers_lost[700] = (LOST, FOUND)

    assert changes.summary(NOW) == "It deleted %s (the answer to its DELETE was lost: %s)." % (describe(OLD, "10d 0h old"), LOST)


def test_only_the_deletion_whose_answer_was_lost_carries_the_note():
    changes = Changes()
    changes.deleted.extend([OLDER, OLD])
    changes.answers_lost[700] = (LOST, "found gone from the listing")

    assert changes.summary(NOW) == "It deleted %s; %s (the answer to its DELETE was lost: %s)." % (
        describe(OLDER, "15d 0h old"),
        describe(OLD, "10d 0h old"),
        LOST,
    )


def test_a_lost_answer_is_named_without_an_age_when_there_is_no_clock():
    changes = Changes()
    changes.deleted.append(OLD)
    changes.answers_lost[700] = (LOST, FOUND)

    assert changes.describe_deleted(OLD) == "%s (the answer to its DELETE was lost: %s)" % (describe(OLD), LOST)
    assert changes.summary() == "It deleted %s (the answer to its DELETE was lost: %s)." % (describe(OLD), LOST)


def test_a_deletion_answered_normally_reads_as_the_snapshot_alone():
    changes = Changes()
    changes.deleted.append(OLD)
    changes.answers_lost[701] = (LOST, FOUND)  # another snapshot's answer: not this one's

    assert changes.describe_deleted(OLD, NOW) == describe(OLD, "10d 0h old")


def test_a_failure_message_keeps_the_lost_answer_of_a_deletion_made_before_it():
    changes = Changes()
    changes.deleted.append(OLD)
    changes.answers_lost[700] = (LOST, FOUND)

    assert with_changes_made("Could not create the snapshot.", NOW, changes) == (
        "Could not create the snapshot. Before this failure the task made changes: It deleted %s (the answer to its "
        "DELETE was lost: %s)." % (describe(OLD, "10d 0h old"), LOST)
    )
