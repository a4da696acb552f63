# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The API token never shows, plain http draws a warning, and a redirect never carries the Authorization header.

Loopback only: the "non-loopback" host is reached through a recording proxy on 127.0.0.1, and the
redirect targets are other loopback servers.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from ansible_collections.vps.cloud.tests.faults.fault_harness import (
    BACKGROUND,
    SERVERS,
    TALLY,
    TOKEN,
    Recorder,
    run_counted,
)
from ansible_collections.vps.cloud.tests.harness.simulator import Simulator

WRONG_TOKEN = "flt-Wrong-3Jd8-Kp2M-also-never-print"
EMPTY_PAGE = {"count": 0, "next": None, "previous": None, "results": []}
MASK = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"

pytestmark = pytest.mark.timeout(300)


def start_background(tmp_path_factory):
    """The two longest runs of this file in the background (conftest.py); their tests judge them."""
    return dict(
        vvvv=BACKGROUND.submit("secrets-vvvv", run_at_vvvv, tmp_path_factory.mktemp("vvvv")),
        redirects=BACKGROUND.submit("secrets-redirects", run_redirects, tmp_path_factory.mktemp("redirects")),
    )


def run_at_vvvv(tmp_path):
    with Simulator(tokens=[TOKEN], servers=SERVERS, create_seconds=1, restore_seconds=1) as sim:
        sim.add_snapshots(102, 1, status="completed")
        return run_counted(tmp_path, vvvv_tasks(sim.snapshots()[0]["id"]), api_url=sim.base_url, diff=True, verbosity=4)


def vvvv_tasks(target):
    explicit = {"api_token": TOKEN}
    snap = "vps.cloud.vps_snapshot"
    tasks = [
        {snap: {"server_id": 101, "name": "secret-a", "description": "diff me"}},
        {snap: {"server_id": 101, "name": "secret-a"}},
        {snap: dict(explicit, server_id=101, name="secret-b"), "check_mode": True},
        {"vps.cloud.vps_snapshot_info": dict(explicit, server_id=101)},
        {snap: dict(explicit, state="restored", snapshot_id=target)},
        {snap: {"state": "absent", "server_id": 101, "name": "secret-a"}},
        {snap: dict(explicit, server_id=101, name="has space")},
        {snap: dict(explicit, server_id=999, name="no-such-server")},
        {"vps.cloud.vps_snapshot_info": {"api_token": WRONG_TOKEN}},
        {"vps.cloud.vps_snapshot_info": {"api_token": TOKEN + " trailing words"}},
        {"vps.cloud.vps_snapshot_info": dict(explicit, api_url="http://127.0.0.1:9/api/v1", api_retries=0, api_timeout=1)},
    ]
    return tasks


def test_token_never_shows_at_vvvv(tmp_path_factory):
    """Successes, no-ops, check mode, diffs and failures of every kind, at -vvvv: the token is nowhere."""
    run = BACKGROUND.started(start_background, tmp_path_factory)["vvvv"].result()
    everything = run.stdout + run.stderr + "".join(run.files.values())
    assert WRONG_TOKEN not in everything
    assert "Traceback" not in run.stdout + run.stderr
    subjects = {6: ("name",), 9: ("api_token",)}
    for index, result in enumerate(run.results):
        assert TALLY.task(result, subjects=subjects.get(index)) != "unclear", result.get("msg")
        assert TOKEN not in json.dumps(result)
        module_args = (result.get("invocation") or {}).get("module_args") or {}
        if "api_token" in module_args:
            assert module_args["api_token"] == MASK, module_args
    outcomes = [bool(r.get("failed")) for r in run.results]
    assert outcomes == [False] * 6 + [True] * 5, [r.get("msg") for r in run.results]
    assert "HTTP 401" in run[8]["msg"]
    assert "api_token must be" in run[9]["msg"]


def test_plain_http_to_a_remote_host_warns_without_a_request():
    """In-process: the client's warning for http:// to a host that is not loopback; no request is sent."""
    from ansible_collections.vps.cloud.plugins.module_utils.client import VpsClient  # pylint: disable=import-outside-toplevel

    remote = VpsClient("http://vps.example.test/api/v1", TOKEN)
    assert len(remote.warnings) == 1
    assert "plain http://" in remote.warnings[0] and "vps.example.test" in remote.warnings[0]
    assert TOKEN not in remote.warnings[0]
    for quiet in ("http://127.0.0.1:8080/api/v1", "http://localhost/api/v1", "http://[::1]:9/api/v1", "https://vps.example.test/api/v1"):
        assert VpsClient(quiet, TOKEN).warnings == [], quiet


def test_plain_http_warning_reaches_the_task(tmp_path):
    """The same warning from a real task: vps.example.test is reached only through a recording proxy on 127.0.0.1."""
    with Recorder(lambda method, target: (200, {}, EMPTY_PAGE)) as proxy:
        proxy_url = "http://127.0.0.1:%d" % proxy.port
        env = {"HTTP_PROXY": proxy_url, "http_proxy": proxy_url}
        task = {"vps.cloud.vps_snapshot_info": {"api_url": "http://vps.example.test/api/v1", "api_retries": 0, "api_timeout": 5}}
        run = run_counted(tmp_path, [task], env=env, drop_env=("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"))
    result = run[0]
    assert TALLY.task(result) != "unclear", result.get("msg")
    assert [urlsplit(r["target"]).hostname for r in proxy.requests] == ["vps.example.test"], proxy.requests
    assert result.get("failed") is not True, result
    assert any("plain http://" in warning and "vps.example.test" in warning for warning in result.get("warnings", [])), result


def run_redirects(tmp_path):
    """The redirect cases against two recording servers; returns the run and what each server received."""
    with Recorder(lambda method, target: (200, {}, EMPTY_PAGE)) as other:
        other_by_name = "http://localhost:%d/api/v1/snapshots/" % other.port
        other_by_port = "http://127.0.0.1:%d/api/v1/snapshots/" % other.port

        def redirector(method, target):
            route = target.split("/")[1]
            if route == "host":
                return 302, {"Location": other_by_name}, None
            if route == "port":
                return 302, {"Location": other_by_port}, None
            if route == "page":
                return 200, {}, dict(EMPTY_PAGE, next=other_by_name + "?page=2")
            if method == "POST":
                return 307, {"Location": other_by_name}, None
            return 200, {}, EMPTY_PAGE

        with Recorder(redirector) as front:
            base = "http://127.0.0.1:%d/%%s/api/v1" % front.port
            tasks = [
                {"vps.cloud.vps_snapshot_info": {"api_url": base % "host"}},
                {"vps.cloud.vps_snapshot_info": {"api_url": base % "port"}},
                {"vps.cloud.vps_snapshot_info": {"api_url": base % "page"}},
                # A redirected POST may have been applied: the module looks for the snapshot for 2 x api_timeout (at
                # least 10 s) before it gives up; a small api_timeout keeps that look short.
                {"vps.cloud.vps_snapshot": {"api_url": base % "post", "server_id": 101, "name": "redirected", "api_retries": 0, "api_timeout": 2}},
            ]
            run = run_counted(tmp_path, tasks)
    return run, front.requests, other.requests


def test_redirect_to_another_host_never_carries_the_token(tmp_path_factory):
    """GET redirects to another host or port are followed without Authorization; a POST redirect and a
    next page on another origin are refused. The other origin is a recording server on loopback."""
    run, front_requests, other_requests = BACKGROUND.started(start_background, tmp_path_factory)["redirects"].result()
    for result in run.results:
        assert TALLY.task(result) != "unclear", result.get("msg")
    assert len(front_requests) >= 4 and all("Authorization" in r["headers"] for r in front_requests)
    followed = [r for r in other_requests if r["method"] == "GET"]
    assert len(followed) == 2, other_requests
    assert not [r for r in other_requests if any(k.lower() == "authorization" for k in r["headers"])], other_requests
    assert not [r for r in other_requests if "page=2" in r["target"] or r["method"] == "POST"], other_requests
    assert [bool(r.get("failed")) for r in run.results] == [False, False, True, True], [r.get("msg") for r in run.results]
    assert "another origin" in run[2]["msg"]
    assert "redirect" in run[3]["msg"]
