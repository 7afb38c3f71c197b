"""`jenkins-kernel exec`: one cell, an honest exit code for every way it can end."""

from __future__ import annotations

import time

from conftest import ASKS_AND_IGNORES_INTERRUPTS, jk


def test_exec_prints_output_and_exits_0(tmp_path):
    proc = jk("exec", "-c", "print(1)", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "1\n"
    assert "succeeded" in proc.stderr


def test_cell_error_shows_traceback_and_exits_1(tmp_path):
    proc = jk("exec", "-c", "1/0", cwd=tmp_path)
    assert proc.returncode == 1
    assert "ZeroDivisionError" in proc.stderr
    assert "Traceback" in proc.stderr
    assert "\x1b[" not in proc.stderr  # no colour codes in a build log


def test_timeout_interrupts_and_exits_2_quickly(tmp_path):
    started = time.monotonic()
    proc = jk("exec", "-c", "import time; time.sleep(600)", "--timeout", "2", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert time.monotonic() - started < 10
    assert "timeout of 2 s" in proc.stderr


def test_kernel_that_dies_exits_3_naming_the_death(tmp_path):
    proc = jk("exec", "-c", "import os; os._exit(9)", cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "kernel exited with code 9" in proc.stderr
    assert "kernel_died" in proc.stderr


def test_kernel_killed_by_signal_names_the_signal(tmp_path):
    proc = jk("exec", "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)", cwd=tmp_path)
    assert proc.returncode == 3
    assert "SIGKILL" in proc.stderr


def test_input_fails_fast_saying_stdin_is_not_available(tmp_path):
    started = time.monotonic()
    proc = jk("exec", "-c", "name = input('name? ')", cwd=tmp_path)
    assert proc.returncode == 1
    assert time.monotonic() - started < 10
    assert "stdin is not available" in proc.stderr


def test_a_kernel_that_asks_for_input_and_ignores_the_interrupt_is_stopped(tmp_path):
    started = time.monotonic()
    proc = jk("exec", "-c", ASKS_AND_IGNORES_INTERRUPTS, cwd=tmp_path, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "stdin is not available" in proc.stderr
    assert "did not stop when interrupted, so it was killed" in proc.stderr
    assert time.monotonic() - started < 20


def test_code_from_file_and_from_stdin(tmp_path):
    (tmp_path / "cell.py").write_text("print('from a file')\n")
    assert jk("exec", "-f", "cell.py", cwd=tmp_path).stdout == "from a file\n"
    assert jk("exec", "-", cwd=tmp_path, input="print('from stdin')").stdout == "from stdin\n"


def test_exec_needs_exactly_one_source_of_code(tmp_path):
    (tmp_path / "x.py").write_text("1")
    proc = jk("exec", "-c", "1", "-f", "x.py", cwd=tmp_path)
    assert proc.returncode == 5  # a usage error is a rejected request (click alone says 2: timed_out here)
    assert "exactly one way" in proc.stderr


def test_unknown_kernel_exits_5_listing_the_installed_ones(tmp_path):
    proc = jk("exec", "-k", "cobol", "-c", "1", cwd=tmp_path)
    assert proc.returncode == 5
    assert "no kernel named 'cobol'" in proc.stderr
    assert "python3" in proc.stderr


def test_json_mode_prints_one_event_per_line(tmp_path):
    import json

    proc = jk("exec", "-c", "print('hi')", "--json", cwd=tmp_path)
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert {"type": "stream", "data": {"name": "stdout", "text": "hi\n"}}.items() <= {
        "type": events[1]["type"],
        "data": events[1]["data"],
    }.items()
    assert events[-1]["data"]["exit_code"] == 0


def test_quiet_shows_only_errors_and_the_final_line(tmp_path):
    proc = jk("exec", "-q", "-c", "print('noise')\n1/0", cwd=tmp_path)
    assert proc.returncode == 1
    assert "noise" not in proc.stdout
    assert "ZeroDivisionError" in proc.stderr
