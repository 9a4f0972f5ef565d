"""The book's browser check (tests/browser_check.py) fails on the defects it is there for: a page
with a raw formula, a missing image, broken links, an error output, no title and a request to a
CDN; a page whose script logs a console error or whose request fails; a page showing an absolute
path of the machine; while a clean page with typeset math passes. Runs headless Chromium on
fabricated pages."""

import sys
from pathlib import Path

import browser_check
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("playwright")
if not Path(browser_check.DEFAULT_BROWSER).is_file():
    pytest.skip(f"no Chromium at {browser_check.DEFAULT_BROWSER} (apt-get install chromium)",
                allow_module_level=True)

GOOD = """<!DOCTYPE html><html><head><title>Good page</title>
<script>window.MathJax = {"options": {"processHtmlClass": "math"}}</script>
<script defer src="_static/mathjax/tex-mml-chtml.js"></script></head>
<body><h1 id="top">Good</h1>
<p>Inline <span class="math">\\(\\frac{a}{b}\\)</span> and display:</p>
<div class="math">\\[\\nabla u = \\sum_i x_i\\]</div>
<p>A price in code is fine: <code>$$5 \\frac</code>.</p>
<img src="pixel.png" alt="a pixel">
<a href="#top">up</a> <a href="bad.html">bad</a> <a href="sub/">sub</a> <a href="https://example.org/">out</a>
<div class="output stderr">UserWarning: only a warning</div>
</body></html>"""

BAD = """<!DOCTYPE html><html><head><title></title></head>
<body><p>Left raw: $$u(x) = \\frac{1}{2}$$ and $x_i$.</p>
<img src="missing.png" alt="gone">
<img src="https://cdn.example.org/logo.png" alt="from a CDN">
<a href="nowhere.html">a page that is not there</a>
<a href="good.html#no-such-anchor">an anchor that is not there</a>
<div class="cell_output"><div class="output traceback">ValueError: boom</div></div>
<div class="output stderr">Traceback (most recent call last):
  File "x.py", line 1
RuntimeError: failed</div>
<div class="output stream">step 1
Traceback (most recent call last):
KeyError: 'x'</div>
</body></html>"""

# no uncaught exception, but a console error, a failed request and the machine's paths in its text
NOISY = """<!DOCTYPE html><html><head><title>Noisy page</title></head>
<body><h1>Noisy</h1>
<p>Results are read from /work/main/_build/results.</p>
<pre><code>results_dir = "/tmp/pytest-of-root/results"</code></pre>
<p style="display: none">hidden: /home/reader/funknn</p>
<p>Not paths of the machine: https://example.org/home/page, ../tmp/notes, _build/results.</p>
<script>
console.error("something went wrong");
console.warn("only a warning");
fetch("missing.json").catch(() => null);
fetch("http://127.0.0.1:9/refused").catch(() => null);
</script>
</body></html>"""

# a 1×1 PNG
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2c4a7e40000000049454e44ae426082")


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        from local_mathjax import mathjax_source
    finally:
        sys.path.pop(0)
    root = tmp_path_factory.mktemp("html")
    (root / "_static").mkdir()
    (root / "_static" / "mathjax").symlink_to(mathjax_source(), target_is_directory=True)
    (root / "good.html").write_text(GOOD)
    (root / "bad.html").write_text(BAD)
    (root / "noisy.html").write_text(NOISY)
    (root / "pixel.png").write_bytes(PIXEL)
    (root / "sub").mkdir()
    (root / "sub" / "index.html").write_text(
        "<html><head><title>Sub</title></head><body><h1>Sub</h1></body></html>")
    (root / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=good.html" />')
    return root


@pytest.fixture(scope="module")
def report(book, tmp_path_factory):
    return browser_check.check(book, tmp_path_factory.mktemp("shots"))


def problems(report, page):
    return [problem for p, problem in report.problems if p == page]


def test_clean_page_passes(report):
    assert "good.html" in report.pages and "sub/index.html" in report.pages
    assert problems(report, "good.html") == []
    assert problems(report, "sub/index.html") == []
    assert problems(report, "index.html") == []


def test_defects_are_named(report):
    found = "\n".join(problems(report, "bad.html"))
    for expected in ["no title", "no <h1>", "raw TeX '$$'", r"raw TeX '\\frac'", "raw TeX '$x_i$'",
                     "image did not load: 'missing.png'", "resource failed: HTTP 404 missing.png",
                     "request outside the book: https://cdn.example.org/logo.png",
                     "broken link 'nowhere.html': no file nowhere.html",
                     "broken link 'good.html#no-such-anchor': no id 'no-such-anchor' in good.html",
                     "error output: 'ValueError: boom'", "stderr output with an error",
                     "printed output with a traceback"]:
        assert expected in found, f"{expected!r} not reported; reported:\n{found}"


def test_console_errors_failed_requests_and_machine_paths(report):
    found = problems(report, "noisy.html")
    text = "\n".join(found)
    for expected in ["console error: something went wrong", "resource failed: HTTP 404 missing.json",
                     "request outside the book: http://127.0.0.1:9/refused",
                     "request failed: http://127.0.0.1:9/refused",
                     "absolute path of the machine in the text: …Noisy Results are read from /work/main/",
                     'results_dir = "/tmp/pytest-of-root', "hidden: /home/reader"]:
        assert expected in text, f"{expected!r} not reported; reported:\n{text}"
    assert "only a warning" not in text
    assert sum("absolute path" in p for p in found) == 3      # not the URL nor the relative paths
    assert not browser_check.MACHINE_PATH.search("https://example.org/home/page ../tmp/notes _build/results")


def test_screenshots_and_exit_status(book, tmp_path, capsys):
    assert browser_check.main([str(book), "--screenshots", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "bad.html: broken link 'nowhere.html'" in out
    shots = sorted(p.name for p in tmp_path.iterdir())
    assert shots == ["bad.png", "good.png", "noisy.png", "sub__index.png"]


def test_broken_redirect(tmp_path):
    (tmp_path / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=book/intro.html" />')
    report = browser_check.check(tmp_path)
    assert report.problems == [
        ("index.html", "redirect: broken link 'book/intro.html': no file book/intro.html")]
