#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: vps_server_info
short_description: Read a VPS server's state, and wait until it is idle, for example at the end of a restore
version_added: 0.2.0
description:
  - Reads the server's C(id), C(name) and C(status) from the provider.
  - With O(wait=true), waits until the server is running or stopped, that is no longer restoring, stopping, starting,
    snapshotting or in any other transitional status.
  - A server in a failure status (V(error), V(failed), or any status naming a failure) is not waited for, since no wait
    would end it. Its RV(state) is V(failed), and with O(wait=true) the module fails at once, naming the status.
  - A status this collection does not know is taken for a transitional one. It is waited for with O(wait=true), and a
    warning names it at once, whether the wait then succeeds or times out.
  - This is the way to keep waiting for a restore that M(vps.cloud.vps_snapshot) started with O(vps.cloud.vps_snapshot#module:wait=false),
    or whose wait timed out or was interrupted. It only reads, so rerunning it is always safe, whereas rerunning a
    O(vps.cloud.vps_snapshot#module:state=restored) task after the restore has ended would restore the server again.
extends_documentation_fragment:
  - vps.cloud.api
  - vps.cloud.attributes
  - vps.cloud.attributes.info_module
author:
  - vps.cloud maintainers (@vps-cloud)
options:
  server_id:
    description:
      - The id of the server.
    type: int
    required: true
  wait:
    description:
      - Wait until the server is running or stopped.
      - Polls with exponential backoff from 2 to 15 seconds.
    type: bool
    default: false
  wait_timeout:
    description:
      - How long to wait, in seconds of wall clock, before failing. The server's operation goes on at the provider
        after a timeout; rerunning this task resumes the wait.
    type: int
    default: 1800
notes:
  - Reads C(GET /servers/{id}/), which the provider does not document; if the API does not offer it, the module says so.
  - The statuses known to be transitional are V(starting), V(stopping), V(rebooting), V(restarting), V(booting),
    V(shutting_down), V(snapshotting), V(restoring), V(provisioning), V(creating), V(building), V(rebuilding),
    V(resizing), V(migrating), V(backing_up), V(updating) and V(pending).
seealso:
  - module: vps.cloud.vps_snapshot
"""

EXAMPLES = r"""
- name: Restore server 12345 from its snapshot named pre-upgrade, without waiting for the restore
  vps.cloud.vps_snapshot:
    api_token: "{{ vault_vps_api_token }}"
    server_id: 12345
    name: pre-upgrade
    state: restored
    wait: false
  delegate_to: localhost

- name: Later, wait until the restore has ended (safe to rerun, it never restores again)
  vps.cloud.vps_server_info:
    api_token: "{{ vault_vps_api_token }}"
    server_id: 12345
    wait: true
    wait_timeout: 1800
  delegate_to: localhost
  register: server

- name: Say how the server came back
  ansible.builtin.debug:
    msg: "Server {{ server.server.name }} is {{ server.server.status }}"
"""

RETURN = r"""
server:
  description: The server, C(id), C(name) and C(status).
  returned: always
  type: dict
  sample: {"id": 12345, "name": "web-server-01", "status": "running"}
state:
  description:
    - What the status means for this collection.
    - V(stable) is running or stopped.
    - V(restoring) is a restore under way.
    - V(busy) is stopping, starting, snapshotting or any other transitional status, including a status this collection
      does not know, about which the module warns.
    - V(failed) is a failure status such as V(error) or V(failed), which no wait ends. Someone must act at the provider.
    - V(unknown) means the API gave no status.
  returned: always
  type: str
  sample: stable
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vps.cloud.plugins.module_utils.module_boundary import run, snapshot_service, vps_argument_spec
from ansible_collections.vps.cloud.plugins.module_utils.options import option_problems
from ansible_collections.vps.cloud.plugins.module_utils.info import server_info


def main():
    argument_spec = vps_argument_spec(
        server_id=dict(type="int", required=True),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=1800),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    service = snapshot_service(module, option_problems(params, positive=("server_id", "wait_timeout")))
    run(module, lambda: server_info(service, params["server_id"], wait=params["wait"], wait_timeout=params["wait_timeout"]))


if __name__ == "__main__":
    main()
