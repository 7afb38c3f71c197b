"""Write the fidelity notebooks: each reproduces one way a run's files went wrong (issue 8).

Run it to regenerate them (`python tests/notebooks/fidelity/make_notebooks.py`). What each
notebook expects is in its ``metadata.fidelity``: the exit code, the run's options, and a
sentence saying what it checks; tests/test_fidelity.py runs each in embedded and in service
mode and compares the two executed notebooks.
"""

from __future__ import annotations

import base64
import struct
import zlib
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

HERE = Path(__file__).parent
PY = {"name": "python3", "display_name": "Python 3", "language": "python"}


def png(width: int = 6, height: int = 4, rgb: tuple[int, int, int] = (200, 30, 30)) -> str:
    """A small valid PNG, base64: the report must show it as a file."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return base64.b64encode(body).decode()


def notebook(cells, *, expect: dict, minor: int = 5, kernelspec: dict | None = PY, **metadata) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells, metadata={"fidelity": expect, **metadata})
    if kernelspec is not None:
        nb.metadata["kernelspec"] = kernelspec
    nb.nbformat_minor = minor
    for i, cell in enumerate(nb.cells):
        if minor < 5:
            cell.pop("id", None)
        else:
            cell["id"] = f"c{i:02d}"
    return nb


def stale(source: str, tags=(), text: str = "stale output from an old run\n", count: int = 41):
    return new_code_cell(
        source,
        metadata={"tags": list(tags)} if tags else {},
        execution_count=count,
        outputs=[new_output("stream", name="stdout", text=text)],
    )


NOTEBOOKS = {
    # nbformat 4.4 (no cell ids) with a parameters cell: the injected cell must not get an id
    "minor4_parameters": notebook(
        [
            new_code_cell("msg = 'default'\nepochs = 1", metadata={"tags": ["parameters"]}),
            new_code_cell("print(msg, epochs)"),
        ],
        minor=4,
        expect={"exit_code": 0, "parameters": {"msg": "hello", "epochs": 3}, "check": "validates; rerun works"},
    ),
    # a notebook executed before (stale outputs, counts, papermill markers and our banner):
    # cells that do not run this time show nothing
    "stale_outputs": notebook(
        [
            new_markdown_cell("An Exception was encountered", metadata={"tags": ["papermill-error-cell-tag"]}),
            stale("print('first')"),
            new_markdown_cell("**jenkins-kernel: the run failed**", metadata={"tags": ["jenkins-kernel-failure"]}),
            stale("raise ValueError('bad row')"),
            new_markdown_cell("<span id='papermill-error-cell'>here</span>", metadata={"tags": ["papermill-error-cell-tag"]}),
            stale("print('never runs')"),
            stale("print('nor this')", text="old\n"),
        ],
        expect={"exit_code": 1, "check": "not-run cells empty; one banner; papermill markers gone"},
        widgets={"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2, "version_minor": 0}},
    ),
    # the kernel's own error is the only error output (no StdinNotAvailable beside it)
    "stdin_error": notebook(
        [new_code_cell("name = input('name? ')"), new_code_cell("print('not run')")],
        expect={"exit_code": 1, "check": "only the kernel's error in the cell"},
    ),
    # the reply decides: a traceback shown on the way by a cell that went on is output
    "reply_decides": notebook(
        [
            new_code_cell(
                "try:\n    1 / 0\nexcept ZeroDivisionError:\n    get_ipython().showtraceback()\nprint('went on')"
            ),
            new_code_cell(
                "class Bad:\n    def _repr_html_(self):\n        raise RuntimeError('formatter broke')\n"
                "    def __repr__(self):\n        return 'Bad()'\nBad()"
            ),
            new_code_cell("print('third cell ran')"),
        ],
        expect={"exit_code": 0, "check": "reply ok => succeeded, tracebacks kept as output"},
    ),
    # papermill's rule: sys.exit(0) stops the notebook successfully
    "sys_exit_clean": notebook(
        [new_code_cell("print('before')"), new_code_cell("import sys\nsys.exit(0)"), new_code_cell("print('after')")],
        expect={"exit_code": 0, "check": "stops at sys.exit(0), exit 0, rest not run"},
    ),
    "raise_system_exit": notebook(
        [new_code_cell("raise SystemExit"), new_code_cell("print('after')")],
        expect={"exit_code": 0, "check": "raise SystemExit: clean stop"},
    ),
    "sys_exit_code": notebook(
        [new_code_cell("import sys\nsys.exit(3)"), new_code_cell("print('after')")],
        expect={"exit_code": 1, "check": "sys.exit(3) is a failure"},
    ),
    # --allow-errors goes on after a cell timeout, as nbclient does
    "timeout_allow_errors": notebook(
        [new_code_cell("import time\ntime.sleep(30)"), new_code_cell("print('ran after the timeout')")],
        expect={"exit_code": 2, "options": {"cell_timeout": 1, "allow_errors": True}, "check": "goes on"},
    ),
    # a misspelled parameter is an error naming the declared ones
    "unknown_parameter": notebook(
        [new_code_cell("epochs = 1", metadata={"tags": ["parameters"]}), new_code_cell("print(epochs)")],
        expect={"exit_code": 5, "parameters": {"epoch": 3}, "check": "exit 5, names epochs"},
    ),
    "unknown_parameter_allowed": notebook(
        [new_code_cell("epochs = 1", metadata={"tags": ["parameters"]}), new_code_cell("print(epoch, epochs)")],
        expect={
            "exit_code": 0,
            "parameters": {"epoch": 3},
            "options": {"allow_unknown_parameters": True},
            "check": "warning, injected",
        },
    ),
    # kernelspecs: none at all, a bare 'python', one without a name
    "no_kernelspec": notebook(
        [new_code_cell("import sys\nprint(sys.version_info[0])")],
        kernelspec=None,
        expect={"exit_code": 0, "check": "runs on python3 in both modes, with a warning"},
    ),
    "kernelspec_python": notebook(
        [new_code_cell("print('python means python3')")],
        kernelspec={"name": "python", "display_name": "Python"},
        expect={"exit_code": 0, "check": "python is python3"},
    ),
    "kernelspec_without_name": notebook(
        [new_code_cell("print('no name, language python')")],
        kernelspec={"display_name": "Python 3", "language": "python"},
        expect={"exit_code": 0, "check": "repaired, runs"},
    ),
    # images become files beside report.html, listed in summary.json; stable JUnit names
    "images_and_names": notebook(
        [
            new_code_cell(
                "import base64\nfrom IPython.display import Image, SVG, HTML, display\n"
                f"display(Image(data=base64.b64decode('{png()}')))\n"
                "display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"20\" height=\"10\">"
                "<rect width=\"20\" height=\"10\" fill=\"teal\"/></svg>'))\n"
                "display(HTML('<b style=\"color:red\" onclick=\"x()\">bold</b><script>alert(1)</script>'\n"
                "             '<img src=\"https://example.com/x.png\"><img src=\"data:image/png;base64,AAAA\">'))",
                metadata={"tags": ["name=plots"]},
            ),
            new_code_cell("print('named by metadata')", metadata={"name": "summary"}),
            new_code_cell("print('named by id')"),
            new_markdown_cell(
                "A picture: ![red](attachment:red.png)\n\n<div style='color:red'>styled</div>",
                attachments={"red.png": {"image/png": png(3, 3, (10, 200, 10))}},
            ),
        ],
        expect={"exit_code": 0, "check": "images as files; names plots, summary, c02"},
    ),
}


def main() -> None:
    for name, nb in NOTEBOOKS.items():
        nbformat.write(nb, HERE / f"{name}.ipynb")


if __name__ == "__main__":
    main()
