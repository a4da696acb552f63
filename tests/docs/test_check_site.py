"""The browser check itself (tests/docs/check_site.py), on small made-up sites: it passes a sound one and fails on a
broken link, a missing anchor, an empty page, an image that does not load, a role entry point without its section
and a guide the index does not lead to.

Needs Debian's chromium and chromium-driver (scripts/docs.sh installs them); the docs stage of scripts/test.sh runs it.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import zlib

import pytest

CHECK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check_site.py")
TEXT = " ".join(["The snapshot is taken, waited for, and kept as a way back."] * 40)

pytestmark = pytest.mark.skipif(
    not (shutil.which("chromium") and shutil.which("chromedriver")), reason="needs chromium and chromium-driver (scripts/docs.sh --check installs them)"
)

if os.environ.get("VPS_REQUIRE_CHROMIUM") == "1":
    pytestmark = []


def png(width=40, height=20):
    """A small red PNG."""
    raw = (b"\x00" + b"\xff\x00\x00" * width) * height

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


def page(title, body, depth):
    up = "../" * depth
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title><link rel='icon' href='data:,'><link rel='stylesheet' href='{up}site.css'></head>"
        f"<body><div role='main'><h1 id='top'>{title}</h1>{body}</div></body></html>"
    )


def make_site(tmp_path, broken=False):
    """A site and a collection: one module, one role (one entry point), two guides; `broken` spoils it in every way
    the check knows."""
    collection = tmp_path / "collection"
    (collection / "plugins" / "modules").mkdir(parents=True)
    (collection / "plugins" / "modules" / "vps_snapshot.py").write_text("")
    (collection / "roles" / "snapshot_guard" / "meta").mkdir(parents=True)
    (collection / "roles" / "snapshot_guard" / "meta" / "argument_specs.yml").write_text(
        "argument_specs:\n  snapshot:\n    short_description: Take the snapshots.\n"
    )
    (collection / "docs" / "docsite").mkdir(parents=True)
    (collection / "docs" / "docsite" / "extra-docs.yml").write_text("sections:\n  - title: Guides\n    toctree:\n      - first\n      - second\n")

    site = tmp_path / "site"
    base = site / "collections" / "vps" / "cloud"
    (base / "docsite").mkdir(parents=True)
    (site / "site.css").write_text("body { font-family: sans-serif; } h1 { color: #333; }")
    (base / "docsite" / "chart.png").write_bytes(png())
    links = ["collections/vps/cloud/vps_snapshot_module.html", "collections/vps/cloud/snapshot_guard_role.html", "collections/vps/cloud/docsite/first.html"]
    if not broken:
        links.append("collections/vps/cloud/docsite/second.html")
    else:
        links += ["collections/vps/cloud/missing.html", "collections/vps/cloud/docsite/first.html#nowhere"]
    index = "".join(f"<p><a href='{link}'>{link}</a></p>" for link in links)
    (site / "index.html").write_text(page("Index", index + "<p>The collection's documentation.</p>", 0))
    (base / "vps_snapshot_module.html").write_text(page("vps_snapshot", f"<p>{TEXT}</p>", 3))
    entry_point = "<h2 id='ansible-collections-vps-cloud-snapshot-guard-role-entrypoint-snapshot'>snapshot</h2>"
    role_body = "<p>x</p>" if broken else f"{entry_point}<p>{TEXT}</p>"
    (base / "snapshot_guard_role.html").write_text(page("snapshot_guard", role_body, 3))
    image = "nochart.png" if broken else "chart.png"
    (base / "docsite" / "first.html").write_text(page("First", f"<p>{TEXT}</p><img src='{image}' alt='chart'><p><a href='#top'>top</a></p>", 4))
    (base / "docsite" / "second.html").write_text(page("Second", f"<p>{TEXT}</p>", 4))
    return site, collection


def check(site, collection, shots):
    return subprocess.run(
        [sys.executable, CHECK, "--site", str(site), "--collection", str(collection), "--screenshots", str(shots)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_sound_site_passes_and_is_photographed(tmp_path):
    site, collection = make_site(tmp_path)
    run = check(site, collection, tmp_path / "shots")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "The site passed the browser check" in run.stdout
    assert "Visited 5 pages" in run.stdout
    for name in ("vps_snapshot_module.png", "guide.png"):
        with open(tmp_path / "shots" / name, "rb") as shot:
            assert shot.read(8) == b"\x89PNG\r\n\x1a\n"


def test_a_broken_site_fails_on_each_problem(tmp_path):
    site, collection = make_site(tmp_path, broken=True)
    run = check(site, collection, tmp_path / "shots")
    assert run.returncode == 1, run.stdout + run.stderr
    problems = run.stderr
    assert "collections/vps/cloud/missing.html (linked from index.html): HTTP 404" in problems
    assert "links to collections/vps/cloud/docsite/first.html#nowhere: no such anchor" in problems
    assert "collections/vps/cloud/snapshot_guard_role.html (linked from index.html) is empty" in problems
    assert "the image" in problems and "nochart.png did not load" in problems
    assert "the guide second (collections/vps/cloud/docsite/second.html) cannot be reached" in problems
    assert "has no section for the entry point snapshot of the role snapshot_guard" in problems
