# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""state=present for one server (vps_snapshot) or many at once (vps_snapshot_batch). Private to this collection.

One engine serves both, so a batch gives every server exactly the guarantees of the single module:
1. read every server's snapshots (one account-wide listing for many servers);
2. plan each server with selection.plan_present (reuse, create after the deletions the limit forces, or refuse;
   a failed snapshot of the same name is no restore point, so it is deleted and the snapshot taken again);
3. create, at most `concurrency` servers at a time: check the server before deleting anything, delete
   as little as the limit forces, POST once (never twice after an ambiguous failure), and when the
   server is busy, wait until it is idle and POST again; a server in a failure status (error, failed...)
   is never waited for, and every refusal that was followed by another try is in the result, in the
   provider's words;
4. wait once for all: each poll is one listing covering every snapshot still in progress; two runs
   that created the same name converge on the lowest id;
5. apply retention on each server once its snapshot has completed.
Every change is recorded per server, so a failure still reports what it deleted or created.
"""

from __future__ import annotations

from functools import partial

from ansible_collections.vps.cloud.plugins.module_utils.selection import (
    COMPLETED,
    MAX_SNAPSHOTS_PER_SERVER,
    CREATE,
    IN_PROGRESS,
    REFUSE,
    REUSE,
    SERVER_FAILED,
    STABLE,
    clean_server,
    clean_snapshot,
    converged,
    describe,
    is_failed,
    is_unrecognised_server_status,
    is_working,
    plan_present,
    plan_retention,
    server_kind,
)
from ansible_collections.vps.cloud.plugins.module_utils.request import Entry, for_each
from ansible_collections.vps.cloud.plugins.module_utils.service import SnapshotError

RESUME_ADVICE = (
    "The snapshot goes on at the provider: rerun the task to resume waiting (it waits for the same snapshot and never takes another), or raise wait_timeout."
)
# Polls in a row whose listing may fail (each after the client's own retries) before a server's wait gives up.
POLL_FAILURES_TOLERATED = 3


class PresentOptions:
    """The options of state=present that apply to every server of the task."""

    def __init__(
        self,
        retention=None,
        retention_match="*",
        resume_match=None,
        protect_last_completed=True,
        wait=True,
        wait_timeout=1800,
        protected_ids=(),
        wait_for_first=False,
        retake_failed=True,
    ):
        self.retention = retention
        self.retention_match = retention_match
        self.resume_match = resume_match
        self.protect_last_completed = protect_last_completed
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.protected_ids = set(protected_ids)
        # Stop waiting as soon as one snapshot still in progress has ended (each host is released at its own).
        self.wait_for_first = wait_for_first
        # False when the caller comes back to wait for a snapshot it took: one that failed meanwhile fails the entry.
        self.retake_failed = retake_failed


class ServerEntry(Entry):
    """One server's snapshot: the listing it was planned from, the plan, and the snapshot it ends with."""

    def __init__(self, request):
        super().__init__(request)
        self.description = request.description
        self.listing = []
        self.plan = None
        self.before = None
        self.snapshot = None
        self.own_ids = set()
        self.preview = []


def ensure_present(service, requests, options):
    """Ensure a snapshot (request.name, request.description) on every request.server_id; returns the ServerEntry of each."""
    entries = prepare(service, requests, options)
    carry_out(service, entries, options, service.clock() + options.wait_timeout)
    return entries


def prepare(service, requests, options):
    """Read and plan, changing nothing: each entry's `plan` says what carry_out() will do, or `error` why not."""
    entries = [ServerEntry(request) for request in requests]
    listings = service.listings([e.server_id for e in entries])
    for entry in entries:
        listing = listings[entry.server_id]
        if isinstance(listing, BaseException):
            if not isinstance(listing, SnapshotError):
                raise listing
            entry.fail(listing)
            continue
        entry.listing = listing
        _plan(entry, options)
    return entries


def carry_out(service, entries, options, deadline):
    """Do what the plans say (in check mode, only preview it) before `deadline` (a service.clock() time)."""
    if service.check_mode:
        for_each(service, entries, partial(_preview, service, options=options))
        return
    for_each(service, [e for e in entries if e.active and e.plan.action == CREATE], partial(_create, service, options=options, deadline=deadline))
    if options.wait:
        _await(service, [e for e in entries if e.active and is_working(e.snapshot)], deadline, options.wait_timeout, options.wait_for_first)
    for_each(service, entries, partial(_retain, service, options=options))


def _plan(entry, options):
    entry.plan = plan_present(
        entry.listing,
        entry.server_id,
        entry.name,
        options.retention,
        options.retention_match,
        options.resume_match,
        options.protect_last_completed,
        options.protected_ids,
        options.retake_failed,
    )
    for note in entry.plan.notes:
        entry.note(note)
    if entry.plan.action == REFUSE:
        entry.fail(SnapshotError(entry.plan.problem, snapshot=clean_snapshot(entry.plan.snapshot), snapshots=[clean_snapshot(s) for s in entry.listing]))
    elif entry.plan.action == REUSE:
        entry.before = entry.snapshot = entry.plan.snapshot
        description = entry.snapshot.get("description") or ""
        if entry.description is not None and entry.description != description and entry.snapshot.get("name") == entry.name:
            entry.note(
                "Snapshot %r already exists with description %r; the API cannot change a description, so it is left as it is." % (entry.name, description)
            )


# Check mode --------------------------------------------------------------------------------------


def _preview(service, entry, options):
    if entry.plan.action == CREATE:
        # Check mode tells the truth about a server that does not exist, wherever the API can tell.
        service.server_presence(entry.server_id)
        entry.snapshot = _planned(entry)
    entry.preview = list(entry.plan.deletions) + plan_retention(
        [s for s in entry.listing if s not in entry.plan.deletions],
        _as_completed(entry.snapshot),
        options.retention,
        options.retention_match,
        options.protect_last_completed,
        options.protected_ids,
    )


def _planned(entry):
    return dict(
        id=None,
        server=dict(id=entry.server_id, name=_server_name(entry.listing)),
        name=entry.name,
        status=IN_PROGRESS,
        size_mb=None,
        created_at=None,
        description=entry.description,
    )


def _as_completed(snapshot):
    """The snapshot as retention will see it once completed: completed, and the newest of its server."""
    return dict(snapshot, status=COMPLETED, created_at=snapshot.get("created_at") or "9999-12-31T23:59:59Z")


# Real runs ---------------------------------------------------------------------------------------


def _create(service, entry, options, deadline):
    if entry.plan.deletions:
        # Delete as late as possible: first make sure the server exists and is idle.
        server = service.server_presence(entry.server_id)
        if server is None and _created_before_making_room(service, entry):
            for snapshot in entry.plan.retake:
                service.delete(snapshot, entry.changes)
            return
        if server is not None and server_kind(server.get("status")) != STABLE:
            try:
                wait_until_idle(service, entry.server_id, deadline - service.clock(), server, note=entry.note, limit=options.wait_timeout)
            except ServerFailedError as exc:
                raise SnapshotError("%s Nothing was deleted or created." % exc.message, **exc.details) from exc
            entry.listing = service.list(entry.server_id)
            _plan(entry, options)
            if not entry.active or entry.plan.action != CREATE:
                return
        for snapshot in entry.plan.deletions:
            service.delete(snapshot, entry.changes)
        deleted = set(s.get("id") for s in entry.plan.deletions)
        entry.listing = [s for s in entry.listing if s.get("id") not in deleted]
    retried_when_idle = False
    # Each refusal the provider made before the creation went ahead, and what this task did about it: the result says so.
    refusals = []
    while True:
        try:
            created = service.create(entry.server_id, entry.name, entry.description, entry.changes)
        except SnapshotError as exc:
            if _refusal_status(entry, exc) != 400:
                raise
            server, waited = _after_refusal(service, entry, deadline, exc, options.wait_timeout)
            # Another run may have taken the same snapshot meanwhile (and the last free slot with it): settle on it.
            entry.listing = service.list(entry.server_id)
            winner = converged(entry.listing, entry.server_id, entry.name)
            if winner is not None:
                entry.snapshot = winner
                entry.note(
                    "The provider refused the creation (%s), but another run had just created snapshot %r on server %s "
                    "(id %s): this task settles on it." % (_words(exc), entry.name, entry.server_id, winner.get("id"))
                )
                return
            # A server idle again by the time it is read may have been busy when it refused: one more try, no more.
            if waited or (not retried_when_idle and len(entry.listing) < MAX_SNAPSHOTS_PER_SERVER):
                retried_when_idle = retried_when_idle or not waited
                refusals.append(_refusal_story(exc, server, waited))
                continue
            if refusals:
                raise SnapshotError(
                    "%s It had been refused before: %s; this was the last try." % (exc.message, "; then ".join(refusals)), **exc.details
                ) from exc
            raise
        entry.snapshot = created
        entry.own_ids.add(created.get("id"))
        entry.listing = [s for s in entry.listing if s.get("id") != created.get("id")] + [created]
        if refusals:
            entry.note("The provider refused snapshot %r on server %s before it accepted it: %s." % (entry.name, entry.server_id, "; then ".join(refusals)))
        return


def _words(exc):
    """The provider's own words in a refusal."""
    return (exc.details.get("failure") or {}).get("message") or exc.message


def _refusal_story(exc, server, waited):
    """One refusal and what this task did about it, for the result."""
    said = "HTTP 400 (%s)" % _words(exc)
    if waited:
        return "%s while the server was %s, so this task waited until it was idle and sent it again" % (said, server.get("status"))
    if server is None:
        return "%s, and the server's state could not be read, so this task sent it again once" % said
    return "%s although the server then read %s, so this task sent it again once" % (said, server.get("status"))


def _created_before_making_room(service, entry):
    """Where the server cannot be read, ask the provider itself before deleting anything: a POST at the limit is refused
    (HTTP 400, not applied) for a server that exists, and HTTP 404 for one that does not. True if the provider accepted it
    (a slot had just been freed), so no room has to be made; False if it refused it at the limit, so room is made first."""
    try:
        created = service.create(entry.server_id, entry.name, entry.description, entry.changes)
    except SnapshotError as exc:
        if _refusal_status(entry, exc, " Nothing was deleted.") != 400:
            raise
        entry.note(
            "Server %s could not be read, so snapshot %r was first requested without making room, to learn whether the "
            "server exists: the provider refused it with HTTP 400 (%s), so the server exists, and room is made before "
            "it is requested again." % (entry.server_id, entry.name, _words(exc))
        )
        return False
    entry.snapshot = created
    entry.own_ids.add(created.get("id"))
    entry.listing = entry.listing + [created]
    return True


def _refusal_status(entry, exc, tail=""):
    """The HTTP status of a refused creation; a 404 means the server does not exist, and is raised as such."""
    status = (exc.details.get("failure") or {}).get("status")
    if status == 404:
        raise SnapshotError(
            "Server %s does not exist: the API answered the creation of snapshot %r with HTTP 404 (%s).%s"
            % (entry.server_id, entry.name, exc.details["failure"].get("message"), tail),
            **exc.details,
        )
    return status


def _after_refusal(service, entry, deadline, refusal, wait_timeout):
    """After a 400: the server as read (None if it cannot be), and whether it was busy and has been waited out.

    A server in a failure status fails the task at once: no wait would make it take a snapshot.
    """
    try:
        server = service.get_server(entry.server_id)
    except SnapshotError:
        return None, False
    if server_kind(server.get("status")) == STABLE:
        return server, False
    try:
        wait_until_idle(service, entry.server_id, deadline - service.clock(), server, note=entry.note, limit=wait_timeout)
    except ServerFailedError as exc:
        raise SnapshotError(
            "The provider refused snapshot %r on server %s with HTTP 400 (%s). %s Nothing was created."
            % (entry.name, entry.server_id, _words(refusal), exc.message),
            **refusal.details,
        ) from exc
    except SnapshotError as exc:
        raise SnapshotError(
            "Server %s refused snapshot %r while %s (%s), and was still busy when wait_timeout ran out: %s "
            "Nothing was created." % (entry.server_id, entry.name, server.get("status"), _words(refusal), exc.message),
            **refusal.details,
        ) from exc
    return server, True


# Servers -----------------------------------------------------------------------------------------


class ServerFailedError(SnapshotError):
    """The server is in a failure status (error, failed...): no wait ends it, so the task stops at once."""


def server_failed_error(server_id, server, doing="waiting for it to be running or stopped"):
    status = server.get("status")
    return ServerFailedError(
        "Server %s is in status %r, a failure status: %s would not end it, so this task stops at once. "
        "Look at the server at the provider." % (server_id, status, doing),
        server=clean_server(server),
    )


def unrecognised_status_note(server_id, status, limit):
    return (
        "Server %s reads status %r, which this collection does not know: it is taken for a transitional status and "
        "waited for (up to wait_timeout=%s) until the server is running or stopped." % (server_id, status, limit)
    )


def wait_until_idle(service, server_id, timeout, server=None, note=None, advice=None, what=None, limit=None):
    """The server once it is running or stopped, within `timeout` seconds, as service.wait_until_idle, except that:
    a failure status (error, failed...) raises ServerFailedError at once, whenever it is seen, since no wait ends it;
    a status this collection does not know is waited for, and `note` is told at once, not at the timeout."""
    noted = set()

    def look(current):
        status = current.get("status")
        kind = server_kind(status)
        if kind == SERVER_FAILED:
            raise server_failed_error(server_id, current)
        if note is not None and is_unrecognised_server_status(status) and status not in noted:
            noted.add(status)
            note(unrecognised_status_note(server_id, status, limit if limit is not None else round(timeout)))
        return kind == STABLE

    def check():
        current = service.get_server(server_id)
        return look(current), current, current.get("status")

    if server is not None and look(server):
        return server
    status = server.get("status") if server else "unknown"
    return service.wait(
        check, timeout, what or "server %s to be running or stopped" % server_id, status, check_first=server is None, advice=advice, limit=limit
    )


def _await(service, pending, deadline, wait_timeout, first_only=False):
    """Wait once for every snapshot still in progress (with `first_only`, until one of them has ended): each poll
    is one listing covering them all.

    A poll whose listing fails (after the client's own retries) is not the end: the snapshots go on at the
    provider, so the wait goes on, until POLL_FAILURES_TOLERATED polls in a row have failed for a server.
    """
    pending = list(pending)
    waited_for = len(pending)
    failures = {}

    def check():
        listings = service.listings([e.server_id for e in pending])
        for entry in list(pending):
            listing = listings[entry.server_id]
            if isinstance(listing, SnapshotError):
                failures[entry.server_id] = failures.get(entry.server_id, 0) + 1
                if failures[entry.server_id] >= POLL_FAILURES_TOLERATED:
                    entry.fail(
                        SnapshotError("%s (%d polls in a row failed). %s" % (listing.message, failures[entry.server_id], RESUME_ADVICE), **listing.details)
                    )
            else:
                failures[entry.server_id] = 0
                entry.listing = listing
                _follow(service, entry)
            if not entry.active or not is_working(entry.snapshot):
                pending.remove(entry)
        return not pending or (first_only and len(pending) < waited_for), None, _statuses(pending)

    if not pending:
        return
    first = pending[0]
    if len(pending) == 1:
        what = "snapshot %s (id %s) on server %s to complete" % (first.snapshot.get("name"), first.snapshot.get("id"), first.server_id)
    else:
        what = "%d snapshots on %d servers to complete" % (len(pending), len(set(e.server_id for e in pending)))
    try:
        service.wait(check, deadline - service.clock(), what, _statuses(pending), advice=RESUME_ADVICE, limit=wait_timeout)
    except SnapshotError as exc:
        for entry in pending:
            entry.fail(
                SnapshotError(
                    exc.message
                    if len(pending) == 1
                    else "%s Snapshot %s on server %s was still %s." % (exc.message, entry.snapshot.get("name"), entry.server_id, entry.snapshot.get("status")),
                    snapshot=clean_snapshot(entry.snapshot),
                )
            )


def _follow(service, entry):
    """Bring one server's snapshot up to date from a fresh listing; converge with a racing run."""
    mine = entry.snapshot
    current = next((s for s in entry.listing if s.get("id") == mine.get("id")), None)
    if current is not None and is_failed(current):
        entry.snapshot = current
        message = "Snapshot %s on server %s ended %s, so it is no restore point. Run the task again: it deletes that snapshot and takes it again." % (
            describe(current),
            entry.server_id,
            current.get("status"),
        )
        entry.fail(SnapshotError(message, snapshot=clean_snapshot(current)))
        return
    winner = converged(entry.listing, entry.server_id, mine.get("name"))
    if winner is not None and winner.get("id") != mine.get("id"):
        if current is not None and mine.get("id") in entry.own_ids:
            # Another run created the same name at the same moment: the lower id wins, ours goes.
            try:
                service.delete(current, entry.changes)
            except SnapshotError as exc:
                entry.fail(exc)
                return
            entry.note(
                "Another run created snapshot %r on server %s at the same moment; both settle on the older one (id %s), "
                "and this task deleted its own (id %s)." % (mine.get("name"), entry.server_id, winner.get("id"), mine.get("id"))
            )
        current = winner
    if current is None:
        entry.fail(
            SnapshotError(
                "Snapshot %s (id %s) disappeared from server %s while waiting for it to complete." % (mine.get("name"), mine.get("id"), entry.server_id)
            )
        )
        return
    entry.snapshot = current


def _statuses(entries):
    statuses = sorted(set(str(e.snapshot.get("status")) for e in entries if e.snapshot))
    return ", ".join(statuses) or "none pending"


def _retain(service, entry, options):
    """Retention, once the snapshot has completed; without a wait it is left to a later run that waits."""
    if options.retention is None:
        return
    to_delete = plan_retention(
        entry.listing, _as_completed(entry.snapshot), options.retention, options.retention_match, options.protect_last_completed, options.protected_ids
    )
    if not to_delete:
        return
    if is_working(entry.snapshot):
        entry.note("wait is false, so the %d snapshot(s) over retention are kept until a run that waits." % len(to_delete))
        return
    for snapshot in to_delete:
        service.delete(snapshot, entry.changes)


def _server_name(snapshots):
    for snapshot in snapshots:
        name = (snapshot.get("server") or {}).get("name")
        if name:
            return name
    return None
