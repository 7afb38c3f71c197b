"""The executed notebook is rebuilt from events: merges, clears, display updates, caps."""

from __future__ import annotations

import nbformat

from jenkins_kernel.engine.events import EventStream
from jenkins_kernel.notebook.outputs import OutputCollector, apply_carriage_returns


def _run(events, max_output_bytes=1000):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("a"), nbformat.v4.new_code_cell("b")])
    stream = EventStream([OutputCollector(nb, max_output_bytes)])
    for number in (1, 2):
        stream.emit("cell", phase="start", number=number, total=2, index=number - 1)
        for type, data in events.get(number, []):
            stream.emit(type, cell=number, **data)
        stream.emit("cell", phase="end", number=number, total=2, index=number - 1)
    return nb


def test_consecutive_stream_text_merges_into_one_output():
    nb = _run(
        {
            1: [
                ("stream", {"name": "stdout", "text": "a"}),
                ("stream", {"name": "stdout", "text": "b\n"}),
                ("stream", {"name": "stderr", "text": "e\n"}),
            ]
        }
    )
    assert [(o.name, o.text) for o in nb.cells[0].outputs] == [("stdout", "ab\n"), ("stderr", "e\n")]


def test_clear_output_and_wait_clear_as_jupyter_does():
    nb = _run(
        {
            1: [
                ("stream", {"name": "stdout", "text": "old\n"}),
                ("clear_output", {"wait": False}),
                ("stream", {"name": "stdout", "text": "x\n"}),
                ("clear_output", {"wait": True}),
                ("stream", {"name": "stdout", "text": "new\n"}),
            ]
        }
    )
    assert [o.text for o in nb.cells[0].outputs] == ["new\n"]


def test_update_display_data_changes_an_earlier_cells_output():
    shown = {"output_type": "display_data", "data": {"text/plain": "0%"}, "metadata": {}, "display_id": "bar"}
    update = {**shown, "output_type": "update_display_data", "data": {"text/plain": "100%"}}
    nb = _run({1: [("display", shown)], 2: [("display", update)]})
    assert nb.cells[0].outputs[0].data == {"text/plain": "100%"}
    assert nb.cells[1].outputs == []


def test_output_past_the_cap_is_cut_at_a_line_with_a_marker():
    lines = [("stream", {"name": "stdout", "text": f"line {i:04d}\n"}) for i in range(300)]
    nb = _run({1: lines}, max_output_bytes=1000)
    kept, marker = nb.cells[0].outputs
    assert kept.text.startswith("line 0000\n") and kept.text.endswith("\n") and len(kept.text) <= 1000
    assert "output truncated" in marker.text and marker.name == "stderr"


def test_carriage_returns_overwrite_like_a_terminal():
    assert apply_carriage_returns("10%\r20%\r100%\nnext\n") == "100%\nnext\n"
    assert apply_carriage_returns("abcdef\rXY\n") == "XYcdef\n"
    assert apply_carriage_returns("a\r\nb") == "a\nb"
