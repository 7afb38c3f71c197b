"""The reference notebooks in tests/notebooks/, run through one parametrized test.

Each notebook says in its metadata (``jenkins_kernel_test``) which parameters to pass and
what must come out; parameter notebooks print their values back as JSON (bash: as text).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from conftest import INSTALLED, jk, read_notebook

NOTEBOOKS = sorted((Path(__file__).parent / "notebooks").glob("*.ipynb"))


def _spec(path: Path) -> tuple[str, dict]:
    nb = json.loads(path.read_text())
    return nb["metadata"]["kernelspec"]["name"], nb["metadata"]["jenkins_kernel_test"]


def _expected_json(values: dict) -> dict:
    return {k: values[k] for k in ("s", "i", "f", "b", "n", "l", "d")}


TYPES = {
    "python3": ["str", "int", "float", "bool", "NoneType", "list", "dict"],
    "ir": ["character", "integer", "numeric", "logical", "NULL", "list", "list"],
    "javascript": ["string", "number", "number", "boolean", "null", "array", "object"],
}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_reference_notebook(path, tmp_path):
    kernel, spec = _spec(path)
    if kernel not in INSTALLED:
        pytest.skip(f"the {kernel} kernel is not installed here (run `make kernels`)")
    args = ["run", str(path), "-o", "out"]
    if "parameters" in spec:
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(spec["parameters"], allow_unicode=True))
        args += ["-f", "params.yaml"]
    proc = jk(*args, cwd=tmp_path, timeout=120)
    assert proc.returncode == spec["exit_code"], proc.stderr
    out = tmp_path / "out"
    executed = read_notebook(out / "executed.ipynb")
    cases = list(ET.parse(out / "junit.xml").getroot().iter("testcase"))
    assert len(cases) == sum(
        1
        for c in executed.cells
        if c.cell_type == "code" and "jenkins-kernel-failure" not in c.metadata.get("tags", [])
    )
    if "parameters" in spec:
        injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1
        assert all(case.find("failure") is None and case.find("error") is None for case in cases)
        printed = proc.stdout.strip().splitlines()
        if kernel == "bash":
            values = spec["parameters"]
            assert "\n".join(printed[-3:]) == (
                f"s={values['s']}|\ni=42 f=0.25 b=true n=[] l=1 two 3.5 l1=two da=1 db=x"
            )
        else:
            got = json.loads(printed[-1])
            assert _expected_json(got) == _expected_json(spec["parameters"])
            assert got["types"] == TYPES[kernel]
    if "failed_cell" in spec:
        by_number = {int(c.find("system-out").text.split(":")[0].split()[1]): c for c in cases}
        assert by_number[spec["failed_cell"]].find("failure") is not None
        for number in spec["not_run"]:
            assert by_number[number].find("skipped") is not None
