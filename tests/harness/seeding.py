# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The provider's state as a test needs it: snapshots with exact names, statuses and ages (the simulator's own
add_snapshots only makes "bulk-N" names), a server gone, a creation finished now."""

from __future__ import annotations


def seed(sim, server_id, specs, spacing=60.0, days_old=0.0):
    """Snapshots of `server_id` from `specs`, oldest first: each a name or (name, status); their ids, in order."""
    return sim.seed_snapshots(server_id, specs, spacing=spacing, days_old=days_old)


def add_snapshot(sim, server_id, name, status="completed", days_old=None, description=""):
    """One snapshot of `server_id` named `name`, past the limit if need be; returns its id."""
    store = sim.store
    (snapshot_id,) = store.add_snapshots(server_id, 1, status=status, name_prefix="tmp")
    with store.lock:
        snap = store.snapshots[snapshot_id]
        snap["name"] = name
        snap["description"] = description
        if days_old is not None:
            snap["created"] = store.clock() - days_old * 86400
        if status == "in_progress":
            snap["ready"] = store.clock() + 3600
        store._invalidate()  # pylint: disable=protected-access
    return snapshot_id


def finish_creation(sim, snapshot_id):
    """The provider finishes an in-progress creation now (as if its time had come)."""
    store = sim.store
    with store.lock:
        store.snapshots[snapshot_id]["ready"] = store.clock()


def remove_server(sim, server_id):
    """The server is gone at the provider (GET /servers/{id}/ and POST answer 404), its snapshots still listed."""
    with sim.store.lock:
        del sim.store.servers[server_id]
