# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""TLS against the simulator's self-signed certificate: refused by default, accepted with ca_path or validate_certs=false.

Run with this machine's REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE removed and kept: neither may make the
default accept the certificate, nor override an explicit ca_path.
"""

from __future__ import annotations

import pytest

from ansible_collections.vps.cloud.tests.faults.fault_harness import SERVERS, TALLY, TOKEN, run_counted
from ansible_collections.vps.cloud.tests.harness.simulator import Simulator

CA_ENV = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
INFO = "vps.cloud.vps_snapshot_info"

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def tls_sim():
    with Simulator(tokens=[TOKEN], servers=SERVERS, tls=True, create_seconds=1, restore_seconds=1) as simulator:
        simulator.add_snapshots(101, 2)
        yield simulator


@pytest.mark.parametrize("ca_env", ["removed", "kept"])
def test_self_signed_certificate(tls_sim, tmp_path, ca_env):
    tasks = [
        {INFO: {}},
        {INFO: {"validate_certs": True, "api_retries": 0}},
        {INFO: {"ca_path": tls_sim.ca_bundle, "server_id": 101}},
        {INFO: {"validate_certs": False, "server_id": 101}},
        {"vps.cloud.vps_snapshot": {"server_id": 102, "name": "over-tls-%s" % ca_env, "ca_path": tls_sim.ca_bundle}},
    ]
    drop = CA_ENV if ca_env == "removed" else ()
    run = run_counted(tmp_path, tasks, api_url=tls_sim.base_url, drop_env=drop)
    assert "Traceback" not in run.stdout + run.stderr
    for result in run.results:
        assert TALLY.task(result) != "unclear", result.get("msg")
    for refused in run.results[:2]:
        assert refused.get("failed") is True, refused
        assert "certificate" in refused["msg"] and "ca_path" in refused["msg"], refused["msg"]
        assert "<urllib3" not in refused["msg"] and "object at 0x" not in refused["msg"], refused["msg"]
    for accepted in run.results[2:]:
        assert not accepted.get("failed"), accepted.get("msg")
    assert len(run[2]["snapshots"]) == 2 and len(run[3]["snapshots"]) == 2
    assert run[4]["snapshot"]["status"] == "completed"


def test_ca_bundle_from_the_environment_variable(tls_sim, tmp_path):
    """VPS_CA_PATH is the documented fallback of ca_path."""
    run = run_counted(tmp_path, [{INFO: {}}], api_url=tls_sim.base_url, env={"VPS_CA_PATH": tls_sim.ca_bundle}, drop_env=CA_ENV)
    assert TALLY.task(run[0]) != "unclear", run[0].get("msg")
    assert not run[0].get("failed"), run[0].get("msg")


def test_unreadable_ca_bundle_is_a_clear_error(tls_sim, tmp_path):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    run = run_counted(tmp_path, [{INFO: {"ca_path": str(garbage), "api_retries": 0}}], api_url=tls_sim.base_url, drop_env=CA_ENV)
    kind = TALLY.task(run[0])
    assert "Traceback" not in run.stdout + run.stderr
    assert kind == "clean", run[0]


def test_missing_ca_bundle_is_a_clear_error(tls_sim, tmp_path):
    missing = str(tmp_path / "no-such-ca.pem")
    run = run_counted(tmp_path, [{INFO: {"ca_path": missing, "api_retries": 0}}], api_url=tls_sim.base_url, drop_env=CA_ENV, verbosity=3)
    kind = TALLY.task(run[0])
    if "Traceback" in run.stdout + run.stderr:
        TALLY.add("tracebacks")
    assert "Traceback" not in run.stdout + run.stderr, run.stdout[-3000:]
    assert kind == "clean", run[0]
    assert "ca_path" in run[0]["msg"] or missing in run[0]["msg"], run[0]["msg"]
