# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Snapshot resource logic shared by vps_snapshot and vps_snapshot_info. Private to this collection.

Every change follows one order: decide `changed`, fill the diff, and only then, outside
check mode, call the API. Errors are raised as SnapshotError; the module edge fails with them.
"""

from __future__ import annotations

import fnmatch
import re
import time

from ansible_collections.vps.cloud.plugins.module_utils.api import VpsAmbiguousError, VpsApiError, backoff_delay
from ansible_collections.vps.cloud.plugins.module_utils.wait import VpsWaitTimeout, wait_for

SNAPSHOT_FIELDS = ("id", "server", "name", "status", "size_mb", "created_at", "description")
SERVER_REF_FIELDS = ("id", "name")
SERVER_FIELDS = ("id", "name", "status")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
# The provider gives no length limit; refuse absurd names locally rather than send them.
NAME_MAX_LENGTH = 255
MAX_SNAPSHOTS_PER_SERVER = 5
COMPLETED = "completed"
FAILED_STATUSES = frozenset(("failed", "error"))
RESTORING = "restoring"
SNAPSHOTS_PATH = "snapshots/"
# 502/503 from the edge mean the request never reached the service: safe to send again after a look.
REFUSED_AT_EDGE = frozenset((502, 503))
# Seconds to keep looking for a POST that got no answer, at least.
MIN_GRACE = 10


class SnapshotError(Exception):
    """A failure to report to the user; `details` become extra keys of the failed result."""

    def __init__(self, message, **details):
        super().__init__(message)
        self.message = message
        self.details = details


def name_problem(name):
    """Why `name` is not a valid snapshot name, or None."""
    if not isinstance(name, str) or name == "":
        return "must be a non-empty string"
    if len(name) > NAME_MAX_LENGTH:
        return "is %d characters long; at most %d are allowed" % (len(name), NAME_MAX_LENGTH)
    if not NAME_PATTERN.fullmatch(name):
        return "may contain only ASCII letters, digits, hyphens and underscores, got %r" % name
    return None


def clean_snapshot(raw):
    """Exactly the contract's fields, whatever else the provider adds."""
    if not raw:
        return {}
    snapshot = dict((key, raw.get(key)) for key in SNAPSHOT_FIELDS)
    server = raw.get("server") or {}
    snapshot["server"] = dict((key, server.get(key)) for key in SERVER_REF_FIELDS)
    return snapshot


def clean_server(raw):
    return dict((key, (raw or {}).get(key)) for key in SERVER_FIELDS)


def newest_first(snapshots):
    return sorted(snapshots, key=lambda s: (s.get("created_at") or "", s.get("id") or 0), reverse=True)


def describe(snapshot):
    return "%s (id %s, %s, created %s)" % (snapshot.get("name"), snapshot.get("id"), snapshot.get("status"), snapshot.get("created_at"))


def is_failed(snapshot):
    return snapshot.get("status") in FAILED_STATUSES


class SnapshotService:
    """The snapshot operations on top of a VpsClient."""

    def __init__(self, client, check_mode=False, warn=None, sleep=time.sleep, clock=time.monotonic):
        self.client = client
        self.check_mode = check_mode
        self.warn = warn or (lambda message: None)
        self.sleep = sleep
        self.clock = clock

    # Reading -----------------------------------------------------------------------

    def list(self, server_id=None):
        params = {"server_id": server_id} if server_id is not None else None
        try:
            snapshots = self.client.get_all(SNAPSHOTS_PATH, params)
        except VpsApiError as exc:
            raise SnapshotError("Could not list snapshots: %s" % exc, failure=exc.to_failure())
        strays = [item for item in snapshots if not isinstance(item, dict)]
        if strays:
            raise SnapshotError("Could not list snapshots: the API's list holds %d entries that are not objects, such as %r"
                                % (len(strays), strays[0]))
        return newest_first(snapshots)

    def query(self, server_id=None, snapshot_id=None, name=None, status=None):
        """Snapshots matching every filter given, newest first, cleaned to the contract's fields."""
        return [clean_snapshot(s) for s in self.list(server_id)
                if (snapshot_id is None or s.get("id") == snapshot_id)
                and (name is None or s.get("name") == name)
                and (status is None or s.get("status") == status)]

    def find(self, snapshots, snapshot_id=None, server_id=None, name=None):
        """The one snapshot identified by id, or by server and name; None if there is none."""
        if snapshot_id is not None:
            matches = [s for s in snapshots if s.get("id") == snapshot_id]
        else:
            matches = [s for s in snapshots if s.get("name") == name and _server_id(s) == server_id]
        if len(matches) > 1:
            raise SnapshotError(
                "Server %s has %d snapshots named %r (ids %s); refer to one of them with snapshot_id (state absent or restored), "
                "or delete the extra one, rather than let the module pick."
                % (server_id, len(matches), name, ", ".join(str(s.get("id")) for s in matches)),
                snapshots=[clean_snapshot(s) for s in matches])
        return matches[0] if matches else None

    def get_server(self, server_id):
        try:
            return self.client.get("servers/%s/" % server_id)
        except VpsApiError as exc:
            if exc.status in (404, 405):
                raise SnapshotError(
                    "The API has no usable GET /servers/%s/ (HTTP %s: %s), so the server's restore cannot be watched. "
                    "Set wait: false to start the restore without waiting for it." % (server_id, exc.status, exc.message),
                    failure=exc.to_failure())
            raise SnapshotError("Could not read server %s: %s" % (server_id, exc), failure=exc.to_failure())

    # present -----------------------------------------------------------------------

    def ensure_present(self, server_id, name, description=None, wait=True, wait_timeout=1800,
                       retention=None, retention_match="*"):
        snapshots = self.list(server_id)
        existing = self.find(snapshots, server_id=server_id, name=name)
        if existing:
            return self._existing(existing, snapshots, description, wait, wait_timeout, retention, retention_match)

        before_post, after_done = self._plan_retention(server_id, name, snapshots, retention, retention_match)
        planned = dict(server={"id": server_id, "name": _server_name(snapshots)}, name=name, status="in_progress",
                       size_mb=None, created_at=None, description=description, id=None)
        if self.check_mode:
            snapshot, pruned = clean_snapshot(planned), [clean_snapshot(s) for s in before_post + after_done]
        else:
            pruned = self._delete_all(before_post)
            created = self._create(server_id, name, description)
            if wait:
                created, snapshots = self._wait_created(server_id, created, wait_timeout)
                pruned += self._delete_all(self._over_retention(snapshots, retention, retention_match, keep=created))
            elif after_done:
                self.warn("wait is false, so the %d snapshot(s) over retention are kept until a run that waits." % len(after_done))
            snapshot = clean_snapshot(created)
        result = dict(changed=True, snapshot=snapshot)
        if retention is not None:
            result["pruned"] = pruned
        self._set_diff(result, {}, snapshot, pruned)
        return result

    def _existing(self, snapshot, snapshots, description, wait, wait_timeout, retention, retention_match):
        server_id = _server_id(snapshot)
        if is_failed(snapshot):
            raise SnapshotError(
                "Snapshot %s on server %s ended %s. Delete it (state: absent, snapshot_id: %s) or choose another name, then rerun."
                % (describe(snapshot), server_id, snapshot.get("status"), snapshot.get("id")),
                snapshot=clean_snapshot(snapshot))
        if description is not None and description != (snapshot.get("description") or ""):
            self.warn("Snapshot %r already exists with description %r; the API cannot change a description, so it is left as it is."
                      % (snapshot.get("name"), snapshot.get("description")))
        if snapshot.get("status") != COMPLETED and wait:
            # Still in progress, perhaps from a run that timed out: wait for it, never POST again.
            snapshot, snapshots = self._wait_created(server_id, snapshot, wait_timeout)
        result = dict(changed=False, snapshot=clean_snapshot(snapshot))
        pruned = []
        if retention is not None:
            if snapshot.get("status") == COMPLETED:
                pruned = self._over_retention(snapshots, retention, retention_match, keep=snapshot)
            if pruned:
                result["changed"] = True
                pruned = [clean_snapshot(s) for s in pruned] if self.check_mode else self._delete_all(pruned)
            result["pruned"] = pruned
        self._set_diff(result, result["snapshot"], result["snapshot"], pruned)
        return result

    def _plan_retention(self, server_id, name, snapshots, retention, retention_match):
        """Split the deletions creation needs: (before the POST, after completion)."""
        forced = len(snapshots) + 1 - MAX_SNAPSHOTS_PER_SERVER
        if retention is None:
            if forced > 0:
                raise SnapshotError(
                    "Server %s already has %d snapshots, the provider's limit of %d per server: %s. "
                    "Delete one (state: absent) or set retention to prune the oldest."
                    % (server_id, len(snapshots), MAX_SNAPSHOTS_PER_SERVER,
                       "; ".join(describe(s) for s in snapshots)),
                    snapshots=[clean_snapshot(s) for s in snapshots])
            return [], []
        candidates = _prunable(snapshots, retention_match)
        # The new snapshot counts towards retention only if its name matches, as in _over_retention.
        counted_new = 1 if fnmatch.fnmatchcase(name, retention_match) else 0
        over = max(0, len(_matching(snapshots, retention_match)) + counted_new - retention)
        needed = max(forced, 0)
        if needed > len(candidates):
            raise SnapshotError(
                "Server %s has %d snapshots, the provider's limit of %d, and only %d of them are completed and match "
                "retention_match %r, so retention cannot make room for a new one: %s."
                % (server_id, len(snapshots), MAX_SNAPSHOTS_PER_SERVER, len(candidates), retention_match,
                   "; ".join(describe(s) for s in snapshots)),
                snapshots=[clean_snapshot(s) for s in snapshots])
        before_post = candidates[:needed]
        after_done = candidates[needed:max(needed, min(over, len(candidates)))]
        return before_post, after_done

    def _over_retention(self, snapshots, retention, retention_match, keep):
        """Completed matching snapshots beyond `retention`, oldest first, never `keep` itself."""
        if retention is None:
            return []
        matching = _matching(snapshots, retention_match)
        if not any(s.get("id") == keep.get("id") for s in matching) and fnmatch.fnmatchcase(keep.get("name") or "", retention_match):
            matching.append(keep)
        over = len(matching) - retention
        candidates = [s for s in _prunable(snapshots, retention_match) if s.get("id") != keep.get("id")]
        return candidates[:max(0, over)]

    def _create(self, server_id, name, description):
        payload = {"server_id": server_id, "name": name}
        if description is not None:
            payload["description"] = description

        def send():
            created = self.client.post(SNAPSHOTS_PATH, payload)
            if not isinstance(created, dict) or created.get("id") is None:
                # An empty or id-less 2xx body: it was probably created, but which one is unknown.
                raise VpsAmbiguousError("the API answered the creation without the new snapshot's id", method="POST", path=SNAPSHOTS_PATH)
            return created

        try:
            return self._send_once(send, lambda: self.find(self.list(server_id), server_id=server_id, name=name),
                                   "snapshot %r to appear on server %s" % (name, server_id))
        except VpsAmbiguousError as exc:
            if exc.status not in REFUSED_AT_EDGE:
                raise SnapshotError(
                    "Could not confirm whether snapshot %r was created on server %s: %s. It is not listed even after waiting; "
                    "rerun the task: it finds the snapshot if the API created it late, and creates it otherwise."
                    % (name, server_id, exc), failure=exc.to_failure())
            raise SnapshotError("Could not create snapshot %r on server %s: %s. It does not exist on the server; rerun the task."
                                % (name, server_id, exc), failure=exc.to_failure())
        except VpsApiError as exc:
            raise SnapshotError("Could not create snapshot %r on server %s: %s" % (name, server_id, exc), failure=exc.to_failure())

    def _wait_created(self, server_id, snapshot, wait_timeout):
        """Poll the server's list until the snapshot completes; returns it with the last list seen."""
        snapshot_id = snapshot.get("id")

        def check():
            snapshots = self.list(server_id)
            current = self.find(snapshots, snapshot_id=snapshot_id)
            if current is None:
                raise SnapshotError("Snapshot %s (id %s) disappeared from server %s while waiting for it to complete."
                                    % (snapshot.get("name"), snapshot_id, server_id))
            status = current.get("status")
            if status in FAILED_STATUSES:
                raise SnapshotError("Snapshot %s on server %s ended %s. Delete it (state: absent, snapshot_id: %s) and try again."
                                    % (describe(current), server_id, status, snapshot_id), snapshot=clean_snapshot(current))
            return status == COMPLETED, (current, snapshots), status

        what = "snapshot %s (id %s) on server %s to complete" % (snapshot.get("name"), snapshot_id, server_id)
        return self._wait(check, wait_timeout, what, snapshot.get("status"))

    # absent ------------------------------------------------------------------------

    def ensure_absent(self, snapshot_id=None, server_id=None, name=None, wait=True, wait_timeout=1800):
        snapshots = self.list(server_id)
        existing = self.find(snapshots, snapshot_id=snapshot_id, server_id=server_id, name=name)
        if existing is None:
            return dict(changed=False, snapshot={}, diff=dict(before={}, after={}))
        snapshot = clean_snapshot(existing)
        result = dict(changed=True, snapshot=snapshot, diff=dict(before=snapshot, after={}))
        if self.check_mode:
            return result
        self._delete(existing)
        if wait:
            def check():
                gone = self.find(self.list(_server_id(existing)), snapshot_id=existing.get("id")) is None
                return gone, None, "still listed"
            self._wait(check, wait_timeout, "snapshot %s to disappear" % describe(existing), "deleting", check_first=True)
        return result

    def _delete(self, snapshot):
        try:
            self.client.delete("snapshots/%s/" % snapshot.get("id"))
        except VpsApiError as exc:
            raise SnapshotError("Could not delete snapshot %s: %s" % (describe(snapshot), exc), failure=exc.to_failure())

    def _delete_all(self, snapshots):
        deleted = []
        for snapshot in snapshots:
            self._delete(snapshot)
            deleted.append(clean_snapshot(snapshot))
        return deleted

    # restored ----------------------------------------------------------------------

    def ensure_restored(self, snapshot_id=None, server_id=None, name=None, wait=True, wait_timeout=1800):
        snapshot = self.find(self.list(server_id), snapshot_id=snapshot_id, server_id=server_id, name=name)
        if snapshot is None:
            what = "id %s" % snapshot_id if snapshot_id is not None else "named %r on server %s" % (name, server_id)
            raise SnapshotError("No snapshot %s exists, so there is nothing to restore from." % what)
        if snapshot.get("status") != COMPLETED:
            raise SnapshotError("Snapshot %s is %s; only a completed snapshot can be restored." % (describe(snapshot), snapshot.get("status")),
                                snapshot=clean_snapshot(snapshot))
        server_id = _server_id(snapshot)
        server = self._server_before_restore(snapshot, server_id, wait)
        restored_from = dict((key, snapshot.get(key)) for key in ("id", "name", "created_at"))
        result = dict(snapshot=clean_snapshot(snapshot))
        if server["status"] == RESTORING:
            # A restore is already under way (perhaps ours, from a run that timed out): never start a second.
            result.update(changed=False, diff=dict(before=dict(server=server), after=dict(server=server)))
            result["server"] = self._wait_restored(server, wait_timeout) if wait else server
            return result
        after = dict(server=dict(server, status="running"), restored_from=restored_from)
        result.update(changed=True, server=server, diff=dict(before=dict(server=server), after=after))
        if self.check_mode:
            return result
        response = self._start_restore(snapshot, server_id)
        server = clean_server(dict(server, **((response or {}).get("server") or {"status": RESTORING})))
        result["server"] = self._wait_restored(server, wait_timeout) if wait else server
        return result

    def _server_before_restore(self, snapshot, server_id, wait):
        """The server's state; without wait, a missing GET /servers/{id}/ leaves it unknown instead of failing."""
        try:
            return clean_server(self.get_server(server_id))
        except SnapshotError as exc:
            if wait or (exc.details.get("failure") or {}).get("status") not in (404, 405):
                raise
            self.warn("The API has no usable GET /servers/%s/ (HTTP %s), so the restore starts without checking whether one is "
                      "already under way." % (server_id, exc.details["failure"]["status"]))
            return clean_server(dict(snapshot.get("server") or {}, status=None))

    def _start_restore(self, snapshot, server_id):
        path = "snapshots/%s/restore/" % snapshot.get("id")

        def send():
            try:
                return self.client.post(path)
            except VpsAmbiguousError as exc:
                if exc.status is not None and 200 <= exc.status < 300:
                    return dict(server=dict(status=RESTORING))  # accepted, only the body was unreadable
                raise

        def look():
            # Did it start? The server's status says.
            server = self.get_server(server_id)
            return dict(server=server) if server.get("status") == RESTORING else None

        try:
            return self._send_once(send, look, "server %s to show a restore under way" % server_id)
        except VpsAmbiguousError as exc:
            if exc.status not in REFUSED_AT_EDGE:
                raise SnapshotError(
                    "Could not confirm whether the restore of server %s from snapshot %s started: %s. The server does not show "
                    "'restoring'; check its state before you rerun the task, which would start a restore."
                    % (server_id, describe(snapshot), exc), failure=exc.to_failure())
            raise SnapshotError("Could not start the restore of server %s from snapshot %s: %s"
                                % (server_id, describe(snapshot), exc), failure=exc.to_failure())
        except VpsApiError as exc:
            hint = " The server must be running or stopped, not in the middle of another operation." if exc.status == 400 else ""
            raise SnapshotError("Could not restore server %s from snapshot %s: %s.%s" % (server_id, describe(snapshot), exc, hint),
                                failure=exc.to_failure())

    def _send_once(self, send, look, what):
        """`send()` a POST that must not be applied twice; after an ambiguous failure, `look()` before anything else.

        Returns the answer, or what `look()` found. Sends again only after an edge 502/503 that `look()`
        shows was not applied, at most api_retries times; otherwise re-raises the VpsAmbiguousError.
        """
        attempt = 0
        while True:
            try:
                return send()
            except VpsAmbiguousError as exc:
                found = self._settle(exc, attempt, look, what)
                if found:
                    return found
                if exc.status not in REFUSED_AT_EDGE or attempt >= self.client.retries:
                    raise
                attempt += 1

    def _settle(self, exc, attempt, look, what):
        """What `look()` finds after an ambiguous POST, or None.

        An edge 502/503 never reached the service: one look after a backoff is enough. Anything else
        (no answer, 504, an unreadable answer) may hide a request applied late, so keep looking for a
        grace period of twice the request timeout.
        """
        if exc.status in REFUSED_AT_EDGE:
            self.sleep(backoff_delay(attempt))
            return look()

        def check():
            found = look()
            return found is not None, found, "not seen yet"

        try:
            return wait_for(check, max(2 * self.client.timeout, MIN_GRACE), what, check_first=True, clock=self.clock, sleep=self.sleep)
        except VpsWaitTimeout:
            return None

    def _wait_restored(self, server, wait_timeout):
        def check():
            current = clean_server(self.get_server(server["id"]))
            return current["status"] != RESTORING, current, current["status"]

        what = "server %s (id %s) to finish restoring" % (server.get("name"), server.get("id"))
        return self._wait(check, wait_timeout, what, server.get("status"))

    # Shared ------------------------------------------------------------------------

    def _wait(self, check, wait_timeout, what, status, check_first=False):
        try:
            return wait_for(check, wait_timeout, what, status=status, check_first=check_first, clock=self.clock, sleep=self.sleep)
        except VpsWaitTimeout as exc:
            raise SnapshotError(str(exc))

    @staticmethod
    def _set_diff(result, before, after, pruned):
        diff = dict(before=before, after=after)
        if pruned:
            listing = "".join("%s\n" % describe(s) for s in pruned)
            diff = [diff, dict(before_header="snapshots pruned by retention", after_header="snapshots pruned by retention",
                               before=listing, after="")]
        result["diff"] = diff


def _server_id(snapshot):
    return (snapshot.get("server") or {}).get("id")


def _server_name(snapshots):
    for snapshot in snapshots:
        name = (snapshot.get("server") or {}).get("name")
        if name:
            return name
    return None


def _matching(snapshots, pattern):
    return [s for s in snapshots if fnmatch.fnmatchcase(s.get("name") or "", pattern)]


def _prunable(snapshots, pattern):
    """Completed snapshots matching the pattern, oldest first: the only ones retention may delete."""
    return list(reversed([s for s in _matching(snapshots, pattern) if s.get("status") == COMPLETED]))
