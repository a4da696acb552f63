# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Helpers shared by the unit tests of the modules and of module_utils.

The virtual clock (VirtualTime: the harness's one VirtualClock, tests/harness/clock.py), provider-shaped data,
registrations of the provider's answers, request bookkeeping, a SnapshotService built on them, and a module runner.
"""

from __future__ import annotations

import json
from unittest import mock

import pytest
import responses
from responses import matchers

from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.common.parameters import PASS_VARS

from ansible_collections.vps.cloud.plugins.module_utils.client import VpsClient
from ansible_collections.vps.cloud.plugins.module_utils.service import SnapshotService
from ansible_collections.vps.cloud.tests.harness.clock import VirtualClock

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19 has no testing helper; its AnsibleModule reads the JSON in basic._ANSIBLE_ARGS
    import contextlib

    from ansible.module_utils import basic as ansible_basic

    @contextlib.contextmanager
    def patch_module_args(args=None):
        """What ansible.module_utils.testing.patch_module_args does on ansible-core 2.19 and later."""
        payload = json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode("utf-8")
        with mock.patch.object(ansible_basic, "_ANSIBLE_ARGS", payload):
            yield


API = "https://api.vps.test/api/v1"
TOKEN = "tok-SECRET-123"
SERVER_ID = 12345
SERVER_NAME = "web-server-01"
# The wall clock of every test (2025-01-20T12:00:00Z), so that the ages in messages are fixed.
NOW = 1737374400
# Sleeps in one test beyond which a loop is a runaway: it fails at once rather than hang until a timeout.
MAX_SLEEPS = 5000
# An argument value that means "leave this option out" (for run_module's defaults).
OMIT = object()

# The fields the provider documents for a snapshot, and those it may add at any time.
CONTRACT_FIELDS = {"id", "server", "name", "status", "size_mb", "created_at", "description"}
EXTRA_FIELDS = {"region": "eu-1", "internal_ref": "x-99", "message": "provider chatter"}

NEW_NAME = "before-update"
POST = ("POST", "/snapshots/")


class VirtualTime(VirtualClock):
    """The unit tests' virtual clock (the harness's one VirtualClock): monotonic seconds that pass only when the code under
    test sleeps (every sleep recorded, with its thread's name; thread-safe; more than MAX_SLEEPS fail as a runaway loop),
    and a wall clock that stays at `wall` (NOW)."""

    def __init__(self, start=1000.0, wall=NOW):
        super().__init__(start, wall=wall, wall_moves=False, max_sleeps=MAX_SLEEPS)


# Requests ---------------------------------------------------------------------------------------------------------


def url(path):
    return "%s/%s" % (API, path)


def sent(mock_):
    """(method, path with query) of every request sent, registered or not, in order."""
    return [(call.request.method, call.request.url[len(API) :]) for call in mock_.calls]


def request_json(mock_, index):
    return json.loads(mock_.calls[index].request.body)


def listing(server_id=SERVER_ID):
    return ("GET", "/snapshots/?server_id=%s" % server_id) if server_id is not None else ("GET", "/snapshots/")


def server_call(server_id=SERVER_ID):
    return ("GET", "/servers/%s/" % server_id)


def delete_call(snapshot_id):
    return ("DELETE", "/snapshots/%s/" % snapshot_id)


def restore_call(snapshot_id=801):
    return ("POST", "/snapshots/%s/restore/" % snapshot_id)


LIST = listing()
LIST_ALL = listing(None)
SERVER = server_call()


# Provider-shaped data ---------------------------------------------------------------------------------------------


def snap(snapshot_id, name, status="completed", created_at="2025-01-15T18:30:00Z", server_id=SERVER_ID, description="", size_mb=5120, extra=True):
    """A snapshot as the provider sends it, with undocumented extra fields by default."""
    raw = {
        "id": snapshot_id,
        "server": {"id": server_id, "name": SERVER_NAME},
        "name": name,
        "status": status,
        "size_mb": size_mb if status == "completed" else None,
        "created_at": created_at,
        "description": description,
    }
    if extra:
        raw.update(EXTRA_FIELDS)
        raw["server"] = dict(raw["server"], datacenter="fra1")
    return raw


def new_snapshot(status="in_progress", name=NEW_NAME, snapshot_id=802, description="Snapshot before system update", server_id=SERVER_ID):
    """The snapshot a creation makes (created 2025-01-16T16:15:00Z), as the POST's answer or a later listing shows it."""
    raw = snap(snapshot_id, name, status=status, created_at="2025-01-16T16:15:00Z", description=description, server_id=server_id)
    raw["message"] = "Snapshot is being created. This may take 3-10 minutes depending on server size."
    return raw


def clean(raw):
    """What the modules must return for a raw snapshot: exactly the contract's fields."""
    result = dict((key, raw[key]) for key in CONTRACT_FIELDS)
    result["server"] = {"id": raw["server"]["id"], "name": raw["server"]["name"]}
    return result


def describe(raw, age=None):
    """How messages name a snapshot; `age` as the message shows it ('4d 17h old') where it does."""
    return "%s (id %s, %s, created %s%s)" % (raw["name"], raw["id"], raw["status"], raw["created_at"], ", " + age if age else "")


def server_body(status="running", server_id=SERVER_ID, **extra):
    body = {"id": server_id, "name": SERVER_NAME, "status": status, "ipv4": "192.0.2.10", "plan": "s-2"}
    body.update(extra)
    return body


def server_view(status, server_id=SERVER_ID):
    """A server as the modules return it."""
    return {"id": server_id, "name": SERVER_NAME, "status": status}


# The provider's answers ---------------------------------------------------------------------------------------------


def add_list(mock_, items, server_id=SERVER_ID, status=200, body=None, page_url=None, next_url=None):
    """Register one GET of the snapshot list (filtered by server_id unless it is None). The last one registered repeats."""
    target = page_url or (url("snapshots/?server_id=%s" % server_id) if server_id is not None else url("snapshots/"))
    if body is None and status == 200:
        body = {"count": len(items), "next": next_url, "previous": None, "results": items}
    mock_.add(responses.GET, target, json=body, status=status, match=[matchers.query_string_matcher(target.partition("?")[2])])


def add_post(mock_, payload=None, status=201, for_server=None, **kwargs):
    """Register one answer to POST /snapshots/ (only for the POSTs naming `for_server`, when given)."""
    if payload is not None:
        kwargs["json"] = payload
    elif "body" not in kwargs and "json" not in kwargs:
        kwargs["json"] = new_snapshot()
    if for_server is not None:
        kwargs["match"] = [matchers.json_params_matcher({"server_id": for_server}, strict_match=False)]
    mock_.add(responses.POST, url("snapshots/"), status=status, **kwargs)


def add_delete(mock_, snapshot_id, status=204, **kwargs):
    mock_.add(responses.DELETE, url("snapshots/%s/" % snapshot_id), status=status, **kwargs)


def add_server(mock_, status="running", http_status=200, body=None, server_id=SERVER_ID, **extra):
    if body is None:
        body = server_body(status, server_id, **extra)
    mock_.add(responses.GET, url("servers/%s/" % server_id), json=body, status=http_status)


def add_restore(mock_, snapshot_id=801, status=200, **kwargs):
    if status == 200 and "body" not in kwargs and "json" not in kwargs:
        kwargs["json"] = {
            "status": "success",
            "message": "Server is being restored from snapshot. This may take 5-15 minutes.",
            "snapshot": {"id": snapshot_id, "name": "pre-migration", "created_at": "2025-01-15T18:30:00Z"},
            "server": {"id": SERVER_ID, "name": SERVER_NAME, "status": "restoring"},
        }
    mock_.add(responses.POST, url("snapshots/%s/restore/" % snapshot_id), status=status, **kwargs)


# Running the code ---------------------------------------------------------------------------------------------------


def build_service(clock, check_mode=False, concurrency=1, retries=5, timeout=30, rate=None, warnings_=None):
    """A SnapshotService on a VpsClient for API, both on `clock`; warnings go to the list `warnings_`."""
    client = VpsClient(API, TOKEN, timeout=timeout, retries=retries, sleep=clock.sleep, clock=clock.monotonic, rate=rate)
    warn = warnings_.append if warnings_ is not None else None
    return SnapshotService(client, check_mode=check_mode, warn=warn, sleep=clock.sleep, clock=clock.monotonic, now=lambda: NOW, concurrency=concurrency)


def warnings(result):
    """The warning texts of a result (ansible-core 2.19 returns them as structured events)."""
    return [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings", [])]


def run_module(module, args, capsys, check_mode=False, diff=False):
    """Run module.main() with `args` (plus URL and token unless OMIT) and return its result with `rc`.

    Asserts the token appears nowhere in what the module printed.
    """
    full = dict(api_url=API, api_token=TOKEN)
    full.update(args)
    full = dict((key, value) for key, value in full.items() if value is not OMIT)
    if check_mode:
        full["_ansible_check_mode"] = True
    if diff:
        full["_ansible_diff"] = True
    if "inject_invocation" in PASS_VARS:
        # ansible-core 2.21 and later return `invocation` only when asked (older ones refuse the key, and always return it).
        full["_ansible_inject_invocation"] = True
    # Warnings are process-global in ansible-core: give every run a clean slate.
    with patch_module_args(full), mock.patch.dict(ansible_warnings._global_warnings, clear=True):  # pylint: disable=protected-access
        with pytest.raises(SystemExit) as exc:
            module.main()
    out = capsys.readouterr().out
    assert TOKEN not in out
    result = json.loads(out)
    result["rc"] = exc.value.code
    assert bool(result.get("failed")) == (result["rc"] != 0)
    return result
