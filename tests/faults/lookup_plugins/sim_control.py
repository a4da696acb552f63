# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Test-only lookup for tests/faults: drives the simulator's /_sim control API between the tasks of one playbook.

Each call ends the previous case: given the `latency` that case's faults added, it waits until none of its
requests can still be in flight at the simulator (so that they land in that case's log), clears the faults and puts the
simulator's settings back, records the state and request log to a JSON-lines file, and clears the log. Then it
arms the next case: its faults, provider settings and server statuses. Loopback only.
"""

from __future__ import annotations

import json
import time
import urllib.request

from ansible.plugins.lookup import LookupBase

DOCUMENTATION = r"""
name: sim_control
short_description: Checkpoint the vps simulator and arm the next case's faults (tests only)
description:
  - Not shipped; used by tests/faults only.
"""

# The control API is on 127.0.0.1: never through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _call(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with _OPENER.open(request, timeout=30) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def _quiesce(root, latency, quiet=0.3, limit=60.0):
    """Wait until no request of the previous case can still be in flight, then until the log has been quiet a moment.

    The previous task has ended, so a request still held by `latency` at the simulator was sent before now and
    is answered (and logged) within `latency` seconds from now.
    """
    if latency <= 0:
        return
    start = time.time()
    while time.time() < start + limit:
        log = _call("GET", root + "/_sim/log")
        last = max([entry["time"] for entry in log] + [0.0])
        now = time.time()
        if now >= start + latency and now - last >= quiet:
            return
        time.sleep(0.05)


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        root = str(kwargs["root"])
        _quiesce(root, float(kwargs.get("latency") or 0))
        _call("POST", root + "/_sim/reset", {"settings": True})
        state = _call("GET", root + "/_sim/state")
        record = {
            "label": str(kwargs.get("label") or ""),
            "snapshots": state["snapshots"],
            "servers": state["servers"],
            "log": _call("GET", root + "/_sim/log"),
            "time": time.time(),
        }
        _call("DELETE", root + "/_sim/log")
        settings = json.loads(str(kwargs.get("settings") or "{}"))
        if settings:
            _call("POST", root + "/_sim/settings", settings)
        for server in json.loads(str(kwargs.get("servers") or "[]")):
            server = dict(server)
            _call("POST", root + "/_sim/servers/%s" % server.pop("id"), server)
        faults = json.loads(str(kwargs.get("faults") or "{}"))
        if faults:
            _call("POST", root + "/_sim/faults", faults)
        with open(str(kwargs["record"]), "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        return [len(record["log"])]
