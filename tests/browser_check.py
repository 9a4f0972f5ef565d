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
- it asked for anything outside the book (a CDN, a font server, …), or a script raised.

The browser is Debian's ``chromium`` (``/usr/bin/chromium``) driven by Playwright; nothing
downloads a browser. Exit status 1 lists every problem as ``page: problem``.
"""

from __future__ import annotations

import argparse
import functools
import http.server
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


@dataclass
class Report:
    """The problems found, as (page, problem) pairs, and the pages seen."""

    problems: list[tuple[str, str]] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)

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


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
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
        page.on("pageerror", lambda error: report.add(current[0], f"script error: {error}"))
        page.on("response", lambda r: r.status >= 400 and report.add(
            current[0], f"resource failed: HTTP {r.status} {r.url[len(base):]}"))
        for path in pages(root):
            rel = path.relative_to(root).as_posix()
            current[0] = rel
            report.pages.append(rel)
            redirect = REDIRECT.search(path.read_text(encoding="utf-8", errors="replace")[:2000])
            if redirect:  # check where it leads; the target is a page of its own
                problem = link_problem(root, base, base + (path.parent / redirect[1]).resolve()
                                       .relative_to(root).as_posix())
                if problem:
                    report.add(rel, f"redirect: {problem}")
                continue
            page.goto(base + rel, wait_until="load")
            info = page.evaluate(PAGE_SCRIPT)
            for problem in page_problems(root, base, info):
                report.add(rel, problem)
            if screenshots is not None:
                page.screenshot(path=str(screenshots / screenshot_name(rel)), full_page=full_page)
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
    for page, problem in report.problems:
        print(f"{page}: {problem}")
    failed = sorted({page for page, _ in report.problems})
    print(f"browser check: {len(report.pages)} pages in {seconds:.1f} s, "
          f"{len(report.problems)} problems on {len(failed)} pages; screenshots in {args.screenshots}")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
