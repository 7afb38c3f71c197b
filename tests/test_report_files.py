"""The report folder a run leaves: whole after a kill -9, cleaned of the previous run,
readable in Jenkins under its default CSP; usage errors and odd kernelspecs handled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from jenkins_kernel.cli import main
from jenkins_kernel.engine.executor import _failing_error
from jenkins_kernel.local import run_notebook
from jenkins_kernel.notebook.loader import notebook_kernel_name, parse_notebook
from jenkins_kernel.notebook.runner import is_clean_exit

from browser import JENKINS_CSP, broken_images, chromium, image_count, needs_chromium, screenshot, serve_folder
from conftest import JK, ROOT, make_notebook

FIDELITY = ROOT / "tests" / "notebooks" / "fidelity"


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def test_kill_9_of_the_cli_leaves_executed_ipynb_up_to_the_last_finished_cell(tmp_path):
    nb = make_notebook(tmp_path / "slow.ipynb", ["print('one')", "print('two')", "import time\ntime.sleep(60)"])
    out = tmp_path / "out"
    proc = subprocess.Popen([*JK, "run", str(nb), "-o", str(out)], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    kernels: list[int] = []
    try:
        deadline = time.monotonic() + 60
        saved = None
        while time.monotonic() < deadline:  # cell 2 finished < 0.5 s after cell 1: the trailing save
            kernels = kernels or _children(proc.pid)
            if (out / "executed.ipynb").is_file():
                saved = nbformat.read(out / "executed.ipynb", as_version=4)
                if saved.cells[1].outputs:
                    break
            time.sleep(0.05)
        assert saved is not None and saved.cells[1].outputs, "executed.ipynb never showed cell 2"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        for pid in kernels or []:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proc.poll() is None:
            proc.kill()
    nb_after = nbformat.read(out / "executed.ipynb", as_version=4)
    nbformat.validate(nb_after)
    assert [c.execution_count for c in nb_after.cells] == [1, 2, None]
    assert nb_after.cells[0].outputs[0].text == "one\n" and nb_after.cells[2].outputs == []
    assert nb_after.metadata.jenkins_kernel.status == "running"
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no half-written temporary file


PNG = FIDELITY / "images_and_names.ipynb"


def test_a_reused_report_folder_loses_the_previous_runs_files_and_keeps_the_users(tmp_path):
    out = tmp_path / "out"
    (out / "images").mkdir(parents=True)
    earlier = ["executed.ipynb", "report.html", "images/cell01_1.png", "images/0123456789abcdef.svg"]
    for name in earlier:
        (out / name).write_text("from another notebook's run")
    (out / "summary.json").write_text(json.dumps({"files": [*earlier, "summary.json", "../outside.txt"]}))
    (tmp_path / "outside.txt").write_text("not ours")
    (out / "notes.txt").write_text("mine")
    (out / "images" / "logo.png").write_bytes(b"mine")
    plain = make_notebook(tmp_path / "plain.ipynb", ["print('no images')"])
    assert run_notebook(plain, output_dir=out).exit_code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["files"] == [
        "executed.ipynb",
        "junit.xml",
        "metrics.csv",
        "metrics.json",
        "report.css",
        "report.html",
        "summary.json",
    ]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == sorted(
        [*summary["files"], "notes.txt", "images/logo.png"]
    )
    assert (tmp_path / "outside.txt").read_text() == "not ours"


@needs_chromium
def test_report_html_shows_whole_under_jenkins_csp_in_a_real_browser(tmp_path):
    nb = nbformat.read(PNG, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("raise ValueError('bad input row')", id="fails"))
    nb.cells.append(nbformat.v4.new_code_cell("print('never runs')", id="after"))
    nbformat.write(nb, tmp_path / "report_demo.ipynb")
    out = tmp_path / "out"
    assert run_notebook(tmp_path / "report_demo.ipynb", parameters={}, output_dir=out).exit_code == 1
    with serve_folder(out, {"Content-Security-Policy": JENKINS_CSP}) as url, chromium() as browser:
        page = browser.new_page()
        page.goto(f"{url}/report.html")
        assert image_count(page) == 3 and broken_images(page) == []
        assert browser.problems.csp_violations == [] and browser.problems.console_errors == []
        styled = page.evaluate("getComputedStyle(document.querySelector('section.failure')).borderTopWidth")
        assert styled == "2px"  # report.css applied: the failing cell is highlighted
        assert page.locator(".label-not_run").inner_text() == "not run"
        assert "failed" in page.locator("header").inner_text()
        screenshot(page, "report-html-under-jenkins-csp")


def _usage(*args: str):
    result = CliRunner().invoke(main, list(args))
    lines = [line for line in result.output.splitlines() if line]
    return result.exit_code, lines


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["run", "x.ipynb", "--no-such-option"], "No such option"),
        (["run", "x.ipynb", "-p", "alpha=1"], "-p alpha 1"),
        (["run", "-p", "alpha=1", "x.ipynb"], "-p alpha 1"),
        (["run", "."], "is a directory"),
        (["exec"], "exactly one way"),
        (["no-such-command"], "No such command"),
        (["run", "x.ipynb", "--timeout", "soon"], "not a valid float"),
    ],
)
def test_usage_errors_exit_5_with_one_line_and_a_hint(args, words):
    code, lines = _usage(*args)
    assert code == 5
    assert len(lines) == 2 and lines[0].startswith("[jenkins-kernel] rejected: ") and "hint:" in lines[1]
    assert words in " ".join(lines)


def test_help_and_version_still_exit_0():
    assert _usage("--help")[0] == 0 and _usage("--version")[0] == 0 and _usage("run", "--help")[0] == 0


def _nb(kernelspec):
    metadata = {} if kernelspec is None else {"kernelspec": kernelspec}
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": metadata, "cells": []}


def test_kernelspecs_are_read_the_way_jupyter_reads_them():
    assert notebook_kernel_name(parse_notebook(_nb({"name": "python", "display_name": "Python"}))) == "python3"
    assert notebook_kernel_name(parse_notebook(_nb({"name": "Python3", "display_name": "P"}))) == "python3"
    no_name = parse_notebook(_nb({"display_name": "Python 3", "language": "python"}))  # was rejected, even with -k
    assert "kernelspec" not in no_name.metadata and notebook_kernel_name(no_name) == "python3"
    assert notebook_kernel_name(parse_notebook(_nb({"name": "python3"}))) == "python3"  # display_name filled in
    assert notebook_kernel_name(parse_notebook(_nb(None))) is None
    assert notebook_kernel_name(parse_notebook(_nb({"name": "cobol", "display_name": "C"}))) == "cobol"


def test_the_error_that_failed_a_cell_is_the_replys_not_an_earlier_shown_traceback():
    shown = {"ename": "ZeroDivisionError", "evalue": "division by zero", "traceback": ["tb1"]}
    reply = {"status": "error", "ename": "KeyError", "evalue": "'x'", "traceback": ["tb2"]}
    assert _failing_error(reply, shown)["ename"] == "KeyError"
    assert _failing_error({**reply, "traceback": []}, {**shown, "ename": "KeyError"})["traceback"] == ["tb1"]
    assert _failing_error({"status": "error"}, shown) is shown  # a kernel whose reply names nothing


@pytest.mark.parametrize(("evalue", "clean"), [("", True), ("0", True), ("None", True), ("3", False), ("bye", False)])
def test_system_exit_is_a_clean_stop_only_without_a_code(evalue, clean):
    assert is_clean_exit({"ename": "SystemExit", "evalue": evalue}) is clean
    assert not is_clean_exit({"ename": "ValueError", "evalue": ""})
