# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet model: the collection's own engine on a virtual clock, against the simulator in-process.

What runs is the collection's code, unchanged: present.ensure_present (the engine of vps_snapshot and
vps_snapshot_batch), SnapshotService, VpsClient with its Pacer (pacing, Retry-After holds, AIMD) and
wait.wait_for with poll_intervals. Only three things are the model's:

- time: the harness's SharedVirtualClock (tests/harness/clock.py) that every sleep of the engine, of
  the client and of the simulator reads. It advances only when every participating thread is asleep,
  to the earliest wake-up, so threads (the batch's `concurrency` workers, or one worker per fork) keep
  their real interleaving while a 600 s creation takes no real time;
- transport: requests go to the simulator's Flask app through a requests adapter (no socket), each
  request costing `request_seconds` of virtual time, measured on the real loopback simulator;
- Ansible: the per-host path is a pool of `forks` workers, each host costing the per-task overhead
  measured in the real runs (before the module's first request and after its last) around one
  ensure_present of its server; the batch path is one ensure_present of every server plus the
  overhead measured in its real run. SnapshotService.parallel is replaced by the same map on threads
  the clock knows about (the engine's ThreadPoolExecutor would hide them from it).
"""

from __future__ import annotations

import random
import threading
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from werkzeug.test import EnvironBuilder, run_wsgi_app

from ansible_collections.vps.cloud.plugins.module_utils.client import VpsClient
from ansible_collections.vps.cloud.plugins.module_utils.present import PresentOptions, ensure_present
from ansible_collections.vps.cloud.plugins.module_utils.request import SnapshotRequest
from ansible_collections.vps.cloud.plugins.module_utils.service import SnapshotService
from ansible_collections.vps.cloud.tests.harness.simulator import calls

MODEL_ORIGIN = "http://localhost"
API_URL = MODEL_ORIGIN + "/api/v1"


class WsgiAdapter(BaseAdapter):
    """requests -> the simulator's Flask app, in-process (the app's rate limit, log and faults all apply)."""

    def __init__(self, app):
        super().__init__()
        self.app = app

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):  # pylint: disable=too-many-arguments
        parts = urlsplit(request.url)
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        builder = EnvironBuilder(
            path=parts.path, query_string=parts.query, method=request.method, base_url=MODEL_ORIGIN, headers=dict(request.headers), data=body or b""
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        app_iter, status, headers = run_wsgi_app(self.app, environ)
        try:
            content = b"".join(app_iter)
        finally:
            if hasattr(app_iter, "close"):
                app_iter.close()
        response = requests.Response()
        response.status_code = int(status.split(" ", 1)[0])
        response.reason = status.split(" ", 1)[1] if " " in status else ""
        response.headers = CaseInsensitiveDict(headers.items())
        response._content = content  # pylint: disable=protected-access
        response.encoding = "utf-8"
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass


class ModelClient(VpsClient):
    """The collection's client; sessions go to the app in-process and each request costs virtual time."""

    def __init__(self, app, clock, request_seconds, **kwargs):
        super().__init__(API_URL, "model-token", sleep=clock.sleep, clock=clock.time, **kwargs)
        self._app = app
        self._virtual = clock
        self._request_seconds = request_seconds

    @property
    def session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers.update(self._headers)  # pylint: disable=protected-access
            session.mount(MODEL_ORIGIN + "/", WsgiAdapter(self._app))
        return session

    def _send(self, method, url, params, json_body, idempotent, paced=True):
        response = super()._send(method, url, params, json_body, idempotent, paced=paced)
        self._virtual.sleep(self._request_seconds)
        return response


class ModelService(SnapshotService):
    """SnapshotService whose parallel map runs on threads the virtual clock counts."""

    def __init__(self, client, clock, **kwargs):
        super().__init__(client, sleep=clock.sleep, clock=clock.time, **kwargs)
        self._virtual = clock

    def parallel(self, items, work):
        items = list(items)
        if self.concurrency == 1 or len(items) <= 1:
            return [_outcome(work, item) for item in items]
        return run_pool(self._virtual, items, min(self.concurrency, len(items)), lambda item: _outcome(work, item))


def _outcome(work, item):
    try:
        return work(item)
    except Exception as exc:  # pylint: disable=broad-except  # as SnapshotService.parallel does
        return exc


def run_pool(clock, items, workers, work):
    """[work(item) for item in items] on `workers` threads, the calling thread leaving the clock meanwhile."""
    results = [None] * len(items)
    queue = list(enumerate(items))
    queue.reverse()
    lock = threading.Lock()
    errors = []

    def worker():
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    index, item = queue.pop()
                results[index] = work(item)
        except BaseException as exc:  # pylint: disable=broad-except  # surfaced below
            errors.append(exc)
        finally:
            clock.leave()

    clock.join(workers)
    clock.leave()  # the caller waits on the threads, not on the clock
    threads = [threading.Thread(target=worker, daemon=True) for _index in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    clock.join()
    if errors:
        raise errors[0]
    return results


def count_log(sim):
    """Requests (API only), POSTs, GETs and 429s of the rate limit, from the simulator's request log."""
    entries = calls(sim)
    return dict(
        requests=len(entries),
        posts=sum(1 for e in entries if e["method"] == "POST"),
        gets=sum(1 for e in entries if e["method"] == "GET"),
        deletes=sum(1 for e in entries if e["method"] == "DELETE"),
        rate_limited=sum(1 for e in entries if "rate_limited" in (e.get("fault") or "")),
    )


def run_batch(sim, clock, servers, name, request_seconds, overhead, concurrency=8, rate=None, wait_timeout=3600):
    """One vps_snapshot_batch (state present) of every server: virtual seconds, and its entries."""
    start = clock.time()
    clock.join()
    try:
        clock.sleep(overhead[0])
        client = ModelClient(sim.app, clock, request_seconds, rate=rate, concurrency=concurrency)
        service = ModelService(client, clock, concurrency=concurrency)
        options = PresentOptions(wait_timeout=wait_timeout)
        entries = ensure_present(service, [SnapshotRequest(server, name) for server in servers], options)
        clock.sleep(overhead[1])
    finally:
        clock.leave()
    failed = [e.server_id for e in entries if e.error is not None]
    return dict(wall=clock.time() - start, failed=failed, sent=client.requests_sent, client_rate_limited=client.rate_limited)


def run_per_host(sim, clock, servers, name, request_seconds, overhead, forks, wait_timeout=3600):
    """One vps_snapshot task per host (state present), `forks` at a time: virtual seconds and outcomes."""
    start = clock.time()
    ends, failed = {}, []

    def host(server):
        clock.sleep(overhead[0])
        client = ModelClient(sim.app, clock, request_seconds)
        service = ModelService(client, clock, concurrency=1)
        entry = ensure_present(service, [SnapshotRequest(server, name)], PresentOptions(wait_timeout=wait_timeout))[0]
        if entry.error is not None:
            failed.append(server)
        clock.sleep(overhead[1])
        ends[server] = clock.time()

    clock.join()
    try:
        run_pool(clock, servers, min(forks, len(servers)), host)
    finally:
        clock.leave()
    return dict(wall=clock.time() - start, failed=sorted(failed), host_ends=[ends[s] - start for s in servers])


def seed(value):
    """Poll jitter (wait.poll_intervals draws from the random module) reproducible per model run."""
    random.seed(value)
