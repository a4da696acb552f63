# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fault matrix: create, delete, restore, info, retention at the limit and restore with a safety snapshot, under
every fault the simulator can inject, and on busy servers.

One playbook per group (an operation, or busy servers) runs every case of that group, all groups at once in
the background while the suite's other tests run (conftest.py); between cases a checkpoint task
(lookup_plugins/sim_control.py) ends the case (waiting out requests its latency still holds), records the
simulator's state and request log, and arms the next case's faults, settings and server status. Each case runs
on its own server, with a bystander snapshot that must survive. Every task must succeed or fail with a clear
message; across the matrix no task may create twice, restore twice, delete what it was not asked to (or not
report a deletion), leave a server without its last restore point, or print a traceback.
"""

from __future__ import annotations

import pytest

from ansible_collections.vps.cloud.tests.faults.fault_harness import (
    BACKGROUND,
    MATRIX_SERVERS,
    TALLY,
    TOKEN,
    control_task,
    deletions,
    has_traceback,
    lost_restore_points,
    read_checkpoints,
    run_counted,
    silent_retries,
    unreported_deletions,
)
from ansible_collections.vps.cloud.tests.harness.seeding import seed
from ansible_collections.vps.cloud.tests.harness.simulator import Simulator, api_calls

OPERATIONS = ("create", "delete", "restore", "info", "retain", "safe-restore", "prune")
# Each group's cases run in one playbook; the groups run at once. Busy servers get a group of their own (create and
# restore cases) so that no playbook is much longer than the others.
GROUPS = OPERATIONS + ("busy",)
# The method whose request changes state, and the one whose response body a body fault should hit.
WRITE_METHOD = {"create": "POST", "delete": "DELETE", "restore": "POST", "info": "GET", "retain": "POST", "safe-restore": "POST", "prune": "DELETE"}
BODY_METHOD = {"create": "POST", "delete": "GET", "restore": "POST", "info": "GET", "retain": "POST", "safe-restore": "POST", "prune": "GET"}
BOUNDED = {"api_retries": 1}
# Latency well above api_timeout (2.5 s against 1 s), so that every re-sent request races the first one
# deterministically; the next checkpoint waits until the requests still held have been answered.
LATENCY = 2.5
CREATE_SECONDS = 1.0
# Retention at the limit: five completed (the oldest may go), or the only restore point and four failed ones
# (any failed one may go, never the completed one).
FIVE_COMPLETED = ["old-1", "old-2", "old-3", "old-4", "old-5"]
ONE_AND_FOUR_FAILED = ["keep", ("f-1", "failed"), ("f-2", "failed"), ("f-3", "failed"), ("f-4", "failed")]
MAY_GO = {"old-1", "f-1", "f-2", "f-3", "f-4", "s-2"}
# A restore with a safety snapshot: the snapshot restored from and a bystander, or five with the target the oldest.
TARGET_AND_KEEP = ["keep", "target"]
TARGET_AT_THE_LIMIT = ["target", "s-2", "s-3", "s-4", "s-5"]
# Prune keep=1 on three completed snapshots (oldest first): the two oldest go.
PRUNE_LAYOUT = ["p-1", "p-2", "p-3"]
PRUNED = {"p-1", "p-2"}


class Case:
    """One fault applied to one task of one operation."""

    def __init__(
        self,
        op,
        fault,
        faults,
        expect,
        options=None,
        latency=0.0,
        msg_has=(),
        target_status="completed",
        layout=None,
        hold=None,
        safety=None,
        server_gone=False,
    ):
        self.op, self.fault, self.faults, self.expect = op, fault, faults, expect
        self.group = op
        self.server_gone = server_gone
        self.options = options or {}
        self.latency = latency
        self.msg_has = msg_has
        self.target_status = target_status
        self.layout = layout
        self.hold = hold
        self.safety = safety or {}
        self.server_id = None
        self.target_id = None
        self.name = None
        self.may_go = set()
        self.seeded = {}


def edge_cases(op):
    """The edge and body faults every operation meets."""
    write, body = WRITE_METHOD[op], BODY_METHOD[op]
    return [
        Case(op, "5xx-25pct", {"error_rate": 0.25, "random_seed": 11}, "success"),
        Case(op, "429-burst", {"rate_limit_burst": 2, "retry_after": 1}, "success"),
        Case(op, "latency-over-timeout", {"latency": LATENCY, "methods": [write]}, "either", options=dict(BOUNDED, api_timeout=1), latency=LATENCY),
        Case(op, "truncated-body", {"truncated": 1, "methods": [body]}, "success"),
        Case(op, "non-json-body", {"non_json": 1, "methods": [body]}, "success"),
        Case(op, "html-502-once", {"html_error": 1, "methods": [write]}, "success"),
        Case(op, "html-502-persistent", {"html_error": 1000}, "failure", options=BOUNDED, msg_has=("502", "Bad Gateway")),
        Case(op, "5xx-persistent", {"error_rate": 1.0, "random_seed": 3}, "failure", options=BOUNDED, msg_has=("HTTP 50",)),
    ]


def deletion_cases(op, layout=None):
    """A DELETE the provider applied whose answer the client did not get as such (issue 22): a proxy's 200 text, the
    connection dropped after it, or the answer after the client's timeout. Each must be reported as the task's deletion."""
    return [
        Case(op, "non-json-delete", {"non_json": 2, "methods": ["DELETE"]}, "success", layout=layout),
        Case(op, "drop-after-delete", {"drop_after_apply": 1, "methods": ["DELETE"]}, "success", layout=layout),
        Case(
            op,
            "late-answer-delete",
            {"late_answer": LATENCY, "methods": ["DELETE"]},
            "success",
            options=dict(BOUNDED, api_timeout=1),
            latency=LATENCY,
            layout=layout,
        ),
    ]


def prune_cases():
    """vps_snapshot_prune keep=1 on three completed snapshots under the edge faults and DELETE faults."""
    return (
        [case for case in edge_cases("prune") if case.fault in ("5xx-25pct", "429-burst", "html-502-once", "non-json-body", "truncated-body")]
        + deletion_cases("prune")
        + [
            Case(
                "prune", "latency-over-timeout", {"latency": LATENCY, "methods": ["DELETE"]}, "success", options=dict(BOUNDED, api_timeout=1), latency=LATENCY
            ),
            Case(
                "prune",
                "5xx-persistent-delete",
                {"error_rate": 1.0, "random_seed": 3, "methods": ["DELETE"]},
                "failure",
                options=BOUNDED,
                msg_has=("Could not delete",),
            ),
        ]
    )


def cases_for(group):
    if group == "prune":
        return prune_cases()
    if group == "retain":
        return retain_cases()
    if group == "safe-restore":
        return safe_restore_cases()
    if group == "busy":
        return busy_cases()
    op = group
    write = WRITE_METHOD[op]
    cases = edge_cases(op)
    if op != "info":
        cases.append(Case(op, "429-on-write", {"rate_limit_burst": 2, "retry_after": 1, "methods": [write]}, "success"))
    if op in ("create", "restore"):
        cases.append(Case(op, "drop-after-post", {"drop_after_post": 1}, "success"))
    if op == "delete":
        cases += deletion_cases(op)
    if op == "create":
        cases.append(Case(op, "ends-failed", {"fail_next": 1}, "failure", msg_has=("failed",)))
    elif op == "restore":
        cases.append(Case(op, "ends-failed", {}, "failure", msg_has=("only a completed snapshot",), target_status="failed"))
    else:
        cases.append(Case(op, "ends-failed", {}, "success", target_status="failed"))
    return cases


def busy_cases():
    """Busy servers (issue #13): a creation or a restore waits while the server is busy, and POSTs once it is idle;
    a refusal for another reason fails at once."""
    cases = [
        Case("create", "create-while-snapshotting", {}, "success", hold=dict(status="snapshotting", hold_seconds=4, then="running")),
        Case(
            "create",
            "create-while-snapshotting-429",
            {"rate_limit_burst": 2, "retry_after": 1},
            "success",
            hold=dict(status="snapshotting", hold_seconds=4, then="running"),
        ),
        Case("create", "create-refused-as-busy", {"create_busy": 1}, "success"),
        Case("restore", "restore-while-stopping", {}, "success", hold=dict(status="stopping", hold_seconds=4, then="running")),
        Case(
            "restore",
            "restore-while-stopping-5xx",
            {"error_rate": 0.25, "random_seed": 11},
            "success",
            hold=dict(status="stopping", hold_seconds=4, then="stopped"),
        ),
        Case("restore", "restore-busy-for-good", {}, "failure", options={"wait_timeout": 3}, msg_has=("No restore was started",), hold=dict(status="stopping")),
        Case("restore", "restore-refused-for-the-plan", {"restore_refused": 1}, "failure", msg_has=("Restores are not available",)),
    ]
    for case in cases:
        case.group = "busy"
    return cases


def retain_cases():
    """Retention at the provider's limit (issue #10) under POST faults: one deletion before the POST, reported."""
    op = "retain"
    five, mixed = FIVE_COMPLETED, ONE_AND_FOUR_FAILED
    return (
        [
            Case(op, "5xx-25pct", {"error_rate": 0.25, "random_seed": 11}, "success", layout=mixed),
            Case(
                op,
                "latency-over-timeout",
                {"latency": LATENCY, "methods": ["POST"]},
                "either",
                options=dict(BOUNDED, api_timeout=1),
                latency=LATENCY,
                layout=five,
            ),
            Case(op, "html-502-once", {"html_error": 1, "methods": ["POST"]}, "success", layout=mixed),
            Case(op, "drop-after-post", {"drop_after_post": 1}, "success", layout=five),
            Case(
                op,
                "5xx-persistent-post",
                {"error_rate": 1.0, "random_seed": 3, "methods": ["POST"]},
                "failure",
                options=BOUNDED,
                msg_has=("HTTP 50", "old-1"),
                layout=five,
            ),
            Case(
                op,
                "5xx-persistent-post-mixed",
                {"error_rate": 1.0, "random_seed": 3, "methods": ["POST"]},
                "failure",
                options=BOUNDED,
                msg_has=("HTTP 50", "f-1"),
                layout=mixed,
            ),
            Case(
                op,
                "5xx-persistent-delete",
                {"error_rate": 1.0, "random_seed": 3, "methods": ["DELETE"]},
                "failure",
                options=BOUNDED,
                msg_has=("Could not delete",),
                layout=five,
            ),
        ]
        + deletion_cases(op, layout=five)
        + [
            Case(op, "ends-failed", {"fail_next": 1}, "failure", msg_has=("ended failed", "old-1"), layout=five),
            Case(op, "ends-failed-mixed", {"fail_next": 1}, "failure", msg_has=("ended failed", "f-1"), layout=mixed),
            Case(op, "busy-at-the-limit", {}, "success", layout=five, hold=dict(status="stopping", hold_seconds=4, then="running")),
            # The server was deleted at the provider, its snapshots are still listed: nothing may be deleted for it.
            Case(
                op, "server-gone-at-the-limit", {"error_rate": 0.25, "random_seed": 11}, "failure", msg_has=("does not exist",), layout=five, server_gone=True
            ),
        ]
    )


def safe_restore_cases():
    """A restore after a safety snapshot (issue #10) under faults: the safety snapshot first, each POST once."""
    op = "safe-restore"
    return [
        Case(op, "5xx-25pct", {"error_rate": 0.25, "random_seed": 11}, "success"),
        Case(op, "latency-over-timeout", {"latency": LATENCY, "methods": ["POST"]}, "either", options=dict(BOUNDED, api_timeout=1), latency=LATENCY),
        Case(op, "html-502-once", {"html_error": 1, "methods": ["POST"]}, "success"),
        Case(op, "drop-both-posts", {"drop_after_post": 2}, "success"),
        Case(
            op,
            "5xx-persistent-post",
            {"error_rate": 1.0, "random_seed": 3, "methods": ["POST"]},
            "failure",
            options=BOUNDED,
            msg_has=("No restore was started",),
        ),
        Case(op, "safety-ends-failed", {"fail_next": 1}, "failure", msg_has=("No restore was started", "failed")),
        Case(op, "restore-refused", {"restore_refused": 1}, "failure", msg_has=("Restores are not available",)),
        Case(op, "at-the-limit-5xx", {"error_rate": 0.25, "random_seed": 11}, "success", layout=TARGET_AT_THE_LIMIT, safety={"retention": 5}),
        Case(op, "at-the-limit-no-retention", {}, "failure", msg_has=("No restore was started", "limit"), layout=TARGET_AT_THE_LIMIT),
        Case(op, "busy-stopping", {}, "success", hold=dict(status="stopping", hold_seconds=4, then="running")),
    ]


# Cases that hit a bug in the plugin code: kept, marked xfail(strict) until the fix lands. None open now.
KNOWN_BUGS = {}

PARAMS = [
    pytest.param(
        group,
        case.fault,
        id="%s-%s" % (group, case.fault),
        marks=[pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[(group, case.fault)])] if (group, case.fault) in KNOWN_BUGS else [],
    )
    for group in GROUPS
    for case in cases_for(group)
]


def task_for(case):
    if case.op in ("create", "retain"):
        options = {"server_id": case.server_id, "name": case.name}
        if case.op == "retain":
            options["retention"] = 5
    elif case.op == "delete":
        options = {"state": "absent", "server_id": case.server_id, "name": case.name}
    elif case.op == "restore":
        options = {"state": "restored", "snapshot_id": case.target_id}
    elif case.op == "safe-restore":
        options = {"state": "restored", "snapshot_id": case.target_id, "safety_snapshot": dict(case.safety, name=case.name)}
    elif case.op == "prune":
        options = dict({"servers": [case.server_id], "match": "p-*", "keep": 1}, **case.options)
        return {"name": "%s %s" % (case.op, case.fault), "vps.cloud.vps_snapshot_prune": options}
    else:
        return {"name": "%s %s" % (case.op, case.fault), "vps.cloud.vps_snapshot_info": dict(case.options)}
    options.update(case.options)
    return {"name": "%s %s" % (case.op, case.fault), "vps.cloud.vps_snapshot": options}


def prepare(sim, case):
    """Seed the case's server; set its name, target and the snapshots it may delete."""
    sid = case.server_id
    if case.op == "retain":
        ids = seed(sim, sid, case.layout)
        case.seeded = dict(zip(ids, [spec if isinstance(spec, str) else spec[0] for spec in case.layout]))
        case.name = "mx-%s" % case.fault
    elif case.op == "prune":
        sim.store.add_snapshots(sid, 1, name_prefix="keep-%d" % sid)
        ids = seed(sim, sid, PRUNE_LAYOUT)
        case.seeded = dict(zip(ids, PRUNE_LAYOUT))
    elif case.op == "safe-restore":
        layout = case.layout or TARGET_AND_KEEP
        ids = seed(sim, sid, layout)
        case.seeded = dict(zip(ids, layout))
        case.target_id = ids[layout.index("target")]
        case.name = "safety-%s" % case.fault
    else:
        sim.store.add_snapshots(sid, 1, name_prefix="keep-%d" % sid)
        if case.op == "create":
            case.name = "mx-%s" % case.fault
        else:
            case.target_id = sim.store.add_snapshots(sid, 1, status=case.target_status, name_prefix="target-%d" % sid)[0]
            case.name = "target-%d-1" % sid
    if case.server_gone:
        with sim.store.lock:
            del sim.store.servers[sid]
    may_go = MAY_GO if (case.op == "retain" or case.safety.get("retention")) and not case.server_gone else set()
    case.may_go = set(i for i, name in case.seeded.items() if name in may_go)
    if case.op == "delete":
        case.may_go.add(case.target_id)
    if case.op == "prune":
        case.may_go = set(i for i, name in case.seeded.items() if name in PRUNED)


def run_group(group, tmp_path):
    """Run every case of `group` in one playbook, on its own simulator; return (cases, run, checkpoints)."""
    cases = cases_for(group)
    servers = MATRIX_SERVERS[: len(cases)]
    with Simulator(tokens=[TOKEN], servers=servers, create_seconds=CREATE_SECONDS, restore_seconds=1, page_size=5) as sim:
        for case, server in zip(cases, servers):
            case.server_id = server["id"]
            prepare(sim, case)
        # A dropped connection after a restore's POST is settled by looking for 'restoring': a 1 s restore can be
        # over before a loaded machine looks (a real one takes minutes), so these servers restore for 6 s.
        dropped = dict((c.server_id, 6) for c in cases if "restore" in c.op and "drop_after_post" in (c.faults or {}))
        if dropped:
            sim.set_settings(restore_seconds_by_server=dropped)
        record = tmp_path / "checkpoints.jsonl"
        tasks = []
        latency = 0.0
        for case in cases:
            hold = [dict(case.hold, id=case.server_id)] if case.hold else None
            tasks.append(control_task(sim, record, case.fault, case.faults, latency, servers=hold))
            tasks.append(task_for(case))
            latency = case.latency
        tasks.append(control_task(sim, record, "end", None, latency))
        run = run_counted(tmp_path, tasks, api_url=sim.base_url)
    return cases, run, read_checkpoints(record)


def judge_group(group, cases, run, checkpoints):
    """{fault: list of problems} for every case of `group`."""
    assert len(checkpoints) == len(cases) + 1, "the checkpoints did not all run: %s" % run.stdout[-3000:]
    if "Traceback" in run.stdout + run.stderr:
        TALLY.add("tracebacks")
        raise AssertionError("traceback in the %s run: %s" % (group, run.stdout + run.stderr))
    outcomes = {}
    for index, case in enumerate(cases):
        result = run[2 * index + 1]
        known = KNOWN_BUGS.get((group, case.fault))
        outcomes[case.fault] = judge(case, result, checkpoints[index], checkpoints[index + 1], known)
    return outcomes


def judge(case, result, before, after, known_bug):
    """Problems with one case's outcome; also counts it in the session tally."""
    problems = []
    kind = TALLY.task(result, known_bug=known_bug)
    if kind == "unclear":
        problems.append("failed without a clear message: %r" % result.get("msg"))
    if kind == "success" and case.expect == "failure":
        problems.append("succeeded, expected a clear failure")
    if kind != "success" and case.expect == "success":
        problems.append("failed, expected success: %r" % result.get("msg"))
    if kind == "clean":
        missing = [text for text in case.msg_has if text not in result["msg"]]
        if missing:
            problems.append("failure message %r does not mention %s" % (result["msg"], missing))
    if has_traceback(result):
        problems.append("traceback in the result: %s" % str(result)[:2000])

    log = after["log"]
    posts = api_calls(log, "POST")
    creations = [entry for entry in posts if entry["path"].endswith("/snapshots/") and entry["status"] == 201]
    restores = [entry for entry in posts if entry["path"].endswith("/restore/") and entry["status"] == 200]
    mine = [s for s in after["snapshots"] if s["server"]["id"] == case.server_id and s["name"] == case.name]
    if case.op in ("create", "retain"):
        duplicates = max(0, len(mine) - 1) + max(0, len(creations) - 1)
    elif case.op == "safe-restore":
        duplicates = max(0, len(mine) - 1) + max(0, len(creations) - 1) + max(0, len(restores) - 1)
    else:
        duplicates = len(creations) + (max(0, len(restores) - 1) if case.op == "restore" else len(restores))
    if duplicates:
        TALLY.add("duplicates", duplicates, known_bug=known_bug)
        problems.append(
            "duplicated work: %d snapshot(s) named %r, %d creation POST(s) applied, %d restore POST(s) applied"
            % (len(mine), case.name, len(creations), len(restores))
        )
    gone = {s["id"] for s in before["snapshots"]} - {s["id"] for s in after["snapshots"]} - case.may_go
    if gone:
        TALLY.add("unexpected deletions", len(gone), known_bug=known_bug)
        problems.append("snapshots deleted that the task did not ask for: %s" % sorted(gone))
    requested = {case.target_id} if case.op == "delete" else set()
    # Every deletion must be reported, state=absent's own target too (issue 22): no `allowed` here.
    unreported = unreported_deletions(log, [result])
    if unreported:
        TALLY.add("unreported deletions", len(unreported), known_bug=known_bug)
        problems.append("snapshots deleted but not reported as the task's (pruned, or a 'Deleted' msg): %s" % unreported)
    silent = silent_retries(log, [result])
    if silent:
        TALLY.add("silent retries", len(silent), known_bug=known_bug)
        problems.append("refused POSTs sent again without a warning carrying the provider's words: %s" % silent)
    lost = lost_restore_points(before["snapshots"], after["snapshots"], log, allowed=requested, create_seconds=CREATE_SECONDS)
    if lost:
        TALLY.add("lost restore points", len(lost), known_bug=known_bug)
        problems.append("servers left without their last restore point: %s" % lost)
    named = [case.seeded[i] for i in deletions(log) if i in case.seeded]
    if named and isinstance(result.get("msg"), str):
        # A batch (prune) names them in each server's msg.
        said = " ".join([result["msg"]] + [str(r.get("msg")) for r in result.get("results") or [] if isinstance(r, dict)])
        unnamed = [name for name in named if name not in said]
        if unnamed:
            problems.append("the message does not name the deleted snapshot(s) %s: %r" % (unnamed, said))
    if case.op == "safe-restore" and restores:
        problems += safety_first_problems(case, creations, restores, mine)

    if kind == "success":
        problems += success_problems(case, result, before, after, mine, restores)
    return problems


def safety_first_problems(case, creations, restores, mine):
    """A restore was applied: the safety snapshot must exist, completed, and have completed before the restore."""
    if len(mine) != 1 or mine[0]["status"] != "completed" or not creations:
        return ["restored without a completed safety snapshot: %r" % mine]
    if restores[0]["time"] < creations[0]["time"] + CREATE_SECONDS - 0.05:
        return [
            "the restore was POSTed %.2f s after the safety snapshot's creation, before it could have completed" % (restores[0]["time"] - creations[0]["time"])
        ]
    return []


def success_problems(case, result, before, after, mine, restores):
    """A success must be a real one: the snapshot is there, gone, restored from, or fully listed."""
    if case.op in ("create", "retain"):
        if len(mine) != 1 or result["snapshot"].get("id") != mine[0]["id"] or mine[0]["status"] != "completed":
            return ["reported success but the server holds %r and the task returned %r" % (mine, result.get("snapshot"))]
    elif case.op == "delete":
        if any(s["id"] == case.target_id for s in after["snapshots"]):
            return ["reported success but snapshot %s is still there" % case.target_id]
        if not result.get("changed") or not str(result.get("msg")).startswith("Deleted"):
            return ["deleted snapshot %s but reported changed=%s, %r" % (case.target_id, result.get("changed"), result.get("msg"))]
    elif case.op == "prune":
        left = set(s["id"] for s in after["snapshots"]) & case.may_go
        pruned = set(s.get("id") for s in result.get("pruned") or [])
        if left or pruned != case.may_go or not result.get("changed"):
            return [
                "reported success with pruned %s (changed=%s); still there: %s, expected gone: %s"
                % (sorted(pruned), result.get("changed"), sorted(left), sorted(case.may_go))
            ]
    elif case.op in ("restore", "safe-restore"):
        if result.get("server", {}).get("status") not in ("running", "stopped") or not result.get("changed"):
            return ["reported success but returned %r" % result.get("server")]
        if len(restores) != 1:
            return ["reported success but %d restore(s) were applied" % len(restores)]
        if case.op == "safe-restore" and (result.get("safety_snapshot", {}).get("id") != mine[0]["id"]):
            return ["reported success but returned safety snapshot %r, the server holds %r" % (result.get("safety_snapshot"), mine)]
    else:
        returned = sorted(s["id"] for s in result["snapshots"])
        expected = sorted(s["id"] for s in before["snapshots"])
        if returned != expected:
            return ["listed %s, the account holds %s" % (returned, expected)]
    return []


def start_background(tmp_path_factory):
    """Every group's playbook, each on its own simulator, in the background (conftest.py starts it)."""
    return dict((group, BACKGROUND.submit("matrix-%s" % group, run_group, group, tmp_path_factory.mktemp("matrix-%s" % group))) for group in GROUPS)


@pytest.fixture(scope="session")
def matrix(tmp_path_factory):
    """{group: {fault: problems}}, judged on first use of each group."""
    runs = BACKGROUND.started(start_background, tmp_path_factory)
    cache = {}

    def outcomes(group):
        if group not in cache:
            cache[group] = judge_group(group, *runs[group].result())
        return cache[group]

    return outcomes


@pytest.mark.timeout(600)
@pytest.mark.parametrize("group, fault", PARAMS)
def test_fault_matrix(matrix, group, fault):
    problems = matrix(group)[fault]
    assert not problems, "%s under %s: %s" % (group, fault, "; ".join(problems))
