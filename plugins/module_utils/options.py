# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every check of what a task was given, in one place: what AnsibleModule's own rules cannot say (ranges, names,
patterns, options the state leaves without use), each problem naming its option. Private to this collection.

All of them run before any request: a task with a problem fails with every problem at once and touches nothing.
"""

from __future__ import annotations

from ansible_collections.vps.cloud.plugins.module_utils.client import client_option_problems
from ansible_collections.vps.cloud.plugins.module_utils.request import SnapshotRequest
from ansible_collections.vps.cloud.plugins.module_utils.selection import (
    MAX_SNAPSHOTS_PER_SERVER,
    name_problem,
    pattern_problem,
    with_quiesce_note,
)

CONCURRENCY_RANGE = (1, 64)
# The options of state=present a deletion has no use for: refused with state=absent, in vps_snapshot's words.
PRESENT_ONLY = ("description", "resume_match", "retention", "quiesce_release")


def option_problems(params, positive=(), names=(), patterns=(), at_least_zero=()):
    """Messages naming each option whose value is out of range; all checked before any request."""
    problems = client_option_problems(
        params["api_url"], params["api_token"], params["api_timeout"], params["api_retries"], params["validate_certs"], params["ca_path"]
    )
    for option in positive:
        problems += _number_problems(option, params.get(option), 1)
    for option in at_least_zero:
        problems += _number_problems(option, params.get(option), 0)
    for option in names:
        if params.get(option) is not None and name_problem(params[option]):
            problems.append("%s %s" % (option, name_problem(params[option])))
    for option in patterns:
        if params.get(option) is not None and pattern_problem(params[option]):
            problems.append("%s %s" % (option, pattern_problem(params[option])))
    retention = params.get("retention")
    if retention is not None and not 1 <= retention <= MAX_SNAPSHOTS_PER_SERVER:
        problems.append("retention must be between 1 and %d (the provider's limit per server), got %s" % (MAX_SNAPSHOTS_PER_SERVER, retention))
    if "concurrency" in params:
        low, high = CONCURRENCY_RANGE
        if not low <= params["concurrency"] <= high:
            problems.append("concurrency must be between %d and %d, got %s" % (low, high, params["concurrency"]))
        rate = params.get("requests_per_second")
        if rate is not None and not rate > 0:
            problems.append("requests_per_second must be a positive number, got %s" % rate)
    return problems


def _number_problems(option, value, lowest):
    # Ansible's int type lets a boolean through as 0 or 1; neither is a count or an id.
    if value is not None and (isinstance(value, bool) or value < lowest):
        kind = "a positive integer" if lowest == 1 else "0 or more"
        return ["%s must be %s, got %s" % (option, kind, value)]
    return []


# vps_snapshot ------------------------------------------------------------------------------------


STATE_ONLY = {
    "retention": "present",
    "resume_match": "present",
    "description": "present",
    "name_match": "restored",
    "safety_snapshot": "restored",
}
NEEDS_NAME_MATCH = ("prefer_quiesced",)


def snapshot_problems(params):
    """vps_snapshot: what AnsibleModule's rules cannot say: options used with the wrong state, and ranges."""
    problems = option_problems(
        params, positive=("server_id", "snapshot_id", "wait_timeout"), names=("name",), patterns=("retention_match", "resume_match", "name_match")
    )
    state = params["state"]
    for option, only in sorted(STATE_ONLY.items()):
        if params[option] is not None and state != only:
            problems.append("%s is only used with state=%s" % (option, only))
    for option in NEEDS_NAME_MATCH:
        if params[option] and params["name_match"] is None:
            problems.append("%s is only used with name_match" % option)
    safety = params["safety_snapshot"]
    if safety is not None:
        if name_problem(safety["name"]):
            problems.append("safety_snapshot.name %s" % name_problem(safety["name"]))
        if safety["retention"] is not None and not 1 <= safety["retention"] <= MAX_SNAPSHOTS_PER_SERVER:
            problems.append("safety_snapshot.retention must be between 1 and %d, got %s" % (MAX_SNAPSHOTS_PER_SERVER, safety["retention"]))
    return problems


# vps_snapshot_batch and vps_snapshot_prune -------------------------------------------------------


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
        requests = [SnapshotRequest(server_id, params["name"], params.get("description"), host=host) for host, server_id in pairs]
    elif params.get("snapshots") is not None:
        for index, item in enumerate(params["snapshots"]):
            problems += _batch_entry_problems(state, index, item)
            description = item.get("description")
            if item.get("quiesce") is not None:
                # How the host is quiesced is noted in the description, the one place the API keeps it.
                description = with_quiesce_note(description, item["quiesce"], params.get("quiesce_release") or "completed")
            requests.append(
                SnapshotRequest(
                    server_id=item.get("server_id"), name=item.get("name"), description=description, snapshot_id=item.get("snapshot_id"), host=item.get("host")
                )
            )
    else:
        if state != "absent":
            problems.append("snapshot_ids is only used with state=absent")
        for index, snapshot_id in enumerate(params.get("snapshot_ids") or []):
            if isinstance(snapshot_id, bool) or snapshot_id <= 0:
                problems.append("snapshot_ids[%d] must be a positive integer, got %s" % (index, snapshot_id))
            requests.append(SnapshotRequest(snapshot_id=snapshot_id))
    problems += _batch_option_problems(params)
    if not requests and not problems:
        problems.append("the batch is empty: give at least one server or snapshot")
    names = {}
    for request in requests:
        if state == "present" and request.server_id is not None and names.setdefault(request.server_id, request.name) != request.name:
            problems.append(
                "server %s is given twice with different names (%s and %s); one batch takes one snapshot per server"
                % (request.server_id, names[request.server_id], request.name)
            )
    return requests, problems


def _batch_option_problems(params):
    """Options that the state, or the way the entries are given, leave without use: refused, never silently ignored."""
    problems = []
    if params["state"] != "present":
        problems += ["%s is only used with state=present" % option for option in PRESENT_ONLY if params.get(option) is not None]
        if params.get("wait_for") == "first":
            problems.append("wait_for=first is only used with state=present")
    if params.get("servers") is None:
        # With snapshots (or snapshot_ids) each entry has its own name and description: a shared one would be dropped.
        for option in ("name", "description"):
            if params.get(option) is not None and not (option == "description" and params["state"] != "present"):
                problems.append("%s is only used with servers; each entry of snapshots gives its own" % option)
    return problems


def _batch_entry_problems(state, index, item):
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


def prune_problems(params):
    """vps_snapshot_prune: the servers to prune, as [(host, server_id)], and every problem with the task's options."""
    servers, problems = parse_servers(params["servers"])
    if not servers and not problems:
        problems.append("servers is empty: give at least one server")
    return servers, problems + option_problems(params, positive=("wait_timeout",), patterns=("match",), at_least_zero=("keep", "older_than_days"))
