# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Helpers shared by the module tests: a virtual clock, request bookkeeping, provider-shaped data, a module runner."""

from __future__ import annotations

import json
from unittest import mock

import pytest
import responses

from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args

API = "https://api.vps.test/api/v1"
TOKEN = "tok-SECRET-123"
SERVER_ID = 12345
SERVER_NAME = "web-server-01"
# An argument value that means "leave this option out" (for run_module's defaults).
OMIT = object()

# The fields the provider documents for a snapshot, and those it may add at any time.
CONTRACT_FIELDS = {"id", "server", "name", "status", "size_mb", "created_at", "description"}
EXTRA_FIELDS = {"region": "eu-1", "internal_ref": "x-99", "message": "provider chatter"}


class VirtualTime:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def sleep(self, seconds):
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self):
        return self.now


def url(path):
    return "%s/%s" % (API, path)


def sent(mock):
    """(method, path with query) of every request sent, registered or not, in order."""
    return [(call.request.method, call.request.url[len(API):]) for call in mock.calls]


def request_json(mock, index):
    return json.loads(mock.calls[index].request.body)


def snap(snapshot_id, name, status="completed", created_at="2025-01-15T18:30:00Z", server_id=SERVER_ID,
         description="", size_mb=5120, extra=True):
    """A snapshot as the provider sends it, with undocumented extra fields by default."""
    raw = {"id": snapshot_id, "server": {"id": server_id, "name": SERVER_NAME}, "name": name, "status": status,
           "size_mb": size_mb if status == "completed" else None, "created_at": created_at, "description": description}
    if extra:
        raw.update(EXTRA_FIELDS)
        raw["server"] = dict(raw["server"], datacenter="fra1")
    return raw


def clean(raw):
    """What the modules must return for a raw snapshot: exactly the contract's fields."""
    result = dict((key, raw[key]) for key in CONTRACT_FIELDS)
    result["server"] = {"id": raw["server"]["id"], "name": raw["server"]["name"]}
    return result


def add_list(mock, items, server_id=SERVER_ID, status=200, body=None, page_url=None, next_url=None):
    """Register one GET of the snapshot list (filtered by server_id unless it is None)."""
    target = page_url or (url("snapshots/?server_id=%s" % server_id) if server_id is not None else url("snapshots/"))
    if body is None and status == 200:
        body = {"count": len(items), "next": next_url, "previous": None, "results": items}
    mock.add(responses.GET, target, json=body, status=status)


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
