# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Many servers in one task: vps_snapshot_batch and vps_snapshot_prune. Private to this collection.

This file only turns the modules' options into requests for the engines (present.py, absent.py)
and their per-server entries into one result; the engines do the work, with exactly the
guarantees they give a single server.
"""

from __future__ import annotations

from ansible_collections.vps.cloud.plugins.module_utils.absent import absent_result, ensure_absent, ensure_pruned, prune_diff, prune_result
from ansible_collections.vps.cloud.plugins.module_utils.present import PresentOptions, ensure_present, entry_result
from ansible_collections.vps.cloud.plugins.module_utils.selection import is_working, name_problem, with_quiesce_note
from ansible_collections.vps.cloud.plugins.module_utils.service import TaskFailed


class Request:
    """One entry of a batch: the host it is for (a label), and what to do on which server."""

    def __init__(self, host=None, server_id=None, name=None, description=None, snapshot_id=None):
        self.host = host
        self.server_id = server_id
        self.name = name
        self.description = description
        self.snapshot_id = snapshot_id


def parse_servers(servers):
    """[(host, server_id)] from a mapping of host to server id, or a list of server ids; and the problems found."""
    if isinstance(servers, dict):
        pairs = sorted(servers.items(), key=lambda item: str(item[0]))
    elif isinstance(servers, list):
        pairs = [(None, value) for value in servers]
    else:
        return [], ["servers must be a mapping of host to server id, or a list of server ids, got %s" % type(servers).__name__]
    parsed, problems = [], []
    for host, value in pairs:
        label = "servers[%s]" % (host if host is not None else len(parsed) + len(problems))
        server_id = _as_id(value)
        if server_id is None:
            problems.append("%s must be a positive integer server id, got %r" % (label, value))
        else:
            parsed.append((None if host is None else str(host), server_id))
    return parsed, problems


def _as_id(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return value if isinstance(value, int) and value > 0 else None


def batch_requests(params):
    """The batch's requests in the order given, and every problem with them (each naming its entry)."""
    state, problems, requests = params["state"], [], []
    if params.get("servers") is not None:
        pairs, problems = parse_servers(params["servers"])
        requests = [Request(host, server_id, params["name"], params.get("description")) for host, server_id in pairs]
    elif params.get("snapshots") is not None:
        for index, item in enumerate(params["snapshots"]):
            problems += _entry_problems(state, index, item)
            description = item.get("description")
            if item.get("quiesce") is not None:
                # How the host is quiesced is noted in the description, the one place the API keeps it.
                description = with_quiesce_note(description, item["quiesce"], params.get("quiesce_release") or "completed")
            requests.append(Request(item.get("host"), item.get("server_id"), item.get("name"), description,
                                    item.get("snapshot_id")))
    else:
        if state != "absent":
            problems.append("snapshot_ids is only used with state=absent")
        for index, snapshot_id in enumerate(params.get("snapshot_ids") or []):
            if isinstance(snapshot_id, bool) or snapshot_id <= 0:
                problems.append("snapshot_ids[%d] must be a positive integer, got %s" % (index, snapshot_id))
            requests.append(Request(snapshot_id=snapshot_id))
    if state == "absent" and params.get("description") is not None:
        problems.append("description is only used with state=present")
    if not requests and not problems:
        problems.append("the batch is empty: give at least one server or snapshot")
    names = {}
    for request in requests:
        if state == "present" and request.server_id is not None and names.setdefault(request.server_id, request.name) != request.name:
            problems.append("server %s is given twice with different names (%s and %s); one batch takes one snapshot per server"
                            % (request.server_id, names[request.server_id], request.name))
    return requests, problems


def _entry_problems(state, index, item):
    label = "snapshots[%d]" % index
    problems = []
    for option in ("server_id", "snapshot_id"):
        value = item.get(option)
        if value is not None and (isinstance(value, bool) or value <= 0):
            problems.append("%s.%s must be a positive integer, got %s" % (label, option, value))
    if item.get("name") is not None and name_problem(item["name"]):
        problems.append("%s.name %s" % (label, name_problem(item["name"])))
    if state == "present":
        missing = [option for option in ("server_id", "name") if item.get(option) is None]
        if missing:
            problems.append("%s needs %s with state=present" % (label, " and ".join(missing)))
        if item.get("snapshot_id") is not None:
            problems.append("%s.snapshot_id is only used with state=absent" % label)
    elif item.get("snapshot_id") is not None:
        if item.get("name") is not None:
            problems.append("%s gives snapshot_id and name; give one of them" % label)
    elif item.get("server_id") is None or item.get("name") is None:
        problems.append("%s needs snapshot_id, or server_id and name, with state=absent" % label)
    for option in ("description", "quiesce"):
        if state == "absent" and item.get(option) is not None:
            problems.append("%s.%s is only used with state=present" % (label, option))
    return problems


def present_options(params):
    return PresentOptions(retention=params.get("retention"), retention_match=params.get("retention_match") or "*",
                          resume_match=params.get("resume_match"),
                          protect_last_completed=params.get("protect_last_completed", True),
                          wait=params["wait"], wait_timeout=params["wait_timeout"],
                          wait_for_first=params.get("wait_for") == "first")


def batch_present(service, requests, params):
    options = present_options(params)
    unique = []
    for request in requests:
        if request.server_id not in [u[0] for u in unique]:
            unique.append((request.server_id, request.name, request.description))
    entries = dict((entry.server_id, entry) for entry in ensure_present(service, unique, options))
    now = service.now()
    results = []
    for request in requests:
        result = entry_result(entries[request.server_id], options, service.check_mode, now)
        results.append(dict(result, host=request.host))
    diff = dict(before=dict((str(r["server_id"]), r["diff"]["before"] if isinstance(r["diff"], dict) else r["diff"][0]["before"])
                            for r in results),
                after=dict((str(r["server_id"]), r["diff"]["after"] if isinstance(r["diff"], dict) else r["diff"][0]["after"])
                           for r in results))
    # Still in progress (not waited for, or not yet with wait_for=first): the servers a rerun would wait for.
    pending = sorted(set(e.server_id for e in entries.values() if e.active and is_working(e.snapshot)))
    return _finish(service, results, diff, "snapshot", dict(pending_servers=pending))


def batch_absent(service, requests, params):
    targets = [(r.snapshot_id, r.server_id, r.name) for r in requests]
    entries = ensure_absent(service, targets, params["wait"], params["wait_timeout"])
    now = service.now()
    results = [dict(absent_result(entry, service.check_mode, now), host=request.host, snapshot_id=request.snapshot_id,
                    server_id=request.server_id or (entry.doomed[0]["server"]["id"] if entry.doomed else None))
               for request, entry in zip(requests, entries)]
    diff = dict(before=dict((str(r["snapshot"]["id"]), r["snapshot"]) for r in results if r["snapshot"]), after={})
    return _finish(service, results, diff, "deletion")


def batch_prune(service, servers, params):
    entries = ensure_pruned(service, sorted(set(server_id for host, server_id in servers)), params["match"], keep=params["keep"],
                            older_than_days=params["older_than_days"], protect_last_completed=params["protect_last_completed"],
                            wait=params["wait"], wait_timeout=params["wait_timeout"])
    now = service.now()
    by_server = dict((entry.server_id, prune_result(entry, service.check_mode, now)) for entry in entries)
    results = [dict(by_server[server_id], host=host) for host, server_id in servers]
    extra = dict(pruned=[snapshot for server_result in by_server.values() for snapshot in server_result["pruned"]],
                 preview=["server %s: %s" % (server_id, line) for server_id, r in sorted(by_server.items()) for line in r["preview"]])
    return _finish(service, results, prune_diff(entries, service.check_mode, now), "prune", extra)


def _finish(service, results, diff, what, extra=None):
    failed = [r for r in results if r.get("failed")]
    failed_servers = sorted(set(r["server_id"] for r in failed if r.get("server_id") is not None))
    # Each server's warnings are shown once, named: they would be lost inside `results` (and `by_host`).
    warnings = []
    for r in results:
        for warning in r.get("warnings", []):
            line = "%s: %s" % (_label(r), warning)
            if line not in warnings:
                warnings.append(line)
    result = dict(changed=any(r["changed"] for r in results), results=results, diff=diff, warnings=warnings,
                  by_host=dict((r["host"], r) for r in results if r.get("host") is not None),
                  failed_servers=failed_servers,
                  requests=dict(sent=service.client.requests_sent, rate_limited=service.client.rate_limited))
    result.update(extra or {})
    if failed:
        result["msg"] = "The %s failed for %d of %d: %s" % (what, len(failed), len(results), "; ".join(
            "%s: %s" % (_label(r), r["msg"]) for r in failed))
    else:
        result["msg"] = "%d %s(s) done%s." % (len(results), what, ", check mode" if service.check_mode else "")
    if failed:
        raise TaskFailed(result)
    return result


def _label(result):
    server = "server %s" % result["server_id"] if result.get("server_id") is not None else "snapshot %s" % (
        result.get("snapshot_id") or (result.get("snapshot") or {}).get("id"))
    return "%s (%s)" % (server, result["host"]) if result.get("host") else server
