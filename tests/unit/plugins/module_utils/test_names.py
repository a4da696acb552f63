# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Property tests for snapshot name validation (snapshots.name_problem)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.vps.cloud.plugins.module_utils.snapshots import NAME_MAX_LENGTH, name_problem

FAST = settings(max_examples=150, deadline=None, database=None)
ALLOWED = string.ascii_letters + string.digits + "_-"
VALID = st.text(alphabet=ALLOWED, min_size=1, max_size=255)


def test_the_limit_is_255():
    assert NAME_MAX_LENGTH == 255


@FAST
@given(name=VALID)
def test_every_name_of_allowed_characters_up_to_255_is_accepted(name):
    assert name_problem(name) is None


@pytest.mark.parametrize("name", ["a", "-", "_", "0", "before-update_2025", "A" * 255, ALLOWED])
def test_examples_are_accepted(name):
    assert name_problem(name) is None


@FAST
@given(prefix=st.text(alphabet=ALLOWED, max_size=120), bad=st.characters().filter(lambda c: c not in ALLOWED),
       suffix=st.text(max_size=120))
def test_a_character_outside_the_set_is_rejected(prefix, bad, suffix):
    name = prefix + bad + suffix
    assert name_problem(name) == "may contain only ASCII letters, digits, hyphens and underscores, got %r" % name


@pytest.mark.parametrize("name", [
    "with space", "dot.ted", "slash/ed", "caf\u00e9", "\u0663\u0664", "\uff21", "tab\tbed", "\n", "new\nline", "\x00", "*",
])
def test_examples_are_rejected(name):
    assert name_problem(name) == "may contain only ASCII letters, digits, hyphens and underscores, got %r" % name


# Regression: `$` in NAME_PATTERN also matches just before a final newline, so re.match alone accepted "name\n".
@pytest.mark.parametrize("name", ["name\n", "a" * 254 + "\n"])
def test_a_trailing_newline_is_rejected(name):
    assert name_problem(name) == "may contain only ASCII letters, digits, hyphens and underscores, got %r" % name


def test_empty_is_rejected():
    assert name_problem("") == "must be a non-empty string"


@pytest.mark.parametrize("name", [None, 5, ["a"], b"bytes"])
def test_non_strings_are_rejected(name):
    assert name_problem(name) == "must be a non-empty string"


@FAST
@given(name=st.text(alphabet=ALLOWED, min_size=256, max_size=600))
def test_longer_than_255_is_rejected(name):
    assert name_problem(name) == "is %d characters long; at most 255 are allowed" % len(name)


@FAST
@given(name=st.text(min_size=256, max_size=600))
def test_anything_longer_than_255_is_rejected(name):
    assert name_problem(name) == "is %d characters long; at most 255 are allowed" % len(name)
