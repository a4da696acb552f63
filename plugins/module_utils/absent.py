# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Deleting snapshots: state=absent for one or many, and prune. Private to this collection.

Both read every server concerned in as few listings as possible, decide with selection.py,
delete at most `concurrency` servers at a time (each server's deletions in order), then wait once
until every deleted snapshot has left the listing.
"""

from __future__ import annotations

from ansible_collections.vps.cloud.plugins.module_utils.selection import (
    clean_snapshot,
    describe,
    named,
    name_matches,
    plan_prune,
    server_id_of,
)
from ansible_collections.vps.cloud.plugins.module_utils.request import Entry, SnapshotRequest, for_each
from ansible_collections.vps.cloud.plugins.module_utils.service import SnapshotError

FOLLOW_ADVICE = "The deletion goes on at the provider; rerunning the task is safe."


class DeletionEntry(Entry):
    """One snapshot to delete (state=absent), or one server to prune: what goes, and what stays."""

    def __init__(self, request):
        super().__init__(request)
        self.snapshot_id = request.snapshot_id
        self.to_delete = []
        self.kept = []


def ensure_absent(service, requests, wait=True, wait_timeout=1800):
    """Delete the snapshot each request names (by snapshot_id, or by server_id and name) if it exists; returns the
    DeletionEntry of each."""
    entries = [DeletionEntry(request) for request in requests]
    listings = _read(service, entries, account=any(e.server_id is None for e in entries))
    for entry in entries:
        listing = listings.get(entry.server_id) if entry.server_id is not None else listings.get(None)
        if _failed_read(entry, listing):
            continue
        try:
            found = find_target(listing, entry.snapshot_id, entry.server_id, entry.name, account=service.list)
        except SnapshotError as exc:
            entry.fail(exc)
            continue
        entry.to_delete = [found] if found else []
    _delete_and_wait(service, entries, wait, wait_timeout)
    return entries


def ensure_pruned(service, server_ids, pattern, keep=None, older_than_days=None, protect_last_completed=True, wait=True, wait_timeout=1800):
    """Prune each server by the rules of selection.plan_prune; returns the DeletionEntry of each server."""
    entries = [DeletionEntry(SnapshotRequest(server_id=server_id)) for server_id in server_ids]
    listings = _read(service, entries)
    _confirm_servers_exist(service, [e for e in entries if listings[e.server_id] == []])
    now = service.now()
    for entry in entries:
        listing = listings[entry.server_id]
        if not entry.active or _failed_read(entry, listing):
            continue
        entry.to_delete = plan_prune(listing, pattern, keep, older_than_days, now, protect_last_completed)
        to_delete_ids = set(s.get("id") for s in entry.to_delete)
        entry.kept = [s for s in listing if name_matches(s, pattern) and s.get("id") not in to_delete_ids]
    _delete_and_wait(service, entries, wait, wait_timeout)
    return entries


def _confirm_servers_exist(service, entries):
    """A server without any snapshot may be a mistyped id: pruning it would silently do nothing. One that does not
    exist is that entry's error; one that cannot be read otherwise has nothing to prune either, and goes on."""

    def confirm(entry):
        try:
            service.server_presence(entry.server_id)
        except SnapshotError as exc:
            if (exc.details.get("failure") or {}).get("status") == 404:
                raise

    for_each(service, entries, confirm)


def _failed_read(entry, listing):
    """Whether reading the entry's server failed (recorded on it); any other exception is a bug of ours and surfaces."""
    if isinstance(listing, BaseException):
        if not isinstance(listing, SnapshotError):
            raise listing
        entry.fail(listing)
        return True
    return False


def find_target(listing, snapshot_id=None, server_id=None, name=None, account=None):
    """The snapshot a task names, by id or by server and name; None if it does not exist.

    With `account` (a callable returning the account's listing), a snapshot id that exists on another
    server than the one given is an error rather than "not found": one of the two was mistyped, and
    acting on either could hit the wrong server.
    """
    if snapshot_id is not None:
        found = next((s for s in listing if s.get("id") == snapshot_id), None)
        if found is not None and server_id is not None and server_id_of(found) != server_id:
            found, elsewhere = None, found
        elif found is None and server_id is not None and account is not None:
            elsewhere = next((s for s in account() if s.get("id") == snapshot_id), None)
            if elsewhere is not None and server_id_of(elsewhere) == server_id:
                # The server's own listing was read before it showed the snapshot: it is there, on that server.
                found, elsewhere = elsewhere, None
        else:
            elsewhere = None
        if elsewhere is not None:
            raise SnapshotError(
                "Snapshot %s belongs to server %s (%s), not to server %s. Give the server_id it belongs to, or leave server_id out."
                % (describe(elsewhere), server_id_of(elsewhere), (elsewhere.get("server") or {}).get("name"), server_id),
                snapshot=clean_snapshot(elsewhere),
            )
        return found
    matches = named(listing, server_id, name)
    if len(matches) > 1:
        raise SnapshotError(
            "Server %s has %d snapshots named %r (ids %s); refer to one of them with snapshot_id rather than let the module pick."
            % (server_id, len(matches), name, ", ".join(str(s.get("id")) for s in matches)),
            snapshots=[clean_snapshot(s) for s in matches],
        )
    return matches[0] if matches else None


def _read(service, entries, account=False):
    """{server_id: listing or SnapshotError}; with `account`, also {None: the whole account's listing}."""
    if account:
        try:
            everything = service.list()
        except SnapshotError as exc:
            return dict([(None, exc)] + [(e.server_id, exc) for e in entries])
        listings = dict((e.server_id, [s for s in everything if server_id_of(s) == e.server_id]) for e in entries)
        listings[None] = everything
        return listings
    return service.listings([e.server_id for e in entries])


def _delete_and_wait(service, entries, wait, wait_timeout):
    if service.check_mode:
        return
    deadline = service.clock() + wait_timeout

    def delete_all(entry):
        for snapshot in entry.to_delete:
            service.delete(snapshot, entry.changes)

    for_each(service, [e for e in entries if e.to_delete], delete_all)
    if wait:
        _await_gone(service, [e for e in entries if e.changes.deleted], deadline, wait_timeout)


def _await_gone(service, entries, deadline, wait_timeout):
    """Wait until every deleted snapshot has left its server's listing (one listing covering all per poll)."""
    if not entries:
        return
    # {snapshot id: (its server, the entry that deleted it)}
    pending = dict((s.get("id"), (server_id_of(s), e)) for e in entries for s in e.changes.deleted)

    def check():
        listings = service.listings(set(server for server, unused in pending.values()))
        for server_id, listing in listings.items():
            if isinstance(listing, BaseException):
                raise listing
            listed = set(s.get("id") for s in listing)
            for snapshot_id in [i for i, (server, unused) in pending.items() if server == server_id and i not in listed]:
                del pending[snapshot_id]
        return not pending, None, "still listed: %s" % ", ".join(str(i) for i in sorted(pending))

    try:
        service.wait(
            check,
            deadline - service.clock(),
            "%d deleted snapshot(s) to disappear" % len(pending),
            "deleting",
            check_first=True,
            advice=FOLLOW_ADVICE,
            limit=wait_timeout,
        )
    except SnapshotError as exc:
        for dummy, entry in pending.values():
            # A DELETE that failed earlier is the first thing the user must read: the timeout does not hide it.
            entry.fail(exc)
