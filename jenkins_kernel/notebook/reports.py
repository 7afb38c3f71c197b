"""The reports of a notebook run: executed.ipynb, junit.xml, report.html, summary.json.

Written for every outcome, failures included: a partial result is what a failed build's
reader needs most. Every file is written to a temporary name and renamed, so a report is
either whole or absent.
"""

from __future__ import annotations

import copy
import json
import os
import re
import socket
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from ..console import strip_ansi
from ..engine.results import CellResult, RunResult
from ..lineage.metrics import metrics_csv
from .cells import cell_title

__all__ = [
    "REPORT_FILES",
    "mark_failed_cell",
    "prepare_html_exporter",
    "write_executed_notebook",
    "write_html",
    "write_html_report",
    "write_junit",
    "write_metrics",
    "write_reports",
    "write_summary",
]

REPORT_FILES = ("executed.ipynb", "junit.xml", "report.html", "summary.json", "metrics.json", "metrics.csv")
FAILURE_TAG = "jenkins-kernel-failure"
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_MAX_SYSTEM_OUT = 64 * 1024
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def write_reports(nb: NotebookNode, result: RunResult, output_dir: Path, name: str, *, html: bool = True) -> list[Path]:
    """Every report for ``nb`` into ``output_dir``; returns the paths written.

    With ``html=False`` report.html is left to :func:`write_html_report`, for a caller
    that renders it later (the service renders it after the run has ended).
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    marked = mark_failed_cell(nb, result)
    paths = [
        write_executed_notebook(marked, output_dir / "executed.ipynb"),
        write_junit(nb, result, output_dir / "junit.xml", name),
    ]
    if html:
        paths.append(write_html(marked, output_dir / "report.html"))
    paths += write_metrics(result, output_dir)
    files = [p.name for p in paths] + ([] if html else ["report.html"])
    paths.append(write_summary(result, output_dir / "summary.json", name, files))
    return paths


def write_html_report(nb: NotebookNode, result: RunResult, output_dir: Path) -> Path:
    return write_html(mark_failed_cell(nb, result), output_dir / "report.html")


def _atomic_write(path: Path, data: str) -> Path:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; reports are for everyone
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _failed_cell(result: RunResult) -> CellResult | None:
    return next((c for c in result.cells if c.error and not c.expected_error), None)


def mark_failed_cell(nb: NotebookNode, result: RunResult) -> NotebookNode:
    """A copy of ``nb`` with a markdown banner just before the cell that ended the run."""
    failed = _failed_cell(result)
    if failed is None:
        return nb
    nb = copy.copy(nb)
    nb.cells = list(nb.cells)
    error = failed.error or {}
    banner = nbformat.v4.new_markdown_cell(
        source=(
            f'<span style="color:#b00">**jenkins-kernel: the run {result.status.value} at cell '
            f"{failed.number}** (below): `{error.get('ename')}: {error.get('evalue')}`</span>"
        ),
        metadata={"tags": [FAILURE_TAG]},
    )
    nb.cells.insert(failed.index, banner)
    return nb


def write_executed_notebook(nb: NotebookNode, path: Path) -> Path:
    return _atomic_write(path, nbformat.writes(nb, version=4))


# -- JUnit -------------------------------------------------------------------------------


def _xml_text(text: str) -> str:
    return _XML_ILLEGAL.sub("", strip_ansi(text))


def _cell_stdout(nb: NotebookNode, index: int) -> str:
    cell = nb.cells[index]
    text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
    return text[:_MAX_SYSTEM_OUT]


def write_junit(nb: NotebookNode, result: RunResult, path: Path, name: str) -> Path:
    """One testcase per code cell, in the structure Jenkins' JUnit plugin reads.

    A cell that raised is a <failure>; one that timed out, lost its kernel or was
    cancelled is an <error>; skipped and not-run cells are <skipped>.
    """
    classname = re.sub(r"[^A-Za-z0-9_]", "_", Path(name).stem) or "notebook"
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    cases = []
    for cell in result.cells:
        case = ET.Element(
            "testcase",
            classname=classname,
            name=f"cell {cell.number:02d}: {_xml_text(cell_title(cell.source, 60))}",
            time=f"{cell.duration:.3f}",
        )
        counts["tests"] += 1
        error = cell.error or {}
        if cell.status in ("skipped", "not_run"):
            counts["skipped"] += 1
            reason = "tagged skip-execution" if cell.status == "skipped" else "not run: an earlier cell ended the run"
            ET.SubElement(case, "skipped", message=reason)
        elif cell.status != "succeeded":
            kind = "failure" if cell.status == "failed" else "error"
            counts["failures" if kind == "failure" else "errors"] += 1
            element = ET.SubElement(
                case,
                kind,
                type=_xml_text(str(error.get("ename", cell.status))),
                message=_xml_text(str(error.get("evalue", cell.status)))[:1000],
            )
            traceback = "\n".join(error.get("traceback") or []) or f"{error.get('ename')}: {error.get('evalue')}"
            element.text = _xml_text(traceback)
        out = _cell_stdout(nb, cell.index) if cell.index < len(nb.cells) else ""
        if out:
            ET.SubElement(case, "system-out").text = _xml_text(out)
        cases.append(case)
    attrs = {k: str(v) for k, v in counts.items()}
    total_time = f"{result.duration:.3f}"
    suites = ET.Element("testsuites", name="jenkins-kernel", time=total_time, **attrs)
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=_xml_text(name),
        time=total_time,
        timestamp=time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(result.started)),
        hostname=socket.gethostname(),
        **attrs,
    )
    props = ET.SubElement(suite, "properties")
    for key, value in _properties(result).items():
        ET.SubElement(props, "property", name=key, value=_xml_text(value))
    suite.extend(cases)
    ET.indent(suites)
    return _atomic_write(
        path, '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


def _properties(result: RunResult) -> dict[str, str]:
    props = {"status": result.status.value, "exit_code": str(result.exit_code)}
    if result.kernel:
        props["kernel"] = result.kernel.name
        props["language"] = f"{result.kernel.language} {result.kernel.language_version}".strip()
    for key, value in result.parameters.items():
        props[f"parameter.{key}"] = json.dumps(value) if not isinstance(value, str) else value
    for key, number in result.metrics.items():
        props[f"metric.{key}"] = repr(number)
    return props


# -- HTML --------------------------------------------------------------------------------

_exporter: Any = None
_exporter_lock = threading.Lock()


def _fast_html_exporter() -> Any:
    """nbconvert's HTMLExporter without its BeautifulSoup pass.

    That pass only adds alt text and tabindex attributes, and compiling its CSS selectors
    costs about 0.45 s of CPU in every new process, as much as the whole rest of the
    export: a CLI run would spend more time on it than on a short notebook. The body of
    ``from_notebook_node`` is nbconvert 7's, minus the pass.
    """
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class FastHTMLExporter(HTMLExporter):  # type: ignore[misc]
        def from_notebook_node(self, nb: NotebookNode, resources: Any = None, **kw: Any) -> Any:
            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            highlight = self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self))
            resources = self._init_resources(resources)
            data_types = WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata, parent=self, resources=resources)
            self.register_filter("highlight_code", highlight)
            self.register_filter("filter_data_type", data_types)
            return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

    return FastHTMLExporter()


def _build_exporter() -> Any:
    global _exporter
    with _exporter_lock:
        if _exporter is None:
            exporter = _fast_html_exporter()
            warm = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
            exporter.from_notebook_node(warm)  # compiles templates and regexes once
            _exporter = exporter
    return _exporter


def prepare_html_exporter() -> threading.Thread:
    """Import nbconvert and compile its templates in the background (about a second of
    work that would otherwise come after the last cell)."""
    thread = threading.Thread(target=_build_exporter, name="jk-html-warmup", daemon=True)
    thread.start()
    return thread


def write_html(nb: NotebookNode, path: Path) -> Path:
    exporter = _build_exporter()
    with _exporter_lock:
        body, _ = exporter.from_notebook_node(nb)
    return _atomic_write(path, body)


# -- summary -----------------------------------------------------------------------------


def write_metrics(result: RunResult, output_dir: Path) -> list[Path]:
    """metrics.json (name to number) and metrics.csv (the Jenkins Plot plugin's shape)."""
    return [
        _atomic_write(output_dir / "metrics.json", json.dumps(result.metrics, indent=2, sort_keys=True) + "\n"),
        _atomic_write(output_dir / "metrics.csv", metrics_csv(result.metrics)),
    ]


def write_summary(result: RunResult, path: Path, name: str, files: list[str]) -> Path:
    summary: dict[str, Any] = {"notebook": name, **result.to_dict(), "files": [*files, path.name]}
    summary["environment_sha256"] = (result.lineage.get("environment") or {}).get("sha256")
    return _atomic_write(path, json.dumps(summary, indent=2, default=str) + "\n")
