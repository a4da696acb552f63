# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""state=restored. Private to this collection.

A restore overwrites the server and cannot be undone, so it is started at most once per task:
- the server already restoring: the task joins that restore (no second one), unless the API names
  another snapshot as its source, in which case it waits for it to end and then restores;
- the server busy (stopping, starting, snapshotting, or a status this collection does not know, which
  is warned of at once): the task waits until it is running or stopped, within wait_timeout, then restores once;
- the server in a failure status (error, failed...): no wait would end it, so the task does not wait; it
  asks for the restore at once (restoring is the way out of a broken server, and only the provider knows
  whether it allows it), and a refusal fails at once, naming the status and the provider's words;
- a 400 refusal while the server is busy is waited out the same way; any other 400 fails at once;
- with a safety snapshot, the server's current state is snapshotted (and waited for) first, so that
  the restore itself can be undone;
- a task that timed out is never the way to keep waiting: a rerun after the restore ended would start
  another. vps.cloud.vps_server_info with wait follows a restore without touching it.
"""

from __future__ import annotations

from ansible_collections.vps.cloud.plugins.module_utils.absent import find_target
from ansible_collections.vps.cloud.plugins.module_utils.present import (
    REUSE,
    PresentOptions,
    ServerFailedError,
    carry_out,
    prepare,
    wait_until_idle,
)
from ansible_collections.vps.cloud.plugins.module_utils.selection import (
    BUSY,
    RESTORING,
    SERVER_FAILED,
    STABLE,
    clean_server,
    clean_snapshot,
    describe,
    describe_all,
    is_completed,
    name_matches,
    newest_completed_matching,
    server_kind,
)
from ansible_collections.vps.cloud.plugins.module_utils.request import SnapshotRequest
from ansible_collections.vps.cloud.plugins.module_utils.results import restore_done, restore_failed
from ansible_collections.vps.cloud.plugins.module_utils.service import Changes, SnapshotError


def follow_advice(server_id):
    return (
        "The restore goes on at the provider. Do not rerun this task to keep waiting: once the restore has ended, a rerun "
        "would start another one. Follow it with vps.cloud.vps_server_info (server_id: %s, wait: true), which only reads." % server_id
    )


class SafetySnapshot:
    """The optional snapshot of the server's current state taken before a restore."""

    def __init__(self, name, description=None, retention=None, retention_match="*"):
        self.name = name
        self.description = description
        self.retention = retention
        self.retention_match = retention_match


class RestoreTask:
    """One restore: what it restores from, what it saw and changed."""

    def __init__(self, service, wait, wait_timeout, protect_last_completed=True):
        self.service = service
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.protect_last_completed = protect_last_completed
        self.deadline = service.clock() + wait_timeout
        self.changes = Changes()
        self.snapshot = None
        self.server_before = None
        self.server = None
        self.safety = None
        self.safety_entry = None
        self.safety_options = None
        self.joined = False
        self.warnings = []

    def remaining(self):
        return self.deadline - self.service.clock()

    # Steps ---------------------------------------------------------------------------

    def resolve(self, request, prefer_quiesced=False):
        """The completed snapshot the request names, to restore from; SnapshotError naming what was wrong otherwise."""
        service = self.service
        snapshot_id, server_id, name, name_match = request.snapshot_id, request.server_id, request.name, request.name_match
        listing = service.list(server_id)
        if name_match is not None:
            snapshot = newest_completed_matching(listing, name_match, prefer_quiesced)
            if snapshot is None:
                matching = [s for s in listing if name_matches(s, name_match)]
                raise SnapshotError(
                    "No completed snapshot of server %s matches %r, so there is nothing to restore from%s."
                    % (server_id, name_match, (" (matching, none completed: %s)" % describe_all(matching)) if matching else ""),
                    snapshots=[clean_snapshot(s) for s in matching],
                )
        else:
            snapshot = find_target(listing, snapshot_id, server_id, name, account=service.list)
            if snapshot is None:
                what = "id %s" % snapshot_id if snapshot_id is not None else "named %r" % name
                where = " on server %s" % server_id if server_id is not None else ""
                raise SnapshotError("No snapshot %s exists%s, so there is nothing to restore from." % (what, where))
        if not is_completed(snapshot):
            raise SnapshotError(
                "Snapshot %s is %s; only a completed snapshot can be restored." % (describe(snapshot), snapshot.get("status")),
                snapshot=clean_snapshot(snapshot),
            )
        self.snapshot = snapshot
        return snapshot

    def look_at_server(self):
        """The server before the restore; without wait, a missing GET /servers/{id}/ leaves its status unknown."""
        server_id = self.snapshot["server"]["id"]
        try:
            server = self.service.get_server(server_id)
        except SnapshotError as exc:
            status = (exc.details.get("failure") or {}).get("status")
            if status not in (404, 405):
                raise
            if self.wait:
                raise SnapshotError(
                    "The API has no usable GET /servers/%s/ (HTTP %s), so the server's restore cannot be watched. "
                    "Set wait: false to start the restore without waiting for it." % (server_id, status),
                    failure=exc.details.get("failure"),
                ) from exc
            self.warnings.append(
                "The API has no usable GET /servers/%s/ (HTTP %s), so the restore starts without checking "
                "whether one is already under way." % (server_id, status)
            )
            server = dict(self.snapshot.get("server") or {}, status=None)
        self.server_before = self.server = server
        if server_kind(server.get("status")) == SERVER_FAILED:
            self.note_failed_server(server)
        return server

    def note_failed_server(self, server):
        self.warnings.append(
            "Server %s was in status %r, a failure status that no wait would end: the restore from snapshot %s was asked for at "
            "once, since restoring is the way out of a broken server and only the provider knows whether it allows it."
            % (server.get("id"), server.get("status"), describe(self.snapshot))
        )

    def joins_running_restore(self):
        """Whether the server is already restoring from this snapshot (or from one the API does not name)."""
        if server_kind(self.server.get("status")) != RESTORING:
            return False
        source = self.server.get("restoring_from")
        source_id = source.get("id") if isinstance(source, dict) else None
        if source_id is None:
            self.warnings.append(
                "Server %s was already restoring, from a snapshot the API does not name. This task started no second restore "
                "and followed that one; if it was not from snapshot %s, restore again once it has ended." % (self.server["id"], describe(self.snapshot))
            )
            return True
        return source_id == self.snapshot.get("id")

    def wait_until_idle(self, reason):
        """Wait until the server is running or stopped; a server that shows a failure status meanwhile is not waited for
        (no wait would end it): the restore is asked for at once, and the provider decides."""
        if server_kind(self.server.get("status")) in (BUSY, RESTORING):
            try:
                self.server = wait_until_idle(
                    self.service, self.server["id"], self.remaining(), self.server, note=self.warnings.append, limit=self.wait_timeout
                )
            except ServerFailedError as exc:
                self.server = dict(self.server, **exc.details["server"])
                self.note_failed_server(self.server)
            except SnapshotError as exc:
                raise SnapshotError("%s No restore was started. %s" % (exc.message, reason)) from exc

    def take_safety_snapshot(self, safety):
        """Snapshot the server's current state and wait for it, before anything is restored."""
        # The wait shares this task's deadline (carry_out below); wait_timeout is what messages name.
        options = PresentOptions(
            retention=safety.retention,
            retention_match=safety.retention_match,
            protect_last_completed=self.protect_last_completed,
            wait=True,
            wait_timeout=self.wait_timeout,
            protected_ids=[self.snapshot.get("id")],
        )
        entry = prepare(self.service, [SnapshotRequest(self.server["id"], safety.name, safety.description)], options)[0]
        self.safety, self.safety_entry, self.safety_options = safety, entry, options
        if entry.active and entry.plan.action == REUSE and is_completed(entry.snapshot):
            entry.fail(
                SnapshotError(
                    "The safety snapshot name %r is taken by snapshot %s, which holds an older state of the server, not its state "
                    "now. Give the safety snapshot a new name (a timestamp in it, say) so that this restore can be undone."
                    % (safety.name, describe(entry.snapshot))
                )
            )
        if entry.active:
            carry_out(self.service, [entry], options, self.deadline)
        return entry

    def start(self):
        """POST the restore once; a refusal while the server is busy is waited out, any other fails at once.

        A refusal because the server is now restoring, from this snapshot or one the API does not name (another
        run started the same restore between this task's look and its POST), is joined: `joined` becomes true
        and nothing more is sent.
        """
        while True:
            try:
                answer = self.service.start_restore(self.snapshot, self.changes)
                break
            except SnapshotError as exc:
                if (exc.details.get("failure") or {}).get("status") != 400:
                    raise
                refusal = SnapshotError(
                    "The provider refused the restore of server %s from snapshot %s: %s"
                    % (self.snapshot["server"]["id"], describe(self.snapshot), exc.details["failure"].get("message")),
                    failure=exc.details.get("failure"),
                )
                try:
                    current = self.service.get_server(self.snapshot["server"]["id"])
                except SnapshotError:
                    raise refusal from exc
                if server_kind(current.get("status")) == SERVER_FAILED:
                    raise SnapshotError(
                        "%s. Server %s is in status %r, a failure status that no wait would end, so this task "
                        "stops at once; no restore was started. Look at the server at the provider."
                        % (refusal.message.rstrip("."), current.get("id", self.snapshot["server"]["id"]), current.get("status")),
                        failure=exc.details.get("failure"),
                        server=clean_server(current),
                    ) from exc
                if server_kind(current.get("status")) not in (BUSY, RESTORING):
                    raise refusal from exc
                self.server = current
                if self.joins_running_restore():
                    self.joined = True
                    return self.server
                self.wait_until_idle("The provider refused the restore while the server was %s." % current.get("status"))
        reported = answer.get("server") if isinstance(answer.get("server"), dict) else {}
        self.server = dict(self.server, **reported)
        if server_kind(self.server.get("status")) == STABLE:
            self.server["status"] = RESTORING  # accepted: whatever it showed before, it is restoring now
        return self.server

    def wait_restored(self):
        server_id = self.snapshot["server"]["id"]
        try:
            self.server = wait_until_idle(
                self.service,
                server_id,
                self.remaining(),
                self.server,
                note=self.warnings.append,
                advice=follow_advice(server_id),
                limit=self.wait_timeout,
                what="server %s to finish restoring from snapshot %s" % (server_id, describe(self.snapshot)),
            )
        except ServerFailedError as exc:
            self.server = dict(self.server, **exc.details["server"])
            raise SnapshotError(
                "The restore of server %s from snapshot %s was started, and the server is now in status %r, a "
                "failure status that no wait would end, so this task stops at once. Look at the server at the "
                "provider." % (server_id, describe(self.snapshot), self.server.get("status"))
            ) from exc
        return self.server


def ensure_restored(service, request, wait=True, wait_timeout=1800, safety=None, protect_last_completed=True, prefer_quiesced=False):
    """Restore the server of the snapshot `request` names (by id, by server and name, or the newest completed one whose
    name matches request.name_match); returns the task's result, or raises TaskFailed."""
    task = RestoreTask(service, wait, wait_timeout, protect_last_completed)
    try:
        return _restore(task, request, safety, prefer_quiesced)
    except SnapshotError as exc:
        raise restore_failed(task, exc) from exc


def _restore(task, request, safety, prefer_quiesced=False):
    service = task.service
    task.resolve(request, prefer_quiesced)
    task.look_at_server()
    if task.joins_running_restore():
        task.joined = True
        if task.wait:
            task.wait_restored()
        return restore_done(task, "Server %s was already restoring; this task followed that restore and started none." % (task.server["id"]))
    if service.check_mode:
        if task.server.get("status") is not None:
            task.server = dict(task.server, status=RESTORING)
        if safety is not None:
            task.take_safety_snapshot(safety)
            _raise_if_failed(task.safety_entry)
        return restore_done(
            task,
            "Check mode: would restore server %s from snapshot %s%s."
            % (task.snapshot["server"]["id"], describe(task.snapshot), ", after waiting until it is idle" if service.is_busy(task.server_before) else ""),
        )
    task.wait_until_idle("The server stayed busy.")
    if safety is not None:
        _raise_if_failed(task.take_safety_snapshot(safety))
        if task.server.get("status") is not None:
            # Taking the snapshot may have kept the server busy for a moment: look again just before restoring.
            task.server = service.get_server(task.server["id"])
            task.wait_until_idle("The server stayed busy after the safety snapshot.")
    task.start()
    if task.wait:
        task.wait_restored()
    if task.joined:
        return restore_done(
            task,
            "Server %s was already restoring when this task asked (another run's restore?); this task followed "
            "that restore and started none." % task.server["id"],
        )
    if not task.wait:
        server_id = task.snapshot["server"]["id"]
        return restore_done(
            task,
            "Started the restore of server %s from snapshot %s; it goes on at the provider, and wait is false, "
            "so this task did not wait for it to end. Follow it with vps.cloud.vps_server_info (server_id: %s, "
            "wait: true)." % (server_id, describe(task.snapshot), server_id),
        )
    return restore_done(task, "Restored server %s from snapshot %s." % (task.snapshot["server"]["id"], describe(task.snapshot)))


def _raise_if_failed(entry):
    if entry.error is not None:
        # The safety snapshot's own details name it `snapshot`; in a restore's result that key is the snapshot restored from.
        details = dict(entry.error.details)
        details.pop("snapshot", None)
        raise SnapshotError("No restore was started: the safety snapshot could not be taken. %s" % entry.error.message, **details)
