# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The module boundary: options in, a SnapshotService out; results and errors back to Ansible.

Private to this collection. The only place that calls exit_json or fail_json. An error of ours
(a bug) is reported as ours, never blamed on the user or the provider, with the traceback kept for -vvv.
"""

from __future__ import annotations

import select
import sys
import traceback

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.vps.cloud.plugins.module_utils.client import DEFAULT_API_URL, HAS_REQUESTS, REQUESTS_IMPORT_ERROR, VpsClient
from ansible_collections.vps.cloud.plugins.module_utils.service import SnapshotError, SnapshotService, TaskFailed


def vps_argument_spec(parallel=False, selection=False, **module_options):
    """The options every module shares (documented in doc_fragments/api.py), those of the groups asked for, and the
    module's own."""
    spec = dict(
        api_url=dict(type="str", default=DEFAULT_API_URL, fallback=(env_fallback, ["VPS_API_URL"])),
        api_token=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["VPS_API_TOKEN"])),
        api_timeout=dict(type="int", default=30),
        api_retries=dict(type="int", default=5),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path", fallback=(env_fallback, ["VPS_CA_PATH"])),
    )
    if parallel:
        spec.update(parallel_argument_spec())
    if selection:
        spec.update(selection_argument_spec())
    spec.update(module_options)
    return spec


def parallel_argument_spec():
    """The options of the modules that work on many servers at once (documented in doc_fragments/batch.py)."""
    return dict(
        concurrency=dict(type="int", default=8),
        requests_per_second=dict(type="float"),
    )


def selection_argument_spec():
    """How a creation makes room and keeps its snapshots (documented in doc_fragments/selection.py)."""
    return dict(
        retention=dict(type="int"),
        retention_match=dict(type="str", default="*"),
        resume_match=dict(type="str"),
        protect_last_completed=dict(type="bool", default=True),
        retake_failed=dict(type="bool", default=True),
    )


def fail_on(module, problems):
    if problems:
        module.fail_json(msg="; ".join(problems))


def snapshot_service(module, problems=()):
    """A SnapshotService for the module's options, or fail_json naming every bad option."""
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
    params = module.params
    fail_on(module, list(problems))
    client = VpsClient(
        params["api_url"],
        params["api_token"],
        timeout=params["api_timeout"],
        retries=params["api_retries"],
        validate_certs=params["validate_certs"],
        ca_path=params["ca_path"],
        rate=params.get("requests_per_second"),
        concurrency=params.get("concurrency") or 1,
    )
    for warning in client.warnings:
        module.warn(warning)
    return SnapshotService(
        client, check_mode=module.check_mode, warn=module.warn, concurrency=params.get("concurrency") or 1, result_is_read=result_has_a_reader
    )


def result_has_a_reader(stream=None):
    """False once the module's result can no longer reach Ansible: its stdout (a pipe or a socket to the Ansible worker,
    or to sshd) has lost its reader, as when the run was interrupted and its worker is gone. True whenever that cannot
    be told (stdout a file or a terminal, no poll()): only a certain loss stops a task."""
    try:
        descriptor = (stream or sys.__stdout__).fileno()
        poller = select.poll()
        poller.register(descriptor, 0)  # POLLERR and POLLHUP are reported whatever the mask
        events = poller.poll(0)
    except (AttributeError, ValueError, OSError):
        return True
    return not any(flags & (select.POLLERR | select.POLLHUP) for unused, flags in events)


def run(module, operation, *args):
    """Run `operation(*args)` and exit with its result, or fail with what went wrong and what was changed before."""
    try:
        result = operation(*args)
    except TaskFailed as exc:
        _fail(module, exc.result)
    except SnapshotError as exc:
        module.fail_json(msg=exc.message, **exc.details)
    except Exception as exc:  # pylint: disable=broad-except  # a bug of ours: say so, never blame the input or the API
        module.fail_json(
            msg="Internal error in the vps.cloud collection (a bug in the collection, not a problem with your input "
            "or the provider's API): %s: %s. Please report it with the output of -vvv, which shows where it "
            "happened." % (type(exc).__name__, exc),
            exception=traceback.format_exc(),
        )
    for warning in result.pop("warnings", []):
        module.warn(warning)
    module.exit_json(**result)


def _fail(module, result):
    result = dict(result)
    for warning in result.pop("warnings", []):
        module.warn(warning)
    result.pop("failed", None)
    module.fail_json(**result)
