# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Options every vps.cloud module shares; mirrors vps_argument_spec() in module_utils/module_boundary.py.
    DOCUMENTATION = r"""
options:
  api_url:
    description:
      - Base URL of the provider's API, up to and including the version.
      - It must not carry credentials (C(https://user:password@host/...)), which would be sent as HTTP Basic authentication
        instead of the token; the token goes in O(api_token).
      - Plain C(http://) is only meant for a local simulator; sending the token over it to a host that is not loopback draws a warning.
      - If not set, the value of the E(VPS_API_URL) environment variable is used.
    type: str
    default: https://admin.vps.org/api/v1
  api_token:
    description:
      - The API token, sent as a bearer token. Never logged or returned.
      - If not set, the value of the E(VPS_API_TOKEN) environment variable is used.
    type: str
    required: true
  api_timeout:
    description:
      - Seconds to wait for each HTTP request before giving up on it, from 1 to 3600.
      - A request that times out is tried once more at most, whatever O(api_retries) says. So an API that accepts
        connections but never answers fails a request after about 2 x O(api_timeout) (61 seconds with the defaults),
        instead of keeping the task silent for minutes.
    type: int
    default: 30
  api_retries:
    description:
      - How many times a retryable request is retried, from 0 to 20.
      - Reads and deletions are retried on HTTP 502, 503, 504 and connection errors, with jittered exponential backoff
        (1 second, doubling up to 30). Timeouts are retried once at most.
      - An answer with C(Retry-After) is sent again after what it asks for (capped at 120 seconds), plus a jitter of at most
        a tenth of it (of one second, for a shorter one), never after a longer backoff. The backoff only grows while no
        C(Retry-After) comes.
      - "Answers of HTTP 429 (rate limited) are not counted: the provider did not process the request, so any request, a creation
        or a restore too, is sent again after its C(Retry-After) (or the backoff), for up to 10 minutes after its first 429.
        Many hosts sharing one rate limit meet many 429s in a row without anything being wrong. O(api_retries=0) turns
        this off too."
      - "Worst case of one request with the defaults: a refused or dropped connection, retried 5 times, costs about 31 seconds
        of backoff; 429s cost 10 minutes and 2 more at most. The task reports the last error then."
      - A creation or a restore is never re-sent blindly. After a 502 or 503 from a gateway the module looks first and re-sends
        only if nothing happened; after a timeout, a dropped connection or a 504 it keeps looking for twice O(api_timeout)
        (at least 10 seconds) and never re-sends.
    type: int
    default: 5
  validate_certs:
    description:
      - Whether to verify the API's TLS certificate.
      - Only turn this off against a test endpoint; prefer O(ca_path) for a private CA.
    type: bool
    default: true
  ca_path:
    description:
      - Path to a PEM bundle of CA certificates to trust instead of the system's, for an API behind a private CA.
      - If not set, the value of the E(VPS_CA_PATH) environment variable is used.
    type: path
requirements:
  - requests >= 2.25
notes:
  - "All API calls run where the module runs; use C(delegate_to: localhost) to run them on the controller."
  - A task left running after its run is gone (ansible-playbook killed or interrupted, so that its result has no reader any
    more) stops before its next creation, deletion, restore or wait, and changes nothing nobody would learn of. A rerun resumes.
"""
