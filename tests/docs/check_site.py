"""Browser check of the built docs site (scripts/docs.sh --check, the docs stage of scripts/test.sh).

Serves the site on 127.0.0.1 and opens it in headless Chromium (Debian's chromium, driven through chromedriver's
WebDriver HTTP API, with the standard library only). From the index it follows every link inside the site, page by
page, and fails when:

- a link inside the site leads nowhere (the server answers anything but 200), or to an anchor the page lacks;
- a page is empty (its main content has almost no text, or no title), or an image, stylesheet or script of it does
  not load;
- a module, the role or a guide (docs/docsite/extra-docs.yml) cannot be reached from the index by links.

Links leaving the site (docs.ansible.com, Galaxy) are counted, not followed: the machine has no network.
It saves a screenshot of the vps_snapshot module's page and of the first guide.

Usage: python tests/docs/check_site.py --site DIR --collection DIR --screenshots DIR
"""

from __future__ import annotations

import argparse
import base64
import functools
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

# A page whose main content has fewer characters of text than this, besides its heading, is empty; a module's, the
# role's or a guide's page needs more.
MIN_TEXT = 20
MIN_TEXT_REQUIRED = 500
WINDOW = (1280, 900)
# The tallest screenshot taken (pixels); a long module page is cut there.
MAX_SCREENSHOT_HEIGHT = 5000

PAGE_SCRIPT = """
const main = document.querySelector('[role="main"]') || document.body;
const abs = (value) => { try { return new URL(value, document.baseURI).href; } catch (e) { return null; } };
return {
  url: location.href,
  title: document.title,
  h1: (document.querySelector('h1') || {innerText: ''}).innerText.replace(/[\uf000-\uf8ff\u00b6]/g, '').trim(),
  text: main.innerText.trim().length,
  links: Array.from(document.querySelectorAll('a[href]')).map(a => abs(a.getAttribute('href'))),
  assets: [].concat(
    Array.from(document.querySelectorAll('link[rel="stylesheet"][href]')).map(l => l.href),
    Array.from(document.querySelectorAll('script[src]')).map(s => s.src),
    Array.from(document.images).map(i => i.src)),
  broken_images: Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
  stylesheets: document.styleSheets.length,
  ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id)
    .concat(Array.from(document.querySelectorAll('a[name]')).map(e => e.getAttribute('name'))),
  height: Math.max(document.body.scrollHeight, document.documentElement.scrollHeight),
};
"""


class Failures(list):
    def add(self, message):
        self.append(message)
        print(f"  FAIL: {message}", flush=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site; remembers the status of every path asked for."""

    statuses: dict = {}

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def send_response(self, code, message=None):
        self.statuses[urllib.parse.urlsplit(self.path).path] = code
        super().send_response(code, message)


def serve(site):
    handler = functools.partial(QuietHandler, directory=site)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class WebDriver:
    """The few WebDriver commands this check needs, over chromedriver's HTTP API."""

    def __init__(self, chromedriver, chromium, workdir):
        self.port = free_port()
        self.log = open(os.path.join(workdir, "chromedriver.log"), "wb")  # pylint: disable=consider-using-with
        self.process = subprocess.Popen(  # pylint: disable=consider-using-with
            [chromedriver, f"--port={self.port}"], stdout=self.log, stderr=subprocess.STDOUT
        )
        self.base = f"http://127.0.0.1:{self.port}"
        self.session = None
        deadline = time.monotonic() + 30
        while True:
            try:
                if self._call("GET", "/status")["ready"]:
                    break
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("chromedriver did not start")
            time.sleep(0.2)
        options = {
            "binary": chromium,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--disable-extensions",
                f"--user-data-dir={workdir}/profile",
                f"--window-size={WINDOW[0]},{WINDOW[1]}",
            ],
        }
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options, "goog:loggingPrefs": {"browser": "SEVERE"}}}}
        self.session = self._call("POST", "/session", caps)["sessionId"]

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.loads(response.read() or b"{}").get("value")
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:500]
            raise RuntimeError(f"WebDriver {method} {path}: HTTP {error.code}: {detail}") from None

    def command(self, method, path, body=None):
        return self._call(method, f"/session/{self.session}{path}", body)

    def open(self, url):
        self.command("POST", "/url", {"url": url})
        # Navigation returns once the document has loaded; give late images and stylesheets a few seconds more.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.run("return document.readyState === 'complete' && document.styleSheets.length > 0 && Array.from(document.images).every(i => i.complete);"):
                break
            time.sleep(0.2)

    def run(self, script):
        return self.command("POST", "/execute/sync", {"script": script, "args": []})

    def console_errors(self):
        try:
            return [entry["message"] for entry in self.command("POST", "/se/log", {"type": "browser"}) or []]
        except RuntimeError:
            return []

    def screenshot(self, path, height):
        self.command("POST", "/window/rect", {"width": WINDOW[0], "height": max(WINDOW[1], min(height, MAX_SCREENSHOT_HEIGHT))})
        png = base64.b64decode(self.command("GET", "/screenshot"))
        self.command("POST", "/window/rect", {"width": WINDOW[0], "height": WINDOW[1]})
        with open(path, "wb") as out:
            out.write(png)
        return len(png)

    def close(self):
        try:
            if self.session:
                self.command("DELETE", "")
        except (RuntimeError, OSError):
            pass
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def expected_pages(collection):
    """The pages the index must lead to ({site path: what it is}), the guides' pages, and the anchors the role pages
    must hold ({site path: {element id: what it is}}): one per entry point of meta/argument_specs.yml."""
    base = "collections/vps/cloud/"
    pages = {}
    anchors = {}
    modules = os.path.join(collection, "plugins", "modules")
    for name in sorted(os.listdir(modules)):
        if name.endswith(".py") and not name.startswith("_"):
            pages[f"{base}{name[:-3]}_module.html"] = f"module {name[:-3]}"
    roles = os.path.join(collection, "roles")
    for name in sorted(os.listdir(roles)) if os.path.isdir(roles) else []:
        if os.path.isdir(os.path.join(roles, name)):
            pages[f"{base}{name}_role.html"] = f"role {name}"
            specs = os.path.join(roles, name, "meta", "argument_specs.yml")
            if os.path.isfile(specs):
                with open(specs, encoding="utf-8") as stream:
                    entry_points = (yaml.safe_load(stream) or {}).get("argument_specs") or {}
                slug = name.replace("_", "-")
                anchors[f"{base}{name}_role.html"] = {
                    f"ansible-collections-vps-cloud-{slug}-role-entrypoint-{entry.replace('_', '-')}": f"entry point {entry} of the role {name}"
                    for entry in entry_points
                }
    with open(os.path.join(collection, "docs", "docsite", "extra-docs.yml"), encoding="utf-8") as stream:
        index = yaml.safe_load(stream)
    guides = []
    for section in index.get("sections") or []:
        for entry in section.get("toctree") or []:
            ref = entry if isinstance(entry, str) else entry["ref"]
            pages[f"{base}docsite/{ref}.html"] = f"guide {ref}"
            guides.append(f"{base}docsite/{ref}.html")
    if not guides:
        raise SystemExit("docs/docsite/extra-docs.yml lists no guide")
    return pages, guides, anchors


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--site", required=True, help="the built site (the folder holding index.html)")
    parser.add_argument("--collection", required=True, help="the collection (to know its modules, role and guides)")
    parser.add_argument("--screenshots", required=True, help="where the screenshots go")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--chromedriver", default=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    args = parser.parse_args()

    site = os.path.abspath(args.site)
    if not os.path.isfile(os.path.join(site, "index.html")):
        raise SystemExit(f"{site}/index.html does not exist: build the site first (scripts/docs.sh)")
    for program in (args.chromium, args.chromedriver):
        if not os.access(program, os.X_OK):
            raise SystemExit(f"{program} is missing: apt-get install chromium chromium-driver")
    pages, guides, anchors = expected_pages(args.collection)
    screenshot_pages = ["collections/vps/cloud/vps_snapshot_module.html", guides[0]]
    os.makedirs(args.screenshots, exist_ok=True)

    started = time.monotonic()
    failures = Failures()
    server = serve(site)
    root = f"http://127.0.0.1:{server.server_address[1]}/"
    workdir = tempfile.mkdtemp(prefix="vps-docs-check.")
    browser = WebDriver(args.chromedriver, args.chromium, workdir)
    visited = {}  # site path -> page data
    linked_from = {}  # site path -> the first page linking to it
    fragments = []  # (target path, fragment, linking page)
    external = set()
    other_files = set()
    links_checked = 0
    try:
        queue = ["index.html"]
        linked_from["index.html"] = "(start)"
        while queue:
            path = queue.pop(0)
            if path in visited:
                continue
            browser.open(root + path)
            page = browser.run(PAGE_SCRIPT)
            visited[path] = page
            status = QuietHandler.statuses.get("/" + path)
            print(f"page {path}: HTTP {status}, {page['text']} characters, {len(page['links'])} links, title {page['title']!r}", flush=True)
            if status != 200:
                failures.add(f"{path} (linked from {linked_from[path]}): HTTP {status}")
                continue
            least = MIN_TEXT_REQUIRED if path in pages else MIN_TEXT
            if page["text"] - len(page["h1"]) < least or not page["title"].strip() or not page["h1"]:
                failures.add(
                    f"{path} (linked from {linked_from[path]}) is empty: {page['text']} characters of "
                    f"text (at least {least} besides the heading), title {page['title']!r}, "
                    f"heading {page['h1']!r}"
                )
            if page["stylesheets"] == 0:
                failures.add(f"{path}: no stylesheet applied")
            for src in page["broken_images"]:
                failures.add(f"{path}: the image {src} did not load")
            for asset in page["assets"]:
                if asset.startswith(root):
                    other_files.add((urllib.parse.urlsplit(asset).path.lstrip("/"), path))
            for message in browser.console_errors():
                failures.add(f"{path}: browser console error: {message}")
            for link in page["links"]:
                if not link or link.startswith(("mailto:", "javascript:")):
                    continue
                links_checked += 1
                if not link.startswith(root):
                    external.add(link)
                    continue
                parts = urllib.parse.urlsplit(link)
                target = urllib.parse.unquote(parts.path.lstrip("/")) or "index.html"
                if target.endswith("/"):
                    target += "index.html"
                if parts.fragment:
                    fragments.append((target, urllib.parse.unquote(parts.fragment), path))
                if target.endswith(".html"):
                    linked_from.setdefault(target, path)
                    if target not in visited and target not in queue:
                        queue.append(target)
                else:
                    other_files.add((target, path))
            if path in screenshot_pages:
                name = "vps_snapshot_module.png" if path.endswith("vps_snapshot_module.html") else "guide.png"
                shot = os.path.join(os.path.abspath(args.screenshots), name)
                size = browser.screenshot(shot, page["height"])
                print(f"  screenshot {shot} ({size} bytes)", flush=True)
                if size < 20000:
                    failures.add(f"{path}: the screenshot is only {size} bytes: a blank page?")
        for target, source in sorted(other_files):
            try:
                with urllib.request.urlopen(root + urllib.parse.quote(target), timeout=30) as response:
                    response.read()
            except urllib.error.HTTPError as error:
                failures.add(f"{target} (used by {source}): HTTP {error.code}")
        for target, fragment, source in sorted(set(fragments)):
            page = visited.get(target)
            # A page that did not load is a failure already.
            if page is not None and QuietHandler.statuses.get("/" + target) == 200 and fragment not in page["ids"]:
                failures.add(f"{source} links to {target}#{fragment}: no such anchor")
        for path, wanted in anchors.items():
            for anchor, what in wanted.items():
                if path in visited and anchor not in visited[path]["ids"]:
                    failures.add(f"{path} has no section for the {what} (no element with id {anchor})")
        for path, what in pages.items():
            if path not in visited:
                failures.add(f"the {what} ({path}) cannot be reached by links from the index")
        for path in screenshot_pages:
            if path not in visited:
                failures.add(f"no screenshot of {path}: not reached")
    finally:
        browser.close()
        server.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)

    print(
        f"\nVisited {len(visited)} pages from index.html in headless Chromium; checked {links_checked} links "
        f"({len(fragments)} with an anchor; {len(external)} distinct links leave the site and were not followed) "
        f"and {len(other_files)} images, stylesheets, scripts and files; "
        f"{len(pages)} required pages (modules, role, guides) and "
        f"{sum(len(wanted) for wanted in anchors.values())} role entry points; {time.monotonic() - started:.1f}s"
    )
    print(f"Screenshots: {os.path.abspath(args.screenshots)}")
    if failures:
        print(f"\n{len(failures)} problem(s):", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        return 1
    print("The site passed the browser check")
    return 0


if __name__ == "__main__":
    sys.exit(main())
