"""junit.xml: one testcase per code cell, named so that Jenkins keeps each cell's history.

A test's identity is ``classname`` + ``name``. The classname is the notebook's path relative
to the working directory, as a dotted name (``notebooks/train.ipynb`` -> ``notebooks.train``:
Jenkins shows package ``notebooks``, class ``train``), so two ``train.ipynb`` in different
folders do not collide. The name is :func:`cells.cell_name` (a ``name=...`` tag, the cell's
``metadata.name``, its nbformat id, or a hash of its source): never the cell's position or
first line, which change when a parameter is injected or a line edited.
"""

from __future__ import annotations

import json
import re
import socket
import time
import xml.etree.ElementTree as ET
from pathlib import PurePosixPath
from typing import Any

from nbformat import NotebookNode

from ..console import strip_ansi
from ..engine.results import RunResult
from .cells import cell_name, cell_title
from .files import atomic_write

__all__ = ["junit_classname", "write_junit"]

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_MAX_SYSTEM_OUT = 64 * 1024


def _xml_text(text: str) -> str:
    return _XML_ILLEGAL.sub("", strip_ansi(text))


def junit_classname(path: str) -> str:
    """``notebooks/train.ipynb`` -> ``notebooks.train``; dots inside a part become ``_``."""
    pure = PurePosixPath(path.replace("\\", "/"))
    parts = [p for p in (*pure.parent.parts, pure.stem) if p not in ("", ".", "..", "/")]
    cleaned = [re.sub(r"[^A-Za-z0-9_\-]", "_", p) for p in parts]
    return ".".join(cleaned) or "notebook"


def _cell_stdout(cell: NotebookNode) -> str:
    text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
    return text[:_MAX_SYSTEM_OUT]


def write_junit(nb: NotebookNode, result: RunResult, path: Any, name: str, classpath: str | None = None) -> Any:
    """One testcase per code cell, in the structure Jenkins' JUnit plugin reads.

    A cell that raised is a <failure>; one that timed out, lost its kernel or was
    cancelled is an <error>; skipped and not-run cells are <skipped> (with no output:
    they produced none).
    """
    classname = junit_classname(classpath or name)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    cases = []
    used: dict[str, int] = {}
    for cell in result.cells:
        nb_cell = nb.cells[cell.index] if cell.index < len(nb.cells) else {}
        test = cell_name(nb_cell) if nb_cell else f"cell-{cell.number}"
        used[test] = used.get(test, 0) + 1
        if used[test] > 1:  # the same name twice (copied cells): the later ones get a suffix
            test = f"{test}-{used[test]}"
        case = ET.Element("testcase", classname=classname, name=_xml_text(test), time=f"{cell.duration:.3f}")
        counts["tests"] += 1
        error = cell.error or {}
        header = f"cell {cell.number}: {cell_title(cell.source, 100)}\n"
        if cell.status in ("skipped", "not_run"):
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=cell.note or cell.status.replace("_", " "))
            ET.SubElement(case, "system-out").text = _xml_text(header)  # which cell; it printed nothing
            cases.append(case)
            continue
        if cell.status != "succeeded":
            kind = "failure" if cell.status == "failed" else "error"
            counts["failures" if kind == "failure" else "errors"] += 1
            element = ET.SubElement(
                case,
                kind,
                type=_xml_text(str(error.get("ename", cell.status))),
                message=_xml_text(str(error.get("evalue", cell.status)))[:1000],
            )
            traceback = "\n".join(error.get("traceback") or []) or f"{error.get('ename')}: {error.get('evalue')}"
            hint = f"\n{error['hint']}" if error.get("hint") else ""
            element.text = _xml_text(traceback + hint)
        out = _cell_stdout(nb_cell) if nb_cell else ""
        ET.SubElement(case, "system-out").text = _xml_text(header + out)
        cases.append(case)
    attrs = {k: str(v) for k, v in counts.items()}
    total_time = f"{result.duration:.3f}"
    suites = ET.Element("testsuites", name="jenkins-kernel", time=total_time, **attrs)
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=_xml_text(classname),
        time=total_time,
        timestamp=time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(result.started)),
        hostname=socket.gethostname(),
        **attrs,
    )
    props = ET.SubElement(suite, "properties")
    for key, value in _properties(result, name).items():
        ET.SubElement(props, "property", name=key, value=_xml_text(value))
    suite.extend(cases)
    ET.indent(suites)
    return atomic_write(
        path, '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


def _properties(result: RunResult, name: str) -> dict[str, str]:
    props = {"notebook": name, "status": result.status.value, "exit_code": str(result.exit_code)}
    if result.kernel:
        props["kernel"] = result.kernel.name
        props["language"] = f"{result.kernel.language} {result.kernel.language_version}".strip()
    for key, value in result.parameters.items():
        props[f"parameter.{key}"] = json.dumps(value) if not isinstance(value, str) else value
    for key, number in result.metrics.items():
        props[f"metric.{key}"] = repr(number)
    return props
