# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The snapshot resource on top of the client: reading, writing, and a record of every change made.

Private to this collection. Every request that changes something goes through a SnapshotService
method that records it in a Changes journal, so that a task that fails half-way still reports what
it created, deleted or restored. A creation or restore is POSTed through send_once, so that it is never
applied twice. Errors are raised as SnapshotError; the module boundary turns them into fail_json.
"""

from __future__ import annotations

import concurrent.futures
import time

from ansible_collections.vps.cloud.plugins.module_utils.client import (
    DEFAULT_API_URL,
    MIN_GRACE,
    REFUSED_BY_GATEWAY,
    Deletion,
    VpsAmbiguousError,
    VpsApiError,
    backoff_delay,
)
from ansible_collections.vps.cloud.plugins.module_utils.selection import (
    BUSY,
    RESTORING,
    STABLE,
    clean_snapshot,
    converged,
    describe,
    newest_first,
    server_id_of,
    server_kind,
    snapshot_shape_problem,
)
from ansible_collections.vps.cloud.plugins.module_utils.wait import VpsWaitTimeout, wait_for

SNAPSHOTS_PATH = "snapshots/"


class SnapshotError(Exception):
    """A failure to report to the user; `details` become extra keys of the failed result."""

    def __init__(self, message, **details):
        super().__init__(message)
        self.message = message
        self.details = details


class TaskFailed(Exception):
    """A task failed after it may have changed things: `result` is the whole failed result (msg, changed, pruned...)."""

    def __init__(self, result):
        super().__init__(result.get("msg"))
        self.result = result


class Changes:
    """What one task (or one server of a batch) changed at the provider, for its result whether it succeeds or fails."""

    def __init__(self):
        self.created = []
        self.deleted = []
        self.restored = []
        # Snapshots found gone at this task's first DELETE: someone else's deletion, not a change of this task.
        self.gone = []
        # {snapshot id: (why the answer to its DELETE was lost, how the deletion was found)}: deletions known only from a
        # later 404 or the listing.
        self.answers_lost = {}

    def __bool__(self):
        return bool(self.created or self.deleted or self.restored)

    def summary(self, now=None):
        """A sentence naming every change, or ''."""
        parts = []
        if self.created:
            parts.append("created %s" % "; ".join(describe(s) for s in self.created))
        if self.deleted:
            parts.append("deleted %s" % "; ".join(self.describe_deleted(s, now) for s in self.deleted))
        if self.restored:
            parts.append("started the restore of server %s" % "; ".join("%s from snapshot %s" % (server_id_of(s), describe(s)) for s in self.restored))
        return ("It " + ", and ".join(parts) + ".") if parts else ""

    def describe_deleted(self, snapshot, now=None):
        """A deleted snapshot, and that the answer to its DELETE was lost when it was."""
        lost = self.answers_lost.get(snapshot.get("id"))
        return describe(snapshot, now) + (" (the answer to its DELETE was lost: %s)" % lost[0] if lost else "")


def with_changes_made(message, now, *changes):
    """A failure's message, followed by what the task had changed at the provider before it: a failure never hides a
    change. `changes` are Changes (or None), in the order the task made them."""
    summary = " ".join(part for part in (c.summary(now) for c in changes if c is not None) if part)
    return "%s Before this failure the task made changes: %s" % (message, summary) if summary else message


class SnapshotService:
    """Snapshot operations on top of a VpsClient, one request at a time or many in parallel."""

    def __init__(self, client, check_mode=False, warn=None, sleep=time.sleep, clock=time.monotonic, now=time.time, concurrency=1, result_is_read=lambda: True):
        self.client = client
        # False once nobody can receive this task's result any more (its run was interrupted and is gone).
        self.result_is_read = result_is_read
        self.check_mode = check_mode
        self.warn = warn or (lambda message: None)
        self.sleep = sleep
        self.clock = clock
        self.now = now
        self.concurrency = max(1, concurrency)
        # Pages of the last account-wide listing, once known: decides how the next listing is made.
        self.account_pages = None

    # Reading -----------------------------------------------------------------------

    def list(self, server_id=None, worth_reading=None):
        """Every snapshot (of one server, or of the account), newest first, each checked for the contract's shape.

        `worth_reading(first_page)` may return False to give up after the first page: list() then returns None.
        """
        params = {"server_id": server_id} if server_id is not None else None
        pages = []

        def on_page(page):
            pages.append(page)
            return worth_reading(page) if worth_reading and len(pages) == 1 else True

        try:
            snapshots = self.client.get_all(SNAPSHOTS_PATH, params, on_page=on_page)
        except VpsApiError as exc:
            raise SnapshotError("Could not list snapshots: %s%s" % (exc, self._url_hint(exc)), failure=exc.to_failure()) from exc
        if snapshots is None:
            return None
        if server_id is None:
            self.account_pages = max(1, len(pages))
        problems = [problem for problem in (snapshot_shape_problem(item) for item in snapshots) if problem]
        if problems:
            raise SnapshotError("Could not list snapshots: the API's list holds %d entries this module cannot read, such as %s" % (len(problems), problems[0]))
        return newest_first(snapshots)

    def listings(self, server_ids):
        """{server_id: its snapshots, or the SnapshotError that reading them raised}, from the fewest requests.

        Several servers are read from one account-wide listing (its pages), unless the account has more
        pages than there are servers to read, as its first page tells (count / page length) or a previous
        account listing showed: then each server is read on its own, as a single server always is.
        """
        server_ids = sorted(set(server_ids))
        if not server_ids:
            return {}

        def worth_reading(first_page):
            results, count = first_page.get("results") or [], first_page.get("count")
            if isinstance(count, int) and not isinstance(count, bool) and results:
                pages = -(-count // len(results))
                if pages > len(server_ids):
                    self.account_pages = pages
                    return False
            return True

        everything = None
        if len(server_ids) > 1 and (self.account_pages is None or self.account_pages <= len(server_ids)):
            try:
                everything = self.list(worth_reading=worth_reading)
            except SnapshotError as exc:
                return dict((server_id, exc) for server_id in server_ids)
        if everything is None:
            return dict(zip(server_ids, self.parallel(server_ids, self.list)))
        grouped = dict((server_id, []) for server_id in server_ids)
        for snapshot in everything:
            if server_id_of(snapshot) in grouped:
                grouped[server_id_of(snapshot)].append(snapshot)
        return grouped

    def find_by_id(self, snapshot_id, server_id=None):
        """The snapshot with this id (of `server_id` when given), or None."""
        return next((s for s in self.list(server_id) if s.get("id") == snapshot_id), None)

    def get_server(self, server_id):
        """The server as the API shows it; SnapshotError with the HTTP status in `failure` otherwise."""
        try:
            server = self.client.get("servers/%s/" % server_id)
        except VpsApiError as exc:
            raise SnapshotError("Could not read server %s: %s%s" % (server_id, exc, self._url_hint(exc)), failure=exc.to_failure()) from exc
        if not isinstance(server, dict) or not isinstance(server.get("status"), str):
            raise SnapshotError("Could not read server %s: the API answered GET servers/%s/ without a status (%r)" % (server_id, server_id, server))
        return server

    def server_presence(self, server_id):
        """The server, or None where the API offers no usable GET /servers/{id}/; SnapshotError if it does not exist.

        A 404 is ambiguous: the server may be missing, or the endpoint (which the provider does not document)
        may not exist. Another server of the account is read: if that works, the endpoint exists and this
        server does not (snapshots may outlive their server, so listed ones prove nothing).
        """
        try:
            return self.get_server(server_id)
        except SnapshotError as exc:
            status = (exc.details.get("failure") or {}).get("status")
            if status not in (404, 405):
                raise
            if status == 404 and self._endpoint_offered(server_id):
                raise SnapshotError(
                    "Server %s does not exist: GET servers/%s/ answered HTTP 404, while other servers of the "
                    "account can be read. Check server_id." % (server_id, server_id),
                    failure=exc.details.get("failure"),
                ) from exc
            self.warn(
                "The API has no usable GET /servers/%s/ (HTTP %s), so whether server %s exists and is idle could not be "
                "checked beforehand." % (server_id, status, server_id)
            )
            return None

    def _endpoint_offered(self, server_id):
        """Whether GET /servers/{id}/ works for another server of the account (one page of the listing is enough)."""
        try:
            page = self.client.get(SNAPSHOTS_PATH)
        except VpsApiError:
            return False
        items = page.get("results") if isinstance(page, dict) else page
        others = sorted(set(server_id_of(s) for s in items or () if isinstance(s, dict)) - {server_id, None})
        if not others:
            return False
        try:
            self.client.get("servers/%s/" % others[0])
        except VpsApiError:
            return False
        return True

    # Writing -----------------------------------------------------------------------

    def delete(self, snapshot, changes):
        """Delete one snapshot and record what happened; True if this task deleted it.

        A 404 to the first DELETE means someone else deleted it first (recorded in changes.gone, not as ours). After a
        DELETE of this task that went unanswered, a 404 or its absence from the listing is this task's deletion: recorded,
        with a warning that the answer was lost.
        """
        self._stop_unless_result_is_read("delete snapshot %s" % describe(snapshot))
        try:
            outcome = self.client.delete_outcome("snapshots/%s/" % snapshot.get("id"))
            how = "sent again, it was answered 404"
        except VpsAmbiguousError as exc:
            outcome = self._settle_deletion(snapshot, exc)
            how = "the server's listing no longer holds it"
        except VpsApiError as exc:
            raise SnapshotError("Could not delete snapshot %s: %s" % (describe(snapshot), exc), failure=exc.to_failure()) from exc
        if not outcome.deleted:
            changes.gone.append(clean_snapshot(snapshot))
            return False
        changes.deleted.append(clean_snapshot(snapshot))
        if outcome.answer_lost:
            changes.answers_lost[snapshot.get("id")] = (outcome.answer_lost, how)
            self.warn(
                "Snapshot %s on server %s was deleted by this task, but the answer to its DELETE was lost (%s); %s, so the "
                "deletion is reported as this task's." % (describe(snapshot), server_id_of(snapshot), outcome.answer_lost, how)
            )
        return True

    def _settle_deletion(self, snapshot, exc):
        """A DELETE that failed after an attempt whose answer was lost: the listing says whether it was applied.

        After gateway refusals only (502/503: not applied, as far as the API's edge is concerned) one look is enough;
        after no answer, a dropped connection or another 5xx the deletion may land late, so the listing is read for
        twice api_timeout (at least MIN_GRACE seconds). Gone: this task's deletion. Still listed: SnapshotError.
        """
        server_id = server_id_of(snapshot)
        grace = self.grace

        def check():
            try:
                listed = self.list(server_id)
            except SnapshotError:
                return False, None, "the listing could not be read"
            gone = not any(s.get("id") == snapshot.get("id") for s in listed)
            return gone, gone, "still listed"

        if all(reason.startswith(tuple("HTTP %s" % status for status in REFUSED_BY_GATEWAY)) for reason in exc.unanswered):
            gone, waited = check()[0], None
        else:
            try:
                gone = wait_for(check, grace, "snapshot %s to leave the listing" % snapshot.get("id"), check_first=True, clock=self.clock, sleep=self.sleep)
            except VpsWaitTimeout:
                gone = False
            waited = grace
        if gone:
            return Deletion(True, exc.unanswered[0])
        looked = "still listed after %d s" % waited if waited else "still listed"
        raise SnapshotError(
            "Could not delete snapshot %s: %s. It is %s, so this task did not delete it; the API may still apply "
            "the DELETE late: look at the server's snapshots (vps.cloud.vps_snapshot_info) before counting on it "
            "either way." % (describe(snapshot), exc, looked),
            failure=exc.to_failure(),
        )

    def create(self, server_id, name, description, changes):
        """POST one snapshot, never twice: after an ambiguous failure, look for it by name first."""
        payload = {"server_id": server_id, "name": name}
        if description is not None:
            payload["description"] = description

        def send():
            self._stop_unless_result_is_read("create snapshot %r on server %s" % (name, server_id))
            created = self.client.post(SNAPSHOTS_PATH, payload)
            if not isinstance(created, dict) or isinstance(created.get("id"), bool) or not isinstance(created.get("id"), int):
                # An empty or id-less 2xx body: it was probably created, but which one is unknown.
                raise VpsAmbiguousError("the API answered the creation without the new snapshot's id", method="POST", path=SNAPSHOTS_PATH)
            return created

        def look():
            return converged(self.list(server_id), server_id, name)

        try:
            created = send_once(send, look, "snapshot %r to appear on server %s" % (name, server_id), self.client.retries, self.grace, self.sleep, self.clock)
        except VpsAmbiguousError as exc:
            if exc.status not in REFUSED_BY_GATEWAY:
                raise SnapshotError(
                    "Could not confirm whether snapshot %r was created on server %s: %s. It is not listed even after waiting; "
                    "rerun the task: it finds the snapshot if the API created it late, and creates it otherwise." % (name, server_id, exc),
                    failure=exc.to_failure(),
                ) from exc
            raise SnapshotError(
                "Could not create snapshot %r on server %s: %s. It does not exist on the server; rerun the task." % (name, server_id, exc),
                failure=exc.to_failure(),
            ) from exc
        except VpsApiError as exc:
            raise SnapshotError("Could not create snapshot %r on server %s: %s" % (name, server_id, exc), failure=exc.to_failure()) from exc
        changes.created.append(clean_snapshot(created))
        return created

    def start_restore(self, snapshot, changes):
        """POST the restore once: after an ambiguous failure, the server's status says whether it started."""
        server_id = server_id_of(snapshot)
        path = "snapshots/%s/restore/" % snapshot.get("id")

        def send():
            self._stop_unless_result_is_read("restore server %s from snapshot %s" % (server_id, describe(snapshot)))
            try:
                return self.client.post(path) or {}
            except VpsAmbiguousError as exc:
                if exc.status is not None and 200 <= exc.status < 300:
                    return dict(server=dict(status=RESTORING))  # accepted, only the body was unreadable
                raise

        def look():
            server = self.get_server(server_id)
            return dict(server=server) if server_kind(server.get("status")) == RESTORING else None

        try:
            answer = send_once(send, look, "server %s to show a restore under way" % server_id, self.client.retries, self.grace, self.sleep, self.clock)
        except VpsAmbiguousError as exc:
            if exc.status not in REFUSED_BY_GATEWAY:
                raise SnapshotError(
                    "Could not confirm whether the restore of server %s from snapshot %s started: %s. The server does not show "
                    "'restoring'. Look at the server before restoring again (vps.cloud.vps_server_info), so that it is not "
                    "restored twice." % (server_id, describe(snapshot), exc),
                    failure=exc.to_failure(),
                ) from exc
            raise SnapshotError(
                "Could not start the restore of server %s from snapshot %s: %s" % (server_id, describe(snapshot), exc), failure=exc.to_failure()
            ) from exc
        except VpsApiError as exc:
            raise SnapshotError("Could not restore server %s from snapshot %s: %s" % (server_id, describe(snapshot), exc), failure=exc.to_failure()) from exc
        changes.restored.append(clean_snapshot(snapshot))
        return answer if isinstance(answer, dict) else {}

    def _stop_unless_result_is_read(self, action):
        """A run interrupted on the controller may leave this task running on its own: it must not change anything nobody
        would hear of (a deletion nobody reports, a restore nobody expects), nor wait on for nobody."""
        if not self.result_is_read():
            raise SnapshotError(
                "Stopped before it would %s: the Ansible run that started this task is gone (interrupted, or "
                "its controller died), so nobody would learn of it. Nothing more is changed; a rerun resumes." % action
            )

    @property
    def grace(self):
        """How long to keep looking for a POST whose answer was lost: a late one may still be applied that long after."""
        return max(2 * self.client.timeout, MIN_GRACE)

    # Waiting -----------------------------------------------------------------------

    def wait(self, check, timeout, what, status, check_first=False, advice=None, limit=None):
        def check_while_result_is_read():
            self._stop_unless_result_is_read("wait for %s" % what)
            return check()

        try:
            return wait_for(
                check_while_result_is_read,
                max(0, timeout),
                what,
                status=status,
                check_first=check_first,
                clock=self.clock,
                sleep=self.sleep,
                advice=advice,
                limit=limit,
            )
        except VpsWaitTimeout as exc:
            raise SnapshotError(str(exc)) from exc

    def wait_until_idle(self, server_id, timeout, server=None, advice=None, what=None, limit=None):
        """The server once it is neither busy nor restoring (running or stopped), within `timeout` seconds."""

        def check():
            current = self.get_server(server_id)
            return server_kind(current.get("status")) == STABLE, current, current.get("status")

        if server is not None and server_kind(server.get("status")) == STABLE:
            return server
        status = server.get("status") if server else "unknown"
        return self.wait(
            check, timeout, what or "server %s to be running or stopped" % server_id, status, check_first=server is None, advice=advice, limit=limit
        )

    def is_busy(self, server):
        return server is not None and server_kind(server.get("status")) in (BUSY, RESTORING)

    # Parallel work -----------------------------------------------------------------

    def parallel(self, items, work):
        """[work(item) for item in items], at most `concurrency` at a time; an exception is returned in its place."""
        items = list(items)
        if self.concurrency == 1 or len(items) <= 1:
            return [_outcome(work, item) for item in items]
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(self.concurrency, len(items))) as pool:
            return list(pool.map(lambda item: _outcome(work, item), items))

    # Messages ----------------------------------------------------------------------

    def _url_hint(self, exc):
        """For a 404 on the listing: the full URL, and where the API usually lives."""
        if exc.status != 404:
            return ""
        hint = ". The API answered 404 for %s" % (exc.url or self.client.url_for(exc.path or SNAPSHOTS_PATH))
        if not self.client.base_url.rstrip("/").split("/")[-1].startswith("v"):
            hint += ": api_url (%s) must be the API's base URL up to and including its version, such as %s" % (self.client.base_url, DEFAULT_API_URL)
        return hint


def _outcome(work, item):
    try:
        return work(item)
    except Exception as exc:  # pylint: disable=broad-except  # handed back to the caller, who re-raises or reports it
        return exc


def send_once(send, look, what, retries, grace, sleep=time.sleep, clock=time.monotonic):
    """`send()` a POST that must not be applied twice; after an ambiguous failure, `look()` before anything else.

    Returns the answer, or what `look()` found. After a gateway 502/503 the request never reached the
    service: one look after a backoff, and if nothing happened it is sent again, at most `retries` times.
    After anything else ambiguous (no answer, a 504, an unreadable answer) it may be applied late, so
    `look()` is repeated for `grace` seconds and the POST is never sent again. Re-raises the
    VpsAmbiguousError when nothing was found.
    """
    attempt = 0
    while True:
        try:
            return send()
        except VpsAmbiguousError as exc:
            if exc.status in REFUSED_BY_GATEWAY:
                sleep(backoff_delay(attempt))
                found = look()
            else:

                def check():
                    result = look()
                    return result is not None, result, "not seen yet"

                try:
                    found = wait_for(check, grace, what, check_first=True, clock=clock, sleep=sleep)
                except VpsWaitTimeout:
                    found = None
            if found is not None:
                return found
            if exc.status not in REFUSED_BY_GATEWAY or attempt >= retries:
                raise
            attempt += 1
