# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The transport: HTTP client for the provider's API and its retries (paced by pacer.Pacer). A POST that may have been
applied is raised as VpsAmbiguousError; what to do then (the send-once protocol) is service.send_once.

Private to this collection: the interface may change without notice. Nothing here knows about
snapshots' meaning or calls exit_json/fail_json; errors are raised as VpsApiError.
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import os
import random
import re
import threading
import time
import traceback
from urllib.parse import urlsplit, urlunsplit

from ansible_collections.vps.cloud.plugins.module_utils.pacer import Pacer

try:
    import requests

    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised through missing_required_lib
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

DEFAULT_API_URL = "https://admin.vps.org/api/v1"
RETRYABLE_STATUSES = frozenset((429, 502, 503, 504))
# 502/503 come from a gateway in front of the service: the request never reached it, so even a POST
# may be sent again once a look shows it was not applied.
REFUSED_BY_GATEWAY = frozenset((502, 503))
# The longest a single Retry-After is honoured; longer ones are capped so a task never sleeps for hours.
MAX_RETRY_AFTER = 120.0
# A Retry-After is waited as given plus up to this fraction of it (of 1 s at least), never less.
RETRY_AFTER_JITTER = 0.1
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
# A request that timed out is tried once more at most, whatever api_retries says: an API that accepts
# connections and does not answer within api_timeout twice is not about to, and the task must not stay
# silent for minutes. Worst case of one call: 2 x api_timeout plus one backoff.
TIMEOUT_RETRIES = 1
# A 429 means "not processed", and a fleet sharing the provider's limit meets many in a row, however well
# each task paces itself: 429s are retried for this many seconds from a request's first one, not counted
# against api_retries (which would fail a healthy but busy fleet after a few seconds).
RATE_LIMIT_PATIENCE = 600.0
MAX_PAGES = 10000
# How many times a list that moved while it was read page by page is read again from its first page.
LISTING_REREADS = 3
ERROR_TEXT_LIMIT = 300
API_TIMEOUT_RANGE = (1, 3600)
API_RETRIES_RANGE = (0, 20)
# Seconds to keep looking for a POST that got no answer, at least.
MIN_GRACE = 10


class VpsApiError(Exception):
    """Any failed API call: carries the HTTP status (None without a response), the provider's words and the URL."""

    def __init__(self, message, status=None, method=None, path=None, url=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.method = method
        self.path = path
        self.url = url

    def __str__(self):
        where = " on %s %s" % (self.method, self.path) if self.method else ""
        if self.status is None:
            # In brackets, as with a status: the provider's or the transport's words often end with a full stop.
            return "%s (%s)" % (self.message, where.lstrip()) if where else self.message
        return "%s (HTTP %s%s)" % (self.message, self.status, where)

    def to_failure(self):
        """Structured payload for fail_json(failure=...)."""
        return dict(status=self.status, message=self.message, method=self.method, path=self.path, url=self.url)


class VpsAmbiguousError(VpsApiError):
    """A request that changes state may or may not have been applied (timeout, dropped connection, 5xx, unreadable body)."""


class Deletion:
    """What one DELETE did. `deleted`: this task deleted the snapshot (a 2xx, or a 404 after an attempt of its own whose
    answer was lost); false when it was gone before this task's first DELETE reached the API. `answer_lost`: what became
    of that earlier attempt's answer, when the deletion is known only from the 404 that followed it."""

    def __init__(self, deleted, answer_lost=None):
        self.deleted = deleted
        self.answer_lost = answer_lost

    def __bool__(self):
        return self.deleted

    def __repr__(self):
        return "Deletion(deleted=%r, answer_lost=%r)" % (self.deleted, self.answer_lost)


class VpsConfigError(ValueError):
    """Bad client options, such as an api_url that is not an http(s) URL."""


def client_option_problems(api_url, api_token, timeout, retries, validate_certs=True, ca_path=None):
    """Every problem with the client's options, each naming the option; the one place they are checked."""
    problems = []
    userinfo = re.match(r"^[a-z][a-z0-9+.-]*://([^/?#]*)@", api_url, re.IGNORECASE) if isinstance(api_url, str) else None
    if not isinstance(api_url, str) or not re.match(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", api_url, re.IGNORECASE) or not _hostname(api_url):
        # Shown without any user:password, which is a secret as much as the token.
        shown = api_url[: userinfo.start(1)] + "***" + api_url[userinfo.end(1) :] if userinfo else api_url
        problems.append("api_url must be an http:// or https:// URL such as %s, got %r" % (DEFAULT_API_URL, shown))
    elif userinfo:
        problems.append(
            "api_url must not carry credentials (user:password@ before the host): requests would send them as HTTP "
            "Basic authentication instead of the token, and the API would answer 401. Give the token in api_token, "
            "and api_url without them, such as %s" % DEFAULT_API_URL
        )
    token = api_token.strip() if isinstance(api_token, str) else ""
    # A token with whitespace or control characters makes requests raise an error that quotes the header.
    if not re.match(r"^[\x21-\x7e]+$", token):
        problems.append("api_token must be a non-empty string of printable ASCII characters without spaces")
    low, high = API_TIMEOUT_RANGE
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not low <= timeout <= high:
        problems.append("api_timeout must be between %d and %d seconds, got %r" % (low, high, timeout))
    low, high = API_RETRIES_RANGE
    if isinstance(retries, bool) or not isinstance(retries, int) or not low <= retries <= high:
        problems.append("api_retries must be between %d and %d, got %r" % (low, high, retries))
    if validate_certs and ca_path and not os.path.isfile(ca_path):
        problems.append("ca_path %s does not exist or is not a file; give the path of a PEM bundle of CA certificates" % ca_path)
    return problems


def error_text(response):
    """The provider's own words from an error response, whatever the body's shape."""
    body = response.text or ""
    try:
        data = json.loads(body) if body.strip() else None
    except ValueError:
        data = None
    text = _text_from_json(data) if data is not None else _text_from_markup(body)
    if not text:
        text = response.reason or "no details given"
    return text[:ERROR_TEXT_LIMIT]


def _text_from_json(data):
    if isinstance(data, dict):
        for key in ("detail", "error", "message", "non_field_errors"):
            if key in data and data[key]:
                return _text_from_json(data[key])
        # Per-field validation errors: {"name": ["..."], "server_id": ["..."]}
        return "; ".join("%s: %s" % (key, _text_from_json(value)) for key, value in sorted(data.items()))
    if isinstance(data, list):
        return " ".join(_text_from_json(item) for item in data)
    return str(data)


def _text_from_markup(body):
    # An HTML page from a proxy: keep its visible text, collapsed.
    body = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", body)
    text = re.sub(r"(?s)<[^>]*>", " ", body)
    return " ".join(text.split())


def retry_after_seconds(response, now=time.time):
    """Seconds a 429/503 asks us to wait, from Retry-After as seconds or an HTTP date; None if absent or unreadable."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - now()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def retry_after_delay(retry_after, rand=random.random):
    """What the provider asked for, and a little more so that the clients it asked do not all come back at once:
    uniform in [retry_after, retry_after + RETRY_AFTER_JITTER x max(retry_after, 1 s)], the Retry-After capped first."""
    retry_after = min(max(retry_after, 0.0), MAX_RETRY_AFTER)
    return retry_after + RETRY_AFTER_JITTER * max(retry_after, 1.0) * rand()


def backoff_delay(attempt, base=BACKOFF_BASE, cap=BACKOFF_CAP, rand=random.random):
    """Jittered exponential backoff: uniform in [half, full] of min(cap, base * 2**attempt)."""
    ceiling = min(cap, base * (2**attempt))
    return ceiling * (0.5 + 0.5 * rand())


def is_loopback(host):
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _hostname(url):
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def without_credentials(url):
    """A URL with any user:password removed, safe to show (also a proxy given without a scheme, as requests accepts)."""
    parts = urlsplit(url if "://" in url else "http://" + url)
    host = parts.hostname or ""
    if ":" in host:
        host = "[%s]" % host  # IPv6
    if parts.port:
        host = "%s:%s" % (host, parts.port)
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class VpsClient:
    """requests Sessions (one per thread) with the bearer token; JSON in and out; retries where retrying is safe."""

    def __init__(
        self,
        api_url,
        api_token,
        timeout=30,
        retries=5,
        validate_certs=True,
        ca_path=None,
        sleep=time.sleep,
        clock=time.monotonic,
        session=None,
        rate=None,
        concurrency=1,
    ):
        problems = client_option_problems(api_url, api_token, timeout, retries, validate_certs, ca_path)
        if problems:
            raise VpsConfigError("; ".join(problems))
        self.base_url = api_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.sleep = sleep
        self.clock = clock
        self.pacer = Pacer(rate, clock=clock, sleep=sleep, slow_start=concurrency > 1)
        self.one_at_a_time = concurrency <= 1 and rate is None
        self.warnings = []
        self.requests_sent = 0
        self.rate_limited = 0
        self._counter_lock = threading.Lock()
        parts = urlsplit(self.base_url)
        if parts.scheme.lower() == "http" and not is_loopback(parts.hostname or ""):
            self.warnings.append("api_url uses plain http:// to %s, which is not loopback: the API token travels unencrypted. Use https://." % parts.hostname)
        self._headers = {"Authorization": "Bearer %s" % api_token.strip(), "Accept": "application/json", "User-Agent": "vps.cloud-ansible-collection"}
        self._verify = ca_path if (validate_certs and ca_path) else bool(validate_certs)
        self._shared_session = session
        self._local = threading.local()

    @property
    def session(self):
        """This thread's Session (an injected one is shared by every thread)."""
        if self._shared_session is not None:
            return self._shared_session
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers.update(self._headers)
            session.verify = self._verify
        return session

    def url_for(self, path):
        """Absolute URL for an API path; every documented path ends with a slash."""
        if not path.endswith("/"):
            path += "/"
        return self.base_url + "/" + path.lstrip("/")

    # Public verbs -----------------------------------------------------------------

    def get(self, path, params=None):
        return self._request("GET", self.url_for(path), params=params, path=path)

    def get_all(self, path, params=None, on_page=None):
        """Every item of a paginated list, following `next` until it is null.

        `on_page(page)` sees each page; if it returns False, reading stops there and None is returned.
        A list that moved while it was read page by page (others creating or deleting: a later page answers 404, the
        pages' counts differ, or an item shows twice) is read again from the start, up to LISTING_REREADS times: with
        page numbers, an item that moves to an earlier page is never seen, and a missing snapshot is a wrong decision.
        """
        rereads = 0
        while True:
            read = self._read_pages(path, params, on_page, rereads == LISTING_REREADS)
            if read is None:
                return None
            items, moved = read
            if not moved:
                return items
            if rereads == LISTING_REREADS:
                # Still moving: every item seen, once each, is the best this read can give.
                return _once_each(items)
            rereads += 1

    def _read_pages(self, path, params, on_page, last_read):
        """(items, moved) of one read of a paginated list, or None when on_page stopped it."""
        items, counts = [], set()
        url, seen = self.url_for(path), set()
        while url:
            if url in seen or len(seen) >= MAX_PAGES:
                raise VpsApiError("the API's pagination loops back to a page already read (%s)" % url, method="GET", path=path)
            seen.add(url)
            try:
                page = self._request("GET", url, params=params, path=path)
            except VpsApiError as exc:
                if exc.status == 404 and len(seen) > 1:
                    # A later page that is gone: the list shrank while it was read.
                    if last_read:
                        raise VpsApiError(
                            "the list kept changing while it was read, %d times in a row (a later page answered "
                            "404: %s); try again once the other changes are done" % (LISTING_REREADS + 1, exc.message),
                            status=404,
                            method="GET",
                            path=path,
                            url=exc.url,
                        ) from exc
                    return items, True
                raise
            if isinstance(page, list):  # an unpaginated list is tolerated
                return items + page, False
            if not isinstance(page, dict) or not isinstance(page.get("results"), list):
                raise VpsApiError("the API answered a list request without a 'results' list", method="GET", path=path, url=url)
            if on_page and on_page(page) is False:
                return None
            if isinstance(page.get("count"), int):
                counts.add(page["count"])
            items.extend(page["results"])
            url = page.get("next")
            if url:
                self._check_same_origin(url, path)
            params = None  # `next` carries the query string already
        # Only a list read in several pages can move between them.
        return items, len(seen) > 1 and (len(counts) > 1 or len(_once_each(items)) < len(items))

    def delete(self, path):
        """DELETE; returns True if this task deleted it, False if it was already gone (see delete_outcome())."""
        return self.delete_outcome(path).deleted

    def delete_outcome(self, path):
        """DELETE, and the Deletion it made.

        Any 2xx is a deletion, whatever its body (a proxy may answer 200 with text): it is never sent again for its
        body. A 404 to the first attempt that reached the API means someone else deleted it first; a 404 after an
        attempt whose answer was lost (no answer, a dropped connection, a 5xx) is this task's own deletion, applied
        then. A failure after such an attempt raises VpsAmbiguousError with `unanswered` (why each answer was lost):
        the snapshot may be gone, and only a listing can tell.
        """
        unanswered = []
        try:
            self._request("DELETE", self.url_for(path), path=path, unanswered=unanswered)
        except VpsApiError as exc:
            if exc.status == 404:
                return Deletion(bool(unanswered), unanswered[0] if unanswered else None)
            if exc.status is not None and exc.status >= 500 and not unanswered:
                unanswered.append("HTTP %s" % exc.status)
            if not unanswered:
                raise
            ambiguous = VpsAmbiguousError(exc.message, status=exc.status, method=exc.method, path=exc.path, url=exc.url)
            ambiguous.unanswered = unanswered
            raise ambiguous from exc
        return Deletion(True)

    def post(self, path, payload=None):
        """POST that creates or starts something: re-sent only when the request surely was not applied.

        Raises VpsAmbiguousError when it may have been applied; service.send_once() says what to do then.
        """
        return self._request("POST", self.url_for(path), json_body=payload, path=path)

    # Plumbing ----------------------------------------------------------------------

    def _check_same_origin(self, url, path):
        theirs, ours = urlsplit(url), urlsplit(self.base_url)
        if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
            raise VpsApiError(
                "the API's next page points to another origin (%s://%s); refusing to send the token there" % (theirs.scheme, theirs.hostname),
                method="GET",
                path=path,
            )

    def _send(self, method, url, params, json_body, idempotent, paced=True):
        if paced:
            self.pacer.wait_turn()
        with self._counter_lock:
            self.requests_sent += 1
        # verify given per request: session.verify alone loses to REQUESTS_CA_BUNDLE in the environment.
        return self.session.request(method, url, params=params, json=json_body, timeout=self.timeout, allow_redirects=idempotent, verify=self._verify)

    def _request(self, method, url, params=None, json_body=None, path=None, unanswered=None):
        """One call, retried where that is safe. `unanswered` (a list) gets why each attempt that may have been applied
        went unanswered: a timeout or a dropped connection after it was sent, or a 5xx."""
        idempotent = method in ("GET", "DELETE")
        unanswered = [] if unanswered is None else unanswered
        attempt = timeouts = rate_limited_attempt = 0
        rate_limited_since = None
        shown = without_credentials(url)
        # Sent again once a Retry-After has been waited out: one request at a time cannot bunch up with others, so the
        # provider's own word says when (the pace learnt from its 429s still spaces the requests that follow).
        told_when = False
        while True:
            try:
                response = self._send(method, url, params, json_body, idempotent, paced=not (told_when and self.one_at_a_time))
            except requests.exceptions.SSLError as exc:
                raise VpsApiError(self._tls_message(exc), method=method, path=path, url=shown) from exc
            except requests.exceptions.ProxyError as exc:
                raise VpsApiError(self._proxy_message(url, exc), method=method, path=path, url=shown) from exc
            except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as exc:
                timed_out = isinstance(exc, requests.exceptions.Timeout)
                if isinstance(exc, requests.exceptions.ConnectTimeout):
                    # Never reached the server: safe to re-send, even a POST.
                    error = VpsApiError(
                        "timed out connecting to %s after %ss: %s" % (self._host(), self.timeout, _reason(exc)), method=method, path=path, url=shown
                    )
                else:
                    kind = "no answer within api_timeout=%ss" % self.timeout if timed_out else "connection failed"
                    message = "%s talking to %s: %s" % (kind, self._host(), _reason(exc))
                    if not idempotent:
                        raise VpsAmbiguousError(message, method=method, path=path, url=shown) from exc
                    error = VpsApiError(message, method=method, path=path, url=shown)
                    if timed_out or not _never_connected(exc):
                        unanswered.append(message)
                if timed_out:
                    timeouts += 1
                if timeouts > min(self.retries, TIMEOUT_RETRIES) or attempt >= self.retries:
                    raise error from exc
                told_when = False
                attempt = self._pause(attempt)
                continue
            except requests.exceptions.RequestException as exc:
                raise VpsApiError("request failed: %s" % _reason(exc), method=method, path=path, url=shown) from exc
            except OSError as exc:
                # requests raises a bare OSError for an unusable CA bundle, before anything is sent.
                raise VpsApiError("could not prepare the request: %s" % _reason(exc), method=method, path=path, url=shown) from exc

            status = response.status_code
            if status == 429:
                with self._counter_lock:
                    self.rate_limited += 1
                self.pacer.rate_limited(retry_after_seconds(response))
            else:
                self.pacer.accepted()
            if status == 429:
                # "Not processed": always safe to send again, even a POST; bounded by time, not by api_retries.
                now = self.clock()
                rate_limited_since = now if rate_limited_since is None else rate_limited_since
                if self.retries and now - rate_limited_since < RATE_LIMIT_PATIENCE:
                    told_when = retry_after_seconds(response) is not None
                    rate_limited_attempt = self._pause(rate_limited_attempt, retry_after_seconds(response))
                    continue
            elif status in RETRYABLE_STATUSES:
                # A 5xx may hide an applied POST.
                unanswered.append("HTTP %s (%s)" % (status, error_text(response)))
                if idempotent:
                    if attempt < self.retries:
                        told_when = retry_after_seconds(response) is not None
                        attempt = self._pause(attempt, retry_after_seconds(response))
                        continue
                else:
                    raise VpsAmbiguousError(error_text(response), status=status, method=method, path=path, url=shown)
            if 300 <= status < 400:
                # Redirects of GET/DELETE are followed; a POST is never re-sent elsewhere (a 303 may follow an applied one).
                error = VpsAmbiguousError if not idempotent else VpsApiError
                raise error(
                    "the API answered with a redirect to %s; set api_url to the address the API is served from" % response.headers.get("Location", "nowhere"),
                    status=status,
                    method=method,
                    path=path,
                    url=shown,
                )
            if status >= 400:
                raise VpsApiError(error_text(response), status=status, method=method, path=path, url=shown)
            if method == "DELETE":
                # A 2xx is the deletion, whatever the body (a proxy may send text): re-sent for its body, it would get
                # a 404 and pass for someone else's.
                return None
            try:
                return self._decode(response, method, path, idempotent, shown)
            except VpsAmbiguousError:
                raise
            except VpsApiError:
                # A truncated or garbled body on a read is a passing fault: reading again is safe.
                if attempt < self.retries:
                    told_when = False
                    attempt = self._pause(attempt)
                    continue
                raise

    @staticmethod
    def _decode(response, method, path, idempotent, shown):
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            snippet = " ".join(_text_from_markup(response.text).split())[:80]
            message = "the API answered HTTP %s with a body that is not valid JSON (%r)" % (response.status_code, snippet)
            error = VpsApiError if idempotent else VpsAmbiguousError
            raise error(message, status=response.status_code, method=method, path=path, url=shown) from None

    def _pause(self, attempt, retry_after=None):
        """Wait before attempt `attempt` + 1: the provider's Retry-After as given (jittered), or without one the backoff.

        The backoff grows only while no Retry-After comes: a provider that says "come back in 1 s" ten times in a row
        is asked again every second or so, not after a backoff doubling over what it asked for. A Retry-After also
        holds every other thread of this client (Pacer.rate_limited, for 429s; hold, for 503s).
        """
        if retry_after is None:
            self.sleep(backoff_delay(attempt))
        else:
            self.pacer.hold(retry_after)
            self.sleep(retry_after_delay(retry_after))
        return attempt + 1

    def _host(self):
        return urlsplit(self.base_url).netloc.rsplit("@", 1)[-1]

    def _tls_message(self, exc):
        reason = _reason(exc)
        if re.search(r"wrong version number|record layer failure|unknown protocol|packet length too long|http request", reason, re.IGNORECASE):
            return (
                "%s does not answer TLS on that port (%s): api_url says https://, but the server seems to speak plain "
                "HTTP there. Check the port, or use http:// for a local test endpoint" % (self._host(), reason)
            )
        return "TLS certificate verification failed for %s: %s. Give the CA bundle in ca_path, or set validate_certs=false for a test endpoint" % (
            self._host(),
            reason,
        )

    def _proxy_message(self, url, exc):
        proxies = requests.utils.get_environ_proxies(url)
        proxy = requests.utils.select_proxy(url, proxies) if proxies else None
        scheme = urlsplit(url).scheme.upper()
        named = without_credentials(proxy) if proxy else "the configured proxy"
        return (
            "could not reach %s through the proxy %s (from the %s_PROXY or ALL_PROXY environment variable): %s. "
            "Fix the proxy, or add the API's host to NO_PROXY" % (self._host(), named, scheme, _reason(exc))
        )


def _once_each(items):
    """`items` without the repeats of an id already seen (items that are not objects with an id are kept)."""
    seen, kept = set(), []
    for item in items:
        key = item.get("id") if isinstance(item, dict) and isinstance(item.get("id"), (int, str)) else None
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        kept.append(item)
    return kept


def _never_connected(exc):
    """Whether a ConnectionError happened before any connection was made (refused, no such host): nothing was sent."""
    inner, seen = exc, set()
    while inner is not None and id(inner) not in seen:
        seen.add(id(inner))
        if type(inner).__name__ in ("NewConnectionError", "NameResolutionError", "ConnectTimeoutError"):
            return True
        nested = getattr(inner, "reason", None)
        if not isinstance(nested, BaseException):
            nested = next((arg for arg in getattr(inner, "args", ()) if isinstance(arg, BaseException)), None)
        inner = nested
    return bool(
        re.search(
            r"NewConnectionError|Failed to establish a new connection|Name or service not known|"
            r"Temporary failure in name resolution|nodename nor servname",
            str(exc),
        )
    )


def _reason(exc):
    """The innermost reason of a requests/urllib3 exception, without pool and object reprs."""
    inner, seen = exc, set()
    while id(inner) not in seen:
        seen.add(id(inner))
        nested = getattr(inner, "reason", None)
        if not isinstance(nested, BaseException):
            nested = next((arg for arg in getattr(inner, "args", ()) if isinstance(arg, BaseException)), None)
        if nested is None:
            break
        inner = nested
    strings = [arg for arg in getattr(inner, "args", ()) if isinstance(arg, str)]
    text = strings[-1] if strings else str(inner)
    # Some errors carry only the flattened text: "Pool(...): Max retries ... (Caused by X('<obj>: reason'))".
    caused = re.search(r"\(Caused by \w+\(['\"]?(?:<[^>]*>: )?(.*?)['\"]?\)\)\s*$", text)
    if caused:
        text = caused.group(1)
    text = re.sub(r"^\s*HTTPS?ConnectionPool\([^)]*\):\s*", "", text)
    text = re.sub(r"^<[^>]*>:\s*", "", text)
    return " ".join(text.split())[:ERROR_TEXT_LIMIT] or type(inner).__name__
