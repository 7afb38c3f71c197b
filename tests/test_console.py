"""The console renderer: what a Jenkins build log shows for each kind of event."""

from __future__ import annotations

from jenkins_kernel.console import ConsoleRenderer
from jenkins_kernel.engine.events import Event


def ev(seq, type, t=0.0, **data):
    return Event(seq, type, t, data)


def text_of(renderer, events, stream=None):
    return "".join(text for e in events for name, text in renderer.render(e) if stream in (None, name))


def test_progress_bar_redraws_become_a_few_lines_not_thousands():
    frames = [ev(i + 1, "stream", t=i * 0.01, name="stderr", text=f"\r{i:3d}%|{'#' * (i // 10)}") for i in range(101)]
    frames.append(ev(200, "stream", t=1.5, name="stderr", text="\n"))
    out = text_of(ConsoleRenderer(progress_interval=5.0), frames)
    assert out.splitlines() == ["  0%|", "100%|##########"]


def test_long_progress_shows_its_state_every_interval():
    frames = [ev(i + 1, "stream", t=float(i), name="stderr", text=f"\rstep {i}") for i in range(12)]
    frames.append(ev(99, "stream", t=12.0, name="stderr", text="\rdone\n"))
    out = text_of(ConsoleRenderer(progress_interval=5.0), frames)
    assert out.splitlines() == ["step 0", "step 5", "step 10", "done"]


def test_plain_output_passes_through_unchanged_and_partial_lines_are_closed():
    r = ConsoleRenderer()
    out = text_of(r, [ev(1, "stream", name="stdout", text="a\nb"), ev(2, "stream", name="stdout", text="c\n")])
    assert out == "a\nbc\n"
    end = text_of(
        r,
        [
            ev(3, "stream", name="stdout", text="no newline"),
            ev(4, "status", status="succeeded", exit_code=0, duration=1.0),
        ],
    )
    assert end.startswith("no newline\n[jenkins-kernel] succeeded in 1.00 s (exit code 0)")


def test_ansi_colours_are_stripped_unless_asked_for():
    error = ev(1, "error", source="kernel", ename="E", evalue="v", traceback=["\x1b[31mE\x1b[0m: v"])
    assert text_of(ConsoleRenderer(), [error]) == "E: v\n"
    assert "\x1b[31m" in text_of(ConsoleRenderer(color=True), [error])


def test_rich_outputs_are_one_line_notes_and_text_outputs_print():
    r = ConsoleRenderer()
    image = ev(7, "display", output_type="display_data", data={"image/png": "AA==", "text/plain": "<Figure>"}, cell=3)
    html = ev(8, "display", output_type="display_data", data={"text/html": "<b>x</b>"}, cell=3)
    value = ev(9, "display", output_type="execute_result", data={"text/plain": "42"}, cell=3)
    assert text_of(r, [image]) == "[image/png output: images/cell03_7.png]\n"
    assert text_of(r, [html]) == "[text/html output: see report.html]\n"
    assert text_of(r, [value], stream="stdout") == "42\n"


def test_cell_headers_and_the_final_line_go_to_stderr():
    r = ConsoleRenderer()
    start = ev(1, "cell", phase="start", number=3, total=10, index=4, title="train(model)")
    final = ev(2, "status", status="failed", exit_code=1, duration=75.0, message="cell 3/10: ValueError: x")
    assert r.render(start) == [("stderr", "[cell 3/10] train(model)\n")]
    assert r.render(final) == [
        ("stderr", "[jenkins-kernel] failed in 1 min 15 s (exit code 1): cell 3/10: ValueError: x\n")
    ]
