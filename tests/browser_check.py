"""Open every page of the built book in a real headless Chromium and check what a reader sees.

Usage::

    python tests/browser_check.py [HTML_DIR] [--screenshots DIR] [--full-page] [--browser PATH]

``HTML_DIR`` defaults to ``_build/book/_build/html`` (what ``make book`` builds). The pages are
served by a local ``http.server``; any request to another host is refused and reported, so the
check also proves that the book works offline. Each page gets a screenshot under
``--screenshots`` (default ``_build/screenshots``): the top of the page, 1280×900, or with
``--full-page`` the whole page (2–5 s and several MB a page here).

A page fails when:

- it has no title (an empty ``<title>``, Sphinx's ``<no title>``, or no ``<h1>``);
- raw TeX is left in its visible text once MathJax has finished (``\\(``, ``$$``, ``\\frac``, ``$x$``…),
  or MathJax reports a TeX error;
- an image did not load (``naturalWidth == 0``) or a local resource answered with an error;
- an output cell shows an error: a traceback output, a stderr output naming an error, or a
  printed traceback;
- a link to a local page or anchor points at a file or ``id`` that does not exist;
- it asked for anything outside the book (a CDN, a font server, …), a request failed, a script
  raised, or the console logged an error;
- its text shows an absolute path of the machine that built it (``/work/…``, ``/tmp/…``,
  ``/home/…``, ``/root/…``, or the repository's own folder), hidden text and code included.

A page with the live zoom app (``<div id="funknn-zoom">``, book/live_zoom.md) is also used: the
check waits for its default render (and prints its render time), renders :data:`ZOOM_WINDOW`
through ``window.funknnZoom.render``, reads the pixel values back and compares them with
PyTorch in this process (:func:`zoom_reference`): the FunkNN model at the coordinates of
:func:`funknn.sampling.grid_coords` cropped to the window, and the bicubic interpolator through
:func:`funknn.render`; a difference over :data:`ZOOM_TOLERANCE` fails the page.

The browser is Debian's ``chromium`` (``/usr/bin/chromium``) driven by Playwright; nothing
downloads a browser. Exit status 1 lists every problem as ``page: problem``.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_HTML = ROOT / "_build" / "book" / "_build" / "html"
DEFAULT_SCREENSHOTS = ROOT / "_build" / "screenshots"
DEFAULT_BROWSER = "/usr/bin/chromium"
#: folders of a Sphinx build that hold assets, not pages
ASSET_DIRS = {"_static", "_sources", "_images", "_downloads", "_sphinx_design_static"}

#: TeX that MathJax should have typeset; seen in the visible text, it was not
RAW_TEX = re.compile(
    r"\\[()\[\]]|\$\$|\\(?:frac|sqrt|sum|int|nabla|partial|mathbf|mathrm|mathcal|operatorname|"
    r"alpha|beta|gamma|theta|lambda|sigma|cdot|times|left|right|begin|end)(?![A-Za-z])"
    r"|(?<![\w$])\$[^\s$][^$\n]{0,200}?(?<!\s)\$(?![\w$])")
#: a page that only sends the reader on (the book's root index.html)
REDIRECT = re.compile(r"""<meta\s+http-equiv=["']refresh["']\s+content=["']\d+;\s*url=([^"']+)["']""", re.I)
#: the text of an output cell that reports an error
TRACEBACK = "Traceback (most recent call last)"
ERROR_TEXT = re.compile(re.escape(TRACEBACK) + r"|^\w*(?:Error|Exception)\b.*:", re.M)
#: an absolute path of a build machine in a page's text (not a URL's path, not a relative one)
MACHINE_PATH = re.compile(r"(?<![\w.~/-])/(?:work|tmp|home|root|Users|mnt|var/folders)/[\w.~-]")
#: the fixed window the check renders on the zoom page: the manifest's default model and first
#: image, corner (x, y) in low-resolution pixels, a whole scale (so that the window is a crop of
#: the grid of funknn.render) and the output side
ZOOM_WINDOW = {"scale": 3, "size": 36, "x": 56, "y": 30}
#: largest |page - PyTorch| accepted on the zoom page (intensities in [0, 1]; float32 in both,
#: onnxruntime-web's WebAssembly kernels against PyTorch's CPU kernels)
ZOOM_TOLERANCE = 2e-5

# What the page reports, gathered in the browser once MathJax has finished.
PAGE_SCRIPT = r"""
async () => {
  if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
    await window.MathJax.startup.promise;
  }
  const images = Array.from(document.images);
  images.forEach(img => { img.loading = "eager"; });
  await Promise.all(images.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener("load", done); img.addEventListener("error", done);
  })));
  const all = [];
  const every = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = every.nextNode(); node; node = every.nextNode()) {
    if (!node.parentElement || !node.parentElement.closest("script, style")) all.push(node.textContent);
  }
  const skip = "script, style, noscript, pre, code, textarea, mjx-container, .MathJax, mjx-assistive-mml";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const text = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(skip)) continue;
    if (parent.checkVisibility && !parent.checkVisibility()) continue;  // hidden text: no reader sees it
    text.push(node.textContent);
  }
  return {
    title: document.title.trim(),
    h1: Array.from(document.querySelectorAll("h1")).map(h => h.textContent.trim()).filter(t => t),
    text: text.join(" "),
    allText: all.join(" "),
    zoom: !!document.getElementById("funknn-zoom"),
    mathErrors: Array.from(document.querySelectorAll("mjx-merror")).map(e => e.textContent),
    mathjax: !!document.querySelector("script[src*='mathjax']"),
    typeset: document.querySelectorAll("mjx-container").length,
    brokenImages: images.filter(img => !(img.complete && img.naturalWidth > 0))
                        .map(img => img.getAttribute("src")),
    tracebacks: Array.from(document.querySelectorAll(".output.traceback, .output.error"))
                     .map(e => e.textContent.slice(0, 200)),
    stderr: Array.from(document.querySelectorAll(".output.stderr")).map(e => e.textContent),
    streams: Array.from(document.querySelectorAll(".output.stream")).map(e => e.textContent),
    links: Array.from(document.querySelectorAll("a[href]")).map(a => a.href),
  };
}
"""


# Render the default window (the page does on load) and ZOOM_WINDOW; the values come back as lists.
ZOOM_SCRIPT = r"""
async (request) => {
  await window.funknnZoom.ready;
  const first = window.funknnZoom.defaultRender;
  const r = await window.funknnZoom.render(request);
  const { values, bicubic, gradient, ...view } = r;
  const { model, image, size, scale, ms } = first;
  return { first: { model, image, size, scale, ms }, view,
           values: Array.from(values), bicubic: Array.from(bicubic) };
}
"""


@dataclass
class Report:
    """The problems found, as (page, problem) pairs, and the pages seen."""

    problems: list[tuple[str, str]] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, page: str, problem: str) -> None:
        self.problems.append((page, problem))


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("id", "name") and value:
                self.ids.add(value)


@functools.cache
def anchors(path: Path) -> frozenset[str]:
    """The ``id``/``name`` attributes of an HTML file (the anchors a link can point at)."""
    parser = _Ids()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.ids)


def pages(root: Path) -> list[Path]:
    """Every HTML page of a Sphinx build, asset folders left out."""
    return sorted(p for p in root.rglob("*.html")
                  if not ASSET_DIRS.intersection(p.relative_to(root).parts[:-1]))


def link_problem(root: Path, base: str, href: str) -> str | None:
    """What is wrong with a link to the book itself (``None``: fine or not a local link)."""
    if not href.startswith(base):
        return None
    parts = urlsplit(href)
    target = root / unquote(parts.path).lstrip("/")
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        return f"broken link {href[len(base):]!r}: no file {target.relative_to(root)}"
    fragment = unquote(parts.fragment)
    if fragment and target.suffix == ".html" and fragment not in anchors(target):
        return f"broken link {href[len(base):]!r}: no id {fragment!r} in {target.relative_to(root)}"
    return None


def page_problems(root: Path, base: str, info: dict) -> Iterator[str]:
    """The problems in what :data:`PAGE_SCRIPT` gathered on one page."""
    yield from text_problems(info)
    yield from output_problems(info)
    for href in sorted(set(info["links"])):
        problem = link_problem(root, base, href)
        if problem:
            yield problem


def path_problems(info: dict, html: str) -> Iterator[str]:
    """Absolute paths of the build machine in the page's text or, the repository's folder, anywhere."""
    text = " ".join(info["allText"].split())
    for match in MACHINE_PATH.finditer(text):
        start = max(match.start() - 40, 0)
        yield f"absolute path of the machine in the text: …{text[start:match.end() + 40]}…"
    if str(ROOT) in html:
        yield f"the repository's folder {str(ROOT)!r} is in the page's HTML"


def text_problems(info: dict) -> Iterator[str]:
    """No title, raw TeX, MathJax errors."""
    if not info["title"] or info["title"].startswith("<no title>"):
        yield f"no title ({info['title']!r})"
    if not info["h1"]:
        yield "no <h1> heading"
    text = " ".join(info["text"].split())
    for match in RAW_TEX.finditer(text):
        start = max(match.start() - 40, 0)
        yield f"raw TeX {match.group()!r} in the text: …{text[start:match.end() + 40]}…"
    for error in info["mathErrors"]:
        yield f"MathJax error: {error!r}"


def output_problems(info: dict) -> Iterator[str]:
    """Images that did not load, error outputs."""
    for src in info["brokenImages"]:
        yield f"image did not load: {src!r}"
    for text in info["tracebacks"]:
        yield f"error output: {text.strip()!r}"
    for text in info["stderr"]:
        if ERROR_TEXT.search(text):
            yield f"stderr output with an error: {text.strip()[:200]!r}"
    for text in info["streams"]:
        if TRACEBACK in text:
            yield f"printed output with a traceback: {text.strip()[:200]!r}"


def zoom_reference(root: Path, window: dict) -> dict:
    """What the zoom page should show for ``window`` (model, image, scale, size, x, y), by PyTorch:
    ``{"values": (size², C), "bicubic": (size², C)}`` as float32 arrays."""
    import numpy as np
    import torch

    import funknn
    from funknn.sampling import Interpolator, grid_coords

    manifest = json.loads((root / "_static" / "zoom" / "manifest.json").read_text())
    entry = next(e for e in manifest["images"] if e["id"] == window["image"])
    C, h, w = entry["channels"], entry["height"], entry["width"]
    raw = np.fromfile(root / "_static" / "zoom" / entry["file"], dtype=np.uint8).reshape(1, C, h, w)
    image = torch.from_numpy(raw.astype(np.float32) / np.float32(255))
    s, n, x, y = (int(window[k]) for k in ("scale", "size", "x", "y"))
    rows, cols = slice(s * y, s * y + n), slice(s * x, s * x + n)
    coords = grid_coords(s * h, s * w).reshape(s * h, s * w, 2)[rows, cols].reshape(1, n * n, 2)
    checkpoint = next(m["checkpoint"] for m in manifest["models"] if m["id"] == window["model"])
    with torch.no_grad():
        values = funknn.pretrained(checkpoint).eval()(coords, image)[0]
        full = funknn.render(Interpolator(manifest["bicubic"]["kernel"]), image, (s * h, s * w))
    bicubic = full[0, :, rows, cols].permute(1, 2, 0).reshape(n * n, C)
    return {"values": values.numpy(), "bicubic": bicubic.numpy()}


def zoom_problems(root: Path, page, rel: str, report: Report) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Render :data:`ZOOM_WINDOW` on the zoom page and compare it with :func:`zoom_reference`."""
    import numpy as np

    manifest = json.loads((root / "_static" / "zoom" / "manifest.json").read_text())
    request = {"model": manifest["default"]["model"], "image": manifest["images"][0]["id"], **ZOOM_WINDOW}
    try:
        got = page.evaluate(ZOOM_SCRIPT, request)
    except Exception as error:  # the page's own error, as the browser reported it
        yield f"zoom page: no render ({str(error).splitlines()[0]})"
        return
    page.locator("#funknn-zoom").scroll_into_view_if_needed()  # the screenshot shows the renders
    first = got["first"]
    report.notes.append(f"{rel}: default window {first['size']}×{first['size']} at ×{first['scale']:g} "
                        f"({first['model']}, {first['image']}) rendered in {first['ms']:.0f} ms")
    view = {k: got["view"][k] for k in request}
    if view != request:
        yield f"zoom page: asked for window {request}, rendered {view}"
        return
    ms = got["view"]
    report.notes.append(f"{rel}: window {request['size']}² at ×{request['scale']} rendered in "
                        f"{ms['ms']:.0f} ms ({first['model']}) and {ms['bicubicMs']:.0f} ms (bicubic)")
    expected = zoom_reference(root, request)
    for key, label in (("values", first["model"]), ("bicubic", "bicubic")):
        page_values = np.asarray(got[key], dtype=np.float32).reshape(expected[key].shape)
        error = float(np.abs(page_values - expected[key]).max())
        against = "PyTorch" if key == "values" else "funknn.render"
        report.notes.append(f"{rel}: {label}, window {request['size']}² at ×{request['scale']}: max |page − "
                            f"{against}| = {error:.2e} (tolerance {ZOOM_TOLERANCE:g})")
        if not error <= ZOOM_TOLERANCE:
            yield f"zoom page: {label} differs from PyTorch by {error:.3g} > {ZOOM_TOLERANCE:g}"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    # the types the zoom page's runtime needs, whatever the system's mime.types says
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript",
                      ".wasm": "application/wasm", ".onnx": "application/octet-stream"}

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve ``root`` on a free local port; yields the base URL (ending in ``/``)."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def screenshot_name(rel: str) -> str:
    return rel.removesuffix(".html").replace("/", "__") + ".png"


def listen(page, base: str, report: Report, current: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Report the page's script errors, console errors, failed requests and error responses."""
    def local(url: str) -> str:
        return url[len(base):] if url.startswith(base) else url

    page.on("pageerror", lambda error: report.add(current[0], f"script error: {error}"))
    page.on("console", lambda msg: msg.type == "error" and report.add(
        current[0], f"console error: {msg.text[:300]}"))
    page.on("requestfailed", lambda r: report.add(
        current[0], f"request failed: {local(r.url)} ({r.failure})"))
    page.on("response", lambda r: r.status >= 400 and report.add(
        current[0], f"resource failed: HTTP {r.status} {local(r.url)}"))


def check_page(root: Path, base: str, page, path: Path, report: Report) -> None:  # type: ignore[no-untyped-def]
    """Open one page (or follow a redirect) and add its problems to ``report``."""
    rel = path.relative_to(root).as_posix()
    html = path.read_text(encoding="utf-8", errors="replace")
    redirect = REDIRECT.search(html[:2000])
    if redirect:  # check where it leads; the target is a page of its own
        problem = link_problem(root, base, base + (path.parent / redirect[1]).resolve()
                               .relative_to(root).as_posix())
        if problem:
            report.add(rel, f"redirect: {problem}")
        return
    page.goto(base + rel, wait_until="load")
    info = page.evaluate(PAGE_SCRIPT)
    problems = [*page_problems(root, base, info), *path_problems(info, html)]
    if info["zoom"]:
        problems.extend(zoom_problems(root, page, rel, report))
    for problem in problems:
        report.add(rel, problem)


def check(root: Path, screenshots: Path | None = None, browser: str = DEFAULT_BROWSER,
          timeout_ms: int = 30_000, full_page: bool = False) -> Report:
    """Open every page under ``root`` in headless Chromium; return the problems found."""
    from playwright.sync_api import sync_playwright

    root = root.resolve()
    if not (root / "index.html").is_file() and not pages(root):
        raise FileNotFoundError(f"no HTML pages under {root}: build the book first (make book)")
    if not Path(browser).is_file():
        raise FileNotFoundError(f"no browser at {browser}: apt-get install chromium")
    if screenshots is not None:
        screenshots.mkdir(parents=True, exist_ok=True)
    report = Report()
    with serve(root) as base, sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=browser, headless=True)
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(timeout_ms)
        current = [""]

        def refuse(route) -> None:  # type: ignore[no-untyped-def]
            report.add(current[0], f"request outside the book: {route.request.url}")
            route.abort()

        context.route(lambda url: not url.startswith(base) and not url.startswith("data:"), refuse)
        page = context.new_page()
        listen(page, base, report, current)
        for path in pages(root):
            current[0] = path.relative_to(root).as_posix()
            report.pages.append(current[0])
            check_page(root, base, page, path, report)
            if screenshots is not None and not REDIRECT.search(path.read_text(errors="replace")[:2000]):
                page.screenshot(path=str(screenshots / screenshot_name(current[0])), full_page=full_page)
        chromium.close()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", nargs="?", type=Path, default=DEFAULT_HTML, help="the built HTML folder")
    parser.add_argument("--screenshots", type=Path, default=DEFAULT_SCREENSHOTS,
                        help="folder for one PNG per page")
    parser.add_argument("--full-page", action="store_true", help="screenshots of whole pages")
    parser.add_argument("--browser", default=DEFAULT_BROWSER, help="the Chromium binary")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    report = check(args.html, args.screenshots, args.browser, full_page=args.full_page)
    seconds = time.perf_counter() - start
    for note in report.notes:
        print(note)
    for page, problem in report.problems:
        print(f"{page}: {problem}")
    failed = sorted({page for page, _ in report.problems})
    print(f"browser check: {len(report.pages)} pages in {seconds:.1f} s, "
          f"{len(report.problems)} problems on {len(failed)} pages; screenshots in {args.screenshots}")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
