"""Parameters: typed like YAML, from -p, -f and the environment, injected papermill-style."""

from __future__ import annotations

import json

import nbformat
import pytest

from jenkins_kernel.exceptions import InvalidParameterError
from jenkins_kernel.notebook.parameters import (
    declared_parameter_names,
    parameterize,
    parameters_from_env,
    parse_scalar,
)
from jenkins_kernel.notebook.translators import parameter_cell_source

from conftest import jk, make_notebook, needs_kernel, read_notebook


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.5", 0.5),
        ("3", 3),
        ("-7", -7),
        ("1e3", 1000.0),
        ("true", True),
        ("False", False),
        ("null", None),
        ("x", "x"),
        ("no", "no"),
        ("on", "on"),
        ("", ""),
        ("3.0.1", "3.0.1"),
        ("a: b", "a: b"),
        # YAML 1.2 core: leading zeros are decimal, 0o/0x are octal/hex, 1.1's forms are text
        ("007", 7),
        ("-007", -7),
        ("+12", 12),
        ("0o17", 15),
        ("0x1f", 31),
        ("0x10", 16),
        ("1_000", "1_000"),
        ("1:30", "1:30"),
        ("0b101", "0b101"),
        ("-0x10", "-0x10"),
        ("0o8", "0o8"),
        ("TRUE", True),
        ("tRUE", "tRUE"),
        ("NULL", None),
        ("~", None),
        ("nUll", "nUll"),
        ("yes", "yes"),
        ("y", "y"),
        ("off", "off"),
        ("007.5", 7.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("-.inf", float("-inf")),
        (".Inf", float("inf")),
        (" 3", " 3"),
        ("12e", "12e"),
    ],
)
def test_values_are_typed_like_yaml_core_scalars(text, value):
    assert parse_scalar(text) == value and type(parse_scalar(text)) is type(value)


def _nb(*cells):
    return nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(src, metadata={"tags": tags}) for src, tags in cells]
    )


def test_injected_cell_goes_after_the_parameters_cell_and_replaces_an_old_one():
    nb = _nb(("import os", []), ("alpha = 0.1", ["parameters"]), ("print(alpha)", []))
    once = parameterize(nb, {"alpha": 0.5}, "python")
    assert [c.source.splitlines()[0] for c in once.cells] == [
        "import os",
        "alpha = 0.1",
        "# Parameters",
        "print(alpha)",
    ]
    assert once.cells[2].metadata.tags == ["injected-parameters"]
    twice = parameterize(once, {"alpha": 0.9}, "python")
    assert len(twice.cells) == 4 and "alpha = 0.9" in twice.cells[2].source
    assert nb.cells[1].source == "alpha = 0.1" and len(nb.cells) == 3  # the input is not changed


def test_without_a_parameters_cell_the_injected_cell_goes_first():
    nb = parameterize(_nb(("print(1)", [])), {"n": 3}, "python")
    assert nb.cells[0].source == "# Parameters\nn = 3\n"


def test_bad_parameter_names_and_unknown_languages_are_rejected():
    with pytest.raises(InvalidParameterError, match="not a valid parameter name"):
        parameter_cell_source({"not-valid": 1}, "python")
    with pytest.raises(InvalidParameterError, match="cannot be passed to a cobol kernel"):
        parameter_cell_source({"x": 1}, "cobol")


def test_env_parameters_take_the_spelling_of_the_notebooks_own_names():
    nb = _nb(("alpha = 0.1\nRunName = 'x'", ["parameters"]))
    names = declared_parameter_names(nb)
    assert names == ["alpha", "RunName"]
    env = {"NB_ALPHA": "0.7", "NB_runname": "nightly", "NB_EXTRA": "true", "OTHER": "1"}
    # the environment is shared by every step: only the declared names are taken
    assert parameters_from_env("NB_", env, names) == {"alpha": 0.7, "RunName": "nightly"}
    # a notebook with no parameters cell takes every PREFIX variable
    assert parameters_from_env("NB_", env, None) == {"ALPHA": 0.7, "runname": "nightly", "EXTRA": True}


def test_nan_is_typed_as_a_float():
    import math

    assert math.isnan(parse_scalar(".nan")) and math.isnan(parse_scalar(".NaN"))


TYPES_CELL = (
    "import json\n"
    "print(json.dumps({'alpha': [type(alpha).__name__, alpha], 'name': [type(name).__name__, name],"
    " 'flag': [type(flag).__name__, flag], 'n': [type(n).__name__, n]}))"
)


def _typed(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


EXPECTED = {"alpha": ["float", 0.5], "name": ["str", "x"], "flag": ["bool", True], "n": ["int", 3]}


@pytest.fixture
def typed_notebook(tmp_path):
    return make_notebook(
        tmp_path / "typed.ipynb", [("alpha = 0.1\nname = 'a'\nflag = False\nn = 1", ["parameters"]), TYPES_CELL]
    )


def test_cli_parameters_reach_the_kernel_with_python_types(tmp_path, typed_notebook):
    proc = jk(
        "run",
        str(typed_notebook),
        "-p",
        "alpha",
        "0.5",
        "-p",
        "name",
        "x",
        "-p",
        "flag",
        "true",
        "-p",
        "n",
        "3",
        "-o",
        "out",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert _typed(proc.stdout) == EXPECTED
    injected = read_notebook(tmp_path / "out" / "executed.ipynb").cells[1]
    assert injected.metadata.tags == ["injected-parameters"]
    assert injected.source == "# Parameters\nalpha = 0.5\nname = 'x'\nflag = True\nn = 3\n"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["parameters"] == {"alpha": 0.5, "name": "x", "flag": True, "n": 3}


def test_the_same_values_from_a_yaml_file_and_from_the_environment(tmp_path, typed_notebook):
    (tmp_path / "params.yaml").write_text("alpha: 0.5\nname: x\nflag: true\nn: 3\n")
    proc = jk("run", str(typed_notebook), "-f", "params.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert _typed(proc.stdout) == EXPECTED
    env = {"JK_ALPHA": "0.5", "JK_NAME": "x", "JK_FLAG": "true", "JK_N": "3"}
    proc = jk("run", str(typed_notebook), "--param-env", "JK_", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert _typed(proc.stdout) == EXPECTED


def test_explicit_parameters_win_over_file_and_environment(tmp_path, typed_notebook):
    (tmp_path / "params.yaml").write_text("alpha: 0.5\nname: file\nflag: true\nn: 3\n")
    proc = jk(
        "run",
        str(typed_notebook),
        "-f",
        "params.yaml",
        "--param-env",
        "JK_",
        "-p",
        "n",
        "3",
        cwd=tmp_path,
        env={"JK_NAME": "x", "JK_N": "9"},
    )
    assert _typed(proc.stdout) == EXPECTED


def test_a_bad_parameters_file_is_rejected_with_exit_5(tmp_path, typed_notebook):
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    proc = jk("run", str(typed_notebook), "-f", "list.yaml", cwd=tmp_path)
    assert proc.returncode == 5 and "must hold a mapping" in proc.stderr


@needs_kernel("bash")
def test_a_bash_notebook_receives_its_parameters(tmp_path):
    nb = make_notebook(
        tmp_path / "b.ipynb",
        [("greeting=hello\ncount=1", ["parameters"]), 'for i in $(seq "$count"); do echo "$greeting $i"; done'],
        kernel="bash",
    )
    proc = jk("run", str(nb), "-p", "greeting", 'it\'s "quoted"\nand multi-line', "-p", "count", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == 'it\'s "quoted"\nand multi-line 1\nit\'s "quoted"\nand multi-line 2\n'
