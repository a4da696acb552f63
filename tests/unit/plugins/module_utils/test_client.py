# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests for module_utils/client.py: the transport, against `responses` (no network) and a virtual clock."""

from __future__ import annotations

import email.utils
import json
import os
import socket
import threading
import time
from unittest import mock

import pytest
import requests
import responses
import urllib3
from hypothesis import given, settings, strategies as st
from responses import matchers
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NameResolutionError, NewConnectionError

from ansible_collections.vps.cloud.plugins.module_utils import client as client_module
from ansible_collections.vps.cloud.plugins.module_utils.pacer import Pacer
from ansible_collections.vps.cloud.plugins.module_utils.client import (
    Deletion,
    VpsAmbiguousError,
    VpsApiError,
    VpsClient,
    VpsConfigError,
    backoff_delay,
    client_option_problems,
    error_text,
    is_loopback,
    retry_after_delay,
    retry_after_seconds,
    without_credentials,
)

API = "https://api.vps.test/api/v1"
TOKEN = "tok-Unit-7f3a9c"
SNAPSHOTS = API + "/snapshots/"
ONE = SNAPSHOTS + "801/"
CONNECTION_REFUSED = (
    "HTTPSConnectionPool(host='api.vps.test', port=443): Max retries exceeded with url: /api/v1/snapshots/ "
    "(Caused by NewConnectionError('<urllib3.connection.HTTPSConnection object at 0x7f00>: "
    "Failed to establish a new connection: [Errno 111] Connection refused'))"
)
REFUSED_TEXT = "Failed to establish a new connection: [Errno 111] Connection refused"
CA_FILE = os.path.join(os.path.dirname(__file__), "fixtures", "ca.pem")
URL_PROBLEM = "api_url must be an http:// or https:// URL such as https://admin.vps.org/api/v1, got %r"
TOKEN_PROBLEM = "api_token must be a non-empty string of printable ASCII characters without spaces"

FAST = settings(max_examples=60, deadline=None, database=None)


def read_timeout():
    return requests.exceptions.ReadTimeout("Read timed out. (read timeout=30)")


def dropped():
    return requests.exceptions.ConnectionError("Connection aborted.")


@pytest.fixture
def make(vt):
    """make(api_url=API, token=TOKEN, **options): a VpsClient on the virtual clock."""

    def factory(api_url=API, token=TOKEN, **kwargs):
        kwargs.setdefault("sleep", vt.sleep)
        kwargs.setdefault("clock", vt.monotonic)
        return VpsClient(api_url, token, **kwargs)

    return factory


@pytest.fixture
def no_ca_env(monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.fixture
def no_proxy_env(monkeypatch):
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def assert_no_token(exc):
    """The token appears in no form of the error: message, repr, args, failure payload."""
    texts = [str(exc), repr(exc), repr(exc.args)]
    if isinstance(exc, VpsApiError):
        texts += [exc.message, repr(exc.to_failure())]
    for text in texts:
        assert TOKEN not in text
        assert "Bearer" not in text


def raises(exc_type, call, *args, **kwargs):
    """Call and return the exception of exactly `exc_type` it raises; every error case checks the token is not in it."""
    with pytest.raises(exc_type) as info:
        call(*args, **kwargs)
    assert info.type is exc_type  # exactly this class, not a subclass such as VpsAmbiguousError
    assert_no_token(info.value)
    return info.value


def script(rsps, vt, method, url, *answers):
    """Register one endpoint answering `answers` in turn (the last one repeats); return the virtual times of its calls.

    An answer is an exception to raise, or (status, body) / (status, body, headers) where a dict or list body is JSON.
    """
    times = []
    queue = list(answers)

    def callback(request):
        times.append(vt.elapsed())
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, BaseException):
            raise answer
        status, body = answer[0], answer[1]
        headers = dict(answer[2]) if len(answer) > 2 else {}
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        return status, headers, body or ""

    rsps.add_callback(method, url, callback=callback)
    return times


# Requests: headers, body, URLs ------------------------------------------------------------------------------------------


def test_get_sends_bearer_token_accepts_json_and_names_the_collection(rsps, make):
    rsps.get(SNAPSHOTS, json={"count": 0, "results": []})
    assert make().get("snapshots/") == {"count": 0, "results": []}
    headers = rsps.calls[0].request.headers
    assert headers["Authorization"] == "Bearer " + TOKEN
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"] == "vps.cloud-ansible-collection"
    assert rsps.calls[0].request.body is None


def test_post_sends_json_body(rsps, make):
    payload = {"server_id": 12345, "name": "before-update", "description": "d"}
    created = {"id": 802, "name": "before-update", "status": "in_progress"}
    rsps.post(SNAPSHOTS, json=created, status=201, match=[matchers.json_params_matcher(payload)])
    assert make().post("snapshots/", payload) == created
    request = rsps.calls[0].request
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == "Bearer " + TOKEN


def test_post_without_body_sends_no_body(rsps, make):
    rsps.post(SNAPSHOTS + "801/restore/", json={"status": "success"})
    assert make().post("snapshots/801/restore/") == {"status": "success"}
    assert rsps.calls[0].request.body is None


def test_get_params_reach_the_query_string(rsps, make):
    rsps.get(SNAPSHOTS, json={"results": []}, match=[matchers.query_param_matcher({"server_id": "12345"})])
    make().get("snapshots/", params={"server_id": 12345})
    assert rsps.calls[0].request.url == SNAPSHOTS + "?server_id=12345"


@pytest.mark.parametrize(
    "path, url",
    [
        ("snapshots", SNAPSHOTS),
        ("snapshots/", SNAPSHOTS),
        ("/snapshots/", SNAPSHOTS),
        ("snapshots/801/restore", API + "/snapshots/801/restore/"),
        ("snapshots/801/restore/", API + "/snapshots/801/restore/"),
        ("servers/12345/", API + "/servers/12345/"),
    ],
)
def test_url_for_gives_trailing_slash_paths(make, path, url):
    assert make().url_for(path) == url


@pytest.mark.parametrize("api_url", [API, API + "/", API + "//"])
def test_api_url_trailing_slashes_are_dropped(make, api_url):
    client = make(api_url)
    assert client.base_url == API
    assert client.url_for("snapshots/") == SNAPSHOTS


def test_api_url_without_path(make):
    assert make("https://api.vps.test/").url_for("snapshots") == "https://api.vps.test/snapshots/"


def test_only_slashes_are_stripped_from_api_url_and_paths(make):
    client = make("https://api.vps.test/X/")
    assert client.base_url == "https://api.vps.test/X"
    assert client.url_for("/Xs/1") == "https://api.vps.test/X/Xs/1/"


def test_token_surrounding_whitespace_is_stripped(rsps, make):
    rsps.get(SNAPSHOTS, json={"results": []})
    make(token=" %s\n" % TOKEN).get("snapshots/")
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer " + TOKEN


# client_option_problems: the one place options are checked -------------------------------------------------------------


def problems(api_url=API, api_token=TOKEN, timeout=30, retries=5, **tls):
    """client_option_problems for good options but the ones given."""
    return client_option_problems(api_url, api_token, timeout, retries, **tls)


def test_good_options_have_no_problem():
    assert problems() == []


@pytest.mark.parametrize(
    "api_url",
    [
        None,
        "",
        5,
        "api.vps.test/api/v1",
        "ftp://api.vps.test/api/v1",
        "https://",
        "https:///api/v1",
        "https://api.vps.test/api/v1?x=1",
        "https://api.vps.test/api#v1",
        "https://api.vps.test/api v1",
        " " + API,
        API + " ",
        "https://api vps.test/",
        "https://api.vps.test?x",
        "https://api.vps.test#f",
        "xhttps://api.vps.test/api/v1",
        "https://:8443/api/v1",
        "http://:80/api/v1",
    ],
)
def test_api_url_shapes_refused(api_url):
    assert problems(api_url=api_url) == [URL_PROBLEM % (api_url,)]


CREDENTIALS_PROBLEM = (
    "api_url must not carry credentials (user:password@ before the host): requests would send them as HTTP Basic "
    "authentication instead of the token, and the API would answer 401. Give the token in api_token, and "
    "api_url without them, such as https://admin.vps.org/api/v1"
)


@pytest.mark.parametrize(
    "api_url",
    [
        "https://user:pass@api.vps.test/api/v1",
        "https://user:pw@api.vps.test:8443/api/v1",
        "https://user@api.vps.test/api/v1",
        "https://:s3cr3t@api.vps.test/api/v1",
        "HTTP://User:Pa55@127.0.0.1:8765/api/v1",
        "https://us%40er:p%3Ass@api.vps.test/",
    ],
)
def test_api_url_with_credentials_is_refused_without_echoing_them(api_url):
    found = problems(api_url=api_url)
    assert found == [CREDENTIALS_PROBLEM]
    for secret in ("pass", "pw", "s3cr3t", "Pa55", "user", "User", "p%3Ass"):
        assert secret not in found[0].replace("user:password", "")


@pytest.mark.parametrize("api_url", ["http://user@/x", "https://user:pw@/api v1"])
def test_a_malformed_api_url_with_credentials_is_shown_without_them(api_url):
    found = problems(api_url=api_url)
    assert found[0] == URL_PROBLEM % (api_url.replace(api_url.split("//")[1].split("@")[0], "***"),)
    assert "pw" not in " ".join(found) and "user@" not in " ".join(found)


def test_the_client_refuses_an_api_url_with_credentials(make):
    exc = raises(VpsConfigError, make, "https://user:hunter2@api.vps.test/api/v1")
    assert str(exc) == CREDENTIALS_PROBLEM and "hunter2" not in repr(exc)


@pytest.mark.parametrize(
    "api_url",
    [
        API,
        "http://127.0.0.1:8765/api/v1",
        "HTTPS://API.VPS.TEST/API/V1",
        "https://api.vps.test",
        "https://api.vps.test/",
        "http://[::1]:8080/api/v1",
        "https://api.vps.test/api/v1/users/@me",
    ],
)
def test_api_url_shapes_accepted(api_url):
    assert problems(api_url=api_url) == []


@pytest.mark.parametrize("token", ["", "   ", None, 5, "tok en", "tok\nen", "tok\ren", "t\u00f6k", TOKEN + "\x00", "\x7f"])
def test_unusable_token_is_named_without_quoting_it(token):
    assert problems(api_token=token) == [TOKEN_PROBLEM]


@pytest.mark.parametrize("token", ["!", "~", TOKEN, " %s\t" % TOKEN])
def test_printable_tokens_are_accepted(token):
    assert problems(api_token=token) == []


@pytest.mark.parametrize("timeout", [0, 0.5, 3601, 3600.5, -1, None, True, False, "30", [30]])
def test_api_timeout_out_of_range_is_named(timeout):
    assert problems(timeout=timeout) == ["api_timeout must be between 1 and 3600 seconds, got %r" % (timeout,)]


@pytest.mark.parametrize("timeout", [1, 1.5, 30, 3600, 3600.0])
def test_api_timeout_in_range(timeout):
    assert problems(timeout=timeout) == []


@pytest.mark.parametrize("retries", [-1, 21, 2.0, None, True, False, "3"])
def test_api_retries_out_of_range_is_named(retries):
    assert problems(retries=retries) == ["api_retries must be between 0 and 20, got %r" % (retries,)]


@pytest.mark.parametrize("retries", [0, 1, 20])
def test_api_retries_in_range(retries):
    assert problems(retries=retries) == []


@pytest.mark.parametrize("ca_path", ["/nonexistent/ca.pem", os.path.dirname(CA_FILE)])
def test_ca_path_that_is_not_a_file_is_named(ca_path):
    assert problems(ca_path=ca_path) == ["ca_path %s does not exist or is not a file; give the path of a PEM bundle of CA certificates" % ca_path]


@pytest.mark.parametrize(
    "changes",
    [
        dict(ca_path=CA_FILE),
        dict(ca_path=None),
        dict(ca_path=""),
        dict(ca_path="/nonexistent/ca.pem", validate_certs=False),
    ],
)
def test_ca_path_accepted(changes):
    assert problems(**changes) == []


def test_every_problem_is_listed_in_order():
    assert problems(api_url="ftp://x", api_token="", timeout=0, retries=99, ca_path="/nope") == [
        URL_PROBLEM % "ftp://x",
        TOKEN_PROBLEM,
        "api_timeout must be between 1 and 3600 seconds, got 0",
        "api_retries must be between 0 and 20, got 99",
        "ca_path /nope does not exist or is not a file; give the path of a PEM bundle of CA certificates",
    ]


def test_the_client_refuses_bad_options_with_every_problem(make):
    exc = raises(VpsConfigError, make, "ftp://x", timeout=0, retries=99)
    assert str(exc) == "; ".join(
        [URL_PROBLEM % "ftp://x", "api_timeout must be between 1 and 3600 seconds, got 0", "api_retries must be between 0 and 20, got 99"]
    )


@pytest.mark.parametrize("token", ["", "tok en", None])
def test_the_client_refuses_an_unusable_token_without_quoting_it(make, token):
    assert str(raises(VpsConfigError, make, token=token)) == TOKEN_PROBLEM


def test_the_client_refuses_a_missing_ca_path_unless_certificates_are_not_checked(make):
    exc = raises(VpsConfigError, make, ca_path="/nonexistent/ca.pem")
    assert str(exc) == "ca_path /nonexistent/ca.pem does not exist or is not a file; give the path of a PEM bundle of CA certificates"
    assert make(ca_path="/nonexistent/ca.pem", validate_certs=False).session.verify is False


# Pagination -------------------------------------------------------------------------------------------------------------


def test_get_all_follows_absolute_next_across_three_pages(rsps, make):
    page2, page3 = SNAPSHOTS + "?cursor=p2", SNAPSHOTS + "?cursor=p3"
    rsps.get(
        SNAPSHOTS,
        json={"count": 5, "next": page2, "previous": None, "results": [{"id": 1}, {"id": 2}]},
        match=[matchers.query_param_matcher({"server_id": "12345"})],
    )
    rsps.get(
        page2,
        json={"count": 5, "next": page3, "previous": SNAPSHOTS, "results": [{"id": 3}, {"id": 4}]},
        match=[matchers.query_param_matcher({"cursor": "p2"})],
    )
    rsps.get(page3, json={"count": 5, "next": None, "previous": page2, "results": [{"id": 5}]}, match=[matchers.query_param_matcher({"cursor": "p3"})])
    client = make()
    items = client.get_all("snapshots/", params={"server_id": 12345})
    assert items == [{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}, {"id": 5}]
    # `params` only on the first page: `next` already carries its query string.
    assert [call.request.url for call in rsps.calls] == [SNAPSHOTS + "?server_id=12345", page2, page3]
    assert all(call.request.headers["Authorization"] == "Bearer " + TOKEN for call in rsps.calls)
    assert client.requests_sent == 3


def test_get_all_shows_each_page_to_on_page(rsps, make):
    page2 = SNAPSHOTS + "?cursor=p2"
    first = {"count": 3, "next": page2, "results": [{"id": 1}, {"id": 2}]}
    second = {"count": 3, "next": None, "results": [{"id": 3}]}
    rsps.get(SNAPSHOTS, json=first)
    rsps.get(page2, json=second)
    pages = []
    assert make().get_all("snapshots/", on_page=pages.append) == [{"id": 1}, {"id": 2}, {"id": 3}]
    assert pages == [first, second]


def test_get_all_retries_a_page_and_names_the_list_when_it_fails(rsps, make, vt):
    page2 = SNAPSHOTS + "?cursor=p2"
    rsps.get(SNAPSHOTS, json={"next": page2, "results": [{"id": 1}]}, match=[matchers.query_param_matcher({})])
    script(rsps, vt, "GET", page2, (503, ""), (500, {"detail": "boom"}))
    exc = raises(VpsApiError, make().get_all, "snapshots/")
    assert str(exc) == "boom (HTTP 500 on GET snapshots/)"
    assert exc.url == SNAPSHOTS
    assert len(rsps.calls) == 3


def test_get_all_stops_when_on_page_says_false(rsps, make):
    page2 = SNAPSHOTS + "?cursor=p2"
    rsps.get(SNAPSHOTS, json={"next": page2, "results": [{"id": 1}]})
    pages = []

    def on_page(page):
        pages.append(page)
        return False

    assert make().get_all("snapshots/", on_page=on_page) is None
    assert len(rsps.calls) == 1  # the next page is not read
    assert pages == [{"next": page2, "results": [{"id": 1}]}]


@pytest.mark.parametrize("answer", [None, True, 0, ""])
def test_get_all_goes_on_unless_on_page_says_false(rsps, make, answer):
    page2 = SNAPSHOTS + "?cursor=p2"
    rsps.get(SNAPSHOTS, json={"next": page2, "results": [{"id": 1}]}, match=[matchers.query_param_matcher({})])
    rsps.get(page2, json={"next": None, "results": [{"id": 2}]}, match=[matchers.query_param_matcher({"cursor": "p2"})])
    assert make().get_all("snapshots/", on_page=lambda page: answer) == [{"id": 1}, {"id": 2}]


def test_get_all_without_next_key_reads_one_page(rsps, make):
    rsps.get(SNAPSHOTS, json={"count": 1, "results": [{"id": 7}]})
    pages = []
    assert make().get_all("snapshots/", on_page=pages.append) == [{"id": 7}]
    assert len(rsps.calls) == 1
    assert pages == [{"count": 1, "results": [{"id": 7}]}]


def test_get_all_tolerates_an_unpaginated_list(rsps, make):
    rsps.get(SNAPSHOTS, json=[{"id": 1}, {"id": 2}])
    pages = []
    assert make().get_all("snapshots/", on_page=pages.append) == [{"id": 1}, {"id": 2}]
    assert pages == []


def test_get_all_unpaginated_list_after_a_page_keeps_both(rsps, make):
    page2 = SNAPSHOTS + "?cursor=p2"
    rsps.get(SNAPSHOTS, json={"next": page2, "results": [{"id": 1}]})
    rsps.get(page2, json=[{"id": 2}])
    assert make().get_all("snapshots/") == [{"id": 1}, {"id": 2}]


@pytest.mark.parametrize("body", [{"count": 0}, {"results": "nope"}, {"results": None}, "text", None, 5])
def test_get_all_without_results_list_is_an_error(rsps, make, body):
    rsps.get(SNAPSHOTS, json=body)
    exc = raises(VpsApiError, make().get_all, "snapshots/")
    assert str(exc) == "the API answered a list request without a 'results' list (on GET snapshots/)"
    assert exc.to_failure() == dict(
        status=None, message="the API answered a list request without a 'results' list", method="GET", path="snapshots/", url=SNAPSHOTS
    )


@pytest.mark.parametrize(
    "next_url, origin",
    [
        ("https://evil.example/api/v1/snapshots/?cursor=p2", "https://evil.example"),
        ("http://api.vps.test/api/v1/snapshots/?cursor=p2", "http://api.vps.test"),
        ("https://api.vps.test:8443/api/v1/snapshots/?cursor=p2", "https://api.vps.test"),
        ("https://user@api.vps.test/api/v1/snapshots/?cursor=p2", "https://api.vps.test"),
    ],
)
def test_get_all_refuses_next_to_another_origin(rsps, make, vt, next_url, origin):
    rsps.get(SNAPSHOTS, json={"next": next_url, "results": [{"id": 1}]})
    exc = raises(VpsApiError, make().get_all, "snapshots/")
    assert exc.message == "the API's next page points to another origin (%s); refusing to send the token there" % origin
    assert (exc.status, exc.method, exc.path) == (None, "GET", "snapshots/")
    assert len(rsps.calls) == 1  # the other origin never saw a request, so never saw the token
    assert vt.sleeps == []


@pytest.mark.parametrize(
    "loops_to",
    [
        pytest.param(SNAPSHOTS, id="back to the first page"),
        pytest.param(SNAPSHOTS + "?cursor=p2", id="a page pointing at itself"),
    ],
)
def test_get_all_detects_a_pagination_loop(rsps, make, loops_to):
    page2 = SNAPSHOTS + "?cursor=p2"
    rsps.get(SNAPSHOTS, json={"next": page2, "results": [{"id": 1}]})
    rsps.get(page2, json={"next": loops_to, "results": [{"id": 2}]})
    exc = raises(VpsApiError, make().get_all, "snapshots/")
    assert exc.message == "the API's pagination loops back to a page already read (%s)" % loops_to
    assert (exc.status, exc.method, exc.path) == (None, "GET", "snapshots/")
    assert len(rsps.calls) == 2


def test_get_all_reads_a_list_again_when_a_later_page_is_gone_and_sees_every_item(rsps, make):
    # Others deleted while it read: page 2 no longer exists; the second read is whole.
    page2 = SNAPSHOTS + "?page=2"
    rsps.get(SNAPSHOTS, json={"count": 3, "next": page2, "results": [{"id": 1}, {"id": 2}]})
    rsps.get(page2, json={"detail": "Invalid page."}, status=404)
    rsps.get(SNAPSHOTS, json={"count": 2, "next": None, "results": [{"id": 2}, {"id": 3}]})
    pages = []
    assert make().get_all("snapshots/", on_page=pages.append) == [{"id": 2}, {"id": 3}]
    assert [call.request.url for call in rsps.calls] == [SNAPSHOTS, page2, SNAPSHOTS]
    assert len(pages) == 2


@pytest.mark.parametrize(
    "second_page",
    [
        pytest.param({"count": 4, "next": None, "results": [{"id": 3}]}, id="the pages' counts differ"),
        pytest.param({"count": 3, "next": None, "results": [{"id": 2}]}, id="an item shows twice"),
    ],
)
def test_get_all_reads_a_list_again_when_it_moved_while_read(rsps, make, second_page):
    page2 = SNAPSHOTS + "?page=2"
    rsps.get(SNAPSHOTS, json={"count": 3, "next": page2, "results": [{"id": 1}, {"id": 2}]}, match=[matchers.query_param_matcher({})])
    rsps.get(page2, json=second_page, match=[matchers.query_param_matcher({"page": "2"})])
    rsps.get(SNAPSHOTS, json={"count": 3, "next": None, "results": [{"id": 1}, {"id": 2}, {"id": 3}]}, match=[matchers.query_param_matcher({})])
    assert make().get_all("snapshots/") == [{"id": 1}, {"id": 2}, {"id": 3}]
    assert len(rsps.calls) == 3


def test_get_all_of_a_list_that_never_stops_moving_gives_every_item_seen_once(rsps, make):
    page2 = SNAPSHOTS + "?page=2"
    rsps.get(SNAPSHOTS, json={"count": 2, "next": page2, "results": [{"id": 1}, {"id": 2}]}, match=[matchers.query_param_matcher({})])
    rsps.get(page2, json={"count": 2, "next": None, "results": [{"id": 2}, "not an object", {"id": [5]}]}, match=[matchers.query_param_matcher({"page": "2"})])
    assert make().get_all("snapshots/") == [{"id": 1}, {"id": 2}, "not an object", {"id": [5]}]
    assert len(rsps.calls) == 2 * (client_module.LISTING_REREADS + 1)


def test_get_all_of_a_list_whose_later_page_keeps_vanishing_fails_saying_so(rsps, make):
    page2 = SNAPSHOTS + "?page=2"
    rsps.get(SNAPSHOTS, json={"count": 3, "next": page2, "results": [{"id": 1}]}, match=[matchers.query_param_matcher({})])
    rsps.get(page2, json={"detail": "Invalid page."}, status=404, match=[matchers.query_param_matcher({"page": "2"})])
    exc = raises(VpsApiError, make().get_all, "snapshots/")
    assert exc.message == (
        "the list kept changing while it was read, 4 times in a row (a later page answered 404: Invalid page.); try again once the other changes are done"
    )
    assert exc.to_failure() == dict(status=404, message=exc.message, method="GET", path="snapshots/", url=SNAPSHOTS)
    assert str(exc) == exc.message + " (HTTP 404 on GET snapshots/)"
    assert len(rsps.calls) == 2 * (client_module.LISTING_REREADS + 1)


def test_get_all_a_first_page_answering_404_is_not_read_again(rsps, make):
    rsps.get(SNAPSHOTS, json={"detail": "Not found."}, status=404)
    assert raises(VpsApiError, make().get_all, "snapshots/").status == 404
    assert len(rsps.calls) == 1


def test_get_all_stops_after_the_page_limit(rsps, make, monkeypatch):
    """An API that hands out new pages forever is stopped at the page limit (here lowered to 3) rather than read forever."""
    monkeypatch.setattr(client_module, "MAX_PAGES", 3)
    for number in range(1, 4):
        page = SNAPSHOTS + ("?cursor=p%d" % number if number > 1 else "")
        rsps.get(
            page,
            json={"next": SNAPSHOTS + "?cursor=p%d" % (number + 1), "results": [{"id": number}]},
            match=[matchers.query_param_matcher({"cursor": "p%d" % number} if number > 1 else {})],
        )
    exc = raises(VpsApiError, make().get_all, "snapshots/")
    assert exc.message == "the API's pagination loops back to a page already read (%s?cursor=p4)" % SNAPSHOTS
    assert len(rsps.calls) == 3


def test_get_all_reads_up_to_the_page_limit(rsps, make, monkeypatch):
    monkeypatch.setattr(client_module, "MAX_PAGES", 2)
    rsps.get(SNAPSHOTS, json={"next": SNAPSHOTS + "?cursor=p2", "results": [{"id": 1}]}, match=[matchers.query_param_matcher({})])
    rsps.get(SNAPSHOTS + "?cursor=p2", json={"next": None, "results": [{"id": 2}]}, match=[matchers.query_param_matcher({"cursor": "p2"})])
    assert make().get_all("snapshots/") == [{"id": 1}, {"id": 2}]


# Retries of reads and deletes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 502, 503, 504])
@pytest.mark.parametrize(
    "method, ok_status, ok_body, expected",
    [
        ("GET", 200, {"results": []}, {"results": []}),
        ("DELETE", 204, None, True),
    ],
)
def test_reads_and_deletes_are_retried_on_transient_statuses(rsps, make, vt, status, method, ok_status, ok_body, expected):
    times = script(rsps, vt, method, ONE, (status, "busy"), (status, "busy"), (ok_status, ok_body))
    client = make(retries=5)
    call = client.get if method == "GET" else client.delete
    assert call("snapshots/801/") == expected
    assert len(rsps.calls) == 3
    assert client.requests_sent == 3
    # A backoff before each retry: between 0.5 and 1 s, then at least 1 s.
    assert 0.5 <= times[1] - times[0] and 1.0 <= times[2] - times[1]
    if status != 429:  # (a 429 also slows the learnt pace: more waits, see the Pacer tests)
        assert times[1] <= 1.0 and times[2] - times[1] <= 2.0
        assert len(vt.sleeps) == 2


@pytest.mark.parametrize("status", [502, 503, 504])
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_retries_run_out_then_error_with_status(rsps, make, vt, status, method):
    rsps.add(method, ONE, status=status, json={"detail": "try later"})
    client = make(retries=3)
    # A DELETE that got no other answer may have been applied: ambiguous, for the caller to look.
    exc = raises(VpsApiError if method == "GET" else VpsAmbiguousError, client.get if method == "GET" else client.delete, "snapshots/801/")
    assert exc.status == status
    assert str(exc) == "try later (HTTP %s on %s snapshots/801/)" % (status, method)
    assert len(rsps.calls) == 4
    assert len(vt.sleeps) == 3


@pytest.mark.parametrize("method", ["GET", "DELETE", "POST"])
def test_429s_are_retried_for_the_rate_limit_patience_not_api_retries_times(rsps, make, vt, method):
    """A fleet sharing the provider's limit meets many 429s in a row: they cost time, not attempts."""
    times = script(rsps, vt, method, ONE, (429, {"detail": "slow down"}, {"Retry-After": "7"}))
    client = make(retries=1)
    call = {"GET": client.get, "DELETE": client.delete, "POST": lambda path: client.post(path, {"name": "a"})}[method]
    exc = raises(VpsApiError, call, "snapshots/801/")
    assert not isinstance(exc, VpsAmbiguousError)  # a 429 was not processed: nothing to look for
    assert (exc.status, str(exc)) == (429, "slow down (HTTP 429 on %s snapshots/801/)" % method)
    # Sent again until the first 429 is RATE_LIMIT_PATIENCE old, however small api_retries is, then no more.
    assert times[-2] < client_module.RATE_LIMIT_PATIENCE <= times[-1]
    assert len(times) > 20 and client.rate_limited == len(times) == client.requests_sent


def test_429s_stop_being_retried_once_their_first_is_the_patience_old(rsps, make, vt, monkeypatch):
    monkeypatch.setattr(client_module, "RATE_LIMIT_PATIENCE", 21.0)
    times = script(rsps, vt, "GET", ONE, *([(429, "", {"Retry-After": "7"})] * 4 + [(200, {})]))
    exc = raises(VpsApiError, make(retries=1).get, "snapshots/801/")
    assert exc.status == 429
    # Sent at 0, 7, 14 and 21 s (each Retry-After jittered by up to 0.7 s): the fourth 429 comes at least the patience
    # after the first, and ends it.
    assert len(times) == 4 and all(7.0 <= later - earlier <= 7.7 for earlier, later in zip(times, times[1:]))


def test_a_429_exactly_the_patience_after_the_first_is_not_retried(rsps, make, vt, monkeypatch):
    """The patience is a limit, not a last chance: without jitter the fourth 429 comes at exactly 21 s, and ends it."""
    monkeypatch.setattr(client_module, "RATE_LIMIT_PATIENCE", 21.0)
    monkeypatch.setattr(client_module, "RETRY_AFTER_JITTER", 0.0)
    times = script(rsps, vt, "GET", ONE, *([(429, {"detail": "slow down"}, {"Retry-After": "7"})] * 4 + [(200, {})]))
    exc = raises(VpsApiError, make(retries=1).get, "snapshots/801/")
    assert (exc.status, str(exc)) == (429, "slow down (HTTP 429 on GET snapshots/801/)")
    assert times == [0.0, 7.0, 14.0, 21.0]


def test_429s_and_5xx_are_counted_apart(rsps, make, vt):
    """5xx answers count against api_retries, 429s do not: the fourth 503 with api_retries=2 fails."""
    script(rsps, vt, "GET", ONE, (503, ""), (429, ""), (503, ""), (429, ""), (429, ""), (503, ""), (200, {}))
    exc = raises(VpsApiError, make(retries=2).get, "snapshots/801/")
    assert exc.status == 503
    assert len(rsps.calls) == 6


def test_with_api_retries_0_a_429_is_not_retried_and_not_ambiguous(rsps, make, vt):
    rsps.post(SNAPSHOTS, status=429, json={"detail": "slow down"})
    exc = raises(VpsApiError, make(retries=0).post, "snapshots/", {"server_id": 1, "name": "a"})
    assert not isinstance(exc, VpsAmbiguousError)
    assert (exc.status, len(rsps.calls)) == (429, 1)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 500, 501])
def test_other_error_statuses_are_not_retried(rsps, make, vt, status):
    rsps.get(ONE, status=status, json={"detail": "no"})
    exc = raises(VpsApiError, make(retries=5).get, "snapshots/801/")
    assert (exc.status, exc.message) == (status, "no")
    assert len(rsps.calls) == 1
    assert vt.sleeps == []


def test_a_client_retries_five_times_unless_told(rsps, make, vt):
    rsps.get(SNAPSHOTS, status=503, body="")
    raises(VpsApiError, make().get, "snapshots/")
    assert len(rsps.calls) == 6


def test_zero_retries_means_one_attempt(rsps, make, vt):
    rsps.get(SNAPSHOTS, status=503, body="")
    assert raises(VpsApiError, make(retries=0).get, "snapshots/").status == 503
    assert len(rsps.calls) == 1
    assert vt.sleeps == []


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("retries", [1, 3])
def test_connection_errors_are_retried_api_retries_times(rsps, make, vt, method, retries):
    rsps.add(method, ONE, body=requests.exceptions.ConnectionError(CONNECTION_REFUSED))
    client = make(retries=retries)
    exc = raises(VpsApiError, client.get if method == "GET" else client.delete, "snapshots/801/")
    assert exc.status is None
    assert str(exc) == "connection failed talking to api.vps.test: %s (on %s snapshots/801/)" % (REFUSED_TEXT, method)
    assert exc.url == ONE
    assert len(rsps.calls) == retries + 1
    assert len(vt.sleeps) == retries
    assert client.requests_sent == retries + 1


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_a_connection_error_then_success(rsps, make, vt, method):
    script(rsps, vt, method, ONE, dropped(), dropped(), (200, {"id": 801}))
    client = make(retries=2)
    assert (client.get if method == "GET" else client.delete)("snapshots/801/") == ({"id": 801} if method == "GET" else True)
    assert len(rsps.calls) == 3


@pytest.mark.parametrize("retries", [1, 5, 20])
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_a_read_timeout_is_retried_once_whatever_api_retries_says(rsps, make, vt, retries, method):
    rsps.add(method, ONE, body=read_timeout())
    client = make(retries=retries)
    exc = raises(VpsApiError if method == "GET" else VpsAmbiguousError, client.get if method == "GET" else client.delete, "snapshots/801/")
    assert str(exc) == ("no answer within api_timeout=30s talking to api.vps.test: Read timed out. (read timeout=30) (on %s snapshots/801/)" % method)
    assert exc.url == ONE
    assert len(rsps.calls) == 2
    assert len(vt.sleeps) == 1


def test_a_read_timeout_with_zero_retries_is_not_retried(rsps, make, vt):
    rsps.get(ONE, body=read_timeout())
    raises(VpsApiError, make(retries=0).get, "snapshots/801/")
    assert len(rsps.calls) == 1
    assert vt.sleeps == []


def test_a_read_timeout_then_an_answer(rsps, make, vt):
    script(rsps, vt, "GET", ONE, read_timeout(), (200, {"id": 801}))
    assert make(retries=1).get("snapshots/801/") == {"id": 801}
    assert len(rsps.calls) == 2


def test_timeouts_are_counted_apart_from_connection_errors(rsps, make, vt):
    """Connection errors use api_retries; the second timeout ends the call whatever is left of them."""
    script(rsps, vt, "GET", ONE, read_timeout(), dropped(), dropped(), read_timeout(), (200, {}))
    exc = raises(VpsApiError, make(retries=10).get, "snapshots/801/")
    assert exc.message.startswith("no answer within api_timeout=30s talking to api.vps.test")
    assert len(rsps.calls) == 4


def test_connection_errors_after_a_timeout_still_use_api_retries(rsps, make, vt):
    script(rsps, vt, "GET", ONE, read_timeout(), dropped(), dropped(), dropped())
    exc = raises(VpsApiError, make(retries=3).get, "snapshots/801/")
    assert exc.message == "connection failed talking to api.vps.test: Connection aborted."
    assert len(rsps.calls) == 4


def test_the_timeout_message_names_the_configured_timeout(rsps, make):
    rsps.get(ONE, body=requests.exceptions.ReadTimeout("Read timed out. (read timeout=7)"))
    exc = raises(VpsApiError, make(timeout=7, retries=0).get, "snapshots/801/")
    assert exc.message == "no answer within api_timeout=7s talking to api.vps.test: Read timed out. (read timeout=7)"


def test_backoff_grows_between_retries(rsps, make, vt):
    rsps.get(SNAPSHOTS, status=502, body="")
    raises(VpsApiError, make(retries=7).get, "snapshots/")
    assert len(vt.sleeps) == 7
    for attempt, delay in enumerate(vt.sleeps):
        ceiling = min(30.0, 2.0**attempt)
        assert ceiling / 2 <= delay <= ceiling


def test_network_error_backoff_grows_too(rsps, make, vt):
    rsps.get(SNAPSHOTS, body=dropped())
    raises(VpsApiError, make(retries=4).get, "snapshots/")
    for attempt, delay in enumerate(vt.sleeps):
        assert 2.0**attempt / 2 <= delay <= 2.0**attempt
    assert len(vt.sleeps) == 4


# Retry-After and the pause before a retry -------------------------------------------------------------------------------


def test_retry_after_longer_than_the_backoff_is_waited_exactly(rsps, make, vt):
    times = script(rsps, vt, "GET", SNAPSHOTS, (429, "", {"Retry-After": "7"}), (200, {"results": []}))
    make().get("snapshots/")
    # The provider's 7 s, and a jitter of at most a tenth of it: not the backoff.
    assert times[0] == 0.0 and 7.0 <= times[1] <= 7.7
    assert len(vt.sleeps) == 1


def test_retry_after_shorter_than_the_backoff_is_honoured_as_given(rsps, make, vt):
    times = script(rsps, vt, "GET", SNAPSHOTS, (503, ""), (503, ""), (503, "", {"Retry-After": "0.2"}), (200, {}))
    make().get("snapshots/")
    # The third pause would have a backoff between 2 and 4 s: the provider asked for 0.2 s (and a jitter of 0.1 s at most).
    assert 0.2 <= times[3] - times[2] <= 0.3
    assert len(times) == 4


def test_retry_after_zero_is_waited_with_its_jitter_only(rsps, make, vt):
    times = script(rsps, vt, "GET", SNAPSHOTS, (429, "", {"Retry-After": "0"}), (200, {}))
    make().get("snapshots/")
    assert 0.0 <= times[1] <= 0.1


def test_retry_after_http_date_is_honoured(rsps, make, vt):
    when = email.utils.formatdate(time.time() + 60, usegmt=True)
    times = script(rsps, vt, "GET", SNAPSHOTS, (503, "", {"Retry-After": when}), (200, {"results": []}))
    make().get("snapshots/")
    # The date is whole seconds, some wall-clock time passes before it is read, and a jitter of up to 6 s is added.
    assert 50.0 <= times[1] <= 66.0


@pytest.mark.parametrize("value", ["3600", "99999", None])
def test_retry_after_is_capped_at_two_minutes(rsps, make, vt, value):
    value = value or email.utils.formatdate(time.time() + 7200, usegmt=True)
    times = script(rsps, vt, "GET", SNAPSHOTS, (429, "", {"Retry-After": value}), (200, {"results": []}))
    make().get("snapshots/")
    assert times[0] == 0.0 and 120.0 <= times[1] <= 132.0


def test_a_retry_after_holds_the_other_threads_of_the_client(rsps, make, vt):
    """While one thread waits out a 429's Retry-After, a request from another thread waits for it too."""
    script(rsps, vt, "GET", SNAPSHOTS, (429, "", {"Retry-After": "30"}), (200, {"results": []}))
    rsps.get(ONE, json={"id": 801})
    answers = {}
    first_sleep = []

    def other_thread():
        answers["other"] = client.get("snapshots/801/")

    def sleep(seconds):
        if not first_sleep:
            # The first thread is about to wait out the Retry-After: the other thread asks for something meanwhile.
            first_sleep.append(seconds)
            thread = threading.Thread(target=other_thread, name="other")
            thread.start()
            thread.join()
        vt.sleep(seconds)

    client = make(sleep=sleep)
    answers["first"] = client.get("snapshots/")
    assert answers == {"first": {"results": []}, "other": {"id": 801}}
    assert len(first_sleep) == 1 and 30.0 <= first_sleep[0] <= 33.0
    assert vt.sleepers[0] == "other" and vt.sleeps[0] == 30.0
    assert client.rate_limited == 1
    assert client.requests_sent == 3


def test_a_503s_retry_after_is_honoured_as_given_once_a_429_has_slowed_the_pace(rsps, make, vt):
    """One request at a time comes back when the provider says: the pace learnt from an earlier 429 (one request every
    2 s, the retry after it sent at t1) would hold it until t1 + 1.4 s."""
    times = script(rsps, vt, "GET", ONE, (429, ""), (503, "", {"Retry-After": "0.2"}), (200, {"id": 801}))
    assert make().get("snapshots/801/") == {"id": 801}
    assert len(times) == 3
    assert 0.2 <= times[2] - times[1] <= 0.3


@pytest.mark.parametrize(
    "failure, gap",
    [
        # No answer: the pace stays at one request every 2 s, which the 429 set.
        pytest.param(dropped(), 2.0, id="a dropped connection"),
        # An answer raises the pace to 2.5 a second (an interval of 0.4 s, with 1 s of burst: 2 - 0.6 s).
        pytest.param((200, '{"id": 8'), 1.4, id="a garbled body"),
    ],
)
def test_a_retry_after_a_backoff_waits_its_turn_in_the_pace_a_429_set(rsps, make, vt, failure, gap):
    """A backoff is the client's own guess, not the provider's word: the retry after it still keeps the learnt pace."""
    times = script(rsps, vt, "GET", ONE, (429, ""), failure, (200, {"id": 801}))
    assert make().get("snapshots/801/") == {"id": 801}
    assert len(times) == 3
    assert times[2] - times[1] == pytest.approx(gap)


@pytest.mark.parametrize(
    "concurrency, gap",
    [
        # One request at a time: the retry goes when the provider said, outside the pace, and the next one at once.
        (1, 0.0),
        # In parallel, the retry takes its turn like any request: the next one comes after it at the pace the 429 set
        # (one every 2 s, raised to 2.5 a second by the retry's answer: 2 s less the 0.6 s of burst).
        (2, 1.4),
    ],
)
def test_a_retry_after_a_retry_after_is_paced_only_among_parallel_requests(rsps, make, vt, concurrency, gap):
    times = script(rsps, vt, "GET", ONE, (429, "", {"Retry-After": "1"}), (200, {"id": 801}))
    client = make(concurrency=concurrency)
    client.get("snapshots/801/")
    client.get("snapshots/801/")
    assert times[0] == 0.0 and 1.0 <= times[1] <= 1.1
    assert times[2] - times[1] == pytest.approx(gap)


def test_a_last_429_still_holds_the_next_request_for_its_retry_after(rsps, make, vt):
    rsps.get(SNAPSHOTS, status=429, headers={"Retry-After": "30"}, json={"detail": "slow down"})
    times = script(rsps, vt, "GET", ONE, (200, {}))
    client = make(retries=0)
    assert raises(VpsApiError, client.get, "snapshots/").status == 429
    client.get("snapshots/801/")
    assert times == [30.0]


def test_rate_limited_counts_every_429(rsps, make, vt):
    script(rsps, vt, "GET", SNAPSHOTS, (429, ""), (503, ""), (429, ""), (200, {}))
    client = make()
    client.get("snapshots/")
    assert (client.rate_limited, client.requests_sent) == (2, 4)


def test_counters_start_at_zero(make):
    client = make()
    assert (client.rate_limited, client.requests_sent) == (0, 0)


class _Headers:
    def __init__(self, headers):
        self.headers = headers


@pytest.mark.parametrize(
    "headers, seconds",
    [
        ({}, None),
        ({"Retry-After": ""}, None),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": " 12 "}, 12.0),
        ({"Retry-After": "2.5"}, 2.5),
        ({"Retry-After": "-5"}, 0.0),
        ({"Retry-After": "120"}, 120.0),
        ({"Retry-After": "121"}, 120.0),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT"}, 30.0),
        ({"Retry-After": " Wed, 21 Oct 2015 07:30:00 GMT "}, 120.0),
    ],
)
def test_retry_after_seconds_values(headers, seconds):
    now = email.utils.parsedate_to_datetime("Wed, 21 Oct 2015 07:28:00 GMT").timestamp()
    assert retry_after_seconds(_Headers(headers), now=lambda: now) == seconds


def test_retry_after_date_uses_the_wall_clock_by_default():
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 20.0 <= retry_after_seconds(_Headers({"Retry-After": soon})) <= 30.0


def test_retry_after_delay_adds_up_to_a_tenth_of_the_retry_after_and_caps_it_first():
    assert [retry_after_delay(7.0, rand=lambda draw=draw: draw) for draw in (0.0, 0.5, 1.0)] == [7.0, 7.35, 7.7]
    # A tenth of 1 s at least, so that short ones are spread too.
    assert [retry_after_delay(seconds, rand=lambda: 1.0) for seconds in (0.0, 0.5, 1.0)] == [0.1, 0.6, 1.1]
    assert retry_after_delay(3600.0, rand=lambda: 1.0) == 132.0
    assert retry_after_delay(-5.0, rand=lambda: 1.0) == 0.1


def test_backoff_delay_grows_and_is_capped():
    assert [backoff_delay(n, rand=lambda: 1.0) for n in range(8)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert [backoff_delay(n, rand=lambda: 0.0) for n in range(8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]
    assert backoff_delay(3, rand=lambda: 0.5) == 6.0
    assert backoff_delay(2, base=3.0, cap=100.0, rand=lambda: 1.0) == 12.0
    assert backoff_delay(6, base=3.0, cap=100.0, rand=lambda: 1.0) == 100.0


@FAST
@given(attempt=st.integers(min_value=0, max_value=60), draw=st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_backoff_delay_is_jittered_within_bounds(attempt, draw):
    ceiling = min(30.0, 2.0**attempt)
    assert ceiling / 2 <= backoff_delay(attempt, rand=lambda: draw) <= ceiling


def test_backoff_delay_default_jitter_varies():
    delays = {backoff_delay(4) for dummy in range(50)}
    assert len(delays) > 1
    assert all(8.0 <= delay <= 16.0 for delay in delays)


# The client and its Pacer (the Pacer alone: test_pacer.py) -------------------------------------------------------------


@pytest.mark.parametrize("concurrency, slow_start, rate", [(1, False, None), (2, True, Pacer.INITIAL_RATE)])
def test_the_client_slow_starts_only_requests_sent_in_parallel(make, concurrency, slow_start, rate):
    pacer = make(concurrency=concurrency).pacer
    assert (pacer.slow_start, pacer.rate) == (slow_start, rate)
    assert make(concurrency=concurrency, rate=3).pacer.rate == 3


def test_after_a_429_the_client_paces_itself(rsps, make, vt):
    times = script(rsps, vt, "GET", ONE, *([(200, {})] * 10 + [(429, "")] + [(200, {})] * 10))
    client = make()
    for dummy in range(10):
        client.get("snapshots/801/")
    assert times[-1] < 0.5  # the slow start lets 10 requests through in under half a second
    client.get("snapshots/801/")  # 429, then answered after a backoff
    start = vt.elapsed()
    for dummy in range(9):
        client.get("snapshots/801/")
    # 10 requests within 2 s seen: 5 per second, halved to 2.5 and growing by each answer: 9 requests take over 1 s.
    assert 1.0 < vt.elapsed() - start < 3.0
    assert client.rate_limited == 1


def test_the_client_paces_its_requests(rsps, make, vt):
    times = script(rsps, vt, "GET", SNAPSHOTS, (200, {}))
    client = make(rate=1)
    for dummy in range(3):
        client.get("snapshots/")
    assert times == [0.0, 1.0, 2.0]


# POST: re-sent only when surely not applied -----------------------------------------------------------------------------


def test_post_is_retried_on_429(rsps, make, vt):
    times = script(rsps, vt, "POST", SNAPSHOTS, (429, "", {"Retry-After": "3"}), (201, {"id": 802}))
    assert make().post("snapshots/", {"server_id": 1, "name": "a"}) == {"id": 802}
    assert times[0] == 0.0 and 3.0 <= times[1] <= 3.3


def test_post_429s_outlasting_the_patience_end_in_a_plain_error(rsps, make, vt, monkeypatch):
    monkeypatch.setattr(client_module, "RATE_LIMIT_PATIENCE", 10.0)
    rsps.post(SNAPSHOTS, status=429, json={"detail": "slow down"}, headers={"Retry-After": "4"})
    exc = raises(VpsApiError, make(retries=2).post, "snapshots/", {"server_id": 1, "name": "a"})
    assert not isinstance(exc, VpsAmbiguousError)
    assert (exc.status, str(exc)) == (429, "slow down (HTTP 429 on POST snapshots/)")
    assert len(rsps.calls) == 4  # at 0, 4, 8 and 12 s


@pytest.mark.parametrize("status", [502, 503, 504])
def test_post_edge_5xx_is_ambiguous_and_not_resent(rsps, make, vt, status):
    rsps.post(SNAPSHOTS, status=status, body="upstream went away", headers={"Retry-After": "1"})
    exc = raises(VpsAmbiguousError, make(retries=5).post, "snapshots/", {"server_id": 1, "name": "a"})
    assert (exc.status, exc.method, exc.path, exc.message) == (status, "POST", "snapshots/", "upstream went away")
    assert exc.url == SNAPSHOTS
    assert len(rsps.calls) == 1
    assert vt.sleeps == []


@pytest.mark.parametrize(
    "error, message",
    [
        (read_timeout(), "no answer within api_timeout=30s talking to api.vps.test: Read timed out. (read timeout=30)"),
        (requests.exceptions.ConnectionError(CONNECTION_REFUSED), "connection failed talking to api.vps.test: " + REFUSED_TEXT),
        (dropped(), "connection failed talking to api.vps.test: Connection aborted."),
    ],
)
def test_post_read_timeout_or_dropped_connection_is_ambiguous_and_not_resent(rsps, make, vt, error, message):
    rsps.post(SNAPSHOTS, body=error)
    exc = raises(VpsAmbiguousError, make(retries=5).post, "snapshots/", {"server_id": 1, "name": "a"})
    assert str(exc) == message + " (on POST snapshots/)"
    assert exc.url == SNAPSHOTS
    assert len(rsps.calls) == 1
    assert vt.sleeps == []


def test_post_connect_timeout_is_retried(rsps, make, vt):
    script(rsps, vt, "POST", SNAPSHOTS, requests.exceptions.ConnectTimeout("connect timeout=30"), (201, {"id": 802}))
    assert make().post("snapshots/", {"server_id": 1, "name": "a"}) == {"id": 802}
    assert len(rsps.calls) == 2
    assert len(vt.sleeps) == 1


@pytest.mark.parametrize("retries", [1, 2, 20])
def test_post_connect_timeout_is_retried_once_whatever_api_retries_says(rsps, make, retries):
    rsps.post(SNAPSHOTS, body=requests.exceptions.ConnectTimeout("connect timeout=30"))
    exc = raises(VpsApiError, make(retries=retries).post, "snapshots/", {"server_id": 1, "name": "a"})
    assert str(exc) == "timed out connecting to api.vps.test after 30s: connect timeout=30 (on POST snapshots/)"
    assert exc.url == SNAPSHOTS
    assert len(rsps.calls) == 2


def test_post_non_json_201_is_ambiguous(rsps, make):
    rsps.post(SNAPSHOTS, status=201, body="<html><body>Created</body></html>")
    exc = raises(VpsAmbiguousError, make().post, "snapshots/", {"server_id": 1, "name": "a"})
    assert exc.status == 201
    assert exc.message == "the API answered HTTP 201 with a body that is not valid JSON ('Created')"
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_post_redirect_is_not_followed_and_is_ambiguous(rsps, make, status):
    rsps.post(SNAPSHOTS, status=status, headers={"Location": "https://other.example/snapshots/"})
    exc = raises(VpsAmbiguousError, make().post, "snapshots/", {"server_id": 1, "name": "a"})
    assert exc.to_failure() == dict(
        status=status,
        method="POST",
        path="snapshots/",
        url=SNAPSHOTS,
        message=("the API answered with a redirect to https://other.example/snapshots/; set api_url to the address the API is served from"),
    )
    assert len(rsps.calls) == 1


def test_post_400_is_a_plain_error(rsps, make):
    rsps.post(SNAPSHOTS, status=400, json={"detail": "Snapshot limit reached (5)."})
    exc = raises(VpsApiError, make().post, "snapshots/", {"server_id": 1, "name": "a"})
    assert str(exc) == "Snapshot limit reached (5). (HTTP 400 on POST snapshots/)"
    assert len(rsps.calls) == 1


# Redirects of reads ------------------------------------------------------------------------------------------------------


def test_redirect_to_another_host_drops_the_token(rsps, make):
    other = "https://mirror.example/api/v1/snapshots/"
    rsps.get(SNAPSHOTS, status=302, headers={"Location": other})
    rsps.get(other, json={"results": []})
    assert make().get("snapshots/") == {"results": []}
    assert len(rsps.calls) == 2
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer " + TOKEN
    assert "Authorization" not in rsps.calls[1].request.headers
    assert rsps.calls[1].request.url == other


def test_redirect_on_the_same_host_keeps_the_token(rsps, make):
    moved = API + "/v2/snapshots/"
    rsps.get(SNAPSHOTS, status=301, headers={"Location": moved})
    rsps.get(moved, json={"results": []})
    make().get("snapshots/")
    assert rsps.calls[1].request.headers["Authorization"] == "Bearer " + TOKEN


def test_delete_follows_a_redirect(rsps, make):
    moved = API + "/v2/snapshots/801/"
    rsps.delete(ONE, status=307, headers={"Location": moved})
    rsps.delete(moved, status=204)
    assert make().delete("snapshots/801/") is True


@pytest.mark.parametrize("status", [300, 302, 304, 399])
def test_a_redirect_without_location_on_a_read_is_a_plain_error(rsps, make, status):
    rsps.get(SNAPSHOTS, status=status)
    exc = raises(VpsApiError, make().get, "snapshots/")
    assert exc.message == "the API answered with a redirect to nowhere; set api_url to the address the API is served from"
    assert exc.status == status


# Error bodies ------------------------------------------------------------------------------------------------------------

HTML_PAGE = (
    "<html><head><title>502 Bad Gateway</title><style>body { color: red }</style>"
    "<script>var token = 1;</script></head><body><center><h1>502 Bad Gateway</h1></center>"
    "<hr><center>nginx</center></body></html>"
)


@pytest.mark.parametrize(
    "status, kwargs, message",
    [
        (401, dict(json={"detail": "Invalid token."}), "Invalid token."),
        (400, dict(json={"error": "quota exceeded"}), "quota exceeded"),
        (400, dict(json={"message": "Server is busy"}), "Server is busy"),
        (
            400,
            dict(json={"name": ["Enter a valid name."], "server_id": ["This field is required."]}),
            "name: Enter a valid name.; server_id: This field is required.",
        ),
        (400, dict(json={"non_field_errors": ["Snapshot limit reached."]}), "Snapshot limit reached."),
        (400, dict(json={"detail": ["first", "second"]}), "first second"),
        (400, dict(json={"detail": "d", "error": "e", "message": "m"}), "d"),
        (400, dict(json={"error": "e", "message": "m"}), "e"),
        (400, dict(json={"message": "m", "non_field_errors": ["n"]}), "m"),
        (400, dict(json={"detail": "", "error": "the error"}), "the error"),
        (400, dict(json={"error": {"code": 17, "reason": "locked"}}), "code: 17; reason: locked"),
        (400, dict(json=["one", {"name": ["bad"]}]), "one name: bad"),
        (400, dict(json="plain JSON string"), "plain JSON string"),
        (400, dict(json=42), "42"),
        (400, dict(json={}), "Bad Request"),
        (400, dict(json=[]), "Bad Request"),
        (404, dict(body=""), "Not Found"),
        (404, dict(body="   \n"), "Not Found"),
        (502, dict(body=HTML_PAGE, content_type="text/html"), "502 Bad Gateway 502 Bad Gateway nginx"),
        (500, dict(body="<SCRIPT type='x'>secret()</SCRIPT>Server\n  Error<STYLE>p {}</STYLE>", content_type="text/html"), "Server Error"),
        (500, dict(body="Internal failure, sorry", content_type="text/plain"), "Internal failure, sorry"),
        (400, dict(body='{"detail": "trunc'), '{"detail": "trunc'),
    ],
)
def test_error_bodies_are_surfaced(rsps, make, status, kwargs, message):
    rsps.get(SNAPSHOTS, status=status, **kwargs)
    exc = raises(VpsApiError, make(retries=0).get, "snapshots/")
    assert exc.message == message
    assert exc.status == status
    assert str(exc) == "%s (HTTP %s on GET snapshots/)" % (message, status)
    assert exc.to_failure() == dict(status=status, message=message, method="GET", path="snapshots/", url=SNAPSHOTS)


def response(status=400, body=b"", reason=None):
    answer = requests.models.Response()
    answer.status_code = status
    answer._content = body  # pylint: disable=protected-access
    answer.reason = reason
    return answer


@pytest.mark.parametrize("body, limit_applies", [(b"x" * 1000, True), (json.dumps({"detail": "y" * 1000}).encode(), True)])
def test_error_text_is_limited_to_300_characters(body, limit_applies):
    text = error_text(response(body=body))
    assert len(text) == 300
    assert set(text) in ({"x"}, {"y"})


def test_error_text_without_body_or_reason():
    assert error_text(response(body=b"", reason=None)) == "no details given"
    assert error_text(response(body=b"{}", reason="")) == "no details given"


def test_vps_api_error_str():
    assert str(VpsApiError("boom")) == "boom"
    assert str(VpsApiError("boom", status=500)) == "boom (HTTP 500)"
    assert str(VpsApiError("boom", method="GET", path="snapshots/")) == "boom (on GET snapshots/)"
    assert str(VpsApiError("boom", status=404, method="DELETE", path="snapshots/1/")) == "boom (HTTP 404 on DELETE snapshots/1/)"


def test_vps_api_error_carries_its_message_in_tracebacks():
    exc = VpsApiError("boom", status=500, method="GET", path="snapshots/")
    assert exc.args == ("boom",)
    assert repr(exc) == "VpsApiError('boom')"


def test_vps_api_error_to_failure():
    exc = VpsAmbiguousError("m", status=502, method="POST", path="snapshots/", url=SNAPSHOTS)
    assert exc.to_failure() == dict(status=502, message="m", method="POST", path="snapshots/", url=SNAPSHOTS)
    assert isinstance(exc, VpsApiError)


def test_truncated_json_on_a_read_is_retried(rsps, make, vt):
    script(rsps, vt, "GET", SNAPSHOTS, (200, '{"results": [{"id": 8'), (200, {"results": [{"id": 801}]}))
    assert make().get("snapshots/") == {"results": [{"id": 801}]}
    assert len(rsps.calls) == 2
    assert len(vt.sleeps) == 1


def test_truncated_json_on_a_read_retries_run_out(rsps, make):
    rsps.get(SNAPSHOTS, body='{"results": [{"id": 8')
    exc = raises(VpsApiError, make(retries=2).get, "snapshots/")
    assert exc.to_failure() == dict(
        status=200,
        method="GET",
        path="snapshots/",
        url=SNAPSHOTS,
        message='the API answered HTTP 200 with a body that is not valid JSON (\'{"results": [{"id": 8\')',
    )
    assert len(rsps.calls) == 3


def test_the_non_json_snippet_is_short_and_collapsed(rsps, make):
    rsps.get(SNAPSHOTS, body="<p>" + "word  \n " * 40 + "</p>")
    exc = raises(VpsApiError, make(retries=0).get, "snapshots/")
    snippet = ("word " * 16)[:80]
    assert exc.message == "the API answered HTTP 200 with a body that is not valid JSON (%r)" % snippet


@pytest.mark.parametrize("status, body", [(200, ""), (204, ""), (201, "")])
def test_empty_success_body_is_none(rsps, make, status, body):
    rsps.get(SNAPSHOTS, status=status, body=body)
    assert make().get("snapshots/") is None


# DELETE ------------------------------------------------------------------------------------------------------------------


def test_delete_returns_true_when_deleted(rsps, make):
    rsps.delete(ONE, status=204)
    assert make().delete("snapshots/801/") is True
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer " + TOKEN


def test_delete_404_returns_false(rsps, make):
    rsps.delete(ONE, status=404, json={"detail": "Not found."})
    assert make().delete("snapshots/801/") is False
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("status", [400, 401, 410, 500])
def test_delete_other_errors_raise(rsps, make, status):
    """A 5xx may hide an applied deletion: ambiguous (the caller looks); a 4xx surely was not applied."""
    rsps.delete(ONE, status=status, json={"detail": "no"})
    assert raises(VpsAmbiguousError if status >= 500 else VpsApiError, make().delete, "snapshots/801/").status == status


# TLS, proxies, plain http ------------------------------------------------------------------------------------------------


def test_an_unusable_ca_bundle_is_an_api_error_not_a_crash(rsps, make):
    rsps.get(SNAPSHOTS, body=OSError("Could not find a suitable TLS CA certificate bundle, invalid path: /x"))
    error = raises(VpsApiError, make().get, "snapshots/")
    assert error.message == "could not prepare the request: Could not find a suitable TLS CA certificate bundle, invalid path: /x"
    assert (error.status, error.method, error.path, error.url) == (None, "GET", "snapshots/", SNAPSHOTS)


def test_reason_unwraps_nested_urllib3_errors():
    from urllib3 import HTTPConnectionPool
    from urllib3.exceptions import MaxRetryError, NewConnectionError, ReadTimeoutError

    refused = NewConnectionError(object(), "Failed to establish a new connection: [Errno 111] Connection refused")
    wrapped = requests.exceptions.ConnectionError(MaxRetryError(None, "/api/v1/snapshots/", refused))
    assert client_module._reason(wrapped) == "Failed to establish a new connection: [Errno 111] Connection refused"
    pool = HTTPConnectionPool("127.0.0.1", 9)
    timeout = requests.exceptions.ReadTimeout(ReadTimeoutError(pool, "/api/v1/snapshots/", "Read timed out. (read timeout=1)"))
    assert client_module._reason(timeout) == "Read timed out. (read timeout=1)"
    ssl_error = requests.exceptions.SSLError(MaxRetryError(None, "/", OSError(524297, "[X509: NO_CERTIFICATE_OR_CRL_FOUND] no certificate")))
    assert client_module._reason(ssl_error) == "[X509: NO_CERTIFICATE_OR_CRL_FOUND] no certificate"


@pytest.mark.parametrize(
    "text, reason",
    [
        (CONNECTION_REFUSED, REFUSED_TEXT),
        ("HTTPConnectionPool(host='h', port=80): Read timed out.", "Read timed out."),
        ("<urllib3.connection.HTTPSConnection object at 0x7f>: Failed to resolve 'h'", "Failed to resolve 'h'"),
        ("  spaced \n  out  ", "spaced out"),
        ("r" * 400, "r" * 300),
    ],
)
def test_reason_cleans_flattened_texts(text, reason):
    assert client_module._reason(requests.exceptions.ConnectionError(text)) == reason


def test_reason_of_an_exception_without_text_is_its_type():
    assert client_module._reason(requests.exceptions.ConnectionError()) == "ConnectionError"


def test_reason_survives_a_cycle_of_reasons():
    first, second = OSError("first"), OSError("second")
    first.reason, second.reason = second, first
    assert client_module._reason(first) in ("first", "second")


@pytest.mark.parametrize(
    "kwargs, verify",
    [
        (dict(), True),
        (dict(validate_certs=True), True),
        (dict(validate_certs=False), False),
        (dict(ca_path=CA_FILE), CA_FILE),
        (dict(validate_certs=True, ca_path=CA_FILE), CA_FILE),
        (dict(validate_certs=False, ca_path=CA_FILE), False),
    ],
)
def test_tls_options_set_session_verify(make, kwargs, verify):
    assert make(**kwargs).session.verify == verify


@pytest.mark.parametrize(
    "kwargs, env, verify",
    [
        (dict(), False, True),
        (dict(validate_certs=False), False, False),
        (dict(ca_path=CA_FILE), False, CA_FILE),
        # A CA bundle in the environment must not override the module's own options.
        (dict(validate_certs=False), True, False),
        (dict(ca_path=CA_FILE), True, CA_FILE),
        (dict(), True, "/env/bundle.pem"),
    ],
)
def test_tls_options_reach_requests(rsps, make, no_ca_env, monkeypatch, kwargs, env, verify):
    if env:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/env/bundle.pem")
    rsps.get(SNAPSHOTS, json={"results": []})
    make(**kwargs).get("snapshots/")
    assert rsps.calls[0].request.req_kwargs["verify"] == verify


def test_timeout_reaches_every_request(rsps, make, vt):
    page2 = SNAPSHOTS + "?cursor=p2"
    rsps.get(SNAPSHOTS, json={"next": page2, "results": []}, match=[matchers.query_param_matcher({})])
    rsps.get(page2, json={"next": None, "results": []}, match=[matchers.query_param_matcher({"cursor": "p2"})])
    script(rsps, vt, "GET", ONE, (503, ""), (200, {}))
    rsps.post(SNAPSHOTS, status=201, json={})
    rsps.delete(ONE, status=204)
    client = make(timeout=17)
    client.get_all("snapshots/")
    client.get("snapshots/801/")
    client.post("snapshots/", {"name": "a"})
    client.delete("snapshots/801/")
    assert [call.request.req_kwargs["timeout"] for call in rsps.calls] == [17] * 6


def test_session_request_arguments(vt):
    session = mock.MagicMock()
    session.headers = {}
    answer = session.request.return_value
    answer.status_code, answer.content, answer.json.return_value = 200, b"{}", {"ok": True}
    client = VpsClient(API, TOKEN, timeout=9, validate_certs=False, session=session, sleep=vt.sleep, clock=vt.monotonic)
    assert client.get("snapshots/", params={"server_id": 1}) == {"ok": True}
    assert client.post("snapshots/", {"name": "a"}) == {"ok": True}
    client.delete("snapshots/1/")
    assert session.request.call_args_list == [
        mock.call("GET", SNAPSHOTS, params={"server_id": 1}, json=None, timeout=9, allow_redirects=True, verify=False),
        mock.call("POST", SNAPSHOTS, params=None, json={"name": "a"}, timeout=9, allow_redirects=False, verify=False),
        mock.call("DELETE", SNAPSHOTS + "1/", params=None, json=None, timeout=9, allow_redirects=True, verify=False),
    ]


def test_each_thread_gets_its_own_session_with_the_token(make):
    client = make(ca_path=CA_FILE)
    sessions = {}

    def grab(name):
        sessions[name] = (client.session, client.session)

    threads = [threading.Thread(target=grab, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (a1, a2), (b1, b2) = sessions["a"], sessions["b"]
    assert a1 is a2 and b1 is b2  # one per thread, kept
    assert a1 is not b1
    for session in (a1, b1):
        assert isinstance(session, requests.Session)
        assert session.headers["Authorization"] == "Bearer " + TOKEN
        assert session.headers["Accept"] == "application/json"
        assert session.verify == CA_FILE


def test_an_injected_session_is_shared_by_every_thread(make):
    injected = requests.Session()
    client = make(session=injected)
    seen = []
    thread = threading.Thread(target=lambda: seen.append(client.session))
    thread.start()
    thread.join()
    assert seen == [injected]
    assert client.session is injected


@pytest.mark.parametrize(
    "api_url, warned",
    [
        ("http://api.vps.test/api/v1", "api.vps.test"),
        ("HTTP://api.vps.test/api/v1", "api.vps.test"),
        ("http://10.0.0.5:8080/api/v1", "10.0.0.5"),
        ("http://127.0.0.1:8080/api/v1", None),
        ("http://127.1.2.3/api/v1", None),
        ("http://localhost:8080/api/v1", None),
        ("http://localhost.localdomain/api/v1", None),
        ("http://[::1]:8080/api/v1", None),
        ("https://api.vps.test/api/v1", None),
    ],
)
def test_plain_http_to_a_remote_host_warns(make, api_url, warned):
    warnings = make(api_url).warnings
    if warned:
        assert warnings == ["api_url uses plain http:// to %s, which is not loopback: the API token travels unencrypted. Use https://." % warned]
    else:
        assert warnings == []
    assert not any(TOKEN in warning for warning in warnings)


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("localhost", True),
        ("localhost.localdomain", True),
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("::1", True),
        ("10.0.0.1", False),
        ("api.vps.test", False),
        ("", False),
        ("localhost.example", False),
    ],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    "reason",
    [
        "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)",
        "[SSL] record layer failure (_ssl.c:1000)",
        "[SSL: UNKNOWN_PROTOCOL] unknown protocol",
        "[SSL: PACKET_LENGTH_TOO_LONG] packet length too long",
        "[SSL: HTTP_REQUEST] http request",
        "WRONG VERSION NUMBER",
    ],
)
def test_plain_http_on_an_https_port_is_named(rsps, make, vt, reason):
    rsps.get(SNAPSHOTS, body=requests.exceptions.SSLError(reason))
    exc = raises(VpsApiError, make().get, "snapshots/")
    assert exc.message == (
        "api.vps.test does not answer TLS on that port (%s): api_url says https://, but the server seems "
        "to speak plain HTTP there. Check the port, or use http:// for a local test endpoint" % reason
    )
    assert len(rsps.calls) == 1
    assert vt.sleeps == []


def test_ssl_certificate_failure_points_at_ca_path_and_validate_certs(rsps, make, vt):
    error = requests.exceptions.SSLError(
        "HTTPSConnectionPool(host='api.vps.test', port=443): Max retries exceeded with url: /api/v1/snapshots/ "
        "(Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed')))"
    )
    rsps.post(SNAPSHOTS, body=error)
    exc = raises(VpsApiError, make().post, "snapshots/", {})
    assert exc.message.startswith("TLS certificate verification failed for api.vps.test: ")
    assert "CERTIFICATE_VERIFY_FAILED" in exc.message
    assert exc.message.endswith(". Give the CA bundle in ca_path, or set validate_certs=false for a test endpoint")
    assert (exc.status, exc.method, exc.path, exc.url) == (None, "POST", "snapshots/", SNAPSHOTS)
    assert len(rsps.calls) == 1
    assert vt.sleeps == []


def test_tls_messages_name_the_port(rsps, make):
    url = "https://api.vps.test:8443/api/v1/snapshots/"
    rsps.get(url, body=requests.exceptions.SSLError("certificate verify failed: self-signed certificate"))
    exc = raises(VpsApiError, make("https://api.vps.test:8443/api/v1").get, "snapshots/")
    assert exc.message == (
        "TLS certificate verification failed for api.vps.test:8443: certificate verify failed: "
        "self-signed certificate. Give the CA bundle in ca_path, or set validate_certs=false for a test endpoint"
    )


PROXY_ERROR = requests.exceptions.ProxyError("Unable to connect to proxy", OSError("Tunnel connection failed: 407 Proxy Authentication Required"))


@pytest.mark.parametrize(
    "variable, value",
    [
        ("HTTPS_PROXY", "http://alice:s3cret@proxy.corp:3128"),
        ("https_proxy", "http://proxy.corp:3128"),
        ("ALL_PROXY", "http://alice:s3cret@proxy.corp:3128/"),
    ],
)
def test_proxy_errors_name_the_proxy_without_its_credentials(rsps, make, vt, no_proxy_env, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    rsps.get(SNAPSHOTS, body=PROXY_ERROR)
    exc = raises(VpsApiError, make().get, "snapshots/")
    shown = "http://proxy.corp:3128" + ("/" if value.endswith("/") else "")
    assert exc.message == (
        "could not reach api.vps.test through the proxy %s (from the HTTPS_PROXY or ALL_PROXY environment "
        "variable): Tunnel connection failed: 407 Proxy Authentication Required. Fix the proxy, or add the "
        "API's host to NO_PROXY" % shown
    )
    assert "s3cret" not in str(exc) and "alice" not in str(exc)
    assert (exc.status, exc.method, exc.path, exc.url) == (None, "GET", "snapshots/", SNAPSHOTS)
    assert len(rsps.calls) == 1
    assert vt.sleeps == []


def test_a_proxy_without_scheme_is_named_without_its_credentials(rsps, make, no_proxy_env, monkeypatch):
    """requests accepts HTTPS_PROXY=user:password@host:port (no scheme); its password must not show either."""
    monkeypatch.setenv("HTTPS_PROXY", "alice:s3cret@proxy.corp:3128")
    rsps.get(SNAPSHOTS, body=PROXY_ERROR)
    exc = raises(VpsApiError, make().get, "snapshots/")
    assert exc.message.startswith("could not reach api.vps.test through the proxy http://proxy.corp:3128 (from the HTTPS_PROXY")
    assert "s3cret" not in exc.message and "alice" not in exc.message


def test_proxy_error_for_plain_http_names_http_proxy(rsps, make, no_proxy_env, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://bob:pw@proxy.corp:8080")
    url = "http://127.0.0.1:8765/api/v1"
    rsps.get(url + "/snapshots/", body=PROXY_ERROR)
    exc = raises(VpsApiError, make(url).get, "snapshots/")
    assert exc.message.startswith(
        "could not reach 127.0.0.1:8765 through the proxy http://proxy.corp:8080 (from the HTTP_PROXY or ALL_PROXY environment variable): "
    )


def test_proxy_error_without_a_proxy_in_the_environment(rsps, make, no_proxy_env):
    rsps.get(SNAPSHOTS, body=PROXY_ERROR)
    exc = raises(VpsApiError, make().get, "snapshots/")
    assert exc.message.startswith("could not reach api.vps.test through the proxy the configured proxy (from the HTTPS_PROXY")


def test_other_request_errors_are_api_errors(rsps, make):
    rsps.get(SNAPSHOTS, body=requests.exceptions.TooManyRedirects("Exceeded 30 redirects."))
    exc = raises(VpsApiError, make().get, "snapshots/")
    assert str(exc) == "request failed: Exceeded 30 redirects. (on GET snapshots/)"
    assert exc.url == SNAPSHOTS


@pytest.mark.parametrize("url", ["https://user:pw@api.vps.test/api/v1", "https://me@corp:pw@api.vps.test/api/v1"])
def test_an_api_url_with_userinfo_is_refused_before_anything_is_sent(rsps, make, url):
    """(It used to be sent, as HTTP Basic authentication, and answered 401 with no hint.)"""
    exc = raises(VpsConfigError, make, url, retries=0)
    assert str(exc) == CREDENTIALS_PROBLEM
    assert "pw" not in str(exc) and "corp" not in str(exc)
    assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    "url, shown",
    [
        ("https://user:pw@api.vps.test:8443/api/v1/snapshots/?page=2#top", "https://api.vps.test:8443/api/v1/snapshots/"),
        ("http://proxy.corp:3128", "http://proxy.corp:3128"),
        ("http://alice@proxy.corp/", "http://proxy.corp/"),
        ("proxy.corp:3128", "http://proxy.corp:3128"),
        ("alice:s3cret@proxy.corp:3128", "http://proxy.corp:3128"),
        ("https://:8443/api/v1", "https://:8443/api/v1"),
        ("http://u:p@[fe80::1]:8080/x", "http://[fe80::1]:8080/x"),
        (SNAPSHOTS, SNAPSHOTS),
    ],
)
def test_without_credentials(url, shown):
    assert without_credentials(url) == shown


def test_the_token_check_can_fail():
    with pytest.raises(AssertionError):
        assert_no_token(VpsApiError("echoed Bearer %s" % TOKEN, status=401, method="GET", path="snapshots/"))


# Issue 22: a Retry-After is what the provider asked for ------------------------------------------------------------------


def test_ten_429s_each_asking_one_second_cost_about_ten_seconds(rsps, make, vt):
    """Honoured as given: the backoff does not keep doubling over what the provider asked for."""
    times = script(rsps, vt, "GET", SNAPSHOTS, *([(429, "", {"Retry-After": "1"})] * 10 + [(200, {"results": []})]))
    client = make()
    assert client.get("snapshots/") == {"results": []}
    assert len(times) == 11 and client.rate_limited == 10
    assert 10.0 <= times[-1] <= 12.0
    # Never earlier than asked.
    assert all(later - earlier >= 1.0 for earlier, later in zip(times, times[1:]))


def test_429s_without_retry_after_still_back_off_exponentially(rsps, make, vt):
    times = script(rsps, vt, "GET", SNAPSHOTS, *([(429, "")] * 6 + [(200, {"results": []})]))
    make().get("snapshots/")
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    for attempt, gap in enumerate(gaps):
        assert min(30.0, 2.0**attempt) / 2 <= gap
    assert gaps[-1] >= 15.0  # the sixth pause: between 15 and 30 s (the cap)


@pytest.mark.parametrize("value, low, high", [("7", 7.0, 7.8), ("0", 0.0, 0.2), ("3600", 120.0, 133.0)])
def test_a_retry_after_is_waited_with_a_small_jitter_and_a_cap(rsps, make, vt, value, low, high):
    times = script(rsps, vt, "GET", SNAPSHOTS, *([(503, "", {"Retry-After": value})] * 3 + [(200, {})]))
    make().get("snapshots/")
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    assert all(low <= gap <= high for gap in gaps), gaps


def test_the_retry_after_jitter_varies():
    delays = set(client_module.retry_after_delay(1.0) for dummy in range(20))
    assert len(delays) > 1 and all(1.0 <= delay <= 1.1 for delay in delays)


# Issue 22: what happened to a DELETE is what the client says ------------------------------------------------------------


@pytest.mark.parametrize(
    "status, body, content_type",
    [
        (200, "upstream: OK <garbage> \x00{not json", "text/plain"),
        (200, "<html><body>Deleted</body></html>", "text/html"),
        (202, '{"detail": "deletion queued', "application/json"),
        (200, "", "text/plain"),
        (204, "", None),
    ],
)
def test_a_2xx_answer_to_a_delete_is_a_deletion_whatever_its_body(rsps, make, vt, status, body, content_type):
    rsps.delete(ONE, status=status, body=body, content_type=content_type)
    client = make()
    outcome = client.delete_outcome("snapshots/801/")
    assert (outcome.deleted, outcome.answer_lost) == (True, None)
    assert client.delete("snapshots/801/") is True
    assert len(rsps.calls) == 2  # one each: never sent again for its body
    assert vt.sleeps == []


@pytest.mark.parametrize(
    "first, lost",
    [
        (read_timeout(), "no answer within api_timeout=30s"),
        (dropped(), "connection failed"),
        ((504, {"detail": "upstream timed out"}), "HTTP 504"),
        ((502, "<html>502 Bad Gateway</html>"), "HTTP 502"),
    ],
)
def test_a_404_after_an_unanswered_delete_is_this_tasks_deletion(rsps, make, vt, first, lost):
    script(rsps, vt, "DELETE", ONE, first, (404, {"detail": "Not found."}))
    outcome = make().delete_outcome("snapshots/801/")
    assert outcome.deleted is True
    assert lost in outcome.answer_lost
    assert len(rsps.calls) == 2


def test_a_deletion_shows_what_it_knows():
    assert repr(Deletion(True, "HTTP 504 (upstream timed out)")) == "Deletion(deleted=True, answer_lost='HTTP 504 (upstream timed out)')"
    assert repr(Deletion(False)) == "Deletion(deleted=False, answer_lost=None)"


def test_a_404_to_the_first_delete_is_gone_not_ours(rsps, make, vt):
    rsps.delete(ONE, status=404, json={"detail": "Not found."})
    outcome = make().delete_outcome("snapshots/801/")
    assert (outcome.deleted, outcome.answer_lost) == (False, None)


def test_a_404_after_a_refused_connection_is_gone_not_ours(rsps, make, vt):
    """A connection that was never made carried no DELETE: the snapshot was gone before this task's first one."""
    script(
        rsps,
        vt,
        "DELETE",
        ONE,
        requests.exceptions.ConnectionError(CONNECTION_REFUSED),
        requests.exceptions.ConnectTimeout("timed out"),
        (404, {"detail": "Not found."}),
    )
    outcome = make().delete_outcome("snapshots/801/")
    assert (outcome.deleted, outcome.answer_lost) == (False, None)


def _conn():
    return urllib3.connection.HTTPSConnection("api.vps.test")


def _pool():
    return urllib3.HTTPSConnectionPool("api.vps.test", 443)


def _max_retries(reason):
    """As requests raises it: a ConnectionError around urllib3's MaxRetryError, whose reason is the real error."""
    return requests.exceptions.ConnectionError(MaxRetryError(_pool(), "/api/v1/snapshots/801/", reason))


def _flattened(caused_by):
    """An error that carries only the flattened text of the chain."""
    return requests.exceptions.ConnectionError(
        "HTTPSConnectionPool(host='api.vps.test', port=443): Max retries exceeded with url: /api/v1/snapshots/801/ (Caused by %s)" % caused_by
    )


@pytest.mark.parametrize(
    "never_connected",
    [
        # Known by the urllib3 error in the chain, whatever its text says.
        pytest.param(lambda: requests.exceptions.ConnectionError(NewConnectionError(_conn(), "[Errno 111] Connection refused")), id="refused"),
        pytest.param(
            lambda: _max_retries(NameResolutionError("api.vps.test", _conn(), socket.gaierror(-5, "No address associated with hostname"))),
            id="no address for the host",
        ),
        pytest.param(lambda: _max_retries(ConnectTimeoutError(_conn(), "Connection to api.vps.test timed out. (connect timeout=30)")), id="connect timeout"),
        # Known by the text alone, when the chain is flattened to it.
        pytest.param(lambda: _flattened("NewConnectionError('<HTTPSConnection object>: [Errno 111] Connection refused')"), id="text: NewConnectionError"),
        pytest.param(lambda: _flattened("OSError('Failed to establish a new connection: [Errno 113] No route to host')"), id="text: no route"),
        pytest.param(lambda: _flattened("OSError('[Errno -2] Name or service not known')"), id="text: unknown host"),
        pytest.param(lambda: _flattened("OSError('[Errno -3] Temporary failure in name resolution')"), id="text: resolver down"),
        pytest.param(lambda: _flattened("OSError('[Errno 8] nodename nor servname provided, or not known')"), id="text: unknown host, BSD"),
    ],
)
def test_a_404_after_a_delete_that_never_connected_is_gone_not_ours(rsps, make, vt, never_connected):
    """Nothing was sent: the 404 that follows is someone else's deletion, and a failure is a plain error."""
    script(rsps, vt, "DELETE", ONE, never_connected(), (404, {"detail": "Not found."}))
    outcome = make().delete_outcome("snapshots/801/")
    assert (outcome.deleted, outcome.answer_lost) == (False, None)
    rsps.replace(responses.DELETE, ONE, body=never_connected())
    exc = raises(VpsApiError, make(retries=1).delete_outcome, "snapshots/801/")
    assert not getattr(exc, "unanswered", None)


def test_a_chain_of_reasons_looping_back_is_read_once(rsps, make, vt):
    """A connection reset after the DELETE was sent, whose reason leads back to the error around it: not a connection
    that was never made, so the 404 that follows is this task's deletion; and the chain is not walked in circles."""
    reads = []

    class Reset(OSError):
        @property
        def reason(self):
            reads.append(self)
            assert len(reads) < 50, "the chain of reasons is walked in circles"
            return outer

    outer = requests.exceptions.ConnectionError(Reset("[Errno 104] Connection reset by peer"))
    script(rsps, vt, "DELETE", ONE, outer, (404, {"detail": "Not found."}))
    outcome = make().delete_outcome("snapshots/801/")
    assert (outcome.deleted, outcome.answer_lost) == (True, "connection failed talking to api.vps.test: [Errno 104] Connection reset by peer")


def test_a_404_after_a_429_is_gone_not_ours(rsps, make, vt):
    script(rsps, vt, "DELETE", ONE, (429, "", {"Retry-After": "1"}), (404, {"detail": "Not found."}))
    assert make().delete_outcome("snapshots/801/").deleted is False


TIMED_OUT = "no answer within api_timeout=30s talking to api.vps.test: Read timed out. (read timeout=30)"
ABORTED = "connection failed talking to api.vps.test: Connection aborted."


@pytest.mark.parametrize(
    "answers, status, message, unanswered",
    [
        # A timeout is tried once more, a dropped connection or a 5xx api_retries (2) more times: each answer lost is named.
        ([read_timeout()], None, TIMED_OUT, [TIMED_OUT] * 2),
        ([dropped()], None, ABORTED, [ABORTED] * 3),
        ([(504, {"detail": "upstream timed out"})], 504, "upstream timed out", ["HTTP 504 (upstream timed out)"] * 3),
        ([(503, {"detail": "try later"})], 503, "try later", ["HTTP 503 (try later)"] * 3),
        # A 500 is not retried: it is the one answer, and it may hide the deletion.
        ([(500, {"detail": "boom"})], 500, "boom", ["HTTP 500"]),
        ([read_timeout(), (401, {"detail": "Invalid token."})], 401, "Invalid token.", [TIMED_OUT]),
    ],
)
def test_a_delete_that_fails_after_an_unanswered_attempt_is_ambiguous(rsps, make, vt, answers, status, message, unanswered):
    script(rsps, vt, "DELETE", ONE, *answers)
    exc = raises(VpsAmbiguousError, make(retries=2).delete_outcome, "snapshots/801/")
    assert exc.to_failure() == dict(status=status, message=message, method="DELETE", path="snapshots/801/", url=ONE)
    assert exc.unanswered == unanswered


@pytest.mark.parametrize(
    "answers",
    [
        [(401, {"detail": "Invalid token."})],
        [requests.exceptions.ConnectionError(CONNECTION_REFUSED)],
        [(429, "", {"Retry-After": "1"}), (403, {"detail": "no"})],
    ],
)
def test_a_delete_that_surely_was_not_applied_is_a_plain_error(rsps, make, vt, answers):
    script(rsps, vt, "DELETE", ONE, *answers)
    exc = raises(VpsApiError, make(retries=1).delete_outcome, "snapshots/801/")
    assert not getattr(exc, "unanswered", None)
