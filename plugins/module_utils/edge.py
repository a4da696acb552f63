# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The module edge: the only place that turns options into a client and errors into fail_json.

Private to this collection.
"""

from __future__ import annotations

import traceback

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.vps.cloud.plugins.module_utils.api import (
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    VpsApiError,
    VpsClient,
    VpsConfigError,
)
from ansible_collections.vps.cloud.plugins.module_utils.snapshots import SnapshotError, SnapshotService, name_problem


def option_problems(params, positive=(), names=()):
    """Messages naming each option whose value is out of range; checked before any request."""
    problems = []
    if params.get("api_timeout") is not None and params["api_timeout"] <= 0:
        problems.append("api_timeout must be a positive number of seconds, got %s" % params["api_timeout"])
    if params.get("api_retries") is not None and not 0 <= params["api_retries"] <= 20:
        problems.append("api_retries must be between 0 and 20, got %s" % params["api_retries"])
    for option in positive:
        value = params.get(option)
        # Ansible's int type lets a boolean through as 0 or 1; neither is an id.
        if value is not None and (isinstance(value, bool) or value <= 0):
            problems.append("%s must be a positive integer, got %s" % (option, value))
    for option in names:
        value = params.get(option)
        if value is not None:
            problem = name_problem(value)
            if problem:
                problems.append("%s %s" % (option, problem))
    return problems


def snapshot_service(module):
    """A SnapshotService for the module's options, or fail_json with a clear message."""
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
    params = module.params
    try:
        client = VpsClient(params["api_url"], params["api_token"], timeout=params["api_timeout"], retries=params["api_retries"],
                           validate_certs=params["validate_certs"], ca_path=params["ca_path"])
    except VpsConfigError as exc:
        module.fail_json(msg=str(exc))
    for warning in client.warnings:
        module.warn(warning)
    return SnapshotService(client, check_mode=module.check_mode, warn=module.warn)


def run(module, operation):
    """Run `operation()` and exit with its result, or fail with the error's message and details."""
    try:
        result = operation()
    except SnapshotError as exc:
        module.fail_json(msg=exc.message, **exc.details)
    except VpsApiError as exc:
        module.fail_json(msg=str(exc), failure=exc.to_failure())
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        # An answer shaped unlike the contract: say so plainly; the traceback stays in `exception` for -vvv.
        module.fail_json(msg="The API answered with data this module cannot read (%s: %s)" % (type(exc).__name__, exc),
                         exception=traceback.format_exc())
    module.exit_json(**result)
