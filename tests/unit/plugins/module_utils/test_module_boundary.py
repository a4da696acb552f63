# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""module_boundary.py: options checked before any request, the service built from them, and how a run ends."""

from __future__ import annotations

import os
import socket
from types import SimpleNamespace

import pytest

from ansible_collections.vps.cloud.plugins.module_utils import module_boundary
from ansible_collections.vps.cloud.plugins.module_utils.module_boundary import (
    result_has_a_reader,
    run,
    snapshot_service,
)
from ansible_collections.vps.cloud.plugins.module_utils.service import SnapshotError, TaskFailed

SHARED = dict(api_url="https://api.vps.test/api/v1", api_token="tok", api_timeout=30, api_retries=5, validate_certs=True, ca_path=None)


class Exited(Exception):
    pass


class FakeModule:
    """What the boundary uses of AnsibleModule: params, check_mode, warn, exit_json and fail_json."""

    def __init__(self, check_mode=False, **params):
        self.params = dict(SHARED, **params)
        self.check_mode = check_mode
        self.warnings = []
        self.ended = None

    def warn(self, message):
        self.warnings.append(message)

    def exit_json(self, **result):
        self.ended = dict(result, exited="exit")
        raise Exited()

    def fail_json(self, **result):
        self.ended = dict(result, exited="fail")
        raise Exited()


def end(module, operation):
    with pytest.raises(Exited):
        run(module, operation)
    return module.ended


def test_a_run_exits_with_the_result_and_its_warnings_as_warnings():
    module = FakeModule()

    assert end(module, lambda: dict(changed=True, warnings=["Careful."])) == dict(changed=True, exited="exit")
    assert module.warnings == ["Careful."]


def test_a_failed_task_fails_with_its_whole_result_and_warnings():
    module = FakeModule()

    def operation():
        raise TaskFailed(dict(failed=True, msg="No.", changed=True, warnings=["W."]))

    ended = end(module, operation)

    assert ended == dict(msg="No.", changed=True, exited="fail")
    assert module.warnings == ["W."]


def test_a_snapshot_error_fails_with_its_details():
    module = FakeModule()

    def operation():
        raise SnapshotError("Refused.", failure={"status": 400})

    assert end(module, operation) == dict(msg="Refused.", failure={"status": 400}, exited="fail")


def test_a_bug_of_ours_is_reported_as_ours_with_its_traceback():
    module = FakeModule()

    def operation():
        return {}["missing"]

    ended = end(module, operation)

    assert ended["msg"] == (
        "Internal error in the vps.cloud collection (a bug in the collection, not a problem with your input or "
        "the provider's API): KeyError: 'missing'. Please report it with the output of -vvv, which shows where "
        "it happened."
    )
    assert ended["exception"].startswith("Traceback (most recent call last):")
    assert ended["exception"].rstrip().endswith("KeyError: 'missing'")


def test_the_service_is_built_from_the_options(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    module = FakeModule(
        check_mode=True, api_url="http://api.vps.test/v1/", api_timeout=9, api_retries=2, ca_path=str(bundle), concurrency=4, requests_per_second=2.5
    )

    service = snapshot_service(module)

    client = service.client
    assert (client.base_url, client.timeout, client.retries, client.pacer.rate) == ("http://api.vps.test/v1", 9, 2, 2.5)
    assert client.session.verify == str(bundle)
    assert service.check_mode is True
    assert service.concurrency == 4
    assert client.pacer.slow_start is False  # requests_per_second given: paced at that rate from the start
    assert module.warnings == ["api_url uses plain http:// to api.vps.test, which is not loopback: the API token travels unencrypted. Use https://."]
    service.warn("Passed on.")
    assert module.warnings[-1] == "Passed on."


def test_the_service_stops_changing_things_once_the_result_has_no_reader():
    assert snapshot_service(FakeModule()).result_is_read is result_has_a_reader


class Descriptor:
    def __init__(self, number):
        self.number = number

    def fileno(self):
        return self.number


def test_a_pipe_has_a_reader_until_its_reading_end_is_closed():
    reading, writing = os.pipe()
    try:
        assert result_has_a_reader(Descriptor(writing)) is True
        os.close(reading)
        assert result_has_a_reader(Descriptor(writing)) is False
    finally:
        os.close(writing)


def test_a_socket_has_a_reader_until_its_peer_is_gone():
    ours, theirs = socket.socketpair()
    with ours:
        assert result_has_a_reader(ours) is True
        theirs.close()
        assert result_has_a_reader(ours) is False


def test_a_file_or_what_cannot_be_polled_counts_as_read(tmp_path):
    with open(str(tmp_path / "result.json"), "w") as regular:
        assert result_has_a_reader(regular) is True
    assert result_has_a_reader(regular) is True  # closed: fileno() raises ValueError
    assert result_has_a_reader(object()) is True  # no fileno()
    reading, writing = os.pipe()
    os.close(reading)
    os.close(writing)
    assert result_has_a_reader(Descriptor(writing)) is True  # a closed descriptor: poll says POLLNVAL, not a lost reader


def test_without_a_stream_the_modules_own_stdout_is_polled(monkeypatch):
    reading, writing = os.pipe()
    # Only the boundary's view of sys: test runners write to the real sys.__stdout__ meanwhile.
    monkeypatch.setattr(module_boundary, "sys", SimpleNamespace(__stdout__=Descriptor(writing)))
    try:
        os.close(reading)
        assert result_has_a_reader() is False
    finally:
        os.close(writing)


def test_a_module_without_concurrency_works_one_server_at_a_time():
    service = snapshot_service(FakeModule(validate_certs=False))

    assert service.concurrency == 1
    assert service.client.session.verify is False
    assert (service.client.pacer.slow_start, service.client.pacer.rate) == (False, None)  # one at a time: no slow start


def test_a_module_working_on_servers_in_parallel_slow_starts_its_pace():
    pacer = snapshot_service(FakeModule(concurrency=3, requests_per_second=None)).client.pacer
    assert (pacer.slow_start, pacer.rate) == (True, pacer.INITIAL_RATE)


def test_problems_fail_before_the_service_is_built(monkeypatch):
    monkeypatch.setattr(module_boundary, "VpsClient", None)
    module = FakeModule()

    with pytest.raises(Exited):
        snapshot_service(module, ["a is wrong", "b is wrong"])

    assert module.ended == dict(msg="a is wrong; b is wrong", exited="fail")
