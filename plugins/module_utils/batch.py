# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Many servers in one task: vps_snapshot_batch and vps_snapshot_prune. Private to this collection.

This file hands the requests (options.py builds them from the options) to the engines (present.py,
absent.py) and puts their per-target results (results.py) together into one; the engines do the work,
with exactly the guarantees they give a single server.
"""

from __future__ import annotations

from ansible_collections.vps.cloud.plugins.module_utils.absent import ensure_absent, ensure_pruned
from ansible_collections.vps.cloud.plugins.module_utils.present import PresentOptions, ensure_present
from ansible_collections.vps.cloud.plugins.module_utils.results import absent_result, entry_result, prune_diff, prune_result
from ansible_collections.vps.cloud.plugins.module_utils.selection import describe, is_working
from ansible_collections.vps.cloud.plugins.module_utils.service import TaskFailed

# A failed batch's msg names this many failures in full; every failure is in `results` (and `by_host`).
FAILURES_IN_MSG = 3
# Longest failure message quoted in msg; longer ones are cut there, whole in `results`.
FAILURE_MSG_CHARS = 600
# How many more failed entries msg names (by server or snapshot, and host) after the ones quoted.
LABELS_IN_MSG = 10


def present_options(params):
    return PresentOptions(
        retention=params.get("retention"),
        retention_match=params.get("retention_match") or "*",
        resume_match=params.get("resume_match"),
        protect_last_completed=params.get("protect_last_completed", True),
        wait=params["wait"],
        wait_timeout=params["wait_timeout"],
        wait_for_first=params.get("wait_for") == "first",
        retake_failed=params.get("retake_failed", True),
    )


def batch_present(service, requests, params):
    options = present_options(params)
    # One snapshot per server in a batch (two names for one server are refused before): the first entry for a server
    # is the one that takes it, the others share it.
    first, unique, warnings = {}, [], []
    for index, request in enumerate(requests):
        if request.server_id in first:
            earlier = requests[first[request.server_id]]
            if request.description != earlier.description:
                warnings.append(
                    "%s: snapshot %r is asked for twice in this batch with different descriptions, %s for %s and %s "
                    "for %s: it is taken once, with %s."
                    % (
                        _label(dict(server_id=request.server_id, host=request.host)),
                        request.name,
                        _quoted(earlier.description),
                        _entry_name(earlier, first[request.server_id]),
                        _quoted(request.description),
                        _entry_name(request, index),
                        _quoted(earlier.description),
                    )
                )
            continue
        first[request.server_id] = index
        unique.append(request)
    entries = dict((entry.server_id, entry) for entry in ensure_present(service, unique, options))
    now = service.now()
    results, owners = [], []
    for index, request in enumerate(requests):
        result = dict(entry_result(entries[request.server_id], options, service.check_mode, now), host=request.host)
        owner = first[request.server_id]
        if owner != index:
            result = _shared(result, _entry_ref(requests[owner], owner), "server")
        results.append(result)
        owners.append(owner == index)
    mine = [r for r, owns in zip(results, owners) if owns]
    diff = dict(
        before=dict((str(r["server_id"]), _diff_part(r, "before")) for r in mine), after=dict((str(r["server_id"]), _diff_part(r, "after")) for r in mine)
    )
    # Still in progress (not waited for, or not yet with wait_for=first): the servers a rerun would wait for.
    pending = sorted(set(e.server_id for e in entries.values() if e.active and is_working(e.snapshot)))
    # In check mode a snapshot to take is the planned one, without an id.
    counts = _count(
        mine,
        service.check_mode,
        [("taken", "to take"), ("already there", "already there")],
        lambda r: "taken" if r.get("created") or (service.check_mode and r["snapshot"].get("id") is None) else "already there",
    )
    extras = []
    deleted = sum(len(r.get("pruned") or []) for r in mine)
    if deleted:
        verb = "to delete" if service.check_mode else "deleted"
        extras.append("%d other%s %s (see pruned)" % (deleted, "" if deleted == 1 else "s", verb))
    if pending and not service.check_mode:
        extras.append("%d still in progress" % len(pending))
    summary = _summary("Snapshots", counts, extras, len(results), len(mine), "server", service.check_mode)
    return _finish(service, results, diff, "snapshot", dict(pending_servers=pending), summary=summary, warnings=warnings, distinct=mine)


def batch_absent(service, requests, params):
    # One deletion per snapshot in a batch: entries naming the same snapshot the same way share the first one's.
    first, unique = {}, []
    for index, request in enumerate(requests):
        if request.target() not in first:
            first[request.target()] = index
            unique.append(request)
    entries = dict((e.request.target(), e) for e in ensure_absent(service, unique, params["wait"], params["wait_timeout"]))
    now = service.now()
    results, mine = [], []
    for index, request in enumerate(requests):
        key = request.target()
        entry = entries[key]
        result = dict(
            absent_result(entry, service.check_mode, now),
            host=request.host,
            snapshot_id=request.snapshot_id,
            server_id=request.server_id or (entry.to_delete[0]["server"]["id"] if entry.to_delete else None),
        )
        if first[key] != index:
            result = _shared(result, _entry_ref(requests[first[key]], first[key]), "snapshot")
        else:
            mine.append(result)
        results.append(result)
    diff = dict(before=dict((str(r["snapshot"]["id"]), r["snapshot"]) for r in mine if r["snapshot"]), after={})
    counts = _count(
        mine, service.check_mode, [("deleted", "to delete"), ("already gone", "already gone")], lambda r: "deleted" if r["changed"] else "already gone"
    )
    summary = _summary("Deletions", counts, [], len(results), len(mine), "snapshot", service.check_mode)
    return _finish(service, results, diff, "deletion", summary=summary, distinct=mine)


def _shared(result, owner, per):
    """The result of an entry that names what an earlier entry (`owner`) already does: the same outcome, no change of its own."""
    shared = dict(result, changed=False)
    for key in ("warnings", "preview"):
        shared.pop(key, None)  # shown once, with the entry that did it
    if "created" in shared:
        shared["created"] = False
    if "pruned" in shared:
        shared["pruned"] = []
    shared["diff"] = dict(before=result["snapshot"], after=result["snapshot"]) if per == "server" else dict(before={}, after={})
    head = "The same snapshot as %s (one %s per %s in a batch)" % (owner, "snapshot" if per == "server" else "deletion", per)
    if result.get("failed"):
        shared["msg"] = "%s, which failed: %s" % (head, result["msg"])
    elif per == "server":
        shared["msg"] = "%s: %s." % (head, describe(result["snapshot"]) if result["snapshot"] else "none")
    else:
        shared["msg"] = "%s: %s" % (head, result["msg"])
    return shared


def _diff_part(result, side):
    return result["diff"][side] if isinstance(result["diff"], dict) else result["diff"][0][side]


def _entry_name(request, index):
    return request.host if request.host else "entry %d" % index


def _entry_ref(request, index):
    return "the entry for %s" % request.host if request.host else "entry %d" % index


def _quoted(text):
    return repr(text) if text is not None else "none"


def _count(results, check_mode, kinds, kind_of):
    """'2 taken, 1 already there, 1 failed': what was done (or would be, in check mode), once per server or snapshot.
    `kinds`: (kind, its words in check mode), in the order shown; `kind_of(result)`: the kind of a result that did not fail."""
    tally = dict((kind, 0) for kind, unused in kinds)
    failed = 0
    for result in results:
        if result.get("failed"):
            failed += 1
        else:
            tally[kind_of(result)] += 1
    counts = ["%d %s" % (tally[kind], in_check_mode if check_mode else kind) for kind, in_check_mode in kinds if tally[kind]]
    if failed:
        counts.append("%d failed" % failed)
    return counts


def _summary(what, actions, extras, entries, distinct, per, check_mode):
    """One line: what was done, then anything else worth knowing, separated by semicolons."""
    text = "; ".join([", ".join(actions) or "nothing to do"] + extras)
    if entries != distinct:
        text += "; %d entries for %d %s%s" % (entries, distinct, per, "" if distinct == 1 else "s")
    return "%s: %s" % ("Check mode, " + what.lower() if check_mode else what, text)


def batch_prune(service, servers, params):
    entries = ensure_pruned(
        service,
        sorted(set(server_id for host, server_id in servers)),
        params["match"],
        keep=params["keep"],
        older_than_days=params["older_than_days"],
        protect_last_completed=params["protect_last_completed"],
        wait=params["wait"],
        wait_timeout=params["wait_timeout"],
    )
    now = service.now()
    by_server = dict((entry.server_id, prune_result(entry, service.check_mode, now)) for entry in entries)
    results = [dict(by_server[server_id], host=host) for host, server_id in servers]
    extra = dict(
        pruned=[snapshot for server_result in by_server.values() for snapshot in server_result["pruned"]],
        preview=["server %s: %s" % (server_id, line) for server_id, r in sorted(by_server.items()) for line in r["preview"]],
    )
    return _finish(service, results, prune_diff(entries, service.check_mode, now), "prune", extra)


def _finish(service, results, diff, what, extra=None, summary=None, warnings=None, distinct=None):
    """The batch's result from its entries' (`distinct`: those that did the work, one per server or snapshot; the others
    share their outcome and are not named twice in msg)."""
    failed = [r for r in results if r.get("failed")]
    failed_servers = sorted(set(r["server_id"] for r in failed if r.get("server_id") is not None))
    # Each server's warnings are shown once, named: they would be lost inside `results` (and `by_host`).
    warnings = list(warnings or [])
    for r in results:
        for warning in r.get("warnings", []):
            line = "%s: %s" % (_label(r), warning)
            if line not in warnings:
                warnings.append(line)
    result = dict(
        changed=any(r["changed"] for r in results),
        results=results,
        diff=diff,
        warnings=warnings,
        by_host=dict((r["host"], r) for r in results if r.get("host") is not None),
        failed_servers=failed_servers,
        requests=dict(sent=service.client.requests_sent, rate_limited=service.client.rate_limited),
    )
    result.update(extra or {})
    if summary is None:
        head = "The %s failed for %d of %d: " % (what, len(failed), len(results))
        result["msg"] = head + _failures(failed, last="") if failed else "%d %s(s) done%s." % (len(results), what, ", check mode" if service.check_mode else "")
    else:
        result["msg"] = "%s. Failed: %s" % (summary, _failures([r for r in distinct if r.get("failed")])) if failed else summary + "."
    if failed:
        raise TaskFailed(result)
    return result


def _failures(failed, last="."):
    """The first failures in full (each cut at FAILURE_MSG_CHARS), then only the labels of a few more: a batch of many
    servers failing must not print pages at default verbosity. Every message is whole in `results` and `by_host`."""
    quoted = []
    for r in failed[:FAILURES_IN_MSG]:
        message = (
            r["msg"] if len(r["msg"]) <= FAILURE_MSG_CHARS else "%s [cut here; the whole message is in results]" % (r["msg"][:FAILURE_MSG_CHARS].rstrip(" .;,"))
        )
        quoted.append("%s: %s" % (_label(r), message))
    # Joined by semicolons: a message's own final period would make ".;".
    text = "; ".join(q.rstrip(".") for q in quoted[:-1]) + ("; " if len(quoted) > 1 else "") + quoted[-1]
    rest = failed[FAILURES_IN_MSG:]
    if not rest:
        return text.rstrip(".") + last if last else text
    named = ", ".join(_label(r) for r in rest[:LABELS_IN_MSG])
    unnamed = len(rest) - LABELS_IN_MSG
    more = " and %d other%s" % (unnamed, "" if unnamed == 1 else "s") if unnamed > 0 else ""
    return "%s; and %d more: %s%s (every message is in results and by_host)." % (text.rstrip("."), len(rest), named, more)


def _label(result):
    server = (
        "server %s" % result["server_id"]
        if result.get("server_id") is not None
        else "snapshot %s" % (result.get("snapshot_id") or (result.get("snapshot") or {}).get("id"))
    )
    return "%s (%s)" % (server, result["host"]) if result.get("host") else server
