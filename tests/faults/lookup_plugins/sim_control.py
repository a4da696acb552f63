# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Test-only lookup for tests/faults: drives the simulator's /_sim control API between the tasks of one playbook.

Each call ends the previous case (clears the faults), records the simulator's state and request log
to a JSON-lines file, clears the log and arms the faults of the next case. Loopback only.
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


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        root = str(kwargs["root"])
        time.sleep(float(kwargs.get("settle") or 0))
        _call("POST", root + "/_sim/reset", {})
        state = _call("GET", root + "/_sim/state")
        record = {"label": str(kwargs.get("label") or ""), "snapshots": state["snapshots"], "servers": state["servers"],
                  "log": _call("GET", root + "/_sim/log")}
        _call("DELETE", root + "/_sim/log")
        faults = json.loads(str(kwargs.get("faults") or "{}"))
        if faults:
            _call("POST", root + "/_sim/faults", faults)
        with open(str(kwargs["record"]), "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        return [len(record["log"])]
