# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What statuses mean, and which snapshots retention, prune and restore pick. Private to this collection.

Pure functions on provider-shaped data: no I/O, no clock of their own (callers pass `now`).
Every entry point (vps_snapshot, vps_snapshot_batch, vps_snapshot_prune, the role and the
playbooks through them) decides with these functions, so the rules hold the same everywhere:

- a failed snapshot is not a restore point: it goes before any completed one and never counts
  towards what is kept;
- the newest completed snapshot of a server (its last restore point) is never deleted while
  it is the last one, unless the caller explicitly allows it;
- a snapshot still in progress, or in any status this collection does not know, is never deleted;
- name patterns are shell-style (``*``, ``?``, ``[...]``), matched case-sensitively.
"""

from __future__ import annotations

import calendar
import datetime
import fnmatch
import re

MAX_SNAPSHOTS_PER_SERVER = 5

COMPLETED = "completed"
IN_PROGRESS = "in_progress"
FAILED_STATUSES = frozenset(("failed", "error"))

# Snapshot kinds, from its status.
RESTORE_POINT = "restore point"
FAILED = "failed"
WORKING = "working"

# Server kinds, from its status.
STABLE_SERVER_STATUSES = frozenset(("running", "stopped"))
# Statuses a server passes through on its way back to running or stopped: waited for, without a word.
TRANSITIONAL_SERVER_STATUSES = frozenset(
    (
        "starting",
        "stopping",
        "rebooting",
        "restarting",
        "booting",
        "shutting_down",
        "snapshotting",
        "restoring",
        "provisioning",
        "creating",
        "building",
        "rebuilding",
        "resizing",
        "migrating",
        "backing_up",
        "updating",
        "pending",
    )
)
# Statuses no wait ends: the server stays in them until someone acts. Any status naming a failure counts too.
FAILED_SERVER_STATUSES = frozenset(("error", "failed", "errored", "crashed", "broken", "fault", "faulted"))
FAILURE_WORDS = re.compile(r"fail|error|crash|fault")
RESTORING = "restoring"
STABLE = "stable"
BUSY = "busy"
SERVER_FAILED = "failed"
UNKNOWN = "unknown"

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
# The provider gives no length limit; refuse absurd names locally rather than send them.
NAME_MAX_LENGTH = 255

SNAPSHOT_FIELDS = ("id", "server", "name", "status", "size_mb", "created_at", "description")
SERVER_REF_FIELDS = ("id", "name")
SERVER_FIELDS = ("id", "name", "status")


# Consistency --------------------------------------------------------------------------------------
# The API keeps no field of its own for how a snapshot was taken, and cannot change a description later: the
# way the host was quiesced is written into the description when the snapshot is requested, and read back here.

QUIESCE_MODES = ("none", "sync", "freeze", "tasks")
QUIESCE_RELEASES = ("accepted", "completed")
QUIESCE_NOTE = re.compile(r"\[vps\.cloud quiesce: (?:(none|sync)|(freeze|tasks) held until (accepted|completed))\]")


def with_quiesce_note(description, mode, release="completed"):
    """`description` with the note of how the host is quiesced for this snapshot (replacing an older note)."""
    note = "[vps.cloud quiesce: %s]" % mode if mode in ("none", "sync") else "[vps.cloud quiesce: %s held until %s]" % (mode, release)
    text = QUIESCE_NOTE.sub("", description or "").strip()
    return "%s %s" % (text, note) if text else note


def consistency_of(snapshot):
    """How consistent a snapshot is, from the note in its description: 'quiesced (freeze until completed)',
    'flushed (sync)', 'crash-consistent' (taken without quiescing), or 'unknown' (not taken with a note)."""
    found = QUIESCE_NOTE.search(snapshot.get("description") or "")
    if found is None:
        return "unknown"
    unheld, mode, release = found.groups()
    if unheld == "none":
        return "crash-consistent"
    if unheld == "sync":
        return "flushed (sync)"
    return "quiesced (%s until %s)" % (mode, release)


def is_quiesced(snapshot):
    return consistency_of(snapshot).startswith("quiesced")


# Statuses -----------------------------------------------------------------------------------------


def snapshot_kind(snapshot):
    """RESTORE_POINT (completed), FAILED, or WORKING (in progress or any status not known to be final)."""
    status = snapshot.get("status")
    if status == COMPLETED:
        return RESTORE_POINT
    if status in FAILED_STATUSES:
        return FAILED
    return WORKING


def is_completed(snapshot):
    return snapshot_kind(snapshot) == RESTORE_POINT


def is_failed(snapshot):
    return snapshot_kind(snapshot) == FAILED


def is_working(snapshot):
    return snapshot_kind(snapshot) == WORKING


def server_kind(status):
    """STABLE (running, stopped), RESTORING, SERVER_FAILED (error, failed or any status naming a failure: waiting would
    not end it), BUSY (stopping, starting, snapshotting, and any status this collection does not know, which is waited
    for like a transitional one) or UNKNOWN (no status)."""
    if status is None:
        return UNKNOWN
    if status in STABLE_SERVER_STATUSES:
        return STABLE
    if status == RESTORING:
        return RESTORING
    if is_failure_status(status):
        return SERVER_FAILED
    return BUSY


def is_failure_status(status):
    """Whether a server status says the server failed (error, failed, restore_failed...), case aside."""
    text = str(status).lower()
    return text in FAILED_SERVER_STATUSES or FAILURE_WORDS.search(text) is not None


def is_unrecognised_server_status(status):
    """A status that is neither stable, nor a failure, nor a transitional status this collection knows."""
    return server_kind(status) == BUSY and status not in TRANSITIONAL_SERVER_STATUSES


# Names and patterns -------------------------------------------------------------------------------


def name_problem(name):
    """Why `name` is not a valid snapshot name, or None."""
    if not isinstance(name, str) or name == "":
        return "must be a non-empty string"
    if len(name) > NAME_MAX_LENGTH:
        return "is %d characters long; at most %d are allowed" % (len(name), NAME_MAX_LENGTH)
    if not NAME_PATTERN.fullmatch(name):
        return "may contain only ASCII letters, digits, hyphens and underscores, got %r" % name
    return None


def pattern_problem(pattern):
    """Why `pattern` is not a usable shell-style name pattern, or None."""
    if not isinstance(pattern, str) or pattern == "":
        return "must be a non-empty shell-style pattern such as 'daily-*'"
    return None


def name_matches(snapshot, pattern):
    return fnmatch.fnmatchcase(snapshot.get("name") or "", pattern)


# Shapes -------------------------------------------------------------------------------------------


def server_id_of(snapshot):
    server = snapshot.get("server")
    return server.get("id") if isinstance(server, dict) else None


def clean_snapshot(raw):
    """Exactly the contract's fields, whatever else the provider adds."""
    if not raw:
        return {}
    snapshot = dict((key, raw.get(key)) for key in SNAPSHOT_FIELDS)
    server = raw.get("server") if isinstance(raw.get("server"), dict) else {}
    snapshot["server"] = dict((key, server.get(key)) for key in SERVER_REF_FIELDS)
    return snapshot


def clean_server(raw):
    return dict((key, (raw or {}).get(key)) for key in SERVER_FIELDS)


def snapshot_shape_problem(item):
    """Why a listed item cannot be a snapshot (the contract's id, name, status and server), or None."""
    if not isinstance(item, dict):
        return "an entry that is not an object (%r)" % (item,)
    if isinstance(item.get("id"), bool) or not isinstance(item.get("id"), int):
        return "an entry without an integer id (%r)" % (item.get("id"),)
    if not isinstance(item.get("name"), str) or not isinstance(item.get("status"), str):
        return "snapshot %s without a name or status" % item["id"]
    if not isinstance(item.get("server"), dict) or isinstance(item["server"].get("id"), bool) or not isinstance(item["server"].get("id"), int):
        return "snapshot %s without its server's id" % item["id"]
    return None


# Ordering and description -------------------------------------------------------------------------


def newest_first(snapshots):
    """Newest first by the instant of created_at, then by id (a later id was created later), as retention and prune see them.

    An unreadable or missing created_at counts as the oldest.
    """

    def key(snapshot):
        created = created_epoch(snapshot)
        return (float("-inf") if created is None else created, snapshot.get("id") or 0)

    return sorted(snapshots, key=key, reverse=True)


def oldest_first(snapshots):
    return list(reversed(newest_first(snapshots)))


def created_epoch(snapshot):
    """created_at as seconds since the epoch (fractions kept), or None when missing or unreadable."""
    value = snapshot.get("created_at")
    if not isinstance(value, str):
        return None
    match = re.match(r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$", value.strip())
    if not match:
        return None
    parts = [int(group) for group in match.groups()[:6]]
    try:
        datetime.datetime(*parts)  # refuses 30 February, hour 25...
        epoch = calendar.timegm((parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], 0, 0, 0))
    except (OverflowError, ValueError):
        return None
    zone = match.group(8)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        epoch -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return epoch + float(match.group(7) or 0)


def age_text(snapshot, now):
    """'3d 4h old', '12m old', or 'age unknown'."""
    created = created_epoch(snapshot)
    if created is None or now is None:
        return "age unknown"
    seconds = max(0, int(now - created))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return "%dd %dh old" % (days, hours)
    if hours:
        return "%dh %dm old" % (hours, minutes)
    return "%dm old" % minutes


def describe(snapshot, now=None):
    """One line naming a snapshot: name, id, status, creation time and, given `now`, its age."""
    text = "%s (id %s, %s, created %s" % (snapshot.get("name"), snapshot.get("id"), snapshot.get("status"), snapshot.get("created_at"))
    if now is not None:
        text += ", " + age_text(snapshot, now)
    return text + ")"


def describe_all(snapshots, now=None):
    return "; ".join(describe(s, now) for s in snapshots)


# Picking ------------------------------------------------------------------------------------------


def last_completed(snapshots):
    """The server's newest completed snapshot (its last restore point), or None."""
    completed = [s for s in snapshots if is_completed(s)]
    return newest_first(completed)[0] if completed else None


def newest_completed_matching(snapshots, pattern, prefer_quiesced=False):
    """The newest completed snapshot whose name matches `pattern`: what a restore by pattern uses. None if there is none.
    With `prefer_quiesced`, the newest completed quiesced one when there is one (an older consistent restore point
    is worth more than a newer torn one), else the newest completed one."""
    matching = [s for s in snapshots if name_matches(s, pattern)]
    if prefer_quiesced:
        quiesced = last_completed([s for s in matching if is_quiesced(s)])
        if quiesced is not None:
            return quiesced
    return last_completed(matching)


def named(snapshots, server_id, name):
    """Snapshots of `server_id` named `name`, oldest (lowest id) first."""
    return sorted((s for s in snapshots if s.get("name") == name and server_id_of(s) == server_id), key=lambda s: s.get("id") or 0)


def converged(snapshots, server_id, name):
    """The one snapshot that every run creating `name` on `server_id` settles on: the lowest id that has not failed.

    Two runs (on one controller or two) that create the same name at the same moment both see both snapshots
    once they are listed, and both pick the lower id; the run that created the other one deletes it.
    """
    alive = [s for s in named(snapshots, server_id, name) if not is_failed(s)]
    return alive[0] if alive else None


# Deletion plans -----------------------------------------------------------------------------------


def _deletable(snapshots, pattern, protected_ids):
    """Matching snapshots retention and prune may ever delete: failed first, then completed, each oldest first."""
    matching = [s for s in snapshots if name_matches(s, pattern) and s.get("id") not in protected_ids]
    failed = oldest_first([s for s in matching if is_failed(s)])
    completed = oldest_first([s for s in matching if is_completed(s)])
    return failed, completed


def _protected_ids(snapshots, protect_last_completed, protected_ids):
    ids = set(protected_ids or ())
    if protect_last_completed:
        last = last_completed(snapshots)
        if last is not None:
            ids.add(last.get("id"))
    return ids


class RoomPlan:
    """Deletions a creation needs before its POST, or why there is no room (`problem`)."""

    def __init__(self, deletions=(), problem=None):
        self.deletions = list(deletions)
        self.problem = problem


def plan_room(snapshots, retention, pattern, protect_last_completed=True, protected_ids=(), limit=MAX_SNAPSHOTS_PER_SERVER):
    """What must go before a new snapshot can be POSTed under the provider's per-server limit.

    As few as the limit forces, failed ones before completed ones, never a working one, never the
    server's last completed snapshot while `protect_last_completed`, never `protected_ids`.
    Without `retention` nothing may be deleted: at the limit that is a problem to report.
    """
    needed = len(snapshots) + 1 - limit
    if needed <= 0:
        return RoomPlan()
    if retention is None:
        return RoomPlan(
            problem="the server already has %d snapshots, the provider's limit of %d per server, and without "
            "retention nothing is deleted to make room" % (len(snapshots), limit)
        )
    failed, completed = _deletable(snapshots, pattern, _protected_ids(snapshots, protect_last_completed, protected_ids))
    candidates = failed + completed
    if needed > len(candidates):
        reasons = ["%d match retention_match %r and may be deleted" % (len(candidates), pattern)]
        if protect_last_completed and last_completed(snapshots) is not None and name_matches(last_completed(snapshots), pattern):
            reasons.append("the server's last completed snapshot is kept until the new one has completed (protect_last_completed)")
        if any(is_working(s) for s in snapshots):
            reasons.append("snapshots in progress are never deleted")
        return RoomPlan(
            problem="the server has %d snapshots, the provider's limit of %d, and retention cannot make room: "
            "only %s" % (len(snapshots), limit, "; ".join(reasons))
        )
    return RoomPlan(candidates[:needed])


def plan_retention(snapshots, keep_snapshot, retention, pattern, protect_last_completed=True, protected_ids=()):
    """What retention deletes once `keep_snapshot` (the snapshot the task ensured) has completed.

    Every failed snapshot whose name matches, then the oldest completed matching ones beyond `retention`
    (the kept snapshot counts if its name matches). Never the kept snapshot, never a working one.
    """
    if retention is None:
        return []
    keep_id = keep_snapshot.get("id")
    # The kept snapshot is one of the server's, listed or not yet (check mode plans one that does not exist).
    server_snapshots = snapshots if any(s.get("id") == keep_id for s in snapshots) and keep_id is not None else list(snapshots) + [keep_snapshot]
    protected = _protected_ids(server_snapshots, protect_last_completed, set(protected_ids) | {keep_id})
    failed, completed = _deletable(snapshots, pattern, protected)
    counted = [s for s in snapshots if name_matches(s, pattern) and is_completed(s)]
    if name_matches(keep_snapshot, pattern) and not any(s.get("id") == keep_id for s in counted):
        counted.append(keep_snapshot)
    over = max(0, len(counted) - retention)
    return failed + completed[:over]


def plan_prune(snapshots, pattern, keep=None, older_than_days=None, now=None, protect_last_completed=True, protected_ids=()):
    """What prune deletes on one server.

    With `keep`: every failed matching snapshot, and the completed matching ones beyond the `keep` newest.
    With `older_than_days`: matching failed or completed ones created more than that many days before `now`.
    Both: either reason. Never a working snapshot, never `protected_ids`, and never the server's last
    completed snapshot while `protect_last_completed`. Returned oldest first, failed ones first.
    """
    failed, completed = _deletable(snapshots, pattern, _protected_ids(snapshots, protect_last_completed, protected_ids))
    chosen = set()
    if keep is not None:
        all_completed = newest_first([s for s in snapshots if name_matches(s, pattern) and is_completed(s)])
        chosen.update(s.get("id") for s in failed)
        chosen.update(s.get("id") for s in all_completed[keep:])
    if older_than_days is not None:
        cutoff = now - older_than_days * 86400
        chosen.update(s.get("id") for s in failed + completed if created_epoch(s) is not None and created_epoch(s) < cutoff)
    return [s for s in failed + completed if s.get("id") in chosen]


# What state=present does on one server ------------------------------------------------------------

REUSE = "reuse"
CREATE = "create"
REFUSE = "refuse"


class PresentPlan:
    """REUSE `snapshot` (completed or still working), CREATE after `deletions`, or REFUSE with `problem`.

    `retake` are the failed snapshots of the same name among `deletions` (first): deleted because the snapshot is
    taken again, not to make room.
    """

    def __init__(self, action, snapshot=None, deletions=(), problem=None, notes=(), retake=()):
        self.action = action
        self.snapshot = snapshot
        self.retake = list(retake)
        self.deletions = list(retake) + [s for s in deletions if s not in retake]
        self.problem = problem
        self.notes = list(notes)


def plan_present(snapshots, server_id, name, retention=None, pattern="*", resume_match=None, protect_last_completed=True, protected_ids=(), retake_failed=True):
    """What state=present does given the server's snapshots.

    A snapshot named `name` that has not failed is reused (the oldest, if racing runs made two). One that
    failed is no restore point: it is retaken, that is deleted (`retake`, reported like any deletion) and the
    snapshot taken again, so that a daily job that failed once still leaves a way back that day. With
    `resume_match`, a snapshot still working whose name matches (left by an interrupted run) is reused
    rather than taking another. Otherwise a new one is created, after the deletions the limit forces.
    With `retake_failed` false, a failed snapshot of that name is refused instead (a caller waiting for what it took).
    """
    same = named(snapshots, server_id, name)
    alive = [s for s in same if not is_failed(s)]
    if alive:
        notes = []
        if len(alive) > 1:
            notes.append(
                "server %s has %d snapshots named %r (ids %s); the oldest, id %s, is the one this task ensures"
                % (server_id, len(alive), name, ", ".join(str(s.get("id")) for s in alive), alive[0].get("id"))
            )
        return PresentPlan(REUSE, snapshot=alive[0], notes=notes)
    if same and not retake_failed:
        return PresentPlan(
            REFUSE,
            snapshot=same[-1],
            problem=(
                "Snapshot %s on server %s ended %s, so it is no restore point; with retake_failed=false it is not taken again."
                % (describe(same[-1]), server_id, same[-1].get("status"))
            ),
        )
    if resume_match:
        working = newest_first([s for s in snapshots if is_working(s) and name_matches(s, resume_match)])
        if working:
            return PresentPlan(
                REUSE,
                snapshot=working[0],
                notes=[
                    "snapshot %s matches resume_match %r and is still in progress (an interrupted run's?): it is reused instead of "
                    "taking %r" % (describe(working[0]), resume_match, name)
                ],
            )
    notes = []
    if len(same) == 1:
        notes.append(
            "Snapshot %s on server %s ended %s, so it is no restore point: this task deletes it and takes snapshot %r "
            "again." % (describe(same[0]), server_id, same[0].get("status"), name)
        )
    elif same:
        notes.append(
            "Snapshots %s on server %s ended failed, so they are no restore points: this task deletes them and takes "
            "snapshot %r again." % (describe_all(same), server_id, name)
        )
    others = [s for s in snapshots if s not in same]
    room = plan_room(others, retention, pattern, protect_last_completed, protected_ids)
    if room.problem:
        return PresentPlan(
            REFUSE,
            snapshot=same[-1] if same else None,
            problem="Cannot take snapshot %r of server %s: %s. Its snapshots: %s." % (name, server_id, room.problem, describe_all(snapshots)),
        )
    return PresentPlan(CREATE, deletions=room.deletions, retake=same, notes=notes)
