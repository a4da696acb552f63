# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""How many calls it takes, inside the collection's code, from vps_snapshot's main() to the creation POST.

Runs `vps_snapshot state=present` in process against a mocked provider (an empty server), records every call of a
function in plugins/ until the POST /snapshots/ is sent, and prints the call chain standing at the POST (the frames in
plugins/, outermost first), its length, the files it crosses, and how many calls of plugin code ran before it.

Usage, from a laid-out collection (scripts/test_one.sh lays one out; any ansible-core venv with responses):
    PYTHONPATH=<folder holding ansible_collections> python tools/callpath.py
"""

import json
import os
import sys
import threading
import traceback
from unittest import mock

import requests
import responses

from ansible.module_utils import basic
from ansible_collections.vps.cloud.plugins.modules import vps_snapshot

API = "https://api.vps.test/api/v1"
PLUGINS = os.path.dirname(os.path.dirname(os.path.abspath(vps_snapshot.__file__)))


def in_plugins(filename):
    return os.path.abspath(filename).startswith(PLUGINS + os.sep)


def module_args(args):
    """Module arguments the way every supported ansible-core reads them."""
    try:
        from ansible.module_utils.testing import patch_module_args  # ansible-core 2.19 and later

        return patch_module_args(args)
    except ImportError:
        return mock.patch.object(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode("utf-8"))


def main():
    calls = []
    chain = []
    original_request = requests.Session.request

    def profile(frame, event, _arg):
        if event == "call" and not chain and in_plugins(frame.f_code.co_filename):
            calls.append((os.path.relpath(frame.f_code.co_filename, PLUGINS), frame.f_code.co_name))

    def spy(session, method, url, *args, **kwargs):
        if method == "POST" and url.endswith("/snapshots/") and not chain:
            frames = [f for f in traceback.extract_stack() if in_plugins(f.filename)]
            chain.extend((os.path.relpath(f.filename, PLUGINS), f.name, threading.current_thread().name) for f in frames)
        return original_request(session, method, url, *args, **kwargs)

    server = {"id": 101, "name": "web-01"}
    created = {"id": 900, "server": server, "name": "callpath", "status": "completed", "size_mb": 1, "created_at": "2025-01-16T16:15:00Z", "description": ""}
    args = {"api_url": API, "api_token": "callpath-token", "server_id": 101, "name": "callpath", "wait": False}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as provider:
        provider.add(responses.GET, API + "/snapshots/", json={"count": 0, "next": None, "previous": None, "results": []})
        provider.add(responses.GET, API + "/servers/101/", json=dict(server, status="running"))
        provider.add(responses.POST, API + "/snapshots/", json=dict(created, status="in_progress"), status=201)
        with mock.patch.object(requests.Session, "request", spy), module_args(args):
            sys.setprofile(profile)
            threading.setprofile(profile)
            try:
                vps_snapshot.main()
            except SystemExit:
                pass
            finally:
                sys.setprofile(None)
                threading.setprofile(None)
    if not chain:
        print("no creation POST was sent", file=sys.stderr)
        return 1
    print("call chain standing at the creation POST (plugins/ frames, outermost first):", file=sys.stderr)
    for number, (filename, function, thread) in enumerate(chain, 1):
        print("  %2d %s:%s%s" % (number, filename, function, "" if thread == "MainThread" else " [thread %s]" % thread), file=sys.stderr)
    files = sorted(set(f for f, _n, _t in chain))
    print("chain length: %d calls in %d files (%s); plugin calls before the POST: %d" % (len(chain), len(files), ", ".join(files), len(calls)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
