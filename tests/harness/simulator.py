# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The simulator (tools/vps_simulator) and what the provider saw.

The request-log readers take a list of log entries (``calls(sim)``, or a slice of it), so that a test can look at
one step of a longer story; ``calls(sim)`` is the whole log of API requests.
"""

from __future__ import annotations

from ansible_collections.vps.cloud.tools.vps_simulator import Simulator

__all__ = [
    "Simulator",
    "fast_simulator",
    "api_calls",
    "calls",
    "last_seq",
    "within",
    "creation_posts",
    "restore_posts",
    "deletes",
    "deleted_ids",
    "restored_ids",
    "writes",
    "listings",
    "of_server",
    "names",
]


def fast_simulator(token, servers, **settings):
    """A simulator accepting `token`, with fast operations (1 s creations and restores) unless the test says otherwise."""
    settings.setdefault("create_seconds", 1)
    settings.setdefault("restore_seconds", 1)
    return Simulator(tokens=[token], servers=servers, **settings)


# The request log ----------------------------------------------------------------------------------


def api_calls(entries, method=None):
    """API requests in a simulator's request log (control calls are never logged), optionally of one method."""
    return [entry for entry in entries if entry["path"].startswith("/api/") and (method is None or entry["method"] == method)]


def calls(sim, method=None, since=0):
    """The API requests the simulator saw (seq > since), optionally of one method."""
    return [entry for entry in api_calls(sim.request_log(), method) if entry["seq"] > since]


def last_seq(sim):
    """The sequence number of the simulator's last logged request (0 before any): `calls(sim, since=...)` after it."""
    log = sim.request_log()
    return log[-1]["seq"] if log else 0


def within(entries, start=None, end=None):
    """The entries logged at or after `start` and at or before `end` (time.time() when the simulator logged them): say,
    the requests of one task, from the task's start and end times."""
    return [entry for entry in entries if (start is None or entry["time"] >= start) and (end is None or entry["time"] <= end)]


def creation_posts(entries, applied_only=False):
    """POST /snapshots/ requests; `applied_only`: those the provider answered 201 (a creation started)."""
    return [entry for entry in entries if entry["method"] == "POST" and entry["path"].endswith("/snapshots/") and (not applied_only or entry["status"] == 201)]


def restore_posts(entries, applied_only=False):
    """POST /snapshots/{id}/restore/ requests; `applied_only`: those the provider answered 200 (a restore started)."""
    return [entry for entry in entries if entry["method"] == "POST" and entry["path"].endswith("/restore/") and (not applied_only or entry["status"] == 200)]


def deletes(entries):
    """DELETE requests, answered or not."""
    return [entry for entry in entries if entry["method"] == "DELETE"]


def deleted_ids(entries, gone_too=False):
    """Ids of the snapshots DELETE requests deleted (answered 204), in the order of the requests. `gone_too`: also those
    answered 404 (the snapshot was already gone, say deleted by an earlier run whose answer never came)."""
    statuses = (204, 404) if gone_too else (204,)
    return [int(entry["path"].rstrip("/").rsplit("/", 1)[1]) for entry in deletes(entries) if entry["status"] in statuses]


def restored_ids(entries):
    """Ids of the snapshots whose restore the provider started (answered 200), in order."""
    return [int(entry["path"].rstrip("/").split("/")[-2]) for entry in restore_posts(entries, applied_only=True)]


def writes(entries):
    """(method, path) of every POST and DELETE, in order."""
    return [(entry["method"], entry["path"]) for entry in entries if entry["method"] in ("POST", "DELETE")]


def listings(entries, server_id=None, account=False):
    """GET /snapshots/ requests: account-wide ones (account=True), or those of one server."""
    found = []
    for entry in entries:
        if entry["method"] != "GET" or not entry["path"].endswith("/snapshots/"):
            continue
        query = entry.get("query") or {}
        sid = query.get("server_id")
        if isinstance(sid, list):
            sid = sid[0] if sid else None
        if account and sid is None:
            found.append(entry)
        elif server_id is not None and sid is not None and int(sid) == server_id:
            found.append(entry)
    return found


# The provider's state ------------------------------------------------------------------------------


def of_server(sim, server_id):
    """The snapshots of one server the provider has now."""
    return [snap for snap in sim.snapshots() if snap["server"]["id"] == server_id]


def names(snapshots):
    return sorted(snap["name"] for snap in snapshots)
