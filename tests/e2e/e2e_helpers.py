"""What tests/e2e shares beyond the harness (tests/harness): the suite's token and servers, the module names, tasks that
change the provider's state from inside a playbook, two playbooks racing, a server that never answers.

Imported as ansible_collections.vps.cloud.tests.e2e.e2e_helpers. Seeding, the request log and the runs themselves are the
harness's; everything a test looks at is what the provider saw (the request log) and what the user sees (the registered
results).
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time

from ansible_collections.vps.cloud.tests.harness.playbook import run_playbook
from ansible_collections.vps.cloud.tests.harness.waiting import wait_until

# Distinctive, so that a leak anywhere is found by a plain substring search.
TOKEN = "e2e-tok-7Hq2-SECRET-do-not-print"
SERVERS = [
    {"id": 101, "name": "web-01", "status": "running"},
    {"id": 102, "name": "web-02", "status": "running"},
    {"id": 103, "name": "db-01", "status": "running"},
]
SNAP = "vps.cloud.vps_snapshot"
INFO = "vps.cloud.vps_snapshot_info"
SERVER_INFO = "vps.cloud.vps_server_info"
BATCH = "vps.cloud.vps_snapshot_batch"
PRUNE = "vps.cloud.vps_snapshot_prune"


def play_on(sim, tmp_path, tasks, api_url=None, **options):
    """harness.run_playbook of `tasks` against `sim` with the suite's token; no traceback may show anywhere."""
    return run_playbook(tmp_path, tasks, TOKEN, api_url=api_url or sim.base_url, no_traceback=True, **options)


# A task run by the playbook itself, right before the task under test: no guess at how long ansible takes to start.
_POST = (
    "import os, sys, urllib.request\n"
    "headers = {'Content-Type': 'application/json'}\n"
    "if sys.argv[3] == 'api':\n"
    "    headers['Authorization'] = 'Bearer ' + os.environ['VPS_API_TOKEN']\n"
    "request = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method='POST', headers=headers)\n"
    "urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10).read()\n"
)


def hold_task(sim, server_id, status, hold_seconds=None, then=None):
    """A task that sets the server's status (for hold_seconds, then `then`) through the simulator's control API."""
    body = dict(status=status)
    if hold_seconds is not None:
        body.update(hold_seconds=hold_seconds, then=then or "running")
    return {
        "name": "server %s is %s" % (server_id, status),
        "ansible.builtin.command": {"argv": [sys.executable, "-c", _POST, "%s/_sim/servers/%s" % (sim.root_url, server_id), json.dumps(body), "control"]},
    }


def restore_task(sim, snapshot_id):
    """A task that starts a restore straight through the API (someone else's restore), the token from the environment."""
    return {
        "name": "someone else restores from %s" % snapshot_id,
        "ansible.builtin.command": {"argv": [sys.executable, "-c", _POST, "%s/snapshots/%s/restore/" % (sim.base_url, snapshot_id), "", "api"]},
    }


def race(sim, tmp_path, task):
    """Two playbooks running `task` at the same moment: both wait at a barrier (a file), then run it together.
    Returns the two registered results."""
    go = tmp_path / "go"
    barrier = "import os, sys, time\nopen(sys.argv[1], 'w').close()\nwhile not os.path.exists(sys.argv[2]):\n    time.sleep(0.01)\n"
    results = {}

    def racer(label):
        ready = tmp_path / ("ready-" + label)
        tasks = [{"ansible.builtin.command": {"argv": [sys.executable, "-c", barrier, str(ready), str(go)]}}, task]
        results[label] = play_on(sim, tmp_path / label, tasks)[1]

    threads = [threading.Thread(target=racer, args=(label,)) for label in ("a", "b")]
    for thread in threads:
        thread.start()
    wait_until(lambda: (tmp_path / "ready-a").exists() and (tmp_path / "ready-b").exists(), timeout=120, what="both playbooks at the barrier")
    go.touch()
    for thread in threads:
        thread.join(timeout=150)
    assert set(results) == {"a", "b"}, "a playbook did not finish"
    return results["a"], results["b"]


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never answers: an API whose service hangs.

    Records when the first connection came and when the last one was closed by the client.
    """

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        self.closed = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._accept, daemon=True)]

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, dummy = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(time.monotonic())
            thread = threading.Thread(target=self._hold, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _hold(self, conn):
        conn.settimeout(0.2)
        with conn:
            while not self.stop.is_set():
                try:
                    if conn.recv(65536) == b"":
                        self.closed.append(time.monotonic())
                        return
                except socket.timeout:
                    continue
                except OSError:
                    self.closed.append(time.monotonic())
                    return

    def __enter__(self):
        self.threads[0].start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in list(self.threads):
            thread.join(timeout=2)
        self.sock.close()
