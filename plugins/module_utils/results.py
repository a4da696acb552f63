# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a task returns: the one place that turns an engine's entries into results, messages and diffs. Private to
this collection.

The engines (present, absent, restore) change things and record what they did on their entries; this module
only reads those records. A batch (batch.py) puts these per-target results together.
"""

from __future__ import annotations

from ansible_collections.vps.cloud.plugins.module_utils.selection import (
    CREATE,
    age_text,
    clean_server,
    clean_snapshot,
    describe,
    newest_first,
)
from ansible_collections.vps.cloud.plugins.module_utils.service import TaskFailed, with_changes_made

PRUNED_HEADER = "snapshots pruned by retention"
PRUNE_HEADER = "snapshots pruned"


def task_result(result):
    """The result of a task that names one target: returned, or raised as TaskFailed when it failed."""
    if result.pop("failed", False):
        raise TaskFailed(result)
    return result


# state=present -----------------------------------------------------------------------------------


def entry_result(entry, options, check_mode, now):
    """The result of one server: what a vps_snapshot task returns, or one element of a batch's `results`."""
    snapshot = clean_snapshot(entry.snapshot)
    pruned = [clean_snapshot(s) for s in entry.preview] if check_mode else list(entry.changes.deleted)
    would_change = check_mode and entry.error is None and (entry.plan.action == CREATE or bool(pruned))
    changed = bool(entry.changes) or would_change
    result = dict(changed=changed, server_id=entry.server_id, snapshot=snapshot, created=bool(snapshot) and snapshot.get("id") in entry.own_ids)
    if options.retention is not None or pruned:
        result["pruned"] = pruned
    before = clean_snapshot(entry.before)
    diff = dict(before=before, after=snapshot)
    if pruned:
        listing = "".join("%s\n" % describe(s, now) for s in (entry.preview if check_mode else entry.changes.deleted))
        diff = [diff, dict(before_header=PRUNED_HEADER, after_header=PRUNED_HEADER, before=listing, after="")]
    result["diff"] = diff
    if entry.warnings:
        result["warnings"] = list(entry.warnings)
    if entry.error is not None:
        result.update(entry.error.details)
        result["snapshot"] = snapshot or result.get("snapshot", {})
        result["failed"] = True
        result["msg"] = with_changes_made(entry.error.message, now, entry.changes)
    else:
        result["msg"] = _success_message(entry, snapshot, pruned, check_mode, now)
    return result


def _success_message(entry, snapshot, pruned, check_mode, now):
    if check_mode:
        head = (
            "Would take snapshot %r of server %s" % (entry.name, entry.server_id)
            if entry.plan.action == CREATE
            else "Snapshot %s of server %s exists" % (describe(snapshot), entry.server_id)
        )
        tail = "; would delete %s" % "; ".join(describe(s, now) for s in pruned) if pruned else ""
        return "Check mode: %s%s." % (head, tail)
    verb = "Took" if entry.own_ids and snapshot.get("id") in entry.own_ids else "Ensured"
    head = "%s snapshot %s of server %s" % (verb, describe(snapshot), entry.server_id)
    tail = "; deleted %s" % "; ".join(describe(s, now) for s in entry.changes.deleted) if entry.changes.deleted else ""
    return head + tail + "."


# state=absent and prune -------------------------------------------------------------------------


def absent_result(entry, check_mode, now):
    """What one state=absent target returns."""
    snapshot = clean_snapshot(entry.to_delete[0]) if entry.to_delete else {}
    gone = entry.to_delete if check_mode else entry.changes.deleted
    result = dict(
        changed=bool(entry.changes) or (check_mode and bool(entry.to_delete)),
        snapshot=snapshot,
        diff=dict(before=snapshot, after={}),
        preview=[_preview_line(s, now) for s in gone],
    )
    if entry.error is not None:
        result.update(entry.error.details)
        result.update(failed=True, msg=with_changes_made(entry.error.message, now, entry.changes))
    elif snapshot and check_mode:
        result["msg"] = "Check mode: would delete snapshot %s." % describe(snapshot, now)
    elif entry.changes.deleted:
        result["msg"] = "Deleted snapshot %s.%s" % (describe(snapshot, now), _lost_answers(entry.changes))
    elif snapshot:
        result["msg"] = (
            "Snapshot %s was already gone: the API answered this task's first DELETE with 404, so someone else "
            "deleted it first. This task deleted nothing." % describe(snapshot, now)
        )
    else:
        result["msg"] = "No such snapshot; nothing to delete."
    return result


def _lost_answers(changes):
    """' The answer to its DELETE was lost (...); ...' for each deletion known only afterwards, or ''."""
    lost = [(s, changes.answers_lost[s.get("id")]) for s in changes.deleted if s.get("id") in changes.answers_lost]
    if len(lost) == 1 and len(changes.deleted) == 1:
        return " The answer to its DELETE was lost (%s); %s." % lost[0][1]
    return "".join(" The answer to the DELETE of %s was lost (%s); %s." % ((describe(s),) + why) for s, why in lost)


def prune_result(entry, check_mode, now):
    """What prune returns for one server: what went (or would go), and what stays."""
    pruned = [clean_snapshot(s) for s in (entry.to_delete if check_mode else entry.changes.deleted)]
    gone = [] if check_mode else [clean_snapshot(s) for s in entry.changes.gone]
    result = dict(
        server_id=entry.server_id,
        changed=bool(pruned),
        pruned=pruned,
        already_gone=gone,
        kept=[clean_snapshot(s) for s in newest_first(entry.kept)],
        preview=[_preview_line(s, now) for s in pruned],
    )
    if entry.error is not None:
        result.update(entry.error.details)
        result.update(failed=True, msg=with_changes_made(entry.error.message, now, entry.changes))
    elif check_mode:
        result["msg"] = "Server %s: would delete %d snapshot(s)%s" % (
            entry.server_id,
            len(pruned),
            (": " + "; ".join(describe(s, now) for s in pruned)) if pruned else ".",
        )
    else:
        # What was done, counted: this task's deletions, then those someone else made first.
        parts = ["deleted %d snapshot(s)%s" % (len(pruned), (": " + "; ".join(describe(s, now) for s in pruned)) if pruned else "")]
        if gone:
            parts.append("%d already gone (deleted by someone else before this task's DELETE): %s" % (len(gone), "; ".join(describe(s, now) for s in gone)))
        result["msg"] = "Server %s: %s.%s" % (entry.server_id, ", and ".join(parts), _lost_answers(entry.changes))
    return result


def counted_prune(prune, check_mode):
    """Run `prune()` (a whole prune task) and open its msg with what it did, counted per server (prune_summary)."""
    try:
        result = prune()
    except TaskFailed as exc:
        exc.result["msg"] = "%s. %s" % (prune_summary(exc.result.get("results") or [], check_mode), exc.result.get("msg"))
        raise
    result["msg"] = prune_summary(result.get("results") or [], check_mode) + "."
    return result


def prune_summary(results, check_mode):
    """'Prune: deleted 3 snapshot(s) on 2 server(s), 1 already gone (...), 1 server(s) failed': what a prune did, counted
    once per server (several hosts may name one server)."""
    results = list(dict((r.get("server_id"), r) for r in results).values())
    done = [r for r in results if not r.get("failed")]
    pruned = sum(len(r.get("pruned") or []) for r in results)
    servers = len([r for r in results if r.get("pruned")])
    gone = sum(len(r.get("already_gone") or []) for r in results)
    parts = ["%s %d snapshot(s) on %d server(s)" % ("would delete" if check_mode else "deleted", pruned, servers)]
    if gone:
        parts.append("%d already gone (deleted by someone else first)" % gone)
    if len(done) < len(results):
        parts.append("%d server(s) failed" % (len(results) - len(done)))
    return "Prune%s: %s" % (" (check mode)" if check_mode else "", ", ".join(parts))


def prune_diff(entries, check_mode, now):
    listing = "".join("server %s: %s\n" % (e.server_id, describe(s, now)) for e in entries for s in (e.to_delete if check_mode else e.changes.deleted))
    return dict(before_header=PRUNE_HEADER, after_header=PRUNE_HEADER, before=listing, after="")


def _preview_line(snapshot, now):
    """id, name, status and age of a snapshot that goes (or would go)."""
    return "id %s  %s  %s  %s" % (snapshot.get("id"), snapshot.get("name"), snapshot.get("status"), age_text(snapshot, now))


# state=restored ----------------------------------------------------------------------------------


def restore_result(task, check_mode, now):
    """What a restore returns, so far: the server, the snapshot restored from, the safety snapshot."""
    restored_from = dict((key, task.snapshot.get(key)) for key in ("id", "name", "created_at")) if task.snapshot else {}
    server = clean_server(task.server)
    before = dict(server=clean_server(task.server_before)) if task.server_before else {}
    after = dict(server=server, restored_from=restored_from)
    result = dict(changed=bool(task.changes) or (check_mode and not task.joined), snapshot=clean_snapshot(task.snapshot), server=server)
    if task.joined:
        after = dict(server=server)
    if task.safety_entry is not None:
        safety = entry_result(task.safety_entry, task.safety_options, check_mode, now)
        result["safety_snapshot"] = safety["snapshot"]
        if "pruned" in safety:
            result["pruned"] = safety["pruned"]
        after["safety_snapshot"] = safety["snapshot"]
    result["diff"] = dict(before=before, after=after)
    if task.warnings:
        result["warnings"] = list(task.warnings)
    return result


def restore_failed(task, exc):
    """The TaskFailed of a restore that stopped at `exc`, with whatever it changed before (a safety snapshot...)."""
    now = task.service.now()
    result = restore_result(task, task.service.check_mode, now) if task.snapshot else {}
    result.update(exc.details)
    safety_changes = task.safety_entry.changes if task.safety_entry is not None else None
    result.update(failed=True, changed=bool(task.changes) or bool(safety_changes), msg=with_changes_made(exc.message, now, safety_changes, task.changes))
    return TaskFailed(result)


def restore_done(task, message):
    """What a restore that ended well returns: `message`, then what its safety snapshot did."""
    now = task.service.now()
    result = restore_result(task, task.service.check_mode, now)
    if task.safety_entry is not None:
        safety = task.safety_entry
        if task.service.check_mode:
            message += " Would first take safety snapshot %r%s." % (task.safety.name, "".join("; would delete %s" % describe(s, now) for s in safety.preview))
        else:
            message += " Safety snapshot taken first: %s." % describe(safety.snapshot)
            if safety.changes.deleted:
                message += " Its retention deleted %s." % "; ".join(describe(s, now) for s in safety.changes.deleted)
    result["msg"] = message
    return result
