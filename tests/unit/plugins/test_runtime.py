# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""meta/runtime.yml agrees with the modules the collection ships and the ansible-core it promises."""

from __future__ import annotations

import os
import re

import yaml

# tests/unit/plugins/test_runtime.py -> the collection root, three directories up from here.
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def runtime():
    with open(os.path.join(ROOT, "meta", "runtime.yml")) as handle:
        return yaml.safe_load(handle)


def shipped_modules():
    folder = os.path.join(ROOT, "plugins", "modules")
    return sorted(name[:-3] for name in os.listdir(folder) if name.endswith(".py") and name != "__init__.py")


def test_root_is_the_collection():
    assert os.path.isfile(os.path.join(ROOT, "galaxy.yml"))
    assert shipped_modules()  # an empty list would make the group test pass vacuously


def test_requires_ansible_is_what_the_readme_promises():
    with open(os.path.join(ROOT, "README.md")) as handle:
        promised = re.search(r"Requires ansible-core (\d+\.\d+) or later", handle.read()).group(1)
    assert runtime()["requires_ansible"] == ">=%s.0" % promised


def test_the_action_group_lists_every_module_once():
    group = runtime()["action_groups"]["vps"]
    assert len(group) == len(set(group))
    assert sorted(group) == shipped_modules()
