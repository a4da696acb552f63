# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Table-driven tests for module_utils/selection.py: what statuses mean and which snapshots each rule picks.

The rules (selection.py's docstring): a failed snapshot is no restore point (deleted before completed ones, never
counted as kept); the server's last completed snapshot is never deleted while protect_last_completed; working and
unknown statuses are never deleted; name patterns are shell-style and case-sensitive.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.vps.cloud.plugins.module_utils import selection

from ansible_collections.vps.cloud.plugins.module_utils.selection import (
    BUSY,
    CREATE,
    FAILED,
    REFUSE,
    RESTORE_POINT,
    RESTORING,
    REUSE,
    SERVER_FAILED,
    STABLE,
    UNKNOWN,
    WORKING,
    age_text,
    clean_server,
    clean_snapshot,
    converged,
    created_epoch,
    describe,
    describe_all,
    is_completed,
    is_failed,
    is_unrecognised_server_status,
    is_working,
    last_completed,
    name_matches,
    name_problem,
    named,
    newest_completed_matching,
    newest_first,
    oldest_first,
    pattern_problem,
    plan_present,
    plan_prune,
    plan_retention,
    plan_room,
    server_id_of,
    server_kind,
    snapshot_kind,
    snapshot_shape_problem,
)

SERVER = 1
# 2025-02-01T00:00:00Z: "now" for the age rules; a snapshot of day N was created on 2025-01-N at midnight UTC.
NOW = 1738368000
DAY = 86400


def at(day, hour=0, minute=0):
    return "2025-01-%02dT%02d:%02d:00Z" % (day, hour, minute)


def snap(snapshot_id, status="completed", name=None, day=None, server=SERVER, created_at="by day"):
    """A snapshot as the provider lists it; created on day `day` (default: its id), named snap-<id> by default."""
    return {
        "id": snapshot_id,
        "server": {"id": server, "name": "web"},
        "name": name or "snap-%d" % snapshot_id,
        "status": status,
        "size_mb": 10,
        "description": "",
        "created_at": at(day if day is not None else snapshot_id) if created_at == "by day" else created_at,
    }


def ids(snapshots):
    return [s["id"] for s in snapshots]


def listing(spec):
    """Snapshots from a compact spec: "1c 2f 3w 4q 5e" = id then c(ompleted), f(ailed), e(rror), w (in_progress), q(ueued)."""
    statuses = {"c": "completed", "f": "failed", "e": "error", "w": "in_progress", "q": "queued"}
    return [snap(int(item[:-1]), statuses[item[-1]]) for item in spec.split()]


# Statuses ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, kind",
    [
        pytest.param("completed", RESTORE_POINT, id="completed is a restore point"),
        pytest.param("failed", FAILED, id="failed"),
        pytest.param("error", FAILED, id="error is a failure too"),
        pytest.param("in_progress", WORKING, id="in_progress is working"),
        pytest.param("queued", WORKING, id="an unknown status is working, never final"),
        pytest.param("", WORKING, id="empty status is working"),
        pytest.param(None, WORKING, id="no status is working"),
        pytest.param("COMPLETED", WORKING, id="statuses are case-sensitive: COMPLETED is unknown"),
        pytest.param("Failed", WORKING, id="statuses are case-sensitive: Failed is unknown"),
    ],
)
def test_snapshot_kind(status, kind):
    snapshot = {"id": 1, "status": status}
    assert snapshot_kind(snapshot) == kind
    assert (is_completed(snapshot), is_failed(snapshot), is_working(snapshot)) == (kind == RESTORE_POINT, kind == FAILED, kind == WORKING)


def test_snapshot_kind_without_a_status_key():
    assert snapshot_kind({"id": 1}) == WORKING


@pytest.mark.parametrize(
    "status, kind",
    [
        pytest.param(None, UNKNOWN, id="no status is unknown"),
        pytest.param("running", STABLE, id="running is stable"),
        pytest.param("stopped", STABLE, id="stopped is stable"),
        pytest.param("restoring", RESTORING, id="restoring"),
        pytest.param("stopping", BUSY, id="stopping is busy"),
        pytest.param("starting", BUSY, id="starting is busy"),
        pytest.param("snapshotting", BUSY, id="snapshotting is busy"),
        pytest.param("maintenance", BUSY, id="a status this collection does not know is waited for as busy"),
        pytest.param("", BUSY, id="an empty status is busy, not unknown"),
        pytest.param("Running", BUSY, id="case-sensitive"),
        pytest.param("error", SERVER_FAILED, id="error is a failure, never waited for"),
        pytest.param("failed", SERVER_FAILED, id="failed is a failure"),
        pytest.param("restore_failed", SERVER_FAILED, id="a status naming a failure is one"),
        pytest.param("ERROR", SERVER_FAILED, id="a failure whatever its case"),
        pytest.param("crashed", SERVER_FAILED, id="crashed is a failure"),
    ],
)
def test_server_kind(status, kind):
    assert server_kind(status) == kind


@pytest.mark.parametrize(
    "status, unrecognised",
    [
        ("stopping", False),
        ("snapshotting", False),
        ("restoring", False),
        ("rebooting", False),
        ("running", False),
        ("stopped", False),
        ("error", False),
        ("restore_failed", False),
        (None, False),
        ("maintenance", True),
        ("", True),
        ("Running", True),
        ("suspended", True),
    ],
)
def test_an_unrecognised_server_status_is_told_apart_from_the_transitional_ones(status, unrecognised):
    assert is_unrecognised_server_status(status) is unrecognised


# Names and patterns -----------------------------------------------------------------------------------------------------

FAST = settings(max_examples=150, deadline=None, database=None)
ALLOWED = string.ascii_letters + string.digits + "_-"
VALID = st.text(alphabet=ALLOWED, min_size=1, max_size=255)
BAD_CHARACTERS = "may contain only ASCII letters, digits, hyphens and underscores, got %r"


@FAST
@given(name=VALID)
def test_every_name_of_allowed_characters_up_to_255_is_accepted(name):
    assert name_problem(name) is None


@pytest.mark.parametrize("name", ["a", "-", "_", "0", "before-update_2025", "A" * 255, ALLOWED])
def test_names_accepted(name):
    assert name_problem(name) is None


@FAST
@given(prefix=st.text(alphabet=ALLOWED, max_size=120), bad=st.characters().filter(lambda c: c not in ALLOWED), suffix=st.text(max_size=120))
def test_a_character_outside_the_set_is_rejected(prefix, bad, suffix):
    name = prefix + bad + suffix
    assert name_problem(name) == BAD_CHARACTERS % name


@pytest.mark.parametrize(
    "name",
    [
        "with space",
        "dot.ted",
        "slash/ed",
        "caf\u00e9",
        "\u0663\u0664",
        "\uff21",
        "tab\tbed",
        "\n",
        "new\nline",
        "\x00",
        "*",
        # `$` in a pattern also matches just before a final newline: a trailing newline must still be refused.
        "name\n",
        "a" * 254 + "\n",
    ],
)
def test_names_rejected_for_their_characters(name):
    assert name_problem(name) == BAD_CHARACTERS % name


@pytest.mark.parametrize("name", ["", None, 5, ["a"], b"bytes"])
def test_empty_or_non_string_names_are_rejected(name):
    assert name_problem(name) == "must be a non-empty string"


@FAST
@given(name=st.text(min_size=256, max_size=600))
def test_anything_longer_than_255_is_rejected_for_its_length(name):
    assert name_problem(name) == "is %d characters long; at most 255 are allowed" % len(name)


def test_length_is_checked_before_characters():
    assert name_problem("a" * 256) == "is 256 characters long; at most 255 are allowed"
    assert name_problem(" " * 300) == "is 300 characters long; at most 255 are allowed"


@pytest.mark.parametrize("pattern", ["", None, 5, ["*"]])
def test_unusable_patterns_are_named(pattern):
    assert pattern_problem(pattern) == "must be a non-empty shell-style pattern such as 'daily-*'"


@pytest.mark.parametrize("pattern", ["*", "daily-*", "x", "[ab]?"])
def test_usable_patterns(pattern):
    assert pattern_problem(pattern) is None


@pytest.mark.parametrize(
    "name, pattern, matches",
    [
        pytest.param("anything", "*", True, id="* matches any name"),
        pytest.param(None, "*", True, id="* matches even a snapshot without a name"),
        pytest.param(None, "?*", False, id="a snapshot without a name matches nothing that needs a character"),
        pytest.param("daily-1", "daily-*", True, id="prefix"),
        pytest.param("weekly-1", "daily-*", False, id="other prefix"),
        pytest.param("daily-1", "daily-?", True, id="? is one character"),
        pytest.param("daily-10", "daily-?", False, id="? is exactly one character"),
        pytest.param("a-x", "[ab]-x", True, id="[..] a set"),
        pytest.param("c-x", "[ab]-x", False, id="[..] outside the set"),
        pytest.param("c-x", "[!ab]-x", True, id="[!..] negated set"),
        pytest.param("Daily-1", "daily-*", False, id="case-sensitive"),
        pytest.param("pre", "pre", True, id="a plain name is an exact match"),
        pytest.param("pre-upgrade", "pre", False, id="a plain name is not a prefix"),
    ],
)
def test_name_matches(name, pattern, matches):
    assert name_matches({"id": 1, "name": name}, pattern) is matches


def test_name_matches_a_snapshot_without_name_key():
    assert name_matches({"id": 1}, "*") is True
    assert name_matches({"id": 1}, "x*") is False


# Shapes -----------------------------------------------------------------------------------------------------------------


def test_clean_snapshot_keeps_exactly_the_contract_fields():
    raw = dict(snap(801, day=15), region="eu-1", message="chatter")
    raw["server"] = {"id": 1, "name": "web", "datacenter": "fra1"}
    assert clean_snapshot(raw) == {
        "id": 801,
        "server": {"id": 1, "name": "web"},
        "name": "snap-801",
        "status": "completed",
        "size_mb": 10,
        "created_at": "2025-01-15T00:00:00Z",
        "description": "",
    }


@pytest.mark.parametrize(
    "raw, cleaned",
    [
        pytest.param(None, {}, id="nothing"),
        pytest.param({}, {}, id="empty"),
        pytest.param(
            {"id": 5},
            {"id": 5, "server": {"id": None, "name": None}, "name": None, "status": None, "size_mb": None, "created_at": None, "description": None},
            id="missing fields are None",
        ),
        pytest.param(
            {"id": 5, "server": 12},
            {"id": 5, "server": {"id": None, "name": None}, "name": None, "status": None, "size_mb": None, "created_at": None, "description": None},
            id="server not an object",
        ),
    ],
)
def test_clean_snapshot_of_partial_objects(raw, cleaned):
    assert clean_snapshot(raw) == cleaned


@pytest.mark.parametrize(
    "raw, cleaned",
    [
        ({"id": 1, "name": "web", "status": "running", "ip": "10.0.0.1"}, {"id": 1, "name": "web", "status": "running"}),
        ({"id": 1}, {"id": 1, "name": None, "status": None}),
        (None, {"id": None, "name": None, "status": None}),
    ],
)
def test_clean_server(raw, cleaned):
    assert clean_server(raw) == cleaned


@pytest.mark.parametrize(
    "snapshot, server_id",
    [
        ({"server": {"id": 7}}, 7),
        ({"server": {}}, None),
        ({"server": 7}, None),
        ({}, None),
    ],
)
def test_server_id_of(snapshot, server_id):
    assert server_id_of(snapshot) == server_id


@pytest.mark.parametrize(
    "item, problem",
    [
        pytest.param(snap(5), None, id="a listed snapshot"),
        pytest.param([5], "an entry that is not an object ([5])", id="a list"),
        pytest.param("x", "an entry that is not an object ('x')", id="a string"),
        pytest.param({"name": "a"}, "an entry without an integer id (None)", id="no id"),
        pytest.param(dict(snap(5), id="5"), "an entry without an integer id ('5')", id="string id"),
        pytest.param(dict(snap(5), id=True), "an entry without an integer id (True)", id="boolean id"),
        pytest.param(dict(snap(5), name=None), "snapshot 5 without a name or status", id="no name"),
        pytest.param(dict(snap(5), status=3), "snapshot 5 without a name or status", id="status not a string"),
        pytest.param(dict(snap(5), server=None), "snapshot 5 without its server's id", id="no server"),
        pytest.param(dict(snap(5), server={"name": "web"}), "snapshot 5 without its server's id", id="server without id"),
        pytest.param(dict(snap(5), server={"id": "1"}), "snapshot 5 without its server's id", id="server id a string"),
        pytest.param(dict(snap(5), server={"id": False}), "snapshot 5 without its server's id", id="server id a boolean"),
    ],
)
def test_snapshot_shape_problem(item, problem):
    assert snapshot_shape_problem(item) == problem


def test_snapshot_shape_problem_of_a_tuple_shows_it_whole():
    assert snapshot_shape_problem((1, 2)) == "an entry that is not an object ((1, 2))"


# Ordering ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "snapshots, newest",
    [
        pytest.param([snap(1, day=3), snap(2, day=1), snap(3, day=2)], [1, 3, 2], id="by creation time"),
        pytest.param([snap(5, day=1), snap(9, day=1), snap(7, day=1)], [9, 7, 5], id="tie-break by id when created_at is equal"),
        pytest.param([snap(1, created_at=None), snap(2, day=1)], [2, 1], id="an unknown creation time is oldest"),
        pytest.param([{"id": None, "created_at": at(1)}, snap(1, day=1)], [1, None], id="a missing id sorts below any id"),
        pytest.param([], [], id="empty"),
    ],
)
def test_newest_first_and_oldest_first(snapshots, newest):
    assert ids(newest_first(snapshots)) == newest
    assert ids(oldest_first(snapshots)) == list(reversed(newest))


@pytest.mark.parametrize(
    "older, newer",
    [
        pytest.param("2025-01-15T20:00:00+02:00", "2025-01-15T19:00:00Z", id="an offset"),
        pytest.param("2025-01-15T18:30:00Z", "2025-01-15T18:30:00.500Z", id="fractional seconds"),
        pytest.param("garbage", "2025-01-15T18:30:00Z", id="an unreadable time is older than any"),
        pytest.param(None, "1970-01-01T00:00:00Z", id="a missing time is older than the epoch"),
    ],
)
def test_newest_first_orders_by_the_instant_not_the_text(older, newer):
    """Retention and prune must not take an older snapshot for the newest because of how its time is written."""
    snapshots = [snap(2, created_at=older), snap(1, created_at=newer)]
    assert ids(newest_first(snapshots)) == [1, 2]
    assert ids(plan_prune(snapshots, "*", keep=1)) == [2]


def test_newest_first_does_not_change_its_input():
    snapshots = [snap(1), snap(2)]
    newest_first(snapshots)
    oldest_first(snapshots)
    assert ids(snapshots) == [1, 2]


# Ages -------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "created_at, epoch",
    [
        pytest.param("2025-01-15T18:30:00Z", 1736965800, id="Z"),
        pytest.param("2025-01-15T18:30:00", 1736965800, id="no zone is UTC"),
        pytest.param("2025-01-15 18:30:00Z", 1736965800, id="space separator"),
        pytest.param("2025-01-15T18:30:00.25Z", 1736965800.25, id="fractional seconds kept"),
        pytest.param("2025-01-15T20:30:00.5+02:00", 1736965800.5, id="fractional seconds with an offset"),
        pytest.param("2025-01-15T20:30:00+02:00", 1736965800, id="positive offset"),
        pytest.param("2025-01-15T20:30:00+0200", 1736965800, id="offset without colon"),
        pytest.param("2025-01-15T13:00:00-05:30", 1736965800, id="negative offset with minutes"),
        pytest.param("2025-01-15T18:30:00+00:00", 1736965800, id="zero offset"),
        pytest.param(" 2025-01-15T18:30:00Z\n", 1736965800, id="surrounding whitespace"),
        pytest.param("1970-01-01T00:00:00Z", 0, id="the epoch"),
        pytest.param("0001-01-01T00:00:00Z", -62135596800, id="year 1"),
        pytest.param("9999-12-31T23:59:59Z", 253402300799, id="year 9999"),
    ],
)
def test_created_epoch(created_at, epoch):
    assert created_epoch({"created_at": created_at}) == epoch


@pytest.mark.parametrize(
    "created_at",
    [
        pytest.param(None, id="None"),
        pytest.param(1736965800, id="a number"),
        pytest.param("", id="empty"),
        pytest.param("yesterday", id="garbage"),
        pytest.param("2025-01-15", id="a date only"),
        pytest.param("2025-13-01T00:00:00Z", id="month 13"),
        pytest.param("2025-02-30T00:00:00Z", id="30 February"),
        pytest.param("2025-01-15T25:61:61Z", id="hour 25"),
        pytest.param("0000-01-01T00:00:00Z", id="year 0"),
        pytest.param("2025-01-15T18:30:00+2", id="short offset"),
        pytest.param("2025-01-15T18:30:00ZZ", id="trailing garbage"),
        pytest.param("x2025-01-15T18:30:00Z", id="leading garbage"),
        pytest.param("2025-01-15T18:30Z", id="no seconds"),
    ],
)
def test_created_epoch_of_garbage_is_none(created_at):
    assert created_epoch({"created_at": created_at}) is None


def test_created_epoch_without_the_key():
    assert created_epoch({}) is None


@pytest.mark.parametrize(
    "seconds, text",
    [
        pytest.param(0, "0m old", id="just now"),
        pytest.param(59, "0m old", id="under a minute"),
        pytest.param(60, "1m old", id="a minute"),
        pytest.param(3599, "59m old", id="under an hour"),
        pytest.param(3600, "1h 0m old", id="an hour"),
        pytest.param(3 * 3600 + 5 * 60 + 59, "3h 5m old", id="hours and minutes"),
        pytest.param(DAY - 1, "23h 59m old", id="under a day"),
        pytest.param(DAY, "1d 0h old", id="a day"),
        pytest.param(3 * DAY + 4 * 3600 + 59 * 60, "3d 4h old", id="days and hours, minutes dropped"),
        pytest.param(400 * DAY, "400d 0h old", id="long ago"),
        pytest.param(-3600, "0m old", id="created in the future (clock skew)"),
        pytest.param(90.9, "1m old", id="fractions of seconds"),
    ],
)
def test_age_text(seconds, text):
    assert age_text({"created_at": "2025-01-15T18:30:00Z"}, 1736965800 + seconds) == text


@pytest.mark.parametrize(
    "snapshot, now",
    [
        ({"created_at": "garbage"}, NOW),
        ({}, NOW),
        ({"created_at": "2025-01-15T18:30:00Z"}, None),
    ],
)
def test_age_unknown(snapshot, now):
    assert age_text(snapshot, now) == "age unknown"


def test_describe():
    snapshot = snap(3, day=15, name="pre")
    assert describe(snapshot) == "pre (id 3, completed, created 2025-01-15T00:00:00Z)"
    assert describe(snapshot, NOW) == "pre (id 3, completed, created 2025-01-15T00:00:00Z, 17d 0h old)"
    assert describe({"name": "x"}, NOW) == "x (id None, None, created None, age unknown)"


def test_describe_all():
    assert describe_all([snap(1, name="a"), snap(2, "failed", name="b")]) == (
        "a (id 1, completed, created 2025-01-01T00:00:00Z); b (id 2, failed, created 2025-01-02T00:00:00Z)"
    )
    assert describe_all([snap(1, name="a")], NOW) == "a (id 1, completed, created 2025-01-01T00:00:00Z, 31d 0h old)"
    assert describe_all([]) == ""


# Picking ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "snapshots, expected",
    [
        pytest.param(listing("1c 2c 3c"), 3, id="the newest completed"),
        pytest.param(listing("1c 2c 3f 4w"), 2, id="failed and working ones are no restore point"),
        pytest.param([snap(1, day=9), snap(2, day=3)], 1, id="by creation time, not id"),
        pytest.param([snap(4, day=9), snap(8, day=9)], 8, id="tie-break by id"),
        pytest.param(listing("1f 2w 3e"), None, id="none completed"),
        pytest.param([], None, id="no snapshot"),
    ],
)
def test_last_completed(snapshots, expected):
    found = last_completed(snapshots)
    assert (found["id"] if found else None) == expected


@pytest.mark.parametrize(
    "pattern, expected",
    [
        pytest.param("daily-*", 3, id="the newest completed match"),
        pytest.param("weekly-*", 5, id="another pattern"),
        pytest.param("monthly-*", None, id="nothing matches"),
        pytest.param("*", 5, id="everything"),
    ],
)
def test_newest_completed_matching(pattern, expected):
    snapshots = [
        snap(1, name="daily-1"),
        snap(2, name="weekly-2"),
        snap(3, name="daily-3"),
        snap(4, "failed", name="daily-4"),
        snap(5, name="weekly-5"),
        snap(6, "in_progress", name="daily-6"),
    ]
    found = newest_completed_matching(snapshots, pattern)
    assert (found["id"] if found else None) == expected


def test_named_filters_by_server_and_name_lowest_id_first():
    snapshots = [snap(9, name="pre"), snap(3, name="pre", day=20), snap(4, name="pre", server=2), snap(5, name="other"), snap(7, "failed", name="pre")]
    assert ids(named(snapshots, SERVER, "pre")) == [3, 7, 9]
    assert ids(named([snap(1, name="pre"), dict(snap(1, name="pre"), id=None)], SERVER, "pre")) == [None, 1]
    assert ids(named(snapshots, 2, "pre")) == [4]
    assert named(snapshots, SERVER, "missing") == []


@pytest.mark.parametrize(
    "snapshots, expected",
    [
        pytest.param(
            [snap(7, name="pre"), snap(4, "in_progress", name="pre"), snap(2, "failed", name="pre")], 4, id="converged picks the lowest non-failed id"
        ),
        pytest.param([snap(2, "failed", name="pre"), snap(3, "error", name="pre")], None, id="all failed: none"),
        pytest.param([snap(2, name="pre", server=2), snap(3, name="other")], None, id="other servers and names ignored"),
        pytest.param([snap(9, name="pre", day=1), snap(5, name="pre", day=20)], 5, id="by id, not by creation time"),
    ],
)
def test_converged(snapshots, expected):
    found = converged(snapshots, SERVER, "pre")
    assert (found["id"] if found else None) == expected


# plan_room: what must go before a creation ------------------------------------------------------------------------------

NO_RETENTION = "the server already has 5 snapshots, the provider's limit of 5 per server, and without retention nothing is deleted to make room"
CANNOT = "the server has %d snapshots, the provider's limit of %d, and retention cannot make room: only %s"
LAST_KEPT = "the server's last completed snapshot is kept until the new one has completed (protect_last_completed)"
IN_PROGRESS = "snapshots in progress are never deleted"


def named_listing(*names):
    """Completed snapshots 1..n, each with the given name."""
    return [snap(number, name=name) for number, name in enumerate(names, 1)]


@pytest.mark.parametrize(
    "snapshots, kwargs, deletions",
    [
        pytest.param(listing("1c 2c 3c 4c"), dict(retention=None), [], id="room left: nothing deleted, even without retention"),
        pytest.param([], dict(retention=None), [], id="no snapshot at all"),
        pytest.param(listing("1c 2c 3c 4c 5c"), dict(retention=3), [1], id="at the limit: exactly one, the oldest completed"),
        pytest.param(listing("1c 2c 3c 4c 5c"), dict(retention=0), [1], id="retention 0 is a retention"),
        pytest.param(listing("1c 2f 3c 4f 5c"), dict(retention=3), [2], id="failed first: the oldest failed before any completed"),
        pytest.param(
            listing("1c 2c 3c 4f 5c 6c"), dict(retention=3), [4, 1], id="over the limit: as many as the limit forces, failed first then oldest completed"
        ),
        pytest.param(listing("1f 2f 3f 4f 5f"), dict(retention=1), [1], id="only failed ones"),
        pytest.param(listing("1w 2q 3c 4c 5c"), dict(retention=3), [3], id="in_progress and unknown statuses never deleted"),
        pytest.param(
            listing("1w 2w 3w 4w 5c"), dict(retention=1, protect_last_completed=False), [5], id="protect_last_completed=False allows the last completed"
        ),
        pytest.param(listing("1w 2w 3w 4w 5f"), dict(retention=1), [5], id="exactly as many candidates as needed"),
        pytest.param(
            named_listing("daily-1", "manual-2", "daily-3", "manual-4", "daily-5"),
            dict(retention=2, pattern="daily-*"),
            [1],
            id="only names matching the pattern",
        ),
        pytest.param(listing("1c 2c 3c 4c 5c"), dict(retention=2, protected_ids=[1, 2]), [3], id="protected ids never deleted"),
        pytest.param(listing("1c 2c 3c"), dict(retention=2, limit=3), [1], id="the limit is an option"),
        pytest.param(listing("1c 2c"), dict(retention=2, limit=3), [], id="below a lower limit"),
    ],
)
def test_plan_room_deletions(snapshots, kwargs, deletions):
    kwargs.setdefault("pattern", "*")
    plan = plan_room(snapshots, **kwargs)
    assert plan.problem is None
    assert ids(plan.deletions) == deletions


@pytest.mark.parametrize(
    "snapshots, kwargs, problem",
    [
        pytest.param(listing("1c 2c 3c 4c 5c"), dict(retention=None), NO_RETENTION, id="retention missing"),
        pytest.param(
            listing("1w 2w 3w 4w 5c"),
            dict(retention=1),
            CANNOT % (5, 5, "0 match retention_match '*' and may be deleted; " + LAST_KEPT + "; " + IN_PROGRESS),
            id="in-progress never deleted, the last completed kept",
        ),
        pytest.param(
            listing("1w 2w 3w 4c 5c 6w"),
            dict(retention=1),
            CANNOT % (6, 5, "1 match retention_match '*' and may be deleted; " + LAST_KEPT + "; " + IN_PROGRESS),
            id="not enough candidates: two needed, one may go",
        ),
        pytest.param(
            listing("1w 2w 3w 4w 5w"),
            dict(retention=1, protect_last_completed=False),
            CANNOT % (5, 5, "0 match retention_match '*' and may be deleted; " + IN_PROGRESS),
            id="all in progress",
        ),
        pytest.param(
            listing("1w 2w 3w 4w 5c"),
            dict(retention=1, protected_ids=[5], protect_last_completed=False),
            CANNOT % (5, 5, "0 match retention_match '*' and may be deleted; " + IN_PROGRESS),
            id="protected ids, without protect_last_completed",
        ),
        pytest.param(
            named_listing("manual-1", "manual-2", "manual-3", "manual-4", "manual-5"),
            dict(retention=1, pattern="daily-*"),
            CANNOT % (5, 5, "0 match retention_match 'daily-*' and may be deleted"),
            id="nothing matches the pattern: the last completed is not the reason",
        ),
        pytest.param(
            named_listing("manual-1", "manual-2", "manual-3", "manual-4", "x-5"),
            dict(retention=1, pattern="x*"),
            CANNOT % (5, 5, "0 match retention_match 'x*' and may be deleted; " + LAST_KEPT),
            id="only the last completed matches",
        ),
    ],
)
def test_plan_room_problems_say_why(snapshots, kwargs, problem):
    kwargs.setdefault("pattern", "*")
    plan = plan_room(snapshots, **kwargs)
    assert plan.problem == problem
    assert plan.deletions == []


def test_plan_room_without_retention_names_the_count_and_the_limit():
    plan = plan_room(listing("1c 2c 3c"), None, "*", limit=3)
    assert plan.problem == ("the server already has 3 snapshots, the provider's limit of 3 per server, and without retention nothing is deleted to make room")


def test_plan_room_default_limit_is_the_providers_five():
    assert plan_room(listing("1c 2c 3c 4c"), None, "*").deletions == []
    assert plan_room(listing("1c 2c 3c 4c 5c"), None, "*").problem == NO_RETENTION


# plan_retention: what goes once the kept snapshot has completed ---------------------------------------------------------


@pytest.mark.parametrize(
    "snapshots, keep, kwargs, deletions",
    [
        pytest.param(
            listing("1f 2f 3c 4f 5f"),
            3,
            dict(retention=1),
            [1, 2, 4, 5],
            id="one completed and four failed: retention deletes failed ones, never the only completed",
        ),
        pytest.param(listing("1c 2f 3f 4f 5f 6w"), 6, dict(retention=1), [2, 3, 4, 5], id="the only completed stays while the kept one is in progress"),
        pytest.param(
            listing("1c 2f 3f 4f 5f 6w"),
            6,
            dict(retention=1, protect_last_completed=False),
            [2, 3, 4, 5, 1],
            id="protect_last_completed=False allows the previous last completed",
        ),
        pytest.param(listing("1c 2c 3c 4c 5c"), 5, dict(retention=2), [1, 2, 3], id="beyond retention: the oldest completed go"),
        pytest.param(listing("1c 2c 3c 4c 5c"), 5, dict(retention=5), [], id="within retention: nothing"),
        pytest.param(listing("1c 2c 3c"), 3, dict(retention=0), [1, 2], id="retention 0 keeps only the kept one"),
        pytest.param(listing("1c 2c 3c 4c 5c"), 5, dict(retention=None), [], id="no retention: nothing, not even failed"),
        pytest.param(listing("1f 2c"), 2, dict(retention=None), [], id="no retention: failed ones stay too"),
        pytest.param(listing("1w 2q 3c 4c"), 4, dict(retention=1), [3], id="working ones never deleted nor counted"),
        pytest.param(listing("1c 2c 3c 4c 5c"), 5, dict(retention=2, protected_ids=[1]), [2, 3, 4], id="protected ids are kept, and count as kept"),
        pytest.param(
            [snap(1, name="daily-1"), snap(2, name="daily-2"), snap(3, name="daily-3"), snap(4, name="manual-4")],
            4,
            dict(retention=2, pattern="daily-*"),
            [1],
            id="the kept snapshot counts only when its name matches",
        ),
        pytest.param(
            [snap(1, name="daily-1"), snap(2, name="daily-2"), snap(3, name="daily-3"), snap(4, name="daily-4")],
            4,
            dict(retention=2, pattern="daily-*"),
            [1, 2],
            id="a matching kept snapshot counts once",
        ),
        pytest.param(
            [snap(1, name="daily-1"), snap(2, name="daily-2"), snap(3, name="daily-3"), snap(4, "in_progress", name="daily-4")],
            4,
            dict(retention=2, pattern="daily-*"),
            [1, 2],
            id="a kept snapshot listed in progress counts",
        ),
        pytest.param(
            [snap(1, "failed", name="manual-1"), snap(2, "failed", name="daily-2"), snap(3, name="daily-3")],
            3,
            dict(retention=1, pattern="daily-*"),
            [2],
            id="failed ones not matching the pattern stay",
        ),
    ],
)
def test_plan_retention(snapshots, keep, kwargs, deletions):
    kwargs.setdefault("pattern", "*")
    keep_snapshot = next(s for s in snapshots if s["id"] == keep)
    assert ids(plan_retention(snapshots, keep_snapshot, **kwargs)) == deletions


def test_plan_retention_counts_a_kept_snapshot_not_listed_yet():
    snapshots = [snap(1, name="daily-1"), snap(2, name="daily-2"), snap(3, name="daily-3")]
    assert ids(plan_retention(snapshots, snap(4, name="daily-4"), 2, "daily-*")) == [1, 2]
    assert ids(plan_retention(snapshots, snap(4, name="manual-4"), 2, "daily-*")) == [1]


def test_plan_retention_a_kept_snapshot_not_listed_yet_is_the_newest_restore_point():
    """As check mode plans it: once the new snapshot has completed, the previous last completed one is no longer the last."""
    snapshots = listing("1c 2c 3c")
    keep = {"id": None, "server": {"id": SERVER}, "name": "new", "status": "completed", "created_at": at(9)}
    assert ids(plan_retention(snapshots, keep, 1, "*")) == [1, 2, 3]
    assert ids(plan_retention(snapshots, dict(keep, id=9), 1, "*")) == [1, 2, 3]
    assert ids(plan_retention(snapshots, dict(keep, status="in_progress"), 1, "*")) == [1, 2]


def test_plan_retention_takes_a_listed_kept_snapshot_as_listed():
    """Listed still in progress, the kept snapshot does not yet replace the server's last completed one."""
    snapshots = listing("1c 2c 3c 4w")
    assert ids(plan_retention(snapshots, snap(4), 1, "*")) == [1, 2]


def test_plan_retention_never_deletes_the_kept_snapshot_even_if_it_is_old():
    snapshots = [snap(1, name="pre"), snap(2), snap(3)]
    assert ids(plan_retention(snapshots, snapshots[0], 1, "*", protect_last_completed=False)) == [2, 3]


# plan_prune -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "snapshots, kwargs, deletions",
    [
        pytest.param(listing("1c 2c 3f"), dict(keep=1), [3, 1], id="prune keep=1 keeps the newest completed even when a newer failed exists"),
        pytest.param(
            listing("1c 2f 3c 4c 5f 6c"), dict(keep=2), [2, 5, 1, 3], id="keep=2: every failed, then the completed beyond the two newest, oldest first"
        ),
        pytest.param(listing("1c 2c 3c"), dict(keep=3), [], id="keep equal to the count"),
        pytest.param(listing("1c 2c 3c"), dict(keep=1), [1, 2], id="keep counts the protected last completed"),
        pytest.param(listing("1c 2c 3c"), dict(keep=0), [1, 2], id="keep=0 still keeps the last completed"),
        pytest.param(listing("1c 2c 3c"), dict(keep=0, protect_last_completed=False), [1, 2, 3], id="protect_last_completed=False allows it"),
        pytest.param(listing("1w 2q 3c 4c"), dict(keep=0), [3], id="in_progress and unknown statuses never deleted"),
        pytest.param(listing("1w 2q 3c 4c"), dict(older_than_days=1, now=NOW), [3], id="not by age either"),
        pytest.param(listing("1c 2c 3c 4c"), dict(keep=0, protected_ids=[1, 3]), [2], id="protected ids never deleted"),
        pytest.param(listing("1f 2c 3c"), dict(), [], id="neither keep nor age: nothing"),
        pytest.param(listing("1e 2c 3c"), dict(keep=5), [1], id="error counts as failed"),
        pytest.param(
            [
                snap(5, day=5),
                snap(10, "failed", day=10),
                snap(11, created_at="2025-01-11T23:59:59Z"),
                snap(12, day=12),
                snap(20, day=20),
                snap(25, "failed", day=25),
            ],
            dict(older_than_days=20, now=NOW),
            [10, 5, 11],
            id="older_than_days: before the cutoff only, a second before is deleted, exactly at it is kept",
        ),
        pytest.param(
            [snap(1, day=1), snap(2, created_at=None), snap(3, created_at="garbage"), snap(4, day=30)],
            dict(older_than_days=1, now=NOW, protect_last_completed=False),
            [1, 4],
            id="an unknown creation time is never old enough",
        ),
        pytest.param(
            [snap(1, day=1), snap(2, day=10), snap(3, day=20), snap(4, day=25)], dict(keep=2, older_than_days=28, now=NOW), [1, 2], id="both: keep adds to age"
        ),
        pytest.param(
            [snap(1, day=1), snap(2, day=2), snap(3, day=25), snap(4, day=26)], dict(keep=3, older_than_days=20, now=NOW), [1, 2], id="both: age adds to keep"
        ),
        pytest.param([snap(1, day=1), snap(2, day=2)], dict(older_than_days=0.5, now=NOW), [1], id="fractional days"),
    ],
)
def test_plan_prune(snapshots, kwargs, deletions):
    kwargs.setdefault("pattern", "*")
    assert ids(plan_prune(snapshots, **kwargs)) == deletions


def test_plan_prune_pattern_and_the_servers_last_completed():
    snapshots = [snap(1, name="daily-1"), snap(2, name="daily-2"), snap(3, name="manual-3"), snap(4, "failed", name="manual-4")]
    # keep counts matching snapshots only; the server's last completed (manual-3) is what is protected.
    assert ids(plan_prune(snapshots, "daily-*", keep=1)) == [1]
    assert ids(plan_prune(snapshots, "daily-*", keep=0)) == [1, 2]
    assert ids(plan_prune(snapshots, "manual-*", keep=0)) == [4]


# plan_present -----------------------------------------------------------------------------------------------------------


def present(snapshots, name="pre", **kwargs):
    return plan_present(snapshots, SERVER, name, **kwargs)


def test_plan_present_creates_when_nothing_is_there():
    plan = present([])
    assert (plan.action, plan.snapshot, plan.deletions, plan.problem, plan.notes) == (CREATE, None, [], None, [])


@pytest.mark.parametrize("status", ["completed", "in_progress", "queued"])
def test_plan_present_reuses_a_snapshot_of_that_name(status):
    plan = present([snap(1, name="other"), snap(2, status, name="pre")])
    assert (plan.action, plan.snapshot["id"], plan.deletions, plan.problem, plan.notes) == (REUSE, 2, [], None, [])


def test_plan_present_ignores_that_name_on_another_server():
    plan = present([snap(2, name="pre", server=2)])
    assert (plan.action, plan.snapshot) == (CREATE, None)


def test_plan_present_duplicate_names_reuse_the_oldest_and_say_so():
    plan = present([snap(7, name="pre"), snap(4, "in_progress", name="pre"), snap(2, "failed", name="pre")])
    assert (plan.action, plan.snapshot["id"]) == (REUSE, 4)
    assert plan.notes == ["server 1 has 2 snapshots named 'pre' (ids 4, 7); the oldest, id 4, is the one this task ensures"]


def test_plan_present_a_failed_one_beside_an_alive_one_is_no_duplicate():
    plan = present([snap(2, "failed", name="pre"), snap(3, name="pre")])
    assert (plan.action, plan.snapshot["id"], plan.notes) == (REUSE, 3, [])


@pytest.mark.parametrize("status", ["failed", "error"])
def test_plan_present_retakes_a_failed_snapshot_of_that_name_deleting_it_first(status):
    failed = snap(3, status, name="pre")
    plan = present([snap(1), failed])
    assert (plan.action, plan.snapshot, plan.retake, plan.deletions, plan.problem) == (CREATE, None, [failed], [failed], None)
    assert plan.notes == [
        "Snapshot pre (id 3, %s, created 2025-01-03T00:00:00Z) on server 1 ended %s, so it is no restore point: this task "
        "deletes it and takes snapshot 'pre' again." % (status, status)
    ]


@pytest.mark.parametrize("others", [[], [snap(4, "failed", name="pre", day=1)]])
def test_plan_present_without_retake_failed_refuses_a_failed_namesake_and_deletes_nothing(others):
    failed = snap(3, "failed", name="pre")
    plan = present([snap(1), failed] + others, retake_failed=False)
    assert (plan.action, plan.snapshot, plan.deletions, plan.retake, plan.notes) == (REFUSE, (others or [failed])[-1], [], [], [])
    assert plan.problem == (
        "Snapshot pre (id %s, failed, created %s) on server 1 ended failed, so it is no restore point; with "
        "retake_failed=false it is not taken again." % (plan.snapshot["id"], plan.snapshot["created_at"])
    )


def test_plan_present_without_retake_failed_still_reuses_a_snapshot_in_progress():
    plan = present([snap(3, "failed", name="pre"), snap(5, "in_progress", name="pre")], retake_failed=False)
    assert (plan.action, plan.snapshot["id"]) == (REUSE, 5)


def test_plan_present_retakes_every_failed_namesake_and_names_them_all():
    failed = [snap(3, "failed", name="pre"), snap(8, "error", name="pre", day=1)]
    plan = present(failed)
    assert (plan.action, ids(plan.retake), ids(plan.deletions)) == (CREATE, [3, 8], [3, 8])
    assert plan.notes == [
        "Snapshots pre (id 3, failed, created 2025-01-03T00:00:00Z); pre (id 8, error, created 2025-01-01T00:00:00Z) on server "
        "1 ended failed, so they are no restore points: this task deletes them and takes snapshot 'pre' again."
    ]


def test_plan_present_a_failed_namesake_at_the_limit_makes_its_own_room_without_retention():
    failed = snap(5, "failed", name="pre")
    plan = present(listing("1c 2c 3c 4c") + [failed])
    assert (plan.action, ids(plan.deletions), plan.problem) == (CREATE, [5], None)


def test_plan_present_a_failed_namesake_comes_before_the_deletions_the_limit_forces():
    failed = snap(6, "failed", name="pre")
    plan = present(listing("1c 2c 3c 4c 5c") + [failed], retention=5)
    assert (plan.action, ids(plan.retake), ids(plan.deletions)) == (CREATE, [6], [6, 1])


def test_plan_present_resuming_goes_before_retaking_a_failed_namesake():
    plan = present([snap(3, "failed", name="pre"), snap(4, "in_progress", name="pre-2")], resume_match="pre-*")
    assert (plan.action, plan.snapshot["id"], plan.deletions) == (REUSE, 4, [])


def test_plan_present_resumes_the_newest_in_progress_snapshot_matching_resume_match():
    snapshots = [
        snap(2, "in_progress", name="pre-upgrade-a"),
        snap(3, "in_progress", name="pre-upgrade-b"),
        snap(4, "in_progress", name="other"),
        snap(5, name="pre-upgrade-c"),
    ]
    plan = present(snapshots, name="pre-upgrade-new", resume_match="pre-upgrade-*")
    assert (plan.action, plan.snapshot["id"], plan.deletions, plan.problem) == (REUSE, 3, [], None)
    assert plan.notes == [
        "snapshot pre-upgrade-b (id 3, in_progress, created 2025-01-03T00:00:00Z) matches resume_match 'pre-upgrade-*' and is "
        "still in progress (an interrupted run's?): it is reused instead of taking 'pre-upgrade-new'"
    ]


@pytest.mark.parametrize(
    "snapshots, resume_match",
    [
        pytest.param([snap(2, name="pre-upgrade-a")], "pre-upgrade-*", id="a completed match is not resumed"),
        pytest.param([snap(2, "failed", name="pre-upgrade-a")], "pre-upgrade-*", id="a failed match is not resumed"),
        pytest.param([snap(2, "in_progress", name="other")], "pre-upgrade-*", id="no match"),
        pytest.param([snap(2, "in_progress", name="pre-upgrade-a")], None, id="without resume_match nothing is resumed"),
        pytest.param([snap(2, "in_progress", name="pre-upgrade-a")], "", id="an empty resume_match resumes nothing"),
    ],
)
def test_plan_present_creates_when_nothing_resumes(snapshots, resume_match):
    plan = present(snapshots, name="pre-upgrade-new", resume_match=resume_match)
    assert (plan.action, plan.snapshot, plan.notes) == (CREATE, None, [])


def test_plan_present_prefers_its_own_name_to_resuming():
    snapshots = [snap(2, "in_progress", name="pre-upgrade-a"), snap(3, name="pre-upgrade-new")]
    plan = present(snapshots, name="pre-upgrade-new", resume_match="pre-upgrade-*")
    assert (plan.action, plan.snapshot["id"], plan.notes) == (REUSE, 3, [])


def test_plan_present_refuses_at_the_limit_without_retention_listing_the_snapshots():
    snapshots = listing("1c 2c 3c 4c 5c")
    plan = present(snapshots)
    assert (plan.action, plan.snapshot, plan.deletions) == (REFUSE, None, [])
    assert plan.problem == "Cannot take snapshot 'pre' of server 1: %s. Its snapshots: %s." % (NO_RETENTION, describe_all(snapshots))
    assert "snap-1 (id 1, completed, created 2025-01-01T00:00:00Z); snap-2 (id 2" in plan.problem


@pytest.mark.parametrize(
    "kwargs, deletions",
    [
        pytest.param(dict(retention=2), [1], id="retention: the oldest goes"),
        pytest.param(dict(retention=2, pattern="daily-*"), [2], id="the pattern reaches the room plan"),
        pytest.param(dict(retention=2, pattern="daily-*", protected_ids=[2]), [4], id="protected ids reach the room plan"),
        pytest.param(
            dict(retention=2, pattern="daily-*", protected_ids=[2, 4], protect_last_completed=False), [5], id="protect_last_completed reaches the room plan"
        ),
    ],
)
def test_plan_present_creates_after_the_deletions_the_limit_forces(kwargs, deletions):
    snapshots = named_listing("manual-1", "daily-2", "manual-3", "daily-4", "daily-5")
    plan = present(snapshots, **kwargs)
    assert (plan.action, plan.problem, plan.notes) == (CREATE, None, [])
    assert ids(plan.deletions) == deletions


@pytest.mark.parametrize("failed_ids", [[6], [6, 7]])
def test_plan_present_refusing_with_failed_namesakes_names_the_newest_of_them(failed_ids):
    """A listing over the limit (failed snapshots left beside five others): the refusal's snapshot is the newest failed
    namesake, the one the user asked for by name."""
    failed = [snap(number, "failed", name="pre") for number in failed_ids]
    plan = present(listing("1c 2c 3c 4c 5c") + failed)
    assert (plan.action, plan.snapshot, plan.deletions) == (REFUSE, failed[-1], [])


def test_plan_present_refuses_when_retention_cannot_make_room():
    snapshots = named_listing("manual-1", "daily-2", "manual-3", "daily-4", "daily-5")
    plan = present(snapshots, retention=2, pattern="daily-*", protected_ids=[2, 4])
    assert plan.action == REFUSE
    assert plan.problem == "Cannot take snapshot 'pre' of server 1: %s. Its snapshots: %s." % (
        CANNOT % (5, 5, "0 match retention_match 'daily-*' and may be deleted; " + LAST_KEPT),
        describe_all(snapshots),
    )


# Consistency notes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "description, mode, release, expected",
    [
        (None, "freeze", "completed", "[vps.cloud quiesce: freeze held until completed]"),
        ("Before the upgrade", "tasks", "accepted", "Before the upgrade [vps.cloud quiesce: tasks held until accepted]"),
        ("Nightly", "sync", "completed", "Nightly [vps.cloud quiesce: sync]"),
        ("", "none", "accepted", "[vps.cloud quiesce: none]"),
        # A description that already carries a note (a retake) gets the new note only.
        ("Old [vps.cloud quiesce: sync] text", "freeze", "accepted", "Old  text [vps.cloud quiesce: freeze held until accepted]"),
    ],
)
def test_the_quiesce_note_is_appended_once(description, mode, release, expected):
    assert selection.with_quiesce_note(description, mode, release) == expected


@pytest.mark.parametrize(
    "mode, release, consistency",
    [
        ("freeze", "completed", "quiesced (freeze until completed)"),
        ("tasks", "accepted", "quiesced (tasks until accepted)"),
        ("sync", "completed", "flushed (sync)"),
        ("none", "completed", "crash-consistent"),
    ],
)
def test_a_noted_snapshot_reads_back_as_noted(mode, release, consistency):
    snapshot = {"description": selection.with_quiesce_note("Taken before work", mode, release)}
    assert selection.consistency_of(snapshot) == consistency
    assert selection.is_quiesced(snapshot) is consistency.startswith("quiesced")


def test_a_snapshot_without_a_note_is_of_unknown_consistency():
    assert selection.consistency_of({"description": None}) == "unknown"
    assert selection.consistency_of({}) == "unknown"
    assert selection.is_quiesced({"description": "quiesced by hand"}) is False


def _restorable(snapshot_id, created_at, status="completed", mode=None, name="pre-upgrade-1"):
    description = selection.with_quiesce_note("x", mode) if mode else "x"
    return {"id": snapshot_id, "name": name, "status": status, "created_at": created_at, "description": description, "server": {"id": 1, "name": "web"}}


def test_prefer_quiesced_picks_an_older_quiesced_snapshot_over_a_newer_torn_one():
    older_frozen = _restorable(801, "2025-01-01T00:00:00Z", mode="freeze")
    newer_synced = _restorable(802, "2025-01-02T00:00:00Z", mode="sync")
    newest_frozen_failed = _restorable(803, "2025-01-03T00:00:00Z", status="failed", mode="freeze")
    other_name = _restorable(804, "2025-01-04T00:00:00Z", mode="freeze", name="nightly")
    listing = [older_frozen, newer_synced, newest_frozen_failed, other_name]
    assert selection.newest_completed_matching(listing, "pre-upgrade-*", prefer_quiesced=True) is older_frozen
    assert selection.newest_completed_matching(listing, "pre-upgrade-*") is newer_synced


def test_prefer_quiesced_without_a_quiesced_match_takes_the_newest_completed():
    listing = [_restorable(801, "2025-01-01T00:00:00Z"), _restorable(802, "2025-01-02T00:00:00Z", mode="sync")]
    assert selection.newest_completed_matching(listing, "pre-upgrade-*", prefer_quiesced=True)["id"] == 802
    assert selection.newest_completed_matching([], "pre-upgrade-*", prefer_quiesced=True) is None
