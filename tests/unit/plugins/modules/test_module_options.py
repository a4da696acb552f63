# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The options every module shares (api_url, api_token, api_timeout, api_retries, validate_certs, ca_path), the token's
secrecy, and how a module reports a bug of the collection, checked on every module through one read each makes."""

from __future__ import annotations

import pytest
import responses

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.vps.cloud.plugins.module_utils import module_boundary, service
from ansible_collections.vps.cloud.plugins.modules import (
    vps_server_info,
    vps_snapshot,
    vps_snapshot_batch,
    vps_snapshot_info,
    vps_snapshot_prune,
)
from ansible_collections.vps.cloud.tests.unit.helpers import (
    OMIT,
    SERVER_ID,
    TOKEN,
    server_body,
    snap,
    warnings,
)

EXISTING = snap(801, "pre-migration")
PAGE = {"count": 1, "next": None, "previous": None, "results": [EXISTING]}
MASKED = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"

# Each module, with arguments that make it send exactly one GET: (module, args, path of that GET, its answer).
ONE_READ = {
    "vps_snapshot": (vps_snapshot, dict(server_id=SERVER_ID, name="pre-migration"), "snapshots/?server_id=12345", PAGE),
    "vps_snapshot absent": (vps_snapshot, dict(state="absent", server_id=SERVER_ID, name="nope"), "snapshots/?server_id=12345", PAGE),
    "vps_snapshot_info": (vps_snapshot_info, {}, "snapshots/", PAGE),
    "vps_server_info": (vps_server_info, dict(server_id=SERVER_ID), "servers/12345/", server_body()),
    "vps_snapshot_batch": (vps_snapshot_batch, dict(servers=[SERVER_ID], name="pre-migration"), "snapshots/?server_id=12345", PAGE),
    "vps_snapshot_batch absent": (vps_snapshot_batch, dict(state="absent", servers=[SERVER_ID], name="nope"), "snapshots/?server_id=12345", PAGE),
    "vps_snapshot_prune": (vps_snapshot_prune, dict(servers=[SERVER_ID], keep=5), "snapshots/?server_id=12345", PAGE),
}
MODULES = sorted(ONE_READ)


def register(rsps, which, base="https://api.vps.test/api/v1", status=200, body=None):
    dummy, dummy, path, answer = ONE_READ[which]
    rsps.add(responses.GET, "%s/%s" % (base, path), json=answer if body is None else body, status=status)


def run_one(run, which, check_mode=False, **args):
    module, base_args, dummy, dummy = ONE_READ[which]
    return run(module, dict(base_args, **args), check_mode=check_mode)


@pytest.mark.parametrize("which", MODULES)
def test_the_token_is_sent_as_a_bearer_token_and_masked_in_the_invocation(rsps, run, which):
    register(rsps, which)

    result = run_one(run, which)

    assert result["rc"] == 0
    assert result["changed"] is False
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer %s" % TOKEN
    assert result["invocation"]["module_args"]["api_token"] == MASKED
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("which", MODULES)
def test_the_token_and_the_url_come_from_the_environment(rsps, run, monkeypatch, which):
    monkeypatch.setenv("VPS_API_TOKEN", TOKEN)
    monkeypatch.setenv("VPS_API_URL", "https://env.vps.test/v2")
    register(rsps, which, base="https://env.vps.test/v2")

    result = run_one(run, which, api_token=OMIT, api_url=OMIT)

    assert result["rc"] == 0
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer %s" % TOKEN
    assert result["invocation"]["module_args"]["api_token"] == MASKED


@pytest.mark.parametrize("which", MODULES)
def test_the_provider_url_is_the_default(rsps, run, which):
    register(rsps, which, base="https://admin.vps.org/api/v1")

    result = run_one(run, which, api_url=OMIT)

    assert result["rc"] == 0


@pytest.mark.parametrize("which", MODULES)
def test_a_token_echoed_by_the_provider_is_masked_on_failure(rsps, run, which):
    register(rsps, which, status=401, body={"detail": "Invalid token %s." % TOKEN})

    result = run_one(run, which)

    # run() already asserted the token is nowhere in the output.
    assert result["failed"] is True
    assert "Invalid token " in result["msg"]
    assert "(HTTP 401 on GET " in result["msg"]


@pytest.mark.parametrize("which", MODULES)
def test_api_retries_defaults_to_five_retries_of_a_read(rsps, run, which):
    register(rsps, which, status=503, body={"detail": "Service unavailable"})

    result = run_one(run, which)

    assert result["failed"] is True
    assert "Service unavailable (HTTP 503 on GET " in result["msg"]
    assert len(rsps.calls) == 6


@pytest.mark.parametrize("which", MODULES)
def test_plain_http_to_a_remote_host_warns(rsps, run, which):
    register(rsps, which, base="http://api.vps.test/api/v1")

    result = run_one(run, which, api_url="http://api.vps.test/api/v1")

    assert result["rc"] == 0
    assert warnings(result) == ["api_url uses plain http:// to api.vps.test, which is not loopback: the API token travels unencrypted. Use https://."]


@pytest.mark.parametrize("which", MODULES)
def test_validate_certs_ca_path_and_api_timeout_reach_every_request(rsps, run, monkeypatch, tmp_path, which):
    # requests would put these bundles in place of verify=True.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    for args in ({}, dict(ca_path=str(bundle), api_timeout=7), dict(validate_certs=False, ca_path=str(bundle))):
        register(rsps, which)
        assert run_one(run, which, **args)["rc"] == 0
    sent = [(call.request.req_kwargs["verify"], call.request.req_kwargs["timeout"]) for call in rsps.calls]
    assert sent == [(True, 30), (str(bundle), 7), (False, 30)]


@pytest.mark.parametrize("which", MODULES)
def test_a_ca_path_under_home_is_expanded(rsps, run, monkeypatch, tmp_path, which):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    register(rsps, which)

    assert run_one(run, which, ca_path="~/ca.pem")["rc"] == 0
    assert rsps.calls[0].request.req_kwargs["verify"] == str(tmp_path / "ca.pem")


@pytest.mark.parametrize("which", MODULES)
def test_the_ca_bundle_may_come_from_the_environment(rsps, run, monkeypatch, tmp_path, which):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("VPS_CA_PATH", str(bundle))
    register(rsps, which)

    assert run_one(run, which)["rc"] == 0
    assert rsps.calls[0].request.req_kwargs["verify"] == str(bundle)


BAD_SHARED = [
    (dict(api_url="ftp://x"), "api_url must be an http:// or https:// URL such as https://admin.vps.org/api/v1, got 'ftp://x'"),
    (dict(api_url="not a url"), "api_url must be an http:// or https:// URL such as https://admin.vps.org/api/v1, got 'not a url'"),
    (dict(api_token="two words"), "api_token must be a non-empty string of printable ASCII characters without spaces"),
    (dict(api_timeout=0), "api_timeout must be between 1 and 3600 seconds, got 0"),
    (dict(api_timeout=3601), "api_timeout must be between 1 and 3600 seconds, got 3601"),
    (dict(api_retries=-1), "api_retries must be between 0 and 20, got -1"),
    (dict(api_retries=21), "api_retries must be between 0 and 20, got 21"),
    (dict(ca_path="/nonexistent/ca.pem"), "ca_path /nonexistent/ca.pem does not exist or is not a file; give the path of a PEM bundle of CA certificates"),
    (dict(api_timeout=0, api_retries=21), "api_timeout must be between 1 and 3600 seconds, got 0; api_retries must be between 0 and 20, got 21"),
]


@pytest.mark.parametrize("which", MODULES)
@pytest.mark.parametrize("args, message", BAD_SHARED)
def test_bad_shared_options_fail_naming_each_before_any_request(rsps, run, which, args, message):
    result = run_one(run, which, **args)

    assert result["failed"] is True
    assert result["msg"] == message
    assert len(rsps.calls) == 0


@pytest.mark.parametrize("which", MODULES)
def test_a_missing_requests_library_gives_the_standard_message(rsps, run, monkeypatch, which):
    monkeypatch.setattr(module_boundary, "HAS_REQUESTS", False)
    monkeypatch.setattr(module_boundary, "REQUESTS_IMPORT_ERROR", "Traceback: No module named 'requests'")
    enable_tracebacks(monkeypatch)

    result = run_one(run, which)

    assert result["failed"] is True
    assert result["msg"] == missing_required_lib("requests")
    assert result["exception"] == "Traceback: No module named 'requests'"
    assert len(rsps.calls) == 0


def enable_tracebacks(monkeypatch):
    """What -vvv does: ansible-core 2.19 and later return a failure's traceback only when asked to."""
    try:
        from ansible.module_utils._internal import _traceback  # pylint: disable=import-outside-toplevel
    except ImportError:  # ansible-core < 2.19 always returns it
        return
    monkeypatch.setattr(_traceback, "_is_traceback_enabled", lambda event: True)


def broken(*args, **kwargs):
    raise TypeError("unsupported operand type(s) for +: 'int' and 'NoneType'")


@pytest.mark.parametrize("which", MODULES)
@pytest.mark.parametrize("check_mode", [False, True])
def test_a_bug_of_the_collection_is_reported_as_ours_with_the_traceback(rsps, run, monkeypatch, which, check_mode):
    monkeypatch.setattr(service.SnapshotService, "list", broken)
    monkeypatch.setattr(service.SnapshotService, "get_server", broken)
    enable_tracebacks(monkeypatch)

    result = run_one(run, which, check_mode=check_mode)

    assert result["failed"] is True
    assert result["msg"] == (
        "Internal error in the vps.cloud collection (a bug in the collection, not a problem with your input or the provider's "
        "API): TypeError: unsupported operand type(s) for +: 'int' and 'NoneType'. Please report it with the output of -vvv, "
        "which shows where it happened."
    )
    assert result["exception"].startswith("Traceback (most recent call last):")
    assert "in broken" in result["exception"]
    assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    "which, option, value",
    [
        ("vps_snapshot", "concurrency", 4),
        ("vps_snapshot_info", "requests_per_second", 2.0),
        ("vps_server_info", "retention", 2),
        ("vps_snapshot_prune", "retention_match", "daily-*"),
        ("vps_snapshot_info", "resume_match", "daily-*"),
    ],
)
def test_a_module_refuses_the_options_of_groups_it_does_not_have(run, which, option, value):
    result = run_one(run, which, **{option: value})

    assert result["failed"] is True
    assert "Unsupported parameters" in result["msg"] and option in result["msg"]


@pytest.mark.parametrize(
    "args, message",
    [
        (dict(server_id=SERVER_ID, name="pre-migration", snapshot_id=801), "parameters are mutually exclusive: snapshot_id|name|name_match"),
        (dict(server_id=SERVER_ID, snapshot_id=801), "state is present but all of the following are missing: name"),
    ],
)
def test_snapshot_id_with_state_present_is_refused_before_any_request(run, args, message):
    result = run(vps_snapshot, args)

    assert result["failed"] is True
    assert result["msg"] == message


# The options of state=present that a deletion has no use for: vps_snapshot and vps_snapshot_batch refuse the same ones,
# in the same words, before any request (a retention silently ignored would be a lie by omission).
PRESENT_ONLY = [("retention", 2), ("resume_match", "pre-*"), ("description", "before the upgrade")]


@pytest.mark.parametrize("which", ["vps_snapshot absent", "vps_snapshot_batch absent"])
@pytest.mark.parametrize("option, value", PRESENT_ONLY)
def test_state_absent_refuses_the_options_of_state_present_in_both_modules(rsps, run, which, option, value):
    result = run_one(run, which, **{option: value})

    assert result["failed"] is True
    assert result["msg"] == "%s is only used with state=present" % option
    assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (dict(state="absent", snapshot_ids=[801], wait_for="first"), "wait_for=first is only used with state=present"),
        (dict(snapshots=[{"server_id": SERVER_ID, "name": "a"}], name="b"), "name is only used with servers; each entry of snapshots gives its own"),
        (
            dict(snapshots=[{"server_id": SERVER_ID, "name": "a"}], description="d"),
            "description is only used with servers; each entry of snapshots gives its own",
        ),
    ],
)
def test_the_batch_refuses_the_options_its_entries_make_useless(rsps, run, args, message):
    result = run(vps_snapshot_batch, args)

    assert result["failed"] is True
    assert result["msg"] == message
    assert len(rsps.calls) == 0
