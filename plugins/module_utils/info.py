# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The tasks that only read: vps_server_info and vps_snapshot_info. Private to this collection.

Nothing here changes anything at the provider, so every one of them is safe to rerun and behaves the same in check mode.
"""

from __future__ import annotations

from ansible_collections.vps.cloud.plugins.module_utils.present import wait_until_idle
from ansible_collections.vps.cloud.plugins.module_utils.selection import (
    SERVER_FAILED,
    clean_server,
    clean_snapshot,
    consistency_of,
    is_unrecognised_server_status,
    server_id_of,
    server_kind,
)
from ansible_collections.vps.cloud.plugins.module_utils.service import SnapshotError, TaskFailed


def server_info(service, server_id, wait=False, wait_timeout=1800):
    """A server's state; with wait, once it is running or stopped (for example at the end of a restore).

    A failure status (error, failed...) is its own state, V(failed): with wait it fails at once, since no wait would end
    it. A status this collection does not know is V(busy), with a warning that says so.
    """
    try:
        server = service.get_server(server_id)
    except SnapshotError as exc:
        if (exc.details.get("failure") or {}).get("status") == 404:
            raise SnapshotError(
                "%s. Either server %s does not exist, or the API does not offer GET /servers/{id}/, which the "
                "provider does not document." % (exc.message, server_id),
                **exc.details,
            ) from exc
        raise
    warnings = []
    if wait:
        try:
            server = wait_until_idle(
                service,
                server_id,
                wait_timeout,
                server,
                note=warnings.append,
                limit=wait_timeout,
                advice=("Rerunning this task is safe: it only reads, and never starts or stops anything."),
            )
        except SnapshotError as exc:
            details = dict(exc.details)
            current = details.pop("server", None)
            if current is None and not warnings:
                raise
            failed = dict(changed=False, msg=exc.message, warnings=warnings, **details)
            if current is not None:
                failed.update(server=current, state=SERVER_FAILED)
            raise TaskFailed(failed) from exc
    elif is_unrecognised_server_status(server.get("status")):
        warnings.append(
            "Server %s reads status %r, which this collection does not know: its state is given as busy, as for a "
            "transitional status." % (server_id, server.get("status"))
        )
    result = dict(changed=False, server=clean_server(server), state=server_kind(server.get("status")))
    if warnings:
        result["warnings"] = warnings
    return result


def server_absence_warning(service, server_id):
    """None if server `server_id` exists; else a warning that it does not, or that whether it does cannot be told.

    GET /servers/{id}/ is not documented: a 404 means either that the server does not exist or that the endpoint does not,
    so another server of the account (from one page of the listing) is read to tell them apart.
    """
    try:
        service.get_server(server_id)
        return None
    except SnapshotError as exc:
        status = (exc.details.get("failure") or {}).get("status")
        if status != 404:
            return (
                "Server %s has no snapshots, and whether it exists could not be checked: %s" % (server_id, exc.message)
                if status != 405
                else "Server %s has no snapshots, and whether it exists could not be checked: the API does not offer "
                "GET /servers/{id}/ (HTTP 405), which the provider does not document." % server_id
            )
    if _servers_endpoint_offered(service, server_id):
        return (
            "Server %s does not exist: GET /servers/%s/ answered HTTP 404, while other servers of the account can be read. "
            "No snapshots are listed for it; check server_id." % (server_id, server_id)
        )
    return (
        "Server %s has no snapshots, and it may not exist: GET /servers/%s/ answered HTTP 404, and no other server of the "
        "account could be read to tell whether the server or that endpoint (which the provider does not document) is "
        "missing. Check server_id." % (server_id, server_id)
    )


def _servers_endpoint_offered(service, server_id):
    """Whether GET /servers/{id}/ works for another server of the account, found in one page of the listing."""
    first_page = []

    def stop_after_first(page):
        first_page.append(page)
        return False

    try:
        service.list(worth_reading=stop_after_first)
    except SnapshotError:
        return False
    page = first_page[0] if first_page else {}
    items = page.get("results") if isinstance(page, dict) else page
    others = sorted(set(server_id_of(s) for s in items or () if isinstance(s, dict)) - {server_id, None})
    if not others:
        return False
    try:
        service.get_server(others[0])
    except SnapshotError:
        return False
    return True


def snapshots_info(service, server_id=None, snapshot_id=None, name=None, status=None):
    """What vps_snapshot_info returns: the snapshots (of one server, or of the account) that match, newest first.

    A server with no snapshot at all is looked up, so that a server that does not exist is warned of rather than
    shown as an empty list; a server that exists and has none draws no warning.
    """
    listing = service.list(server_id)
    snapshots = [
        dict(clean_snapshot(s), consistency=consistency_of(s))
        for s in listing
        if (snapshot_id is None or s.get("id") == snapshot_id) and (name is None or s.get("name") == name) and (status is None or s.get("status") == status)
    ]
    result = dict(changed=False, snapshots=snapshots)
    if server_id is not None and not listing:
        warning = server_absence_warning(service, server_id)
        if warning:
            result["warnings"] = [warning]
    return result
