# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fault suite's own parts: its tally and the detectors behind it (lost restore points, unreported deletions,
silent retries), the checkpoints that arm each case's faults, a recording server, and its runs counted in the tally.

Imported as ansible_collections.vps.cloud.tests.faults.fault_harness. The runs themselves, the simulator and its
request log are the harness's (ansible_collections.vps.cloud.tests.harness).
"""

from __future__ import annotations

import calendar
import json
import re
import threading
import time
import http.server
from pathlib import Path

from ansible_collections.vps.cloud.tests.harness.background import EarlyStart
from ansible_collections.vps.cloud.tests.harness.playbook import run_playbook
from ansible_collections.vps.cloud.tests.harness.simulator import api_calls

HERE = Path(__file__).resolve().parent
# Distinctive, so that a leak anywhere is found by a plain substring search.
TOKEN = "flt-Tok-9Xw4-Qz7K-SECRET-never-print"
SERVERS = [
    {"id": 101, "name": "web-01", "status": "running"},
    {"id": 102, "name": "web-02", "status": "running"},
    {"id": 103, "name": "db-01", "status": "running"},
]
# One server per fault-matrix case, so that cases cannot disturb one another.
MATRIX_SERVERS = [{"id": 200 + n, "name": "mx-%02d" % n, "status": "running"} for n in range(1, 41)]
LOOKUP_DIR = str(HERE / "lookup_plugins")
# A failure message is clear when it names the problem without Python internals.
UNCLEAR_MARKERS = (
    "Traceback",
    "<urllib3",
    "object at 0x",
    "HTTPConnectionPool(",
    "HTTPSConnectionPool(",
    "Max retries exceeded",
    "NewConnectionError(",
    "SSLError(",
    "Module failed:",
)
OPERATION_WORDS = ("snapshot", "restore", "delete", "creat", "list", "server", "timed out", "connection", "certificate", "tls")


class Tally:
    """Session-wide counts printed at the end of the run (conftest.pytest_terminal_summary)."""

    FIELDS = (
        "playbook runs",
        "module tasks",
        "successes",
        "clean failures",
        "unclear failures",
        "duplicates",
        "unexpected deletions",
        "unreported deletions",
        "silent retries",
        "lost restore points",
        "tracebacks",
        "token leaks",
    )
    MUST_BE_ZERO = (
        "unclear failures",
        "duplicates",
        "unexpected deletions",
        "unreported deletions",
        "silent retries",
        "lost restore points",
        "tracebacks",
        "token leaks",
    )

    def __init__(self):
        self.counts = {field: 0 for field in self.FIELDS}
        # The same problems, seen in cases marked xfail for a known bug: reported, not failing the session.
        self.known = {field: 0 for field in self.MUST_BE_ZERO}
        self.known_cases = []
        self._lock = threading.Lock()  # background runs count too

    def add(self, field, count=1, known_bug=None):
        with self._lock:
            if known_bug and field in self.known:
                self.known[field] += count
                if count and known_bug not in self.known_cases:
                    self.known_cases.append(known_bug)
            else:
                self.counts[field] += count

    def task(self, result, known_bug=None, subjects=None):
        """Count one module task's registered result; returns 'success', 'clean' or 'unclear'.

        `subjects`: words one of which a clear failure message must contain (default: an HTTP status or the operation).
        """
        self.add("module tasks")
        if has_traceback(result):
            self.add("tracebacks", known_bug=known_bug)
        if not result.get("failed"):
            self.add("successes")
            return "success"
        if is_clear(result.get("msg"), subjects):
            self.add("clean failures")
            return "clean"
        self.add("unclear failures", known_bug=known_bug)
        return "unclear"

    def bad(self):
        return dict((field, self.counts[field]) for field in self.MUST_BE_ZERO if self.counts[field])

    def lines(self):
        lines = ["%-22s %s" % (field, self.counts[field]) for field in self.FIELDS]
        if any(self.known.values()):
            lines.append("in xfail-marked known-bug cases (not counted above): %s" % ", ".join("%s %s" % (k, v) for k, v in self.known.items() if v))
        return lines


TALLY = Tally()


# The suite's long runs, started at the beginning of the session (conftest.py) and judged by the tests that need them.
BACKGROUND = EarlyStart(name="faults-bg")


def is_clear(msg, subjects=None):
    """Non-empty, no Python internals, and names the problem: the given subjects (an option's name, say),
    or else an HTTP status or the operation."""
    if not isinstance(msg, str) or not msg.strip():
        return False
    if any(marker in msg for marker in UNCLEAR_MARKERS):
        return False
    if subjects:
        return any(subject in msg for subject in subjects)
    return bool(re.search(r"HTTP [1-5]\d\d", msg)) or any(word in msg.lower() for word in OPERATION_WORDS)


def has_traceback(result):
    # ansible-core 2.19 adds exception="(traceback unavailable)" to fail_json in an except block: not a traceback.
    # "Module failed:" is how it reports an exception the module did not handle (the traceback shows at -vvv).
    text = json.dumps(result)
    return "Traceback" in text or "MODULE FAILURE" in text or "Module failed:" in text


def control_task(sim, record, label, faults=None, latency=0.0, settings=None, servers=None):
    """A task that ends the previous case and arms the next (lookup_plugins/sim_control.py).

    `latency`: what the previous case's faults added to each request; the checkpoint waits until none of that
    case's requests can still be in flight, so that they land in its own log. The next case gets `faults`,
    provider `settings` (the simulator's own settings come back at every checkpoint), and server statuses
    `servers` ([{"id", "status", "hold_seconds"?, "then"?}]).
    """
    expression = "{{ query('sim_control', root='%s', record='%s', label='%s', faults='%s', latency=%s, settings='%s', servers='%s') }}" % (
        sim.root_url,
        record,
        label,
        json.dumps(faults or {}),
        float(latency),
        json.dumps(settings or {}),
        json.dumps(servers or []),
    )
    return {"name": "checkpoint %s" % label, "ansible.builtin.set_fact": {"fault_checkpoint": expression}}


def read_checkpoints(record):
    return [json.loads(line) for line in Path(record).read_text(encoding="utf-8").splitlines() if line.strip()]


def epoch(iso):
    """created_at (ISO 8601 UTC, as the simulator writes it) as seconds since the epoch."""
    return calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))


def lost_restore_points(before, after, log, allowed=(), create_seconds=1.0):
    """Servers that lost their last restore point during a case: [(server_id, why)].

    A server lost it when it had a completed snapshot before the case and has none after it, or when a DELETE
    took its last completed snapshot at a moment it had no other (replayed from the request log: a snapshot
    created during the case counts from created_at + `create_seconds` if it ended completed). Deleting a
    snapshot the case asked to delete (`allowed`, ids) is the user's wish, not a loss.
    """

    def completed(snapshots):
        return dict((s["id"], s["server"]["id"]) for s in snapshots if s["status"] == "completed")

    had, has = completed(before), completed(after)
    new = [(s["id"], s["server"]["id"], epoch(s["created_at"]) + create_seconds) for s in after if s["status"] == "completed" and s["id"] not in had]
    losses = []
    for server_id in sorted(set(had.values())):
        if server_id not in has.values() and not any(had_id in allowed for had_id, sid in had.items() if sid == server_id):
            losses.append((server_id, "had a completed snapshot before the case and has none after it"))
    alive = dict(had)
    for entry in api_calls(log, "DELETE"):
        if not applied_deletion(entry):
            continue
        snapshot_id = int(entry["path"].rstrip("/").split("/")[-1])
        server_id = alive.pop(snapshot_id, None)
        if server_id is None or snapshot_id in allowed:
            continue
        others = [i for i, sid in alive.items() if sid == server_id]
        others += [i for i, sid, ready in new if sid == server_id and ready <= entry["time"] and i != snapshot_id]
        if not others and not any(sid == server_id for sid, dummy in losses):
            losses.append((server_id, "its last completed snapshot %s was deleted while it was the last one" % snapshot_id))
    return losses


def applied_deletion(entry):
    """Whether a logged DELETE deleted its snapshot: any 2xx the service gave (204, or a proxy's 200 text in its place),
    also when the client never saw it (the connection dropped after it, or the answer came after the client's timeout)."""
    return 200 <= entry["status"] < 300 and entry.get("applied", True)


def deletions(log):
    """Ids of the snapshots the provider deleted in `log` (applied_deletion)."""
    return [int(entry["path"].rstrip("/").split("/")[-1]) for entry in api_calls(log, "DELETE") if applied_deletion(entry)]


def _entries(results):
    for result in results:
        for entry in [result] + list(result.get("results") or []):
            if isinstance(entry, dict):
                yield entry


def reported_deletions(results):
    """Ids the task results report as deleted by them: in `pruned`, or state=absent's own target when its result says it
    deleted it (changed, and a msg that begins "Deleted")."""
    reported = set()
    for entry in _entries(results):
        reported.update(s.get("id") for s in entry.get("pruned") or [] if isinstance(s, dict))
        snapshot = entry.get("snapshot")
        if entry.get("changed") and isinstance(snapshot, dict) and str(entry.get("msg", "")).startswith("Deleted"):
            reported.add(snapshot.get("id"))
    return reported


def unreported_deletions(log, results, allowed=()):
    """Snapshots deleted during a case that no task result reports as its deletion (reported_deletions). `allowed`: ids
    whose deletion needs no report (a case's own clean-up); a task's target is NOT one: its deletion must be reported too."""
    return sorted(set(deletions(log)) - reported_deletions(results) - set(allowed))


def _texts(value):
    """Every string inside a result's value (warnings may be plain strings or ansible-core 2.19's structured events)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _texts(item)


def silent_retries(log, results):
    """POSTs the provider refused (a 4xx other than 429: the request was read and turned down) that were sent again, the
    same path and body, while no warning of the task's results carries the provider's words: a retry the user did not
    see. [(path, status, the provider's words)]."""
    warned = " ".join(text for entry in _entries(results) for text in _texts(entry.get("warnings") or []))
    posts = api_calls(log, "POST")
    found = []
    for index, entry in enumerate(posts):
        if not 400 <= entry["status"] < 500 or entry["status"] == 429:
            continue
        again = any(later["path"] == entry["path"] and later.get("body") == entry.get("body") for later in posts[index + 1 :])
        words = entry.get("error") or ""
        if again and (not words or words not in warned):
            found.append((entry["path"], entry["status"], words))
    return found


def never_sent(method, target):
    """Recorder's default answer, at once so that nothing waits on it: an empty page to a GET, a refusal to the rest."""
    if method == "GET":
        return 200, {}, {"count": 0, "next": None, "previous": None, "results": []}
    return 400, {}, {"detail": "recorded, not served: this request should never have been sent"}


class Recorder(http.server.ThreadingHTTPServer):
    """A loopback HTTP server that records every request (method, target, headers) and answers `respond(method,
    target)` -> (status, headers, JSON body or None). By default it stands where requests that should never be sent
    go, tagged by the first segment of their path (api_url http://127.0.0.1:PORT/<tag>/api/v1)."""

    daemon_threads = True

    def __init__(self, respond=never_sent):
        self.requests = []
        self.respond = respond
        super().__init__(("127.0.0.1", 0), _RecordingHandler)
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()

    @property
    def port(self):
        return self.server_address[1]

    def url(self, tag):
        return "http://127.0.0.1:%d/%s/api/v1" % (self.port, tag)

    def tagged(self, tag):
        return [r for r in self.requests if tag_of(r) == tag]


def tag_of(request):
    """The first segment of a recorded request's path."""
    return request["target"].split("/")[1]


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.requests.append({"method": self.command, "target": self.path, "headers": dict(self.headers.items())})
        status, headers, body = self.server.respond(self.command, self.path)
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        return


def run_counted(tmp_path, tasks, token=TOKEN, **options):
    """harness.run_playbook with this suite's token and lookup plugin (sim_control), each run and token leak counted in
    the tally."""

    def count(unused_run, leaked):
        TALLY.add("playbook runs")
        if leaked:
            TALLY.add("token leaks")

    return run_playbook(tmp_path, tasks, token, lookup_dir=LOOKUP_DIR, on_finish=count, **options)
