#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: vps_snapshot_info
short_description: List the snapshots of your VPS servers
version_added: 0.1.0
description:
  - Lists the snapshots of all the account's servers, or of one server, newest first.
  - Follows the API's pagination to the end.
author:
  - vps.cloud maintainers (@vps-cloud)
extends_documentation_fragment:
  - vps.cloud.api
  - vps.cloud.attributes
  - vps.cloud.attributes.info_module
options:
  server_id:
    description:
      - Only the snapshots of this server. Sent to the API as a filter.
      - When the server has no snapshot at all, the module reads the server (C(GET /servers/{id}/), which the provider does
        not document) and warns if it does not exist, or if whether it exists cannot be told. A server that exists and has
        no snapshots draws no warning.
    type: int
  snapshot_id:
    description:
      - Only the snapshot with this id.
    type: int
  name:
    description:
      - Only snapshots with exactly this name.
    type: str
  status:
    description:
      - Only snapshots in this status, for example V(completed), V(in_progress) or V(failed).
    type: str
"""

EXAMPLES = r"""
- name: List every snapshot of the account
  vps.cloud.vps_snapshot_info:
    api_token: "{{ vault_vps_api_token }}"
  delegate_to: localhost
  register: all_snapshots

- name: List the completed snapshots of one server, with credentials from the group defaults
  module_defaults:
    group/vps.cloud.vps:
      api_token: "{{ vault_vps_api_token }}"
  block:
    - name: Read the snapshots of server 12345
      vps.cloud.vps_snapshot_info:
        server_id: 12345
        status: completed
      delegate_to: localhost
      register: web_snapshots

    - name: Show the newest one
      ansible.builtin.debug:
        msg: "{{ web_snapshots.snapshots | first | default('none') }}"
"""

RETURN = r"""
snapshots:
  description:
    - The matching snapshots, newest first, with exactly the fields the provider documents, and C(consistency).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The snapshot's id.
      type: int
      sample: 801
    server:
      description: The server the snapshot belongs to.
      type: dict
      contains:
        id:
          description: The server's id.
          type: int
          sample: 12345
        name:
          description: The server's name.
          type: str
          sample: web-server-01
    name:
      description: The snapshot's name.
      type: str
      sample: pre-migration-snapshot
    status:
      description: V(in_progress), V(completed), or a failure state such as V(failed).
      type: str
      sample: completed
    size_mb:
      description: Size in MiB; null while the snapshot is in progress.
      type: int
      sample: 5120
    created_at:
      description: When the snapshot was taken, ISO 8601 in UTC.
      type: str
      sample: "2025-01-15T18:30:00Z"
    description:
      description: Free text given at creation.
      type: str
      sample: Before major migration
    consistency:
      description:
        - How consistent the snapshot is, read from the note the vps.cloud.snapshot_guard role (through
          M(vps.cloud.vps_snapshot_batch) with C(quiesce)) writes at the end of its description.
        - V(quiesced (freeze until completed)), V(quiesced (tasks until accepted)) and the like when its host was held
          quiesced; V(flushed (sync)) when the host's filesystems were only flushed; V(crash-consistent) when it was
          taken without quiescing; V(unknown) for a snapshot with no note (taken some other way).
      type: str
      sample: quiesced (freeze until completed)
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vps.cloud.plugins.module_utils.module_boundary import run, snapshot_service, vps_argument_spec
from ansible_collections.vps.cloud.plugins.module_utils.options import option_problems
from ansible_collections.vps.cloud.plugins.module_utils.info import snapshots_info


def main():
    argument_spec = vps_argument_spec(
        server_id=dict(type="int"),
        snapshot_id=dict(type="int"),
        name=dict(type="str"),
        status=dict(type="str"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    service = snapshot_service(module, option_problems(params, positive=("server_id", "snapshot_id")))
    run(module, lambda: snapshots_info(service, server_id=params["server_id"], snapshot_id=params["snapshot_id"], name=params["name"], status=params["status"]))


if __name__ == "__main__":
    main()
