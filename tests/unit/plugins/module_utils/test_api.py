# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests for module_utils/api.py: the VpsClient and its helpers, against `responses` (no network)."""

from __future__ import annotations

import email.utils
import os
import time
from unittest import mock

import pytest
import requests
from hypothesis import given, settings, strategies as st
from responses import matchers

from ansible_collections.vps.cloud.plugins.module_utils import api
from ansible_collections.vps.cloud.plugins.module_utils.api import (
    BACKOFF_CAP,
    ERROR_TEXT_LIMIT,
    MAX_RETRY_AFTER,
    VpsAmbiguousError,
    VpsApiError,
    VpsClient,
    VpsConfigError,
    backoff_delay,
    error_text,
    retry_after_seconds,
)

API = "https://api.vps.test/api/v1"
TOKEN = "tok-Unit-7f3a9c"
SNAPSHOTS = API + "/snapshots/"
CONNECTION_REFUSED = ("HTTPSConnectionPool(host='api.vps.test', port=443): Max retries exceeded with url: /api/v1/snapshots/ "
                      "(Caused by NewConnectionError('<urllib3.connection.HTTPSConnection object at 0x7f00>: "
                      "Failed to establish a new connection: [Errno 111] Connection refused'))")

FAST = settings(max_examples=60, deadline=None, database=None)


class Sleeps(list):
    """An injected sleep that records instead of sleeping."""

    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def no_ca_env(monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def make(url=API, token=TOKEN, **kwargs):
    kwargs.setdefault("sleep", Sleeps())
    return VpsClient(url, token, **kwargs)


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


# Requests: headers, body, URLs --------------------------------------------------------

def test_get_sends_bearer_token_and_accepts_json(rsps):
    rsps.get(SNAPSHOTS, json={"count": 0, "results": []})
    assert make().get("snapshots/") == {"count": 0, "results": []}
    headers = rsps.calls[0].request.headers
    assert headers["Authorization"] == "Bearer " + TOKEN
    assert headers["Accept"] == "application/json"
    assert rsps.calls[0].request.body is None


def test_post_sends_json_body(rsps):
    payload = {"server_id": 12345, "name": "before-update", "description": "d"}
    created = {"id": 802, "name": "before-update", "status": "in_progress"}
    rsps.post(SNAPSHOTS, json=created, status=201, match=[matchers.json_params_matcher(payload)])
    assert make().post("snapshots/", payload) == created
    request = rsps.calls[0].request
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == "Bearer " + TOKEN


def test_post_without_body_sends_no_body(rsps):
    rsps.post(SNAPSHOTS + "801/restore/", json={"status": "success"})
    assert make().post("snapshots/801/restore/") == {"status": "success"}
    assert rsps.calls[0].request.body is None


def test_get_params_reach_the_query_string(rsps):
    rsps.get(SNAPSHOTS, json={"results": []}, match=[matchers.query_param_matcher({"server_id": "12345"})])
    make().get("snapshots/", params={"server_id": 12345})
    assert rsps.calls[0].request.url == SNAPSHOTS + "?server_id=12345"


@pytest.mark.parametrize("path, url", [
    ("snapshots", SNAPSHOTS),
    ("snapshots/", SNAPSHOTS),
    ("/snapshots/", SNAPSHOTS),
    ("snapshots/801/restore", API + "/snapshots/801/restore/"),
    ("snapshots/801/restore/", API + "/snapshots/801/restore/"),
    ("servers/12345/", API + "/servers/12345/"),
])
def test_url_for_gives_trailing_slash_paths(path, url):
    assert make().url_for(path) == url


@pytest.mark.parametrize("api_url", [API, API + "/", API + "//"])
def test_api_url_trailing_slashes_are_dropped(api_url):
    client = make(api_url)
    assert client.base_url == API
    assert client.url_for("snapshots/") == SNAPSHOTS


def test_api_url_without_path():
    assert make("https://api.vps.test/").url_for("snapshots") == "https://api.vps.test/snapshots/"


@pytest.mark.parametrize("api_url", [
    None, "", "api.vps.test/api/v1", "ftp://api.vps.test/api/v1", "https://", "https:///api/v1",
    "https://api.vps.test/api/v1?x=1", "https://api.vps.test/api#v1", "https://api.vps.test/api v1", " " + API,
])
def test_bad_api_url_is_a_config_error(api_url):
    exc = raises(VpsConfigError, make, api_url)
    assert str(exc).startswith("api_url must be an http:// or https:// URL such as https://admin.vps.org/api/v1, got ")


@pytest.mark.parametrize("kwargs, message", [
    (dict(timeout=0), "api_timeout must be a positive number of seconds, got 0"),
    (dict(timeout=None), "api_timeout must be a positive number of seconds, got None"),
    (dict(retries=-1), "api_retries must be 0 or more, got -1"),
])
def test_bad_timeout_or_retries_is_a_config_error(kwargs, message):
    assert str(raises(VpsConfigError, make, **kwargs)) == message


@pytest.mark.parametrize("token", ["", "   ", None, "tok en", "tok\nen", "tok\ren", "tök", TOKEN + "\x00"])
def test_unusable_token_is_a_config_error_that_does_not_quote_it(token):
    exc = raises(VpsConfigError, make, token=token)
    assert str(exc) == "api_token must be a non-empty string of printable ASCII characters without spaces"


def test_token_surrounding_whitespace_is_stripped(rsps):
    rsps.get(SNAPSHOTS, json={"results": []})
    make(token=" %s\n" % TOKEN).get("snapshots/")
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer " + TOKEN


# Pagination ---------------------------------------------------------------------------

def test_get_all_follows_absolute_next_across_three_pages(rsps):
    page2, page3 = SNAPSHOTS + "?cursor=p2", SNAPSHOTS + "?cursor=p3"
    rsps.get(SNAPSHOTS, json={"count": 5, "next": page2, "previous": None, "results": [{"id": 1}, {"id": 2}]},
             match=[matchers.query_param_matcher({"server_id": "12345"})])
    rsps.get(page2, json={"count": 5, "next": page3, "previous": SNAPSHOTS, "results": [{"id": 3}, {"id": 4}]},
             match=[matchers.query_param_matcher({"cursor": "p2"})])
    rsps.get(page3, json={"count": 5, "next": None, "previous": page2, "results": [{"id": 5}]},
             match=[matchers.query_param_matcher({"cursor": "p3"})])
    items = make().get_all("snapshots/", params={"server_id": 12345})
    assert items == [{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}, {"id": 5}]
    # `params` only on the first page: `next` already carries its query string.
    assert [call.request.url for call in rsps.calls] == [SNAPSHOTS + "?server_id=12345", page2, page3]
    assert all(call.request.headers["Authorization"] == "Bearer " + TOKEN for call in rsps.calls)


def test_get_all_without_next_key_reads_one_page(rsps):
    rsps.get(SNAPSHOTS, json={"count": 1, "results": [{"id": 7}]})
    assert make().get_all("snapshots/") == [{"id": 7}]
    assert len(rsps.calls) == 1


def test_get_all_tolerates_an_unpaginated_list(rsps):
    rsps.get(SNAPSHOTS, json=[{"id": 1}, {"id": 2}])
    assert make().get_all("snapshots/") == [{"id": 1}, {"id": 2}]


@pytest.mark.parametrize("body", [{"count": 0}, {"results": "nope"}, "text", None])
def test_get_all_without_results_list_is_an_error(rsps, body):
    rsps.get(SNAPSHOTS, json=body)
    exc = raises(VpsApiError, make().get_all, "snapshots/")
    assert str(exc) == "the API answered a list request without a 'results' list on GET snapshots/"


@pytest.mark.parametrize("next_url, origin", [
    ("https://evil.example/api/v1/snapshots/?cursor=p2", "https://evil.example"),
    ("http://api.vps.test/api/v1/snapshots/?cursor=p2", "http://api.vps.test"),
    ("https://api.vps.test:8443/api/v1/snapshots/?cursor=p2", "https://api.vps.test"),
])
def test_get_all_refuses_next_to_another_origin(rsps, next_url, origin):
    rsps.get(SNAPSHOTS, json={"next": next_url, "results": [{"id": 1}]})
    client = make()
    exc = raises(VpsApiError, client.get_all, "snapshots/")
    assert exc.message == "the API's next page points to another origin (%s); refusing to send the token there" % origin
    assert (exc.status, exc.method, exc.path) == (None, "GET", "snapshots/")
    assert len(rsps.calls) == 1  # the other origin never saw a request, so never saw the token
    assert client.sleep == []


def test_get_all_detects_a_pagination_loop(rsps):
    page2 = SNAPSHOTS + "?cursor=p2"
    rsps.get(SNAPSHOTS, json={"next": page2, "results": [{"id": 1}]})
    rsps.get(page2, json={"next": SNAPSHOTS, "results": [{"id": 2}]})
    exc = raises(VpsApiError, make().get_all, "snapshots/")
    assert exc.message == "the API's pagination loops back to a page already read (%s)" % SNAPSHOTS
    assert len(rsps.calls) == 2


def test_get_all_detects_a_page_pointing_at_itself(rsps):
    page2 = SNAPSHOTS + "?cursor=p2"
    rsps.get(SNAPSHOTS, json={"next": page2, "results": [{"id": 1}]})
    rsps.get(page2, json={"next": page2, "results": [{"id": 2}]})
    exc = raises(VpsApiError, make().get_all, "snapshots/")
    assert exc.message == "the API's pagination loops back to a page already read (%s)" % page2
    assert len(rsps.calls) == 2


# Retries of reads and deletes ---------------------------------------------------------

@pytest.mark.parametrize("status", [429, 502, 503, 504])
@pytest.mark.parametrize("method, ok_status, ok_body, expected", [
    ("GET", 200, {"results": []}, {"results": []}),
    ("DELETE", 204, None, True),
])
def test_reads_and_deletes_are_retried_on_transient_statuses(rsps, status, method, ok_status, ok_body, expected):
    url = SNAPSHOTS + "801/"
    rsps.add(method, url, status=status, body="busy")
    rsps.add(method, url, status=status, body="busy")
    rsps.add(method, url, status=ok_status, json=ok_body) if ok_body is not None else rsps.add(method, url, status=ok_status)
    client = make(retries=5)
    call = client.get if method == "GET" else client.delete
    assert call("snapshots/801/") == expected
    assert len(rsps.calls) == 3
    assert len(client.sleep) == 2


@pytest.mark.parametrize("status", [429, 502, 503, 504])
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_retries_run_out_then_error_with_status(rsps, status, method):
    rsps.add(method, SNAPSHOTS + "801/", status=status, json={"detail": "try later"})
    client = make(retries=3)
    exc = raises(VpsApiError, client.get if method == "GET" else client.delete, "snapshots/801/")
    assert exc.status == status
    assert str(exc) == "try later (HTTP %s on %s snapshots/801/)" % (status, method)
    assert len(rsps.calls) == 4
    assert len(client.sleep) == 3


def test_zero_retries_means_one_attempt(rsps):
    rsps.get(SNAPSHOTS, status=503, body="")
    client = make(retries=0)
    assert raises(VpsApiError, client.get, "snapshots/").status == 503
    assert len(rsps.calls) == 1
    assert client.sleep == []


@pytest.mark.parametrize("error, message", [
    (requests.exceptions.ConnectionError(CONNECTION_REFUSED),
     "connection failed talking to api.vps.test: Failed to establish a new connection: [Errno 111] Connection refused"),
    (requests.exceptions.ReadTimeout("Read timed out. (read timeout=30)"),
     "timed out after 30s talking to api.vps.test: Read timed out. (read timeout=30)"),
])
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_reads_and_deletes_are_retried_on_network_errors(rsps, error, message, method):
    url = SNAPSHOTS + "801/"
    rsps.add(method, url, body=error)
    rsps.add(method, url, body=error)
    rsps.add(method, url, json={"id": 801}) if method == "GET" else rsps.add(method, url, status=204)
    client = make(retries=2)
    call = client.get if method == "GET" else client.delete
    assert call("snapshots/801/") == ({"id": 801} if method == "GET" else True)
    assert len(rsps.calls) == 3
    rsps.reset()
    rsps.add(method, url, body=error)
    client = make(retries=2)
    exc = raises(VpsApiError, client.get if method == "GET" else client.delete, "snapshots/801/")
    assert exc.status is None
    assert str(exc) == "%s on %s snapshots/801/" % (message, method)
    assert len(rsps.calls) == 3
    assert len(client.sleep) == 2


def test_retry_after_seconds_is_honoured(rsps):
    rsps.get(SNAPSHOTS, status=429, headers={"Retry-After": "7"})
    rsps.get(SNAPSHOTS, json={"results": []})
    client = make()
    client.get("snapshots/")
    assert client.sleep == [7.0]  # first backoff is at most 1 s, so Retry-After wins


def test_retry_after_http_date_is_honoured(rsps):
    rsps.get(SNAPSHOTS, status=503, headers={"Retry-After": email.utils.formatdate(time.time() + 60, usegmt=True)})
    rsps.get(SNAPSHOTS, json={"results": []})
    client = make()
    client.get("snapshots/")
    assert len(client.sleep) == 1
    assert 58.0 <= client.sleep[0] <= 60.0


@pytest.mark.parametrize("value", ["3600", "99999", None])
def test_retry_after_is_capped(rsps, value):
    value = value or email.utils.formatdate(time.time() + 7200, usegmt=True)
    rsps.get(SNAPSHOTS, status=429, headers={"Retry-After": value})
    rsps.get(SNAPSHOTS, json={"results": []})
    client = make()
    client.get("snapshots/")
    assert client.sleep == [MAX_RETRY_AFTER]
    assert MAX_RETRY_AFTER == 120.0


class _Headers:
    def __init__(self, headers):
        self.headers = headers


@pytest.mark.parametrize("headers, seconds", [
    ({}, None),
    ({"Retry-After": ""}, None),
    ({"Retry-After": "soon"}, None),
    ({"Retry-After": " 12 "}, 12.0),
    ({"Retry-After": "2.5"}, 2.5),
    ({"Retry-After": "-5"}, 0.0),
    ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
    ({"Retry-After": "121"}, 120.0),
])
def test_retry_after_seconds_values(headers, seconds):
    assert retry_after_seconds(_Headers(headers)) == seconds


def test_backoff_delay_grows_and_is_capped():
    assert [backoff_delay(n, rand=lambda: 1.0) for n in range(8)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert [backoff_delay(n, rand=lambda: 0.0) for n in range(8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]
    assert backoff_delay(3, rand=lambda: 0.5) == 6.0


@FAST
@given(attempt=st.integers(min_value=0, max_value=60), draw=st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_backoff_delay_is_jittered_within_bounds(attempt, draw):
    ceiling = min(BACKOFF_CAP, 2.0 ** attempt)
    delay = backoff_delay(attempt, rand=lambda: draw)
    assert ceiling / 2 <= delay <= ceiling


def test_backoff_delay_default_jitter_varies():
    delays = {backoff_delay(4) for dummy in range(50)}
    assert len(delays) > 1
    assert all(8.0 <= delay <= 16.0 for delay in delays)


def test_client_backoff_grows_between_retries(rsps):
    rsps.get(SNAPSHOTS, status=502, body="")
    client = make(retries=7)
    raises(VpsApiError, client.get, "snapshots/")
    assert len(client.sleep) == 7
    for attempt, delay in enumerate(client.sleep):
        ceiling = min(BACKOFF_CAP, 2.0 ** attempt)
        assert ceiling / 2 <= delay <= ceiling


# POST: retried only when surely not applied ------------------------------------------

def test_post_is_retried_on_429(rsps):
    rsps.post(SNAPSHOTS, status=429, headers={"Retry-After": "3"})
    rsps.post(SNAPSHOTS, status=201, json={"id": 802})
    client = make()
    assert client.post("snapshots/", {"server_id": 1, "name": "a"}) == {"id": 802}
    assert len(rsps.calls) == 2
    assert client.sleep == [3.0]


def test_post_429_retries_run_out_then_plain_error(rsps):
    rsps.post(SNAPSHOTS, status=429, json={"detail": "slow down"})
    client = make(retries=2)
    exc = raises(VpsApiError, client.post, "snapshots/", {"server_id": 1, "name": "a"})
    assert (exc.status, str(exc)) == (429, "slow down (HTTP 429 on POST snapshots/)")
    assert len(rsps.calls) == 3


@pytest.mark.parametrize("status", [502, 503, 504])
def test_post_edge_5xx_is_ambiguous_and_not_resent(rsps, status):
    rsps.post(SNAPSHOTS, status=status, body="upstream went away", headers={"Retry-After": "1"})
    client = make(retries=5)
    exc = raises(VpsAmbiguousError, client.post, "snapshots/", {"server_id": 1, "name": "a"})
    assert (exc.status, exc.method, exc.path, exc.message) == (status, "POST", "snapshots/", "upstream went away")
    assert len(rsps.calls) == 1
    assert client.sleep == []


@pytest.mark.parametrize("error, message", [
    (requests.exceptions.ReadTimeout("Read timed out. (read timeout=30)"),
     "timed out after 30s talking to api.vps.test: Read timed out. (read timeout=30)"),
    (requests.exceptions.ConnectionError(CONNECTION_REFUSED),
     "connection failed talking to api.vps.test: Failed to establish a new connection: [Errno 111] Connection refused"),
    (requests.exceptions.ConnectionError("Connection aborted."),
     "connection failed talking to api.vps.test: Connection aborted."),
])
def test_post_read_timeout_or_dropped_connection_is_ambiguous_and_not_resent(rsps, error, message):
    rsps.post(SNAPSHOTS, body=error)
    client = make(retries=5)
    exc = raises(VpsAmbiguousError, client.post, "snapshots/", {"server_id": 1, "name": "a"})
    assert str(exc) == message + " on POST snapshots/"
    assert len(rsps.calls) == 1
    assert client.sleep == []


def test_post_connect_timeout_is_retried(rsps):
    rsps.post(SNAPSHOTS, body=requests.exceptions.ConnectTimeout("connect timeout=30"))
    rsps.post(SNAPSHOTS, status=201, json={"id": 802})
    client = make()
    assert client.post("snapshots/", {"server_id": 1, "name": "a"}) == {"id": 802}
    assert len(rsps.calls) == 2
    assert len(client.sleep) == 1


def test_post_connect_timeout_retries_run_out(rsps):
    rsps.post(SNAPSHOTS, body=requests.exceptions.ConnectTimeout("connect timeout=30"))
    client = make(retries=2)
    exc = raises(VpsApiError, client.post, "snapshots/", {"server_id": 1, "name": "a"})
    assert str(exc) == "timed out connecting to api.vps.test after 30s: connect timeout=30 on POST snapshots/"
    assert len(rsps.calls) == 3


def test_post_non_json_201_is_ambiguous(rsps):
    rsps.post(SNAPSHOTS, status=201, body="<html><body>Created</body></html>")
    client = make()
    exc = raises(VpsAmbiguousError, client.post, "snapshots/", {"server_id": 1, "name": "a"})
    assert exc.status == 201
    assert exc.message == "the API answered HTTP 201 with a body that is not valid JSON ('Created')"
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_post_redirect_is_not_followed_and_is_ambiguous(rsps, status):
    rsps.post(SNAPSHOTS, status=status, headers={"Location": "https://other.example/snapshots/"})
    client = make()
    exc = raises(VpsAmbiguousError, client.post, "snapshots/", {"server_id": 1, "name": "a"})
    assert exc.status == status
    assert exc.message == ("the API answered with a redirect to https://other.example/snapshots/; "
                           "set api_url to the address the API is served from")
    assert len(rsps.calls) == 1


def test_post_400_is_a_plain_error(rsps):
    rsps.post(SNAPSHOTS, status=400, json={"detail": "Snapshot limit reached (5)."})
    exc = raises(VpsApiError, make().post, "snapshots/", {"server_id": 1, "name": "a"})
    assert str(exc) == "Snapshot limit reached (5). (HTTP 400 on POST snapshots/)"
    assert len(rsps.calls) == 1


# Error bodies ------------------------------------------------------------------------

HTML_PAGE = ("<html><head><title>502 Bad Gateway</title><style>body { color: red }</style>"
             "<script>var token = 1;</script></head><body><center><h1>502 Bad Gateway</h1></center>"
             "<hr><center>nginx</center></body></html>")


@pytest.mark.parametrize("status, kwargs, message", [
    (401, dict(json={"detail": "Invalid token."}), "Invalid token."),
    (400, dict(json={"error": "quota exceeded"}), "quota exceeded"),
    (400, dict(json={"message": "Server is busy"}), "Server is busy"),
    (400, dict(json={"name": ["Enter a valid name."], "server_id": ["This field is required."]}),
     "name: Enter a valid name.; server_id: This field is required."),
    (400, dict(json={"non_field_errors": ["Snapshot limit reached."]}), "Snapshot limit reached."),
    (400, dict(json={"detail": ["first", "second"]}), "first second"),
    (400, dict(json={}), "Bad Request"),
    (404, dict(body=""), "Not Found"),
    (404, dict(body="   \n"), "Not Found"),
    (502, dict(body=HTML_PAGE, content_type="text/html"), "502 Bad Gateway 502 Bad Gateway nginx"),
    (500, dict(body="Internal failure, sorry", content_type="text/plain"), "Internal failure, sorry"),
    (400, dict(body="{\"detail\": \"trunc"), "{\"detail\": \"trunc"),
])
def test_error_bodies_are_surfaced(rsps, status, kwargs, message):
    rsps.get(SNAPSHOTS, status=status, **kwargs)
    exc = raises(VpsApiError, make(retries=0).get, "snapshots/")
    assert exc.message == message
    assert exc.status == status
    assert str(exc) == "%s (HTTP %s on GET snapshots/)" % (message, status)
    assert exc.to_failure() == dict(status=status, message=message, method="GET", path="snapshots/")


def test_error_text_is_limited():
    response = requests.models.Response()
    response.status_code = 400
    response._content = ("x" * 1000).encode()
    assert error_text(response) == "x" * ERROR_TEXT_LIMIT


def test_vps_api_error_str_without_status():
    assert str(VpsApiError("boom")) == "boom"
    assert str(VpsApiError("boom", status=500)) == "boom (HTTP 500)"
    assert str(VpsApiError("boom", status=404, method="DELETE", path="snapshots/1/")) == "boom (HTTP 404 on DELETE snapshots/1/)"


def test_truncated_json_on_a_read_is_retried(rsps):
    rsps.get(SNAPSHOTS, body="{\"results\": [{\"id\": 8")
    rsps.get(SNAPSHOTS, json={"results": [{"id": 801}]})
    client = make()
    assert client.get("snapshots/") == {"results": [{"id": 801}]}
    assert len(rsps.calls) == 2
    assert len(client.sleep) == 1


def test_truncated_json_on_a_read_retries_run_out(rsps):
    rsps.get(SNAPSHOTS, body="{\"results\": [{\"id\": 8")
    client = make(retries=2)
    exc = raises(VpsApiError, client.get, "snapshots/")
    assert exc.status == 200
    assert exc.message == "the API answered HTTP 200 with a body that is not valid JSON ('{\"results\": [{\"id\": 8')"
    assert len(rsps.calls) == 3


def test_empty_success_body_is_none(rsps):
    rsps.get(SNAPSHOTS, status=200, body="")
    assert make().get("snapshots/") is None


# DELETE ------------------------------------------------------------------------------

def test_delete_returns_true_when_deleted(rsps):
    rsps.delete(SNAPSHOTS + "801/", status=204)
    assert make().delete("snapshots/801/") is True
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer " + TOKEN


def test_delete_404_returns_false(rsps):
    rsps.delete(SNAPSHOTS + "801/", status=404, json={"detail": "Not found."})
    assert make().delete("snapshots/801/") is False


@pytest.mark.parametrize("status", [400, 401, 500])
def test_delete_other_errors_raise(rsps, status):
    rsps.delete(SNAPSHOTS + "801/", status=status, json={"detail": "no"})
    assert raises(VpsApiError, make().delete, "snapshots/801/").status == status


# TLS, timeouts, plain http -----------------------------------------------------------

CA_FILE = os.path.join(os.path.dirname(__file__), "fixtures", "ca.pem")


def test_missing_ca_path_is_a_config_error_naming_it():
    with pytest.raises(VpsConfigError) as info:
        make(ca_path="/nonexistent/ca.pem")
    assert str(info.value) == "ca_path /nonexistent/ca.pem does not exist or is not a file; give the path of a PEM bundle of CA certificates"
    assert make(ca_path="/nonexistent/ca.pem", validate_certs=False).session.verify is False


def test_an_unusable_ca_bundle_is_an_api_error_not_a_crash(rsps):
    rsps.get(SNAPSHOTS, body=OSError("Could not find a suitable TLS CA certificate bundle, invalid path: /x"))
    error = raises(VpsApiError, make().get, "snapshots/")
    assert error.message == "could not prepare the request: Could not find a suitable TLS CA certificate bundle, invalid path: /x"


def test_reason_unwraps_nested_urllib3_errors():
    from urllib3 import HTTPConnectionPool
    from urllib3.exceptions import MaxRetryError, NewConnectionError, ReadTimeoutError
    refused = NewConnectionError(object(), "Failed to establish a new connection: [Errno 111] Connection refused")
    wrapped = requests.exceptions.ConnectionError(MaxRetryError(None, "/api/v1/snapshots/", refused))
    assert api._reason(wrapped) == "Failed to establish a new connection: [Errno 111] Connection refused"
    pool = HTTPConnectionPool("127.0.0.1", 9)
    timeout = requests.exceptions.ReadTimeout(ReadTimeoutError(pool, "/api/v1/snapshots/", "Read timed out. (read timeout=1)"))
    assert api._reason(timeout) == "Read timed out. (read timeout=1)"
    ssl_error = requests.exceptions.SSLError(MaxRetryError(None, "/", OSError(524297, "[X509: NO_CERTIFICATE_OR_CRL_FOUND] no certificate")))
    assert api._reason(ssl_error) == "[X509: NO_CERTIFICATE_OR_CRL_FOUND] no certificate"


@pytest.mark.parametrize("kwargs, verify", [
    (dict(), True),
    (dict(validate_certs=True), True),
    (dict(validate_certs=False), False),
    (dict(ca_path=CA_FILE), CA_FILE),
    (dict(validate_certs=True, ca_path=CA_FILE), CA_FILE),
    (dict(validate_certs=False, ca_path=CA_FILE), False),
])
def test_tls_options_set_session_verify(kwargs, verify):
    assert make(**kwargs).session.verify == verify


@pytest.mark.parametrize("kwargs, env, verify", [
    (dict(), False, True),
    (dict(validate_certs=False), False, False),
    (dict(ca_path=CA_FILE), False, CA_FILE),
    # A CA bundle in the environment must not override the module's own options.
    (dict(validate_certs=False), True, False),
    (dict(ca_path=CA_FILE), True, CA_FILE),
    (dict(), True, "/env/bundle.pem"),
])
def test_tls_options_reach_requests(rsps, no_ca_env, monkeypatch, kwargs, env, verify):
    if env:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/env/bundle.pem")
    rsps.get(SNAPSHOTS, json={"results": []})
    make(**kwargs).get("snapshots/")
    assert rsps.calls[0].request.req_kwargs["verify"] == verify


def test_timeout_reaches_every_request(rsps):
    page2 = SNAPSHOTS + "?cursor=p2"
    rsps.get(SNAPSHOTS, json={"next": page2, "results": []})
    rsps.get(page2, json={"next": None, "results": []})
    rsps.get(SNAPSHOTS + "801/", status=503)
    rsps.get(SNAPSHOTS + "801/", json={})
    rsps.post(SNAPSHOTS, status=201, json={})
    rsps.delete(SNAPSHOTS + "801/", status=204)
    client = make(timeout=17)
    client.get_all("snapshots/")
    client.get("snapshots/801/")
    client.post("snapshots/", {"name": "a"})
    client.delete("snapshots/801/")
    assert [call.request.req_kwargs["timeout"] for call in rsps.calls] == [17] * 6


def test_session_request_arguments():
    session = mock.MagicMock()
    session.headers = {}
    response = session.request.return_value
    response.status_code, response.content, response.json.return_value = 200, b"{}", {"ok": True}
    client = VpsClient(API, TOKEN, timeout=9, validate_certs=False, session=session, sleep=Sleeps())
    assert client.get("snapshots/", params={"server_id": 1}) == {"ok": True}
    assert client.post("snapshots/", {"name": "a"}) == {"ok": True}
    assert session.request.call_args_list == [
        mock.call("GET", SNAPSHOTS, params={"server_id": 1}, json=None, timeout=9, allow_redirects=True, verify=False),
        mock.call("POST", SNAPSHOTS, params=None, json={"name": "a"}, timeout=9, allow_redirects=False, verify=False),
    ]
    assert session.headers["Authorization"] == "Bearer " + TOKEN


@pytest.mark.parametrize("api_url, warned", [
    ("http://api.vps.test/api/v1", True),
    ("http://10.0.0.5:8080/api/v1", True),
    ("http://127.0.0.1:8080/api/v1", False),
    ("http://127.1.2.3/api/v1", False),
    ("http://localhost:8080/api/v1", False),
    ("http://[::1]:8080/api/v1", False),
    ("https://api.vps.test/api/v1", False),
])
def test_plain_http_to_a_remote_host_warns(api_url, warned):
    warnings = make(api_url).warnings
    if warned:
        host = api_url.split("//")[1].split("/")[0].split(":")[0]
        assert warnings == ["api_url uses plain http:// to %s, which is not loopback: the API token travels unencrypted. Use https://." % host]
    else:
        assert warnings == []


def test_redirect_to_another_host_drops_the_token(rsps):
    other = "https://mirror.example/api/v1/snapshots/"
    rsps.get(SNAPSHOTS, status=302, headers={"Location": other})
    rsps.get(other, json={"results": []})
    assert make().get("snapshots/") == {"results": []}
    assert len(rsps.calls) == 2
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer " + TOKEN
    assert "Authorization" not in rsps.calls[1].request.headers
    assert rsps.calls[1].request.url == other


def test_redirect_on_the_same_host_keeps_the_token(rsps):
    moved = API + "/v2/snapshots/"
    rsps.get(SNAPSHOTS, status=301, headers={"Location": moved})
    rsps.get(moved, json={"results": []})
    make().get("snapshots/")
    assert rsps.calls[1].request.headers["Authorization"] == "Bearer " + TOKEN


def test_ssl_error_points_at_ca_path_and_validate_certs(rsps):
    error = requests.exceptions.SSLError(
        "HTTPSConnectionPool(host='api.vps.test', port=443): Max retries exceeded with url: /api/v1/snapshots/ "
        "(Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed')))")
    rsps.get(SNAPSHOTS, body=error)
    client = make()
    exc = raises(VpsApiError, client.get, "snapshots/")
    assert exc.message.startswith("TLS certificate verification failed for api.vps.test: ")
    assert exc.message.endswith(". Give the CA bundle in ca_path, or set validate_certs=false for a test endpoint")
    assert len(rsps.calls) == 1
    assert client.sleep == []


def test_other_request_errors_are_api_errors(rsps):
    rsps.get(SNAPSHOTS, body=requests.exceptions.TooManyRedirects("Exceeded 30 redirects."))
    exc = raises(VpsApiError, make().get, "snapshots/")
    assert str(exc) == "request failed: Exceeded 30 redirects. on GET snapshots/"


def test_host_in_messages_drops_userinfo(rsps):
    rsps.get("https://user:pw@api.vps.test/api/v1/snapshots/", body=requests.exceptions.ConnectionError("Connection aborted."))
    exc = raises(VpsApiError, make("https://user:pw@api.vps.test/api/v1", retries=0).get, "snapshots/")
    assert str(exc) == "connection failed talking to api.vps.test: Connection aborted. on GET snapshots/"


def test_argument_spec_hides_the_token():
    spec = api.vps_argument_spec()
    assert spec["api_token"]["no_log"] is True
    assert spec["api_url"]["default"] == "https://admin.vps.org/api/v1"


def test_the_token_check_can_fail():
    with pytest.raises(AssertionError):
        assert_no_token(VpsApiError("echoed Bearer %s" % TOKEN, status=401, method="GET", path="snapshots/"))


def test_the_token_is_not_in_warnings():
    assert not any(TOKEN in warning for warning in make("http://api.vps.test/api/v1").warnings)
