"""Build the browsable HTML report of the course from the executed notebooks (`make report`).

    python tools/build_report.py [--executed outputs/executed] [--results outputs/results]
                                 [--out report]

Writes one page per numbered notebook, rendered by nbconvert's HTML exporter (code, outputs
and figures embedded as data URIs), ``index.html`` (course map with a badge on a run that
stopped with an error or did not finish, results table, build date and commit, a link back to
the README), one shared ``style.css`` and a copy of MathJax 2.7 (``mathjax/``, from the pinned
``jupyter-server-mathjax`` wheel) that typesets every formula in the reader's browser. Nothing
is loaded from the internet; every internal link is relative, so the folder works opened from
disk (``file://``) and served.

Notebooks come from ``--executed`` (what ``make run`` writes). When that option is not given and
``outputs/executed`` holds no notebooks, the committed ``notebooks/NN_*.ipynb`` (which carry the
outputs of a full run) are used instead; the index says which. Headline numbers come from
``--results/<notebook>.json`` (``record_results``) and, once notebook 06 exists, its final table
``--results/06_results.csv``. Apart from the "Built …" line of the index (set
``SOURCE_DATE_EPOCH`` to pin it) the output is a deterministic function of its inputs.
"""

from __future__ import annotations

import gnnrec_utils.paths as paths

import argparse
import copy
import csv
import datetime as dt
import html
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from _notebooks import course_notebooks  # tools/ is on sys.path: this file runs as a script
from run_notebooks import run_status

ROOT = paths.repo_root()
NOTEBOOKS = ROOT / "notebooks"
MARKER = ".gnnrec-report"  # marks a folder this tool may wipe and rebuild
FINAL_TABLE = "06_results.csv"  # notebook 06's final comparison table (issue 7)


class ReportError(RuntimeError):
    """A problem the user has to fix before a report can be built."""


# --------------------------------------------------------------------------------------------
# Formulas: MathJax 2.7, copied into the report from the jupyter-server-mathjax wheel
# --------------------------------------------------------------------------------------------

MATHJAX_DIR = "mathjax"  # report/mathjax/: the wheel's static files
MATHJAX_CONFIG_FILE = "mathjax-config.js"
#: Loaded before MathJax.js (``window.MathJax`` is read as its configuration). TeX in ``$…$``,
#: ``$$…$$``, ``\(…\)``, ``\[…\]`` and bare ``\begin{…}`` environments, as Jupyter does;
#: HTML-CSS output with the STIX-Web fonts the wheel ships (no font is fetched from the web);
#: TeX errors are shown as errors (noErrors/noUndefined off) and collected, with the end of
#: typesetting, in ``window.gnnrecMath`` for the report's browser test.
MATHJAX_CONFIG = """\
window.gnnrecMath = { done: false, errors: [] };
window.MathJax = {
  tex2jax: {
    inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]],
    displayMath: [["$$", "$$"], ["\\\\[", "\\\\]"]],
    processEscapes: true,
    processEnvironments: true
  },
  TeX: { equationNumbers: { autoNumber: "none" },
         noErrors: { disabled: true }, noUndefined: { disabled: true } },
  "HTML-CSS": { availableFonts: [], preferredFont: null, webFont: "STIX-Web",
                imageFont: null, linebreaks: { automatic: true },
                // MathJax's font-loading probe is url('about:blank'), an error under file://
                styles: { "@font-face": { "font-family": "MathJax_Blank",
                                          src: "local('MathJax_Blank')" } } },
  showMathMenu: false,
  messageStyle: "none",
  AuthorInit: function () {
    var hub = MathJax.Hub;
    hub.Register.MessageHook("TeX Jax - parse error", function (m) {
      window.gnnrecMath.errors.push("TeX error: " + m[1] + " in " + m[2]);
    });
    hub.Register.MessageHook("Math Processing Error", function (m) {
      window.gnnrecMath.errors.push("Math Processing Error: " + (m[2] && m[2].message));
    });
    // The bundled NativeMML output declares @font-face rules for TeX fonts the wheel does not
    // ship; the hidden assistive MathML would request them. Point them at local fonts only.
    hub.Register.StartupHook("NativeMML Jax Config", function () {
      var styles = MathJax.OutputJax.NativeMML.config.styles;
      for (var key in styles) {
        if (key.indexOf("@font-face") === 0 && styles[key].src) {
          styles[key].src = "local('" + styles[key]["font-family"].replace(/-WEB$/, "") + "')";
        }
      }
    });
    hub.Register.StartupHook("End", function () {
      hub.Queue(function () { window.gnnrecMath.done = true; });
    });
  }
};
"""
MATHJAX_SCRIPTS = (
    f'<script src="{MATHJAX_CONFIG_FILE}"></script>\n'
    f'<script src="{MATHJAX_DIR}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"></script>\n'
)


def mathjax_source() -> Path:
    """The MathJax 2.7 files shipped by the pinned ``jupyter-server-mathjax`` wheel."""
    try:
        import jupyter_server_mathjax
    except ImportError as err:
        raise ReportError(
            "jupyter-server-mathjax is not installed (the report's offline MathJax): "
            "run `make setup`"
        ) from err
    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (static / "MathJax.js").is_file():
        raise ReportError(f"{static} has no MathJax.js: reinstall jupyter-server-mathjax")
    return static


def copy_mathjax(out_dir: Path) -> None:
    """MathJax into ``out_dir/mathjax``: what HTML-CSS output with STIX-Web fonts loads.

    Left out (about 9 of the wheel's 12 MB): the SVG output, the a11y explorer (reachable only
    from MathJax's menu, which the pages turn off) and every localisation but English. The
    browser test fails on any request for a missing file.
    """
    static = mathjax_source()
    skip_languages = shutil.ignore_patterns("[a-df-z]*", "e[a-mo-z]*")  # keep localization/en

    def ignore(folder: str, names: list[str]) -> set[str]:
        where = Path(folder).relative_to(static).as_posix()
        if where == "localization":
            return set(skip_languages(folder, names))
        if where == "jax/output":
            return {"SVG"} & set(names)
        if where == "extensions":
            return {"a11y"} & set(names)
        return set()

    shutil.copytree(static, out_dir / MATHJAX_DIR, ignore=ignore)
    (out_dir / MATHJAX_CONFIG_FILE).write_text(MATHJAX_CONFIG)


# --------------------------------------------------------------------------------------------
# Notebook pages
# --------------------------------------------------------------------------------------------


@dataclass
class Page:
    """One numbered notebook of the course and, when it was executed, its rendered page."""

    stem: str
    title: str
    goal_html: str
    source: Path | None = None  # the .ipynb the page is rendered from
    html_name: str | None = None
    results: dict | None = None
    results_file: Path | None = None
    status: str = "finished"  # run_notebooks.run_status: finished, error or unfinished
    parameters: dict = field(default_factory=dict)
    duration: float | None = None


class LinkFixer:
    """Rewrite a notebook's relative links for pages that live in the report folder."""

    def __init__(self, out_dir: Path, rendered: set[str], base: Path = NOTEBOOKS) -> None:
        self.out_dir, self.rendered, self.base = out_dir, rendered, base
        self.broken: list[str] = []

    def __call__(self, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or url.startswith("#") or not parts.path:
            return url
        target = (self.base / unquote(parts.path)).resolve()
        fragment = f"#{parts.fragment}" if parts.fragment else ""
        if target.suffix == ".ipynb" and target.stem in self.rendered:
            return f"{quote(target.stem)}.html{fragment}"
        if not target.exists():
            self.broken.append(url)
            return url
        return quote(Path(os.path.relpath(target, self.out_dir)).as_posix()) + fragment


def _exporter(link_fixer: LinkFixer):
    """nbconvert's basic HTML exporter (no scripts) with links fixed for the report folder.

    Formulas stay as TeX in the page (nbconvert escapes them) for MathJax to typeset.
    """
    from jinja2 import pass_context
    from nbconvert import HTMLExporter
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    class Renderer(IPythonRenderer):
        def link(self, text: str, url: str, title: str | None = None) -> str:
            return super().link(text, link_fixer(url), title)

    class Exporter(HTMLExporter):
        @pass_context
        def markdown2html(self, context, source):
            cell = context.get("cell", {})
            path = context.get("resources", {}).get("metadata", {}).get("path", "")
            renderer = Renderer(
                escape=False,
                attachments=cell.get("attachments", {}),
                embed_images=True,
                path=path,
                anchor_link_text=self.anchor_link_text,
                exclude_anchor_links=self.exclude_anchor_links,
                **self.lexer_options,
            )
            return MarkdownWithMath(renderer=renderer).render(source)

    exporter = Exporter(template_name="basic")
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.embed_images = True
    return exporter


_EXTERNAL_RESOURCE = re.compile(
    r"<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>\s*</script>"
    r"|<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^>]*>"
    r"|<iframe\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>.*?</iframe>",
    re.IGNORECASE | re.DOTALL,
)
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _prepare(nb):
    """A copy without what a static page cannot show (widget views) and without machine paths.

    papermill's injected-parameters cell of an older run may hold absolute paths inside the
    repository; they are shown relative to the notebook folder, as the runner now injects them.
    """
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    root = str(ROOT) + os.sep
    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source = cell.source.replace(root, os.path.relpath(ROOT, NOTEBOOKS) + "/")
        for out in cell.get("outputs", []):
            data = out.get("data")
            if data and _WIDGET_MIME in data:
                data.pop(_WIDGET_MIME)
    return nb


def _first_markdown(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            return cell.source
    return ""


def _inline_markdown(text: str) -> str:
    """The tiny bit of inline markdown a goal line uses: code spans and emphasis."""
    pieces = re.split(r"(`[^`]+`)", text)
    out = []
    for piece in pieces:
        if piece.startswith("`") and piece.endswith("`") and len(piece) > 1:
            out.append(f"<code>{html.escape(piece[1:-1])}</code>")
            continue
        piece = html.escape(piece, quote=False)
        piece = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", piece)
        piece = re.sub(r"(?<![*\w])\*(?!\s)(.+?)(?<!\s)\*(?![*\w])", r"<em>\1</em>", piece)
        out.append(piece)
    return "".join(out)


def title_and_goal(nb, stem: str) -> tuple[str, str]:
    """The H1 title and the first paragraph after it (the one-line goal), from the first cell."""
    text = _first_markdown(nb).strip()
    title = stem
    match = re.match(r"#\s+(.+)", text)
    if match:
        title = match.group(1).strip()
        text = text[match.end() :]
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
    goal = paragraphs[0] if paragraphs else ""
    return title, _inline_markdown(goal)


def _plain_title(title: str) -> str:
    return re.sub(r"[`*]", "", title)


#: What the index badge and the page banner say for a run that did not finish.
STATUS_BADGE = {"error": "stopped with an error", "unfinished": "did not finish"}
STATUS_BANNER = {
    "error": "This run stopped with an error: the notebook is only partly executed (see the "
    "last cell with an error output).",
    "unfinished": "This run did not finish (it was stopped or killed): the notebook is only "
    "partly executed and its results were not recorded.",
}


def _page_html(title: str, nav: str, body: str, footer: str, with_math: bool = False) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n"
        '<link rel="stylesheet" href="style.css">\n'
        + (MATHJAX_SCRIPTS if with_math else "")
        + "</head>\n<body>\n"
        f'<header class="site"><nav>{nav}</nav></header>\n'
        f"<main>\n{body}\n</main>\n"
        f'<footer class="site">{footer}</footer>\n'
        "</body>\n</html>\n"
    )


def render_page(page: Page, pages: list[Page], exporter, source_note: str) -> str:
    import nbformat

    nb = _prepare(nbformat.read(page.source, as_version=4))
    resources = {"metadata": {"path": str(NOTEBOOKS), "name": page.stem}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    body = _EXTERNAL_RESOURCE.sub("", body)
    rendered = [p for p in pages if p.html_name]
    index = rendered.index(page)
    links = ['<a href="index.html">gnnrec report</a>']
    if index > 0:
        prev = rendered[index - 1]
        links.append(f'<a href="{prev.html_name}" rel="prev">&larr; {html.escape(prev.stem)}</a>')
    if index + 1 < len(rendered):
        nxt = rendered[index + 1]
        links.append(f'<a href="{nxt.html_name}" rel="next">{html.escape(nxt.stem)} &rarr;</a>')
    banner = ""
    if page.status in STATUS_BANNER:
        banner = f'<p class="banner error">{STATUS_BANNER[page.status]}</p>\n'
    if page.parameters.get("QUICK") or (page.results or {}).get("quick"):
        banner += (
            '<p class="banner quick">Executed with <code>QUICK=True</code> (reduced work): the '
            "numbers are not the full-run results.</p>\n"
        )
    footer = f"{html.escape(page.source.name)} &middot; {source_note}"
    return _page_html(
        _plain_title(page.title),
        " ".join(links),
        f'{banner}<article class="notebook">\n{body}\n</article>',
        footer,
        with_math=True,
    )


# --------------------------------------------------------------------------------------------
# Index page: course map, results, provenance
# --------------------------------------------------------------------------------------------


def _format_value(value) -> tuple[str, str]:
    """(displayed text, full value for the tooltip) of one recorded result."""
    if isinstance(value, bool) or value is None:
        text = json.dumps(value)
        return text, text
    if isinstance(value, int):
        return f"{value:,}", str(value)
    if isinstance(value, float):
        if value == 0 or not math.isfinite(value):
            return repr(value), repr(value)
        magnitude = abs(value)
        text = f"{value:,.0f}" if magnitude >= 1e5 else f"{value:.4g}"
        if "e" in text:
            text = f"{value:.3e}"
        return text, repr(value)
    if isinstance(value, str):
        if len(value) > 20 and re.fullmatch(r"[0-9a-f]+", value):
            return value[:12] + "…", value
        return value, value
    full = json.dumps(value, sort_keys=True)
    return (full if len(full) <= 60 else full[:57] + "…"), full


def _cell(value) -> str:
    text, full = _format_value(value)
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    cls = ' class="num"' if numeric else ""
    tip = f' title="{html.escape(full, quote=True)}"' if full != text else ""
    return f"<td{cls}{tip}>{html.escape(text)}</td>"


def headline_table(pages: list[Page], table_id: str) -> str:
    rows = []
    for page in pages:
        if not page.results:
            continue
        items = [(k, v) for k, v in page.results.items() if k not in ("quick", "seed")]
        if not items:
            continue
        run = "QUICK run" if page.results.get("quick") else "full run"
        if "seed" in page.results:
            run += f", seed {page.results['seed']}"
        if page.results_file is not None:
            run += f"<br>{html.escape(_display(page.results_file))}"
        name = html.escape(page.stem)
        label = f'<a href="{page.html_name}">{name}</a>' if page.html_name else name
        head = f'<th scope="rowgroup" rowspan="{len(items)}">{label}<br><small>{run}</small></th>'
        for i, (key, value) in enumerate(items):
            rows.append(
                f"<tr>{head if i == 0 else ''}<td>{html.escape(key)}</td>{_cell(value)}</tr>"
            )
    if not rows:
        return ""
    return (
        f'<table id="{table_id}" class="results">\n'
        "<thead><tr><th>notebook</th><th>quantity</th><th>value</th></tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody>\n</table>"
    )


def _csv_value(text: str):
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def csv_table(path: Path, table_id: str) -> str:
    with path.open(newline="") as handle:
        rows = [row for row in csv.reader(handle) if row]
    if not rows:
        return ""
    header, body = rows[0], rows[1:]
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    lines = ["<tr>" + "".join(_cell(_csv_value(c)) for c in row) + "</tr>" for row in body]
    return (
        f'<table id="{table_id}" class="results">\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
        + "\n".join(lines)
        + "\n</tbody>\n</table>"
    )


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(ROOT), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def provenance() -> str:
    """'commit abc123 (uncommitted changes)' or 'an unknown commit' outside a git checkout."""
    commit = _git("rev-parse", "--short=12", "HEAD")
    if not commit:
        return "an unknown commit (not a git checkout)"
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return f"commit <code>{commit}</code>" + (" with uncommitted changes" if dirty else "")


def build_date() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = (
        dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc)
        if epoch
        else dt.datetime.now(dt.timezone.utc)
    )
    return now.strftime("%Y-%m-%d %H:%M UTC")


def render_index(
    pages: list[Page], results_dir: Path, out_dir: Path, source_note: str, notes: list[str]
) -> str:
    readme = quote(Path(os.path.relpath(ROOT / "README.md", out_dir)).as_posix())
    course = []
    for page in pages:
        name = html.escape(_plain_title(page.title))
        title = f'<a href="{page.html_name}">{name}</a>' if page.html_name else name
        badges = []
        if not page.html_name:
            badges.append('<span class="badge missing">not executed</span>')
        if page.status in STATUS_BADGE:
            badges.append(f'<span class="badge error">{STATUS_BADGE[page.status]}</span>')
        if page.parameters.get("QUICK") or (page.results or {}).get("quick"):
            badges.append('<span class="badge quick">QUICK run</span>')
        if page.duration is not None:
            badges.append(f'<span class="badge">ran in {page.duration:.0f} s</span>')
        course.append(
            f'<li id="nb-{html.escape(page.stem)}"><p class="nb-title">{title} '
            f'{" ".join(badges)}</p>\n<p class="goal">{page.goal_html}</p></li>'
        )
    final = results_dir / FINAL_TABLE
    if final.is_file():
        results = (
            f"<p>The final comparison table written by notebook 06 "
            f"(<code>{html.escape(FINAL_TABLE)}</code>); the README quotes it.</p>\n"
            + csv_table(final, "results")
        )
        headlines = headline_table(pages, "headline")
        if headlines:
            results += "\n<h3>Headline numbers of each notebook</h3>\n" + headlines
    else:
        table = headline_table(pages, "results")
        results = (
            "<p>The headline numbers each notebook recorded with <code>record_results</code>"
            " (hover a value for its full precision).</p>\n" + table
            if table
            else '<p class="banner error">No recorded results found: run <code>make run</code>.</p>'
        )
    note_html = "".join(f"<li>{n}</li>" for n in notes)
    body = (
        "<h1>gnnrec — graph neural networks for recommendation</h1>\n"
        '<p class="lead">The course notebooks as executed, with their figures and results. '
        f'Set-up, commands and tests: <a href="{readme}">README</a>.</p>\n'
        f'<p class="built">Built {build_date()} from {provenance()}.</p>\n'
        f'<ul class="notes"><li>{source_note}</li>{note_html}</ul>\n'
        '<h2 id="course-map">Course map</h2>\n'
        f'<ol class="course">\n{chr(10).join(course)}\n</ol>\n'
        '<h2 id="results-heading">Results</h2>\n'
        f"{results}"
    )
    footer = f'gnnrec course report &middot; <a href="{readme}">README</a>'
    return _page_html(
        "gnnrec — course report",
        '<a href="index.html">gnnrec report</a>',
        body,
        footer,
        with_math=True,  # the goal lines carry formulas
    )


# --------------------------------------------------------------------------------------------
# Style
# --------------------------------------------------------------------------------------------

_CSS = """\
:root { --fg: #1d232a; --muted: #5b6570; --line: #d8dde3; --code-bg: #f6f8fa;
        --accent: #1f5fa8; --warn-bg: #fff4d6; --err-bg: #fde8e8; }
* { box-sizing: border-box; }
html { font-size: 16px; }
body { margin: 0; color: var(--fg); background: #fff; line-height: 1.55;
       font-family: "DejaVu Sans", "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
a { color: var(--accent); }
header.site, footer.site { background: #f1f4f7; border-bottom: 1px solid var(--line);
       padding: .5rem 1.25rem; font-size: .95rem; }
footer.site { border-top: 1px solid var(--line); border-bottom: 0; color: var(--muted);
       margin-top: 3rem; }
header.site nav a { margin-right: 1.25rem; text-decoration: none; }
header.site nav a:first-child { font-weight: bold; }
main { max-width: 62rem; margin: 0 auto; padding: 1rem 1.25rem; }
h1 { font-size: 1.8rem; line-height: 1.25; }
h2 { font-size: 1.4rem; margin-top: 2rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.15rem; }
code, pre { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .88rem; }
p code, li code, td code { background: var(--code-bg); padding: 0 .2em; border-radius: 3px; }
.lead { font-size: 1.1rem; }
.built, .notes { color: var(--muted); }
ol.course { padding-left: 0; list-style: none; }
ol.course li { border: 1px solid var(--line); border-radius: 6px; padding: .4rem .9rem;
       margin: .6rem 0; }
.nb-title { font-weight: bold; margin: .2rem 0; }
.goal { margin: .2rem 0 .4rem; }
.badge { display: inline-block; font-size: .75rem; font-weight: normal; color: var(--muted);
       border: 1px solid var(--line); border-radius: 999px; padding: 0 .5em; margin-left: .3em; }
.badge.quick, .banner.quick { background: var(--warn-bg); }
.badge.error, .badge.missing, .banner.error { background: var(--err-bg); }
.banner { padding: .5rem .8rem; border-radius: 6px; border: 1px solid var(--line); }
table { border-collapse: collapse; margin: .8rem 0; font-size: .92rem; }
th, td { border: 1px solid var(--line); padding: .25rem .6rem; text-align: left;
       vertical-align: top; }
thead th { background: #f1f4f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.results th[scope=rowgroup] { background: #fafbfc; }
table.results th small { font-weight: normal; color: var(--muted); }
/* notebook pages (nbconvert's "basic" markup) */
article.notebook .cell { margin: .9rem 0; }
article.notebook .input_area { background: var(--code-bg); border: 1px solid var(--line);
       border-radius: 4px; padding: .1rem .7rem; overflow-x: auto; }
article.notebook .input_area pre { margin: .4rem 0; }
article.notebook .celltag_parameters .input_area,
article.notebook .celltag_injected-parameters .input_area { border-left: 4px solid #e0a800; }
article.notebook .celltag_parameters .input_area::before { content: "parameters";
       font-size: .75rem; color: var(--muted); }
article.notebook .celltag_injected-parameters .input_area::before {
       content: "parameters injected by papermill"; font-size: .75rem; color: var(--muted); }
article.notebook .output_area { padding: .2rem .7rem; overflow-x: auto; }
article.notebook .output_area pre { margin: .2rem 0; white-space: pre-wrap; }
article.notebook .output_stderr { background: #fff6f6; }
article.notebook .output_error { background: var(--err-bg); }
article.notebook .output_area img { max-width: 100%; height: auto; }
article.notebook .rendered_html table { font-size: .85rem; }
article.notebook .text_cell_render img { max-width: 100%; }
article.notebook .anchor-link { visibility: hidden; margin-left: .3em; text-decoration: none; }
article.notebook h1:hover .anchor-link, article.notebook h2:hover .anchor-link,
article.notebook h3:hover .anchor-link, article.notebook h4:hover .anchor-link
       { visibility: visible; }
.MathJax_Display { overflow-x: auto; overflow-y: hidden; }
.ansi-red-fg { color: #b22b31; } .ansi-green-fg { color: #007427; }
.ansi-yellow-fg { color: #b27d12; } .ansi-blue-fg { color: #0065ca; }
.ansi-cyan-fg { color: #0e7f8c; } .ansi-magenta-fg { color: #a03196; }
.ansi-bold { font-weight: bold; }
"""


def stylesheet() -> str:
    from pygments.formatters import HtmlFormatter

    return (
        _CSS
        + "/* code highlighting (pygments) */\n"
        + HtmlFormatter().get_style_defs(".highlight")
        + "\n"
    )


# --------------------------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------------------------


def _load_results(folders: list[Path], stem: str) -> tuple[dict | None, Path | None]:
    """The first ``<folder>/<stem>.json`` that exists (what ``record_results`` wrote)."""
    for folder in folders:
        path = folder / f"{stem}.json"
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ReportError(f"{path} is not valid JSON: {err}") from err
        if isinstance(data, dict):
            return data, path
    return None, None


def _prepare_out(out_dir: Path) -> None:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ReportError(f"{out_dir} exists and is not a folder")
        if any(out_dir.iterdir()) and not (out_dir / MARKER).exists():
            raise ReportError(
                f"{out_dir} is not empty and was not made by this tool: refusing to overwrite it"
            )
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    (out_dir / MARKER).write_text("built by tools/build_report.py; safe to delete\n")


def _display(path: Path) -> str:
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return path.name


def build(
    executed: Path | None, results_dir: Path | None, out_dir: Path, log=print
) -> tuple[Path, list[str]]:
    """Build the report; returns the index path and a list of warnings.

    ``executed=None``: ``outputs/executed``, else the committed notebooks. ``results_dir=None``:
    ``outputs/results`` (``make run``), then ``outputs/`` (notebooks run in JupyterLab or with
    ``--inplace`` record there, as ``OUTPUT_DIR=None`` means ``outputs/``).
    """
    started = time.perf_counter()
    outputs = paths.output_dir(create=False)
    default_executed = outputs / "executed"
    if results_dir is None:
        results_dir, result_folders = outputs / "results", [outputs / "results", outputs]
    else:
        result_folders = [results_dir]
    if executed is None:
        executed = default_executed
        sources = course_notebooks(executed)
        if sources:
            source_note = (
                f"Notebooks executed by <code>make run</code> "
                f"(<code>{html.escape(_display(executed))}</code>)."
            )
        else:
            sources = course_notebooks(NOTEBOOKS)
            source_note = (
                "<code>outputs/executed</code> holds no notebooks, so the committed notebooks "
                "(<code>notebooks/</code>, outputs of the maintainers' full run) are shown; "
                "run <code>make run</code> to show your own run."
            )
            log(f"no executed notebooks in {executed}: using the committed notebooks/ instead")
            executed = NOTEBOOKS
    else:
        sources = course_notebooks(executed)
        source_note = f"Notebooks from <code>{html.escape(_display(executed))}</code>"
        if executed.resolve() == NOTEBOOKS.resolve():
            source_note += " (the committed notebooks: outputs of the maintainers' full run)"
        source_note += "."
    if not sources:
        raise ReportError(f"no executed notebooks (NN_*.ipynb) in {executed}: run `make run` first")

    import nbformat

    by_stem = {p.stem: p for p in sources}
    course = {p.stem: p for p in course_notebooks(NOTEBOOKS)} | by_stem
    out_dir = out_dir.resolve()
    fixer = LinkFixer(out_dir, set(by_stem))
    pages = []
    for stem in sorted(course):
        try:
            nb = nbformat.read(course[stem], as_version=4)
        except Exception as err:  # half-written file, invalid JSON, unknown nbformat
            raise ReportError(f"cannot read {course[stem]}: {type(err).__name__}: {err}") from err
        title, goal = title_and_goal(nb, stem)
        page = Page(stem=stem, title=title, goal_html=goal)
        if stem in by_stem:
            page.source = by_stem[stem]
            page.html_name = f"{stem}.html"
            page.status = run_status(nb)
            meta = nb.metadata.get("papermill", {})
            page.parameters = dict(meta.get("parameters") or {})
            if isinstance(meta.get("duration"), (int, float)):
                page.duration = float(meta["duration"])
        page.results, page.results_file = _load_results(result_folders, stem)
        pages.append(page)

    _prepare_out(out_dir)
    (out_dir / "style.css").write_text(stylesheet())
    copy_mathjax(out_dir)
    exporter = _exporter(fixer)
    for page in pages:
        if page.html_name:
            (out_dir / page.html_name).write_text(render_page(page, pages, exporter, source_note))

    warnings = []
    if fixer.broken:
        warnings.append("links to missing files: " + ", ".join(sorted(set(fixer.broken))))
    notes = []
    if not any(p.results for p in pages):
        notes.append(f"No recorded results in <code>{html.escape(_display(results_dir))}</code>.")
    if not any(folder.is_dir() for folder in result_folders):
        warnings.append(f"results folder {results_dir} does not exist")
    index = out_dir / "index.html"
    index.write_text(render_index(pages, results_dir, out_dir, source_note, notes))
    log(
        f"report: {sum(1 for p in pages if p.html_name)} notebook page(s) from "
        f"{_display(executed)} (formulas typeset in the browser by report/{MATHJAX_DIR}), "
        f"{time.perf_counter() - started:.1f} s -> {index}"
    )
    for warning in warnings:
        log(f"warning: {warning}")
    return index, warnings


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--executed",
        type=Path,
        help="folder with the executed NN_*.ipynb (default: outputs/executed, falling back to "
        "the committed notebooks/ when it holds none)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        help="folder with <notebook>.json and 06_results.csv (default: outputs/results, then "
        "outputs/ for notebooks run in JupyterLab or in place)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "report", help="default: report/")
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        build(args.executed, args.results, args.out)
    except ReportError as err:
        print(f"build_report: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
