"""`jenkins-kernel run`: whole notebooks, their reports, tags, timeouts and bad input."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET

from conftest import ROOT, jk, make_notebook, read_notebook, stream_text


def _junit_cases(path):
    root = ET.parse(path).getroot()
    return root, {_cell_label(case): case for case in root.iter("testcase")}


def _cell_label(case):
    """``cell 03``: from the first line of system-out (test names are stable ids, not positions)."""
    number = case.find("system-out").text.split(":")[0].split()[1]
    return f"cell {int(number):02d}"


def test_failure_at_cell_3_of_5_stops_the_run_and_writes_every_report(tmp_path):
    nb = make_notebook(
        tmp_path / "five.ipynb",
        ["print('one')", "print('two')", "raise ValueError('bad input row')", "print('four')", "print('five')"],
    )
    proc = jk("run", str(nb), cwd=tmp_path)
    assert proc.returncode == 1
    assert "four" not in proc.stdout and "five" not in proc.stdout
    assert "[cell 3/5]" in proc.stderr and "[cell 4/5]" not in proc.stderr
    assert "failed" in proc.stderr.splitlines()[-2] and "cell 3/5: ValueError: bad input row" in proc.stderr
    out = tmp_path / "reports" / "five"
    assert {p.name for p in out.iterdir()} >= {"executed.ipynb", "junit.xml", "report.html", "summary.json"}

    executed = read_notebook(out / "executed.ipynb")
    marker = [c for c in executed.cells if "jenkins-kernel-failure" in c.metadata.get("tags", [])]
    assert len(marker) == 1 and "ValueError" in marker[0].source
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == [1, 2, 3, None, None]
    assert code[2].outputs[-1].ename == "ValueError"
    assert code[0].metadata.jenkins_kernel["status"] == "succeeded"
    assert "shell.execute_reply" in code[0].metadata.execution

    root, cases = _junit_cases(out / "junit.xml")
    assert root.tag == "testsuites" and root.get("tests") == "5" and root.get("failures") == "1"
    failure = cases["cell 03"].find("failure")
    assert failure.get("type") == "ValueError" and failure.get("message") == "bad input row"
    assert "Traceback" in failure.text and "\x1b" not in failure.text
    assert cases["cell 04"].find("skipped") is not None
    assert float(cases["cell 01"].get("time")) >= 0

    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["exit_code"] == 1
    assert [c["status"] for c in summary["cells"]] == ["succeeded", "succeeded", "failed", "not_run", "not_run"]
    assert summary["kernel"]["language"] == "python" and summary["kernel"]["language_version"]
    assert "ValueError" in (out / "report.html").read_text()


def test_skip_execution_and_raises_exception_tags(tmp_path):
    nb = make_notebook(
        tmp_path / "tags.ipynb",
        [
            ("print('skipped')", ["skip-execution"]),
            ("raise KeyError('expected')", ["raises-exception"]),
            "print('still runs')",
        ],
    )
    proc = jk("run", str(nb), "-o", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "still runs\n"
    assert "skipped (tagged skip-execution)" in proc.stderr
    assert "raised KeyError as expected" in proc.stderr
    _, cases = _junit_cases(tmp_path / "out" / "junit.xml")
    assert cases["cell 01"].find("skipped") is not None
    assert cases["cell 02"].find("failure") is None


def test_allow_errors_runs_every_cell_and_still_exits_1(tmp_path):
    nb = make_notebook(tmp_path / "errs.ipynb", ["1/0", "print('after')", "undefined_name"])
    proc = jk("run", str(nb), "--allow-errors", "-o", "out", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout == "after\n"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [c["status"] for c in summary["cells"]] == ["failed", "succeeded", "failed"]


def test_cell_timeout_ends_the_run_timed_out_with_reports(tmp_path):
    nb = make_notebook(tmp_path / "slow.ipynb", ["print('quick')", "import time; time.sleep(600)", "print('never')"])
    started = time.monotonic()
    proc = jk("run", str(nb), "--cell-timeout", "1", "-o", "out", cwd=tmp_path)
    assert proc.returncode == 2
    assert time.monotonic() - started < 15
    assert "the cell timeout of 1 s passed" in proc.stderr
    _, cases = _junit_cases(tmp_path / "out" / "junit.xml")
    assert cases["cell 02"].find("error").get("type") == "CellTimeoutError"
    assert cases["cell 03"].find("skipped") is not None


def test_run_timeout_covers_the_whole_notebook(tmp_path):
    cells = ["import time; time.sleep(0.8)"] * 5
    nb = make_notebook(tmp_path / "many.ipynb", cells)
    proc = jk("run", str(nb), "--timeout", "2", "--cell-timeout", "10", "-o", "out", cwd=tmp_path)
    assert proc.returncode == 2
    assert "the run timeout of 2 s passed" in proc.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [c["status"] for c in summary["cells"]][:3] == ["succeeded", "succeeded", "timed_out"]


def test_dead_kernel_in_a_notebook_exits_3(tmp_path):
    nb = make_notebook(tmp_path / "die.ipynb", ["print('alive')", "import os; os._exit(3)", "print('never')"])
    proc = jk("run", str(nb), "-o", "out", cwd=tmp_path)
    assert proc.returncode == 3
    assert "kernel exited with code 3" in proc.stderr
    assert (tmp_path / "out" / "executed.ipynb").exists()


def test_kernel_comes_from_the_notebook_unless_given_and_cwd_is_its_folder(tmp_path):
    (tmp_path / "nbs").mkdir()
    (tmp_path / "nbs" / "data.txt").write_text("42")
    nb = make_notebook(tmp_path / "nbs" / "read.ipynb", ["print(open('data.txt').read())"])
    proc = jk("run", str(nb), "-o", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "42\n"
    assert "on the python3 kernel" in proc.stderr


def test_images_are_saved_as_files_named_by_cell(tmp_path):
    svg = "<svg xmlns='http://www.w3.org/2000/svg' width='4' height='4'></svg>"
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    nb = make_notebook(
        tmp_path / "pics.ipynb",
        [
            "print('no image here')",
            f"from IPython.display import SVG, Image, display\ndisplay(SVG({svg!r}))\n"
            f"import base64\ndisplay(Image(data=base64.b64decode({png!r})))",
        ],
    )
    proc = jk("run", str(nb), "-o", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    images = sorted(p.name for p in (tmp_path / "out" / "images").iterdir())
    assert len(images) == 2 and all(name.startswith("cell02_") for name in images)
    assert {name.rsplit(".", 1)[1] for name in images} == {"svg", "png"}
    for name in images:
        assert f"images/{name}" in proc.stderr  # the console names the file
    (png_file,) = (tmp_path / "out" / "images").glob("*.png")
    assert png_file.read_bytes().startswith(b"\x89PNG")


def test_unknown_kernel_bad_json_and_missing_file_exit_5_saying_what_to_fix(tmp_path):
    nb = make_notebook(tmp_path / "k.ipynb", ["1"], kernel="fortran77")
    proc = jk("run", str(nb), cwd=tmp_path)
    assert proc.returncode == 5 and "no kernel named 'fortran77'" in proc.stderr and "-k" in proc.stderr

    (tmp_path / "bad.ipynb").write_text('{"cells": [}')
    proc = jk("run", "bad.ipynb", cwd=tmp_path)
    assert proc.returncode == 5 and "not valid JSON" in proc.stderr and "line 1 column 12" in proc.stderr

    (tmp_path / "invalid.ipynb").write_text(
        json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}]})
    )
    proc = jk("run", "invalid.ipynb", cwd=tmp_path)
    assert proc.returncode == 5 and "not a valid notebook" in proc.stderr

    proc = jk("run", "nowhere.ipynb", cwd=tmp_path)
    assert proc.returncode == 5 and "notebook not found: nowhere.ipynb" in proc.stderr
    assert not (tmp_path / "reports").exists()


def test_the_example_notebooks_behave_as_documented(tmp_path):
    proc = jk("run", str(ROOT / "examples" / "train.ipynb"), "-p", "epochs", "150", "-o", "train", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "test_rmse" in proc.stdout
    assert list((tmp_path / "train" / "images").glob("*.svg"))
    assert jk("run", str(ROOT / "examples" / "failing.ipynb"), "-o", "f", cwd=tmp_path).returncode == 1
    executed = read_notebook(tmp_path / "train" / "executed.ipynb")
    assert "epoch  150" in stream_text(executed.cells[4])


def test_a_run_leaves_the_users_ipython_history_alone(tmp_path):
    """CI runs must not write the user's history.sqlite: twenty kernels sharing it wait on
    its lock, and each write costs a short cell a quarter of its time."""
    ipython_dir = tmp_path / "ipython"
    nb = make_notebook(tmp_path / "history.ipynb", ["x = 1", "print(get_ipython().history_manager.hist_file)"])
    proc = jk("run", str(nb), cwd=tmp_path, env={"IPYTHONDIR": str(ipython_dir)})
    assert proc.returncode == 0, proc.stderr
    assert ":memory:" in proc.stdout
    assert not list(ipython_dir.rglob("history.sqlite"))


def test_a_bad_notebook_stops_the_kernel_started_ahead_of_it(tmp_path):
    """The named kernel boots while the notebook is read: when reading fails (a bad
    notebook, an unknown parameter) that kernel is stopped and its files removed."""
    scratch = tmp_path / "tmp"  # the kernel's connection file and log go to TMPDIR
    scratch.mkdir()
    bad = {"nbformat": 4, "nbformat_minor": 5, "cells": "not a list",
           "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}}}  # fmt: skip
    (tmp_path / "bad.ipynb").write_text(json.dumps(bad))
    good = make_notebook(tmp_path / "good.ipynb", [("alpha = 1", ["parameters"]), "print(alpha)"])
    for args in (["bad.ipynb"], [good.name, "-p", "beta", "2"], [good.name, "-p", "alpha", "2"]):
        proc = jk("run", *args, cwd=tmp_path, env={"TMPDIR": str(scratch)})
        assert proc.returncode == (0 if "alpha" in args else 5), proc.stderr
        assert "Traceback" not in proc.stderr
        assert not list(scratch.iterdir()), f"{args}: the kernel started ahead left {list(scratch.iterdir())}"
