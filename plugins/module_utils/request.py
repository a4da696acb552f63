# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a module asks of the service layer, and how each target of a task ends. Private to this collection.

Every module hands the engines (present, absent, restore) SnapshotRequests: one per target, whether the task
names one server or a batch names hundreds. Each engine follows a request in an Entry, which records what it
changed, what it warns of, and the error that ended it; `for_each` runs one step on every entry still going,
so a failure of one server ends that server only.
"""

from __future__ import annotations

from ansible_collections.vps.cloud.plugins.module_utils.service import Changes, SnapshotError


class SnapshotRequest:
    """One target of a task: a server (with the name, and description, of the snapshot it should have), or a snapshot
    (by id, or by server and name, or by a pattern over its server's snapshot names). `host` labels a batch entry."""

    def __init__(self, server_id=None, name=None, description=None, snapshot_id=None, name_match=None, host=None):
        self.server_id = server_id
        self.name = name
        self.description = description
        self.snapshot_id = snapshot_id
        self.name_match = name_match
        self.host = host

    @classmethod
    def from_params(cls, params):
        """The request of a task that names one target (vps_snapshot)."""
        return cls(
            server_id=params.get("server_id"),
            name=params.get("name"),
            description=params.get("description"),
            snapshot_id=params.get("snapshot_id"),
            name_match=params.get("name_match"),
        )

    def target(self):
        """What names the snapshot to act on: two requests with the same target act on the same snapshot."""
        return (self.snapshot_id, self.server_id, self.name)


class Entry:
    """One request on its way: what it changed at the provider, the warnings for its result, and the error that ended it."""

    def __init__(self, request):
        self.request = request
        self.server_id = request.server_id
        self.name = request.name
        self.changes = Changes()
        self.warnings = []
        self.error = None

    @property
    def active(self):
        return self.error is None

    def fail(self, error):
        """End this entry with `error`; the first error is the one its result reports."""
        if self.error is None:
            self.error = error

    def note(self, message):
        self.warnings.append(message)


def for_each(service, entries, step):
    """step(entry) for every active entry, at most `concurrency` at a time. A SnapshotError ends that entry only;
    any other exception is a bug of the collection and surfaces."""

    def run(entry):
        try:
            step(entry)
        except SnapshotError as exc:
            entry.fail(exc)

    active = [e for e in entries if e.active]
    if len(active) == 1:
        run(active[0])  # one server: no pool to hand the step to
        return
    for outcome in service.parallel(active, run):
        if isinstance(outcome, BaseException):
            raise outcome
