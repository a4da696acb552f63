# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""HTTP client for the provider's Snapshots API.

Private to this collection: the interface may change without notice.
Nothing here calls exit_json or fail_json; errors are raised as VpsApiError
and turned into a failure at the module edge.
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import os
import random
import re
import time
import traceback
from urllib.parse import urlsplit

from ansible.module_utils.basic import env_fallback

try:
    import requests
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised through missing_required_lib
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

DEFAULT_API_URL = "https://admin.vps.org/api/v1"
RETRYABLE_STATUSES = frozenset((429, 502, 503, 504))
# The longest a single Retry-After is honoured; longer ones are capped so a task never sleeps for hours.
MAX_RETRY_AFTER = 120.0
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
MAX_PAGES = 10000
ERROR_TEXT_LIMIT = 300


def vps_argument_spec():
    """The options every module shares (documented in doc_fragments/api.py)."""
    return dict(
        api_url=dict(type="str", default=DEFAULT_API_URL, fallback=(env_fallback, ["VPS_API_URL"])),
        api_token=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["VPS_API_TOKEN"])),
        api_timeout=dict(type="int", default=30),
        api_retries=dict(type="int", default=5),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path", fallback=(env_fallback, ["VPS_CA_PATH"])),
    )


class VpsApiError(Exception):
    """Any failed API call: carries the HTTP status (None without a response) and the provider's words."""

    def __init__(self, message, status=None, method=None, path=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.method = method
        self.path = path

    def __str__(self):
        where = " on %s %s" % (self.method, self.path) if self.method else ""
        if self.status is None:
            return "%s%s" % (self.message, where)
        return "%s (HTTP %s%s)" % (self.message, self.status, where)

    def to_failure(self):
        """Structured payload for fail_json(failure=...)."""
        return dict(status=self.status, message=self.message, method=self.method, path=self.path)


class VpsAmbiguousError(VpsApiError):
    """A request that changes state may or may not have been applied (timeout, dropped connection, 5xx, unreadable body)."""


class VpsConfigError(ValueError):
    """A bad client option, such as an api_url that is not an http(s) URL."""


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


def retry_after_seconds(response):
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
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def backoff_delay(attempt, base=BACKOFF_BASE, cap=BACKOFF_CAP, rand=random.random):
    """Jittered exponential backoff: uniform in [half, full] of min(cap, base * 2**attempt)."""
    ceiling = min(cap, base * (2 ** attempt))
    return ceiling * (0.5 + 0.5 * rand())


def is_loopback(host):
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class VpsClient:
    """One requests.Session with the bearer token; JSON in and out; retries where retrying is safe."""

    def __init__(self, api_url, api_token, timeout=30, retries=5, validate_certs=True, ca_path=None,
                 sleep=time.sleep, session=None):
        self.base_url = self._check_url(api_url)
        if timeout is None or timeout <= 0:
            raise VpsConfigError("api_timeout must be a positive number of seconds, got %r" % (timeout,))
        if retries is None or retries < 0:
            raise VpsConfigError("api_retries must be 0 or more, got %r" % (retries,))
        # A token with whitespace or control characters makes requests raise an error that quotes the header.
        api_token = api_token.strip() if isinstance(api_token, str) else ""
        if not re.match(r"^[\x21-\x7e]+$", api_token):
            raise VpsConfigError("api_token must be a non-empty string of printable ASCII characters without spaces")
        self.timeout = timeout
        self.retries = retries
        self.sleep = sleep
        self.warnings = []
        parts = urlsplit(self.base_url)
        scheme, host = parts.scheme.lower(), parts.hostname or ""
        if scheme == "http" and not is_loopback(host):
            self.warnings.append(
                "api_url uses plain http:// to %s, which is not loopback: the API token travels unencrypted. Use https://." % host)
        if validate_certs and ca_path and not os.path.isfile(ca_path):
            raise VpsConfigError("ca_path %s does not exist or is not a file; give the path of a PEM bundle of CA certificates" % ca_path)
        self.session = session or requests.Session()
        self.session.headers.update({
            "Authorization": "Bearer %s" % api_token,
            "Accept": "application/json",
            "User-Agent": "vps.cloud-ansible-collection",
        })
        self.session.verify = ca_path if (validate_certs and ca_path) else bool(validate_certs)

    @staticmethod
    def _check_url(api_url):
        if not api_url or not re.match(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", api_url, re.IGNORECASE):
            raise VpsConfigError("api_url must be an http:// or https:// URL such as %s, got %r" % (DEFAULT_API_URL, api_url))
        return api_url.rstrip("/")

    def url_for(self, path):
        """Absolute URL for an API path; every documented path ends with a slash."""
        if not path.endswith("/"):
            path += "/"
        return self.base_url + "/" + path.lstrip("/")

    # Public verbs -----------------------------------------------------------------

    def get(self, path, params=None):
        return self._request("GET", self.url_for(path), params=params, path=path)

    def get_all(self, path, params=None):
        """Every item of a paginated list, following `next` until it is null."""
        items = []
        url, seen = self.url_for(path), set()
        while url:
            if url in seen or len(seen) >= MAX_PAGES:
                raise VpsApiError("the API's pagination loops back to a page already read (%s)" % url, method="GET", path=path)
            seen.add(url)
            page = self._request("GET", url, params=params, path=path)
            if isinstance(page, list):  # an unpaginated list is tolerated
                return items + page
            if not isinstance(page, dict) or not isinstance(page.get("results"), list):
                raise VpsApiError("the API answered a list request without a 'results' list", method="GET", path=path)
            items.extend(page["results"])
            url = page.get("next")
            if url:
                self._check_same_origin(url, path)
            params = None  # `next` carries the query string already
        return items

    def delete(self, path):
        """DELETE; returns True if deleted, False if it was already gone (404)."""
        try:
            self._request("DELETE", self.url_for(path), path=path)
        except VpsApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def post(self, path, payload=None):
        """POST that creates or starts something: re-sent only when the request surely was not applied.

        Raises VpsAmbiguousError when it may have been applied; the caller then looks the
        resource up instead of re-sending.
        """
        return self._request("POST", self.url_for(path), json_body=payload, path=path)

    # Plumbing ----------------------------------------------------------------------

    def _check_same_origin(self, url, path):
        theirs, ours = urlsplit(url), urlsplit(self.base_url)
        if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
            raise VpsApiError("the API's next page points to another origin (%s://%s); refusing to send the token there"
                              % (theirs.scheme, theirs.hostname), method="GET", path=path)

    def _request(self, method, url, params=None, json_body=None, path=None):
        idempotent = method in ("GET", "DELETE")
        attempt = 0
        while True:
            try:
                # verify given per request: session.verify alone loses to REQUESTS_CA_BUNDLE in the environment.
                response = self.session.request(method, url, params=params, json=json_body, timeout=self.timeout,
                                                allow_redirects=idempotent, verify=self.session.verify)
            except requests.exceptions.SSLError as exc:
                raise VpsApiError("TLS certificate verification failed for %s: %s. Give the CA bundle in ca_path, "
                                  "or set validate_certs=false for a test endpoint" % (self._host(), _reason(exc)),
                                  method=method, path=path)
            except requests.exceptions.ConnectTimeout as exc:
                # Never reached the server: safe to re-send, even a POST.
                error = VpsApiError("timed out connecting to %s after %ss: %s" % (self._host(), self.timeout, _reason(exc)),
                                    method=method, path=path)
                if attempt < self.retries:
                    attempt = self._pause(attempt)
                    continue
                raise error
            except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as exc:
                kind = "timed out after %ss" % self.timeout if isinstance(exc, requests.exceptions.Timeout) else "connection failed"
                message = "%s talking to %s: %s" % (kind, self._host(), _reason(exc))
                if not idempotent:
                    raise VpsAmbiguousError(message, method=method, path=path)
                if attempt < self.retries:
                    attempt = self._pause(attempt)
                    continue
                raise VpsApiError(message, method=method, path=path)
            except requests.exceptions.RequestException as exc:
                raise VpsApiError("request failed: %s" % _reason(exc), method=method, path=path)
            except OSError as exc:
                # requests raises a bare OSError for an unusable CA bundle, before anything is sent.
                raise VpsApiError("could not prepare the request: %s" % _reason(exc), method=method, path=path)

            status = response.status_code
            if status in RETRYABLE_STATUSES:
                # 429 means "not processed": always safe. A 5xx from the edge may hide an applied POST.
                if idempotent or status == 429:
                    if attempt < self.retries:
                        attempt = self._pause(attempt, retry_after_seconds(response))
                        continue
                else:
                    raise VpsAmbiguousError(error_text(response), status=status, method=method, path=path)
            if 300 <= status < 400:
                # Redirects of GET/DELETE are followed; a POST is never re-sent elsewhere (a 303 may follow an applied one).
                error = VpsAmbiguousError if not idempotent else VpsApiError
                raise error("the API answered with a redirect to %s; set api_url to the address the API is served from"
                            % response.headers.get("Location", "nowhere"), status=status, method=method, path=path)
            if status >= 400:
                raise VpsApiError(error_text(response), status=status, method=method, path=path)
            try:
                return self._decode(response, method, path, idempotent)
            except VpsAmbiguousError:
                raise
            except VpsApiError:
                # A truncated or garbled body on a read is a passing fault: reading again is safe.
                if attempt < self.retries:
                    attempt = self._pause(attempt)
                    continue
                raise

    def _decode(self, response, method, path, idempotent):
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            snippet = " ".join(_text_from_markup(response.text).split())[:80]
            message = "the API answered HTTP %s with a body that is not valid JSON (%r)" % (response.status_code, snippet)
            if idempotent:
                raise VpsApiError(message, status=response.status_code, method=method, path=path)
            raise VpsAmbiguousError(message, status=response.status_code, method=method, path=path)

    def _pause(self, attempt, retry_after=None):
        delay = backoff_delay(attempt)
        if retry_after is not None:
            delay = max(delay, retry_after)
        self.sleep(delay)
        return attempt + 1

    def _host(self):
        return urlsplit(self.base_url).netloc.rsplit("@", 1)[-1]


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
