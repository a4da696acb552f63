# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""info.py on its own: what server_info reports when its wait fails, and how snapshots_info tells a server that does
not exist from one whose existence cannot be checked."""

from __future__ import annotations

import pytest
import responses

from ansible_collections.vps.cloud.plugins.module_utils.info import server_info, snapshots_info
from ansible_collections.vps.cloud.plugins.module_utils.service import TaskFailed
from ansible_collections.vps.cloud.tests.unit.helpers import (
    LIST,
    LIST_ALL,
    SERVER,
    SERVER_ID,
    add_list,
    add_server,
    build_service,
    sent,
    server_call,
    snap,
    url,
)

OTHER_ID = 20000
OTHER = snap(900, "nightly", server_id=OTHER_ID)
DOES_NOT_EXIST = (
    "Server 12345 does not exist: GET /servers/12345/ answered HTTP 404, while other servers of the account can be read. "
    "No snapshots are listed for it; check server_id."
)
MAY_NOT_EXIST = (
    "Server 12345 has no snapshots, and it may not exist: GET /servers/12345/ answered HTTP 404, and no other server of the "
    "account could be read to tell whether the server or that endpoint (which the provider does not document) is missing. "
    "Check server_id."
)


def not_found(rsps, server_id=SERVER_ID):
    add_server(rsps, http_status=404, body={"detail": "Not found."}, server_id=server_id)


def test_server_info_wait_that_fails_reading_keeps_the_failure_and_the_warnings_given_so_far(rsps, vt):
    add_server(rsps, "maintenance")
    add_server(rsps, http_status=403, body={"detail": "Forbidden."})

    with pytest.raises(TaskFailed) as caught:
        server_info(build_service(vt), SERVER_ID, wait=True, wait_timeout=60)

    assert caught.value.result == {
        "changed": False,
        "msg": "Could not read server 12345: Forbidden. (HTTP 403 on GET servers/12345/)",
        "warnings": [
            "Server 12345 reads status 'maintenance', which this collection does not know: it is taken for a transitional "
            "status and waited for (up to wait_timeout=60) until the server is running or stopped."
        ],
        "failure": {"status": 403, "message": "Forbidden.", "method": "GET", "path": "servers/12345/", "url": url("servers/12345/")},
    }
    assert sent(rsps) == [SERVER, SERVER]


def test_a_server_that_cannot_be_read_for_another_reason_is_warned_of_with_the_provider_words(rsps, vt):
    add_list(rsps, [])
    add_server(rsps, http_status=403, body={"detail": "Forbidden."})

    result = snapshots_info(build_service(vt), SERVER_ID)

    assert result == {
        "changed": False,
        "snapshots": [],
        "warnings": [
            "Server 12345 has no snapshots, and whether it exists could not be checked: Could not read server 12345: "
            "Forbidden. (HTTP 403 on GET servers/12345/)"
        ],
    }
    assert sent(rsps) == [LIST, SERVER]


def test_a_snapshot_of_the_server_itself_listed_meanwhile_is_not_taken_for_another_server(rsps, vt):
    # The server's own listing was empty; by the time the account is listed, a snapshot of it shows there.
    add_list(rsps, [])
    not_found(rsps)
    add_list(rsps, [snap(901, "just-taken"), OTHER], server_id=None)
    add_server(rsps, "running", server_id=OTHER_ID)

    result = snapshots_info(build_service(vt), SERVER_ID)

    assert result["warnings"] == [DOES_NOT_EXIST]
    assert sent(rsps) == [LIST, SERVER, LIST_ALL, server_call(OTHER_ID)]


def test_only_the_first_page_of_the_account_is_read_to_find_another_server(rsps, vt):
    add_list(rsps, [])
    not_found(rsps)
    add_list(rsps, [OTHER], server_id=None, next_url=url("snapshots/?page=2"))
    add_server(rsps, "running", server_id=OTHER_ID)

    result = snapshots_info(build_service(vt), SERVER_ID)

    assert result["warnings"] == [DOES_NOT_EXIST]
    assert sent(rsps) == [LIST, SERVER, LIST_ALL, server_call(OTHER_ID)]


@pytest.mark.parametrize(
    "account",
    [
        lambda rsps: add_list(rsps, [], server_id=None, status=403, body={"detail": "Forbidden."}),
        lambda rsps: rsps.add(responses.GET, url("snapshots/"), json=[OTHER]),
    ],
    ids=["the account cannot be listed", "the account list is not paginated"],
)
def test_without_a_page_of_the_account_to_read_another_server_from_the_server_may_not_exist(rsps, vt, account):
    add_list(rsps, [])
    not_found(rsps)
    account(rsps)

    result = snapshots_info(build_service(vt, retries=0), SERVER_ID)

    assert result == {"changed": False, "snapshots": [], "warnings": [MAY_NOT_EXIST]}
    assert sent(rsps) == [LIST, SERVER, LIST_ALL]
