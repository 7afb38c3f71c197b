"""Every supported language, end to end: exit codes 0, 1, 2 and 3 and each language's own
error text. Skipped only where a kernel is truly absent; CI installs them all."""

from __future__ import annotations

import time

import pytest

from conftest import jk, needs_kernel

LANGUAGES = {
    "python3": {
        "ok": ("print(6 * 7)", "42"),
        "error": ("raise ValueError('boom')", "ValueError: boom"),
        "hang": "import time; time.sleep(600)",
        "die": "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
    },
    "ir": {
        "ok": ("cat(6 * 7, '\\n')", "42"),
        "error": ("stop('boom')", "Error in eval(expr, envir, enclos): boom"),
        "hang": "Sys.sleep(600)",
        "die": "tools::pskill(Sys.getpid(), tools::SIGKILL)",
    },
    "javascript": {
        "ok": ("console.log(6 * 7)", "42"),
        "error": ("throw new Error('boom')", "Error: boom"),
        "hang": "while (true) {}",
        "die": "process.kill(process.ppid, 'SIGKILL')",  # the kernel (its code runs in a child)
    },
    "bash": {
        "ok": ("echo $((6 * 7))", "42"),
        "error": ("ls /nonexistent-folder", "No such file or directory"),
        "hang": "sleep 600",
        "die": "kill -9 $PPID",  # the kernel (bash runs as its child)
    },
}


def _cases():
    for kernel in LANGUAGES:
        for case in ("ok", "error", "hang", "die"):
            yield pytest.param(kernel, case, marks=needs_kernel(kernel), id=f"{kernel}-{case}")


@pytest.mark.parametrize(("kernel", "case"), list(_cases()))
def test_each_language_exits_0_1_2_3(tmp_path, kernel, case):
    spec = LANGUAGES[kernel][case]
    code = spec[0] if isinstance(spec, tuple) else spec
    started = time.monotonic()
    proc = jk("exec", "-k", kernel, "-c", code, "--timeout", "2", cwd=tmp_path, timeout=60)
    expected = {"ok": 0, "error": 1, "hang": 2, "die": 3}[case]
    assert proc.returncode == expected, proc.stdout + proc.stderr
    if case == "ok":
        assert proc.stdout.strip() == spec[1]
    if case == "error":
        assert spec[1] in proc.stdout + proc.stderr  # bash_kernel sends a command's stderr as stdout
        assert "failed" in proc.stderr.splitlines()[-1]
    if case == "hang":
        assert time.monotonic() - started < 15
        assert "the run timeout of 2 s passed" in proc.stderr
    if case == "die":
        assert f"the {kernel} kernel was killed by SIGKILL" in proc.stderr


@needs_kernel("ir")
def test_r_readline_is_refused_rather_than_hanging(tmp_path):
    started = time.monotonic()
    proc = jk("exec", "-k", "ir", "-c", "x <- readline('name? ')", cwd=tmp_path, timeout=60)
    assert proc.returncode == 1
    assert "stdin is not available" in proc.stderr
    assert time.monotonic() - started < 15


def test_kernels_lists_name_language_and_version(tmp_path):
    proc = jk("kernels", cwd=tmp_path, timeout=60)
    assert proc.returncode == 0
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines()}
    assert rows["python3"][1] == "python" and rows["python3"][2][0].isdigit()
    for name in set(rows) & {"ir", "javascript"}:
        assert rows[name][2][0].isdigit(), rows[name]
