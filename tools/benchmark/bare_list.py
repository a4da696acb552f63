# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The listing baseline: a bare `requests` loop over every page of GET /snapshots/, as its own process.

Usage: python bare_list.py BASE_URL (token in VPS_API_TOKEN). Prints one JSON line:
{"snapshots": N, "pages": P, "inside_seconds": S}, where S excludes interpreter start-up and imports.
This is what a user would write without the collection: one Session, follow `next`, decode JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time

import requests

MAX_PAGES = 100000


def main():
    base_url = sys.argv[1].rstrip("/")
    started = time.time()
    session = requests.Session()
    session.headers.update({"Authorization": "Bearer %s" % os.environ["VPS_API_TOKEN"], "Accept": "application/json"})
    url, snapshots, pages = base_url + "/snapshots/", [], 0
    while url and pages < MAX_PAGES:
        response = session.get(url, timeout=60)
        response.raise_for_status()
        page = response.json()
        snapshots.extend(page["results"])
        url = page.get("next")
        pages += 1
    print(json.dumps(dict(snapshots=len(snapshots), pages=pages, inside_seconds=time.time() - started)))


if __name__ == "__main__":
    main()
