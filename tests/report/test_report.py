"""The HTML report (`make report`) opened in a real headless browser.

The report is built into a temporary folder from the committed notebooks (they carry the
outputs of a full run), so the test does not need `make run`. The results folder it reads is
written by the real writers: `record_results` with the committed reference values
(tests/reference/<notebook>.json, "full"), and notebook 06's 06_results.csv as that notebook
wrote and printed it in its committed run: what is tested here is the page, not the numbers.

Debian's chromium (/usr/bin/chromium, installed by tools/ensure_chromium.sh) is driven by
Playwright; no browser is ever downloaded. Pages are opened from disk (file://), which is how
a reader opens report/index.html and lets links to repository files (the README) resolve.
The browser checks: no console or page errors and no request leaves the machine, every image
has a non-zero natural size, every internal link resolves (crawled from index.html), and the
index shows notebook 06's final table. On every page MathJax (copied into the report) must
have typeset every formula: no TeX parse error, no error node, no raw ``$…$`` or ``\\begin{``
left outside code. Screenshots of the index (full page) and of notebook 02's derivation go to
outputs/test/.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import nbformat
import pytest

from tests.helpers import REFERENCE_DIR, ROOT, course_notebooks

pytestmark = pytest.mark.notebooks

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BUILDER = ROOT / "tools" / "build_report.py"
# SOURCE_DATE_EPOCH pins the one line that depends on the date: the commit's own time, so the
# screenshot shows a plausible date (a fixed value when git is unavailable).
_COMMIT_TIME = subprocess.run(
    ["git", "log", "-1", "--format=%ct"], capture_output=True, text=True, cwd=str(ROOT)
).stdout.strip()
FIXED_EPOCH = _COMMIT_TIME if _COMMIT_TIME.isdigit() else "1700000000"


def _build(*args: str | Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, SOURCE_DATE_EPOCH=FIXED_EPOCH)
    return subprocess.run(
        [sys.executable, str(BUILDER), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(ROOT),
        timeout=600,
    )


def _reference_results(folder: Path) -> None:
    """<stem>.json for every committed notebook, written by the real writer (record_results)."""
    from gnnrec_utils.notebook import record_results

    for notebook in course_notebooks():
        reference = REFERENCE_DIR / f"{notebook.stem}.json"
        if reference.exists():
            full = json.loads(reference.read_text())["full"]
            values = {key: spec["value"] for key, spec in full.items()}
            values.setdefault("quick", False)
            record_results(notebook.stem, values, folder)
    (folder / "06_results.csv").write_text(final_table_of_notebook_06())


def final_table_of_notebook_06() -> str:
    """06_results.csv exactly as notebook 06 wrote it in its committed full run.

    Section 5 of notebook 06 writes the file with pandas and prints it back; the stored output
    of that cell is the writer's real output (header ``model,runs,…``), so this test follows
    any change of its format instead of re-creating the format by hand.
    """
    nb = nbformat.read(ROOT / "notebooks" / "06_evaluation.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code" or "06_results.csv" not in cell.source:
            continue
        for out in cell.get("outputs", []):
            text = out.get("text", "")
            lines = text.splitlines()
            starts = [i for i, line in enumerate(lines) if line.startswith("model,")]
            if out.get("output_type") == "stream" and starts:
                return "\n".join(lines[starts[0] :]).rstrip("\n") + "\n"  # print's own "\n"
    raise AssertionError(
        "notebooks/06_evaluation.ipynb no longer prints its 06_results.csv (a line starting "
        "'model,'): update final_table_of_notebook_06() to read the table it writes"
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    _reference_results(base / "results")
    out = base / "report"
    done = _build("--executed", ROOT / "notebooks", "--results", base / "results", "--out", out)
    assert done.returncode == 0, f"build_report failed:\n{done.stdout}\n{done.stderr}"
    return out, done


def _file_path(url: str) -> Path:
    return Path(url2pathname(unquote(urlsplit(url).path)))


def _launch(playwright):
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the report's browser test needs Debian's chromium. "
            "Run tools/ensure_chromium.sh (as root it installs it; `make test` does that)."
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def test_report_has_one_page_per_notebook(built):
    out, done = built
    expected = {f"{p.stem}.html" for p in course_notebooks()}
    assert expected <= {p.name for p in out.glob("*.html")}
    assert (out / "index.html").is_file() and (out / "style.css").is_file()
    assert "links to missing files" not in done.stdout, done.stdout


_REMOTE = re.compile(r"<(?:script|img|link|iframe)\b[^>]*\b(?:src|href)=[\"']?(?:https?:)?//", re.I)


def test_report_loads_nothing_from_the_internet(built):
    out, _ = built
    for page in out.glob("*.html"):
        match = _REMOTE.search(page.read_text())
        assert match is None, f"{page.name} loads a remote resource: {match.group(0)}"


def test_report_is_deterministic(built, tmp_path):
    out, _ = built
    # Same depth below pytest's base folder as `built`, so the relative README link matches.
    again = tmp_path / "report"
    results = out.parent / "results"
    done = _build("--executed", ROOT / "notebooks", "--results", results, "--out", again)
    assert done.returncode == 0, done.stderr
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert first.keys() == second.keys()
    assert [name for name in sorted(first) if first[name] != second[name]] == []


def _tiny_notebook(folder: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 01 Tiny: a test page\n\n**After this** you can $x^2$."),
        nbformat.v4.new_code_cell("print(1)", outputs=[]),
    ]
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / "01_tiny.ipynb")


def test_final_results_csv_becomes_the_results_table(tmp_path):
    _tiny_notebook(tmp_path / "executed")
    results = tmp_path / "results"
    results.mkdir()
    (results / "06_results.csv").write_text("model,recall@20,ndcg@20\nLightGCN,0.2512,0.1987\n")
    (results / "01_tiny.json").write_text(json.dumps({"quick": True, "seed": 1, "answer": 42}))
    done = _build(
        "--executed", tmp_path / "executed", "--results", results, "--out", tmp_path / "r"
    )
    assert done.returncode == 0, done.stderr
    index = (tmp_path / "r" / "index.html").read_text()
    assert '<table id="results"' in index and "LightGCN" in index and "0.2512" in index
    assert '<table id="headline"' in index and "QUICK run" in index


def test_no_executed_notebooks_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    done = _build("--executed", tmp_path / "empty", "--out", tmp_path / "r")
    assert done.returncode == 1
    assert "run `make run` first" in done.stderr
    assert not (tmp_path / "r" / "index.html").exists()


def test_refuses_to_wipe_a_foreign_folder(tmp_path):
    _tiny_notebook(tmp_path / "executed")
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "precious.txt").write_text("keep me")
    done = _build("--executed", tmp_path / "executed", "--out", tmp_path / "r")
    assert done.returncode == 1 and "refusing to overwrite" in done.stderr
    assert (tmp_path / "r" / "precious.txt").read_text() == "keep me"


def _executed_copy(folder: Path, stem: str, state: str) -> None:
    """An executed copy as the runner leaves it: finished, failed, SIGTERMed or SIGKILLed."""
    import run_notebooks

    nb = nbformat.v4.new_notebook()
    injected = nbformat.v4.new_code_cell(f'OUTPUT_DIR = "{ROOT}/outputs/results"\nQUICK = False')
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# {stem} A page\n\nThe goal: $y = x^2$."),
        injected,
        nbformat.v4.new_code_cell("print(1)"),
    ]
    nb.metadata["papermill"] = {"end_time": "2026-01-01T00:00:00", "exception": None}
    for cell in nb.cells:
        cell.metadata["papermill"] = {"status": "completed"}
    if state == "error":
        nb.cells[-1].outputs = [
            nbformat.v4.new_output("error", ename="ValueError", evalue="x", traceback=[])
        ]
    elif state == "killed":  # SIGKILL: papermill's states stay where they were
        nb.metadata["papermill"]["end_time"] = None
        nb.cells[-1].metadata["papermill"]["status"] = "running"
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{stem}.ipynb")
    if state == "terminated":
        run_notebooks.mark_interrupted(folder / f"{stem}.ipynb", "stopped by SIGTERM")


def test_unfinished_runs_are_badged_and_injected_paths_are_repository_relative(tmp_path):
    sys.path.insert(0, str(ROOT / "tools"))
    executed = tmp_path / "executed"
    states = {"01_ok": "finished", "02_err": "error", "03_term": "terminated", "04_kill": "killed"}
    for stem, state in states.items():
        _executed_copy(executed, stem, state)
    done = _build("--executed", executed, "--results", tmp_path / "none", "--out", tmp_path / "r")
    assert done.returncode == 0, done.stderr
    index = (tmp_path / "r" / "index.html").read_text()

    def badges(stem):
        item = re.search(rf'<li id="nb-{stem}">.*?</li>', index, re.S).group(0)
        return re.findall(r'<span class="badge error">([^<]*)</span>', item)

    assert badges("01_ok") == []
    assert badges("02_err") == ["stopped with an error"]
    assert badges("03_term") == ["did not finish"]
    assert badges("04_kill") == ["did not finish"]
    assert "did not finish" in (tmp_path / "r" / "04_kill.html").read_text()
    page = (tmp_path / "r" / "01_ok.html").read_text()
    assert str(ROOT) not in page, "the injected-parameters cell shows a machine path"
    assert "../outputs/results" in page


_IMAGES_JS = """() => Array.from(document.images).map(i => ({
    src: i.getAttribute('src').slice(0, 60), complete: i.complete,
    w: i.naturalWidth, h: i.naturalHeight}))"""
_ANCHORS_JS = """() => Array.from(document.querySelectorAll('[id], a[name]'))
    .map(e => e.id || e.getAttribute('name'))"""
_LINKS_JS = """() => Array.from(document.querySelectorAll('a[href]')).map(a => ({
    raw: a.getAttribute('href'), abs: a.href}))"""
#: TeX a reader should never see: what is left outside code once MathJax has typeset the page.
_RAW_TEX_JS = r"""() => {
    const body = document.body.cloneNode(true);
    body.querySelectorAll('pre, code, script, style, .MathJax, .MathJax_Display, '
                          + '.MathJax_Preview, .MJX_Assistive_MathML').forEach(e => e.remove());
    const text = body.textContent, found = [];
    const tex = /\$[^$\n]+\$|\\begin\{|\\(?:frac|mathbf|sum|tilde|hat|boxed)\b/g;
    let m;
    while ((m = tex.exec(text)) && found.length < 5) {
        found.push(text.slice(Math.max(0, m.index - 30), m.index + 50));
    }
    return found;
}"""
_MATH_JS = """() => ({typeset: MathJax.Hub.getAllJax().length,
    errors: window.gnnrecMath.errors,
    error_nodes: document.querySelectorAll('.merror, .MathJax_Error, .noError').length})"""
#: Where `make test` leaves the screenshots (GNNREC_OUTPUT_DIR of the QUICK runs).
SHOTS = ROOT / "outputs" / "test"


def test_report_in_a_real_browser(built):
    """Every page: formulas typeset offline, no errors, no network, images, links, anchors."""
    try:
        from playwright import sync_api
    except ImportError:  # a pinned dev dependency: missing means a broken set-up, not a skip
        pytest.fail("playwright is not installed in this environment: run `make setup`")
    out, _ = built
    index = (out / "index.html").resolve()
    problems: list[str] = []
    formulas: dict[str, int] = {}
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            current = {"url": ""}
            page.on(
                "console",
                lambda m: m.type == "error" and problems.append(f"{current['url']}: {m.text}"),
            )
            page.on("pageerror", lambda e: problems.append(f"{current['url']}: {e}"))
            page.on(
                "requestfailed",
                lambda r: problems.append(f"{current['url']}: failed to load {r.url[:100]}"),
            )
            page.on(
                "request",
                lambda r: (
                    r.url.startswith(("file:", "data:"))
                    or problems.append(f"{current['url']}: network request to {r.url[:100]}")
                ),
            )

            queue, seen, fragments, anchors = [index.as_uri()], set(), [], {}
            while queue:
                url = queue.pop(0)
                if url in seen:
                    continue
                seen.add(url)
                name = current["url"] = _file_path(url).name
                page.goto(url, wait_until="load")
                assert page.evaluate("() => document.styleSheets.length") >= 1, url
                page.wait_for_function(
                    "() => window.gnnrecMath && window.gnnrecMath.done", timeout=300_000
                )
                math = page.evaluate(_MATH_JS)
                formulas[name] = math["typeset"]
                problems += [f"{name}: {e}" for e in math["errors"]]
                if math["error_nodes"]:
                    problems.append(f"{name}: {math['error_nodes']} formula(s) shown as errors")
                problems += [f"{name}: raw TeX left: …{t}…" for t in page.evaluate(_RAW_TEX_JS)]
                anchors[url] = set(page.evaluate(_ANCHORS_JS))
                for img in page.evaluate(_IMAGES_JS):
                    if not (img["complete"] and img["w"] > 0 and img["h"] > 0):
                        problems.append(f"{name}: image not rendered: {img}")
                for link in page.evaluate(_LINKS_JS):
                    raw = link["raw"]
                    if raw.startswith(("http:", "https:", "mailto:")):
                        continue
                    if raw.startswith("#"):
                        fragments.append((url, raw[1:]))
                        continue
                    target = _file_path(link["abs"])
                    if not target.exists():
                        problems.append(f"{name}: broken link {raw!r}")
                        continue
                    parts = urlsplit(link["abs"])
                    if target.suffix == ".html" and target.parent == out.resolve():
                        queue.append(parts._replace(fragment="").geturl())
                        if parts.fragment:
                            fragments.append((parts._replace(fragment="").geturl(), parts.fragment))
                if name == "index.html":
                    final = (out.parent / "results" / "06_results.csv").read_text()
                    csv_rows = final.strip().splitlines()[1:]
                    rows = page.locator("table#results tbody tr")
                    assert rows.count() == len(csv_rows), "the index shows no final table"
                    assert "LightGCN" in page.locator("table#results").inner_text()
                    assert page.locator("table#results").is_visible()
                    page.screenshot(path=str(SHOTS / "report-index.png"), full_page=True)
                if name == "02_gcn_propagation.html":  # the derivation: spectral filters
                    page.get_by_role(
                        "heading", name="Chebyshev approximation"
                    ).scroll_into_view_if_needed()
                    page.screenshot(path=str(SHOTS / "report-02-derivation.png"))

            for url, fragment in fragments:  # anchors inside the report point at real ids
                # As browsers do: the fragment matches an id as written or percent-decoded
                # (nbconvert writes heading ids percent-encoded, e.g. "user%E2%80%93item").
                if not {fragment, unquote(fragment)} & anchors[url]:
                    problems.append(f"{_file_path(url).name}: no anchor #{fragment}")
        finally:
            browser.close()

    crawled = {_file_path(u).name for u in seen}
    assert {f"{p.stem}.html" for p in course_notebooks()} <= crawled, crawled
    assert not problems, "\n".join(problems)
    assert formulas["02_gcn_propagation.html"] > 100, formulas  # the derivation was typeset
    for shot in ("report-index.png", "report-02-derivation.png"):
        assert (SHOTS / shot).stat().st_size > 10_000
