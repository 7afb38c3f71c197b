"""The files a run writes are faithful, valid and the same in embedded and service mode.

Each notebook in tests/notebooks/fidelity/ reproduces one way the reports went wrong
(issue 8); it runs here in-process (embedded, as `jenkins-kernel run`) and on a real
service (as `jenkins-kernel run --server`), and the two executed notebooks must agree.
"""

from __future__ import annotations

import concurrent.futures
import html.parser
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import nbformat
import pytest

from jenkins_kernel.client import Client
from jenkins_kernel.exceptions import JenkinsKernelError
from jenkins_kernel.local import run_notebook
from jenkins_kernel.remote import run_notebook_remote

from conftest import ROOT
from service import TOKEN, ServiceProcess

FOLDER = ROOT / "tests" / "notebooks" / "fidelity"
NAMES = sorted(p.stem for p in FOLDER.glob("*.ipynb"))
TIMING_FIELDS = {"iopub.status.busy", "iopub.execute_input", "shell.execute_reply", "iopub.status.idle"}


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    service = ServiceProcess(tmp_path_factory.mktemp("fidelity-svc"), "--warm", "python3=2").start()
    yield service
    service.stop()


def _expect(name: str) -> dict[str, Any]:
    return nbformat.read(FOLDER / f"{name}.ipynb", as_version=4).metadata["fidelity"]


def run_both(name: str, svc: ServiceProcess, out: Path) -> dict[str, Any]:
    """Run the notebook both ways at once (embedded in a thread); each mode's exit code,
    message and output folder."""
    expect = _expect(name)
    args = {"parameters": expect.get("parameters", {}), **expect.get("options", {})}
    path = (FOLDER / f"{name}.ipynb").relative_to(ROOT)

    def run(mode: str) -> dict[str, Any]:
        folder = out / mode
        try:
            if mode == "embedded":
                code = run_notebook(path, output_dir=folder, **args).exit_code
            else:
                client = Client(svc.url, TOKEN, retry_for=0)
                code = run_notebook_remote(client, path, output_dir=folder, **args)["exit_code"]
            return {"exit_code": code, "message": "", "out": folder}
        except JenkinsKernelError as exc:
            return {"exit_code": exc.exit_code, "message": exc.message, "out": folder}

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        embedded = pool.submit(run, "embedded")
        service = run("service")
        return {"embedded": embedded.result(timeout=120), "service": service}


def _normalized(nb: nbformat.NotebookNode) -> dict[str, Any]:
    """The executed notebook minus what differs between any two runs (times, durations)."""
    data = json.loads(json.dumps(nb))
    meta = data["metadata"].get("jenkins_kernel", {})
    meta.pop("duration", None)
    for cell in data["cells"]:
        cell_meta = cell.get("metadata", {})
        if "execution" in cell_meta:
            cell_meta["execution"] = sorted(cell_meta["execution"])
        cell_meta.get("jenkins_kernel", {}).pop("duration", None)
        if cell_meta.get("jenkins_kernel", {}).get("status") == "timed_out":
            # where the interrupt lands decides how ipykernel shows it (a KeyboardInterrupt
            # traceback, or a line on stderr): the kernel's own output, not ours
            cell["outputs"] = "KeyboardInterrupt" in json.dumps(cell["outputs"])
    return data


def _read(folder: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(folder / "executed.ipynb", as_version=4)
    nbformat.validate(nb)
    return nb


@pytest.mark.parametrize("name", NAMES)
def test_each_fidelity_notebook_ends_as_expected_and_both_modes_agree(name, svc, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    modes = run_both(name, svc, tmp_path)
    expect = _expect(name)
    embedded, service = modes["embedded"], modes["service"]
    assert embedded["exit_code"] == service["exit_code"] == expect["exit_code"], modes
    if expect["exit_code"] == 5:
        assert embedded["message"] == service["message"]
        CHECKS[name](embedded, None)
        return
    nb = _read(embedded["out"])
    assert _normalized(nb) == _normalized(_read(service["out"]))
    summaries = [json.loads((m["out"] / "summary.json").read_text()) for m in (embedded, service)]
    assert summaries[0]["files"] == summaries[1]["files"]
    for summary, mode in zip(summaries, (embedded, service)):
        assert (
            sorted(p.relative_to(mode["out"]).as_posix() for p in mode["out"].rglob("*") if p.is_file())
            == (summary["files"])
        )
    assert "widgets" not in nb.metadata
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.execution_count is not None:
            assert set(cell.metadata.execution) == TIMING_FIELDS
    CHECKS[name](embedded, nb)


# -- what each notebook shows --------------------------------------------------------------


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


def _junit(mode) -> list[ET.Element]:
    return list(ET.parse(mode["out"] / "junit.xml").getroot().iter("testcase"))


def _summary(mode) -> dict[str, Any]:
    return json.loads((mode["out"] / "summary.json").read_text())


def check_minor4_parameters(mode, nb):
    assert nb.nbformat_minor == 4 and all("id" not in c for c in nb.cells)
    assert nb.metadata.papermill.parameters == {"msg": "hello", "epochs": 3, "epoch": 7}
    assert _stdout(_code(nb)[2]) == "hello 3 7\n"
    assert "'epoch' (did you mean 'epochs'?) not declared" in _summary(mode)["warnings"][0]
    assert [c.get("name") for c in _junit(mode)][1] == "injected-parameters"
    again = run_notebook(mode["out"] / "executed.ipynb", output_dir=mode["out"].parent / "again")
    assert again.exit_code == 0
    rerun = _read(mode["out"].parent / "again")
    assert [c.metadata.get("tags") for c in rerun.cells].count(["injected-parameters"]) == 1
    assert _stdout(_code(rerun)[2]) == "hello 3 7\n"  # the last run's injected cell stays, as in papermill


def check_unknown_parameter(mode, nb):
    assert "'epoch' (did you mean 'epochs'?)" in mode["message"] and "declares epochs" in mode["message"]
    assert not (mode["out"] / "executed.ipynb").exists()


def check_stale_outputs(mode, nb):
    """The input is an executed notebook (an old banner, papermill's markers, stale outputs)."""
    tags = [tuple(c.metadata.get("tags", [])) for c in nb.cells]
    assert tags.count(("jenkins-kernel-failure",)) == 1
    assert not any("papermill-error-cell-tag" in t for t in tags)
    code = _code(nb)
    assert _stdout(code[0]) == "first\n" and code[0].execution_count == 1
    assert [(c.outputs, c.execution_count) for c in code[2:]] == [([], None), ([], None)]
    outputs = code[1].outputs  # the kernel's own error only, no StdinNotAvailable beside it
    assert [o.output_type for o in outputs] == ["error"] and outputs[0].ename == "StdinNotImplementedError"
    assert "StdinNotAvailable" not in json.dumps(nb)
    report = (mode["out"] / "report.html").read_text()
    assert "stale output" not in report and "old\n" not in report
    assert report.count('class="label label-not_run">not run<') == 2
    assert 'class="cell code state-failed failure"' in report
    cases = _junit(mode)
    assert [c.find("skipped") is not None for c in cases] == [False, False, True, True]
    assert all("stale output" not in ET.tostring(c, encoding="unicode") for c in cases)
    assert "pass the value as a parameter" in cases[1].find("failure").text  # our hint: junit.xml, not the cell


def check_reply_decides(mode, nb):
    code = _code(nb)
    assert [o.output_type for o in code[0].outputs] == ["error", "stream"] and _stdout(code[0]) == "went on\n"
    assert _stdout(code[2]) == "third cell ran\n"
    assert all(c.metadata.jenkins_kernel.status == "succeeded" for c in code[:4])
    assert code[4].outputs == [] and code[4].execution_count is None
    cells = _summary(mode)["cells"]
    assert cells[3]["status"] == "succeeded" and "SystemExit" in cells[3]["note"]
    assert cells[4]["status"] == "not_run"
    assert not any(c.metadata.get("tags") == ["jenkins-kernel-failure"] for c in nb.cells)


def check_timeout_allow_errors(mode, nb):
    code = _code(nb)
    assert _stdout(code[1]) == "ran after the timeout\n" and _stdout(code[3]) == "allow_errors goes on\n"
    assert all(o.get("ename") != "CellTimeoutError" for o in code[0].outputs)
    cases = _junit(mode)
    assert cases[0].find("error").get("type") == "CellTimeoutError"
    assert cases[2].find("failure").get("type") == "SystemExit"


def check_no_kernelspec(mode, nb):
    assert nb.metadata.kernelspec.name == "python3"
    assert "names no kernel" in _summary(mode)["warnings"][0]


class _Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.seen.append((tag, dict(attrs)))


def check_images_and_names(mode, nb):
    out = mode["out"]
    parser = _Tags()
    parser.feed((out / "report.html").read_text())
    assert not [t for t, _ in parser.seen if t in ("script", "style", "iframe", "object")]
    assert not [a for _, a in parser.seen if "style" in a or any(k.startswith("on") for k in a)]
    links = [a.get("href") or "" for t, a in parser.seen if t == "link"]
    assert links == ["report.css"]
    sources = [a["src"] for t, a in parser.seen if t == "img"]
    assert len(sources) == 3 and all((out / s).is_file() for s in sources)  # png, svg, markdown attachment
    files = _summary(mode)["files"]
    assert set(files) >= {"report.css", "report.html", "executed.ipynb", "junit.xml", "summary.json", *sources}
    assert [c.get("name") for c in _junit(mode)] == ["plots", "summary", "c02"]
    assert {c.get("classname") for c in _junit(mode)} == {"tests.notebooks.fidelity.images_and_names"}


CHECKS = {name[len("check_") :]: f for name, f in dict(globals()).items() if name.startswith("check_")}


def test_every_fidelity_notebook_has_a_check():
    assert set(CHECKS) == set(NAMES)
