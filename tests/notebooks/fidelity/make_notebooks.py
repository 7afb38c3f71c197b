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
    # nbformat 4.4 (no cell ids) with a parameters cell: the injected cell must not get an id;
    # 'epoch' is not declared, let in by allow_unknown_parameters (with a warning)
    "minor4_parameters": notebook(
        [
            new_code_cell("msg = 'default'\nepochs = 1", metadata={"tags": ["parameters"]}),
            new_code_cell("print(msg, epochs, epoch)"),
        ],
        minor=4,
        expect={
            "exit_code": 0,
            "parameters": {"msg": "hello", "epochs": 3, "epoch": 7},
            "options": {"allow_unknown_parameters": True},
            "check": "validates as 4.4; rerun works; papermill.parameters; warning for epoch",
        },
    ),
    # a misspelled parameter is an error naming the declared ones (the same in both modes)
    "unknown_parameter": notebook(
        [new_code_cell("epochs = 1", metadata={"tags": ["parameters"]}), new_code_cell("print(epochs)")],
        expect={"exit_code": 5, "parameters": {"epoch": 3}, "check": "exit 5, names epochs and the closest"},
    ),
    # a notebook executed before (stale outputs, counts, papermill markers and our banner),
    # failing this time at a cell that asks for input: cells that do not run show nothing,
    # one banner, and the kernel's own error is the only error output
    "stale_outputs": notebook(
        [
            new_markdown_cell("An Exception was encountered", metadata={"tags": ["papermill-error-cell-tag"]}),
            stale("print('first')"),
            new_markdown_cell("**jenkins-kernel: the run failed**", metadata={"tags": ["jenkins-kernel-failure"]}),
            stale("name = input('name? ')"),
            new_markdown_cell("<span id='papermill-error-cell'>here</span>", metadata={"tags": ["papermill-error-cell-tag"]}),
            stale("print('never runs')"),
            stale("print('nor this')", text="old\n"),
        ],
        expect={"exit_code": 1, "check": "not-run cells empty; one banner; markers gone; only the kernel's error"},
        widgets={"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2, "version_minor": 0}},
    ),
    # the reply decides: a traceback shown on the way by a cell that went on is output;
    # then sys.exit(0) stops the notebook successfully (papermill's rule)
    "reply_decides": notebook(
        [
            new_code_cell(
                "try:\n    1 / 0\nexcept ZeroDivisionError:\n    get_ipython().showtraceback()\nprint('went on')"
            ),
            new_code_cell(
                "from IPython.display import display\n"
                "class Bad:\n    def _repr_html_(self):\n        raise RuntimeError('formatter broke')\n"
                "    def __repr__(self):\n        return 'Bad()'\ndisplay(Bad())"
            ),
            new_code_cell("print('third cell ran')"),
            new_code_cell("import sys\nsys.exit(0)"),
            stale("print('after the exit')"),
        ],
        expect={"exit_code": 0, "check": "reply ok => succeeded; sys.exit(0) stops, exit 0"},
    ),
    # --allow-errors goes on after a cell timeout, as nbclient does; sys.exit(3) is a failure
    "timeout_allow_errors": notebook(
        [
            new_code_cell("import time\ntime.sleep(30)"),
            new_code_cell("print('ran after the timeout')"),
            new_code_cell("import sys\nsys.exit(3)"),
            new_code_cell("print('allow_errors goes on')"),
        ],
        expect={"exit_code": 2, "options": {"cell_timeout": 1, "allow_errors": True}, "check": "goes on"},
    ),
    # no kernelspec at all: python3 in both modes, with a warning
    "no_kernelspec": notebook(
        [new_code_cell("import sys\nprint(sys.version_info[0])")],
        kernelspec=None,
        expect={"exit_code": 0, "check": "runs on python3 in both modes, with a warning"},
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
