"""Execute one cell: every IOPub message becomes an event, the execute_reply decides.

Three things run at once while a cell executes (the nbclient shape): a pump that turns
IOPub messages into events until the kernel goes idle, a wait for the shell reply, and a
watch loop that checks deadlines, cancellation and whether the kernel process is alive.
What happens when a cell must be stopped (timeout, cancel) lives in :func:`_stop_cell`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..status import RunStatus
from .backends.base import Kernel

__all__ = ["STDIN_HINT", "CellOutcome", "Deadline", "Emit", "execute_cell"]

Emit = Callable[..., Any]

#: How often the watch loop checks that the kernel process lives.
LIVENESS_INTERVAL = 0.25
#: Seconds between interrupts while a stopped cell has not answered.
RESEND = 0.4
#: After the reply, how long IOPub may stay silent before we stop waiting for "idle"
#: (counted from the reply or the last message, whichever came later). A kernel flushing a
#: flood serializes it for seconds before the reply and sends it just after.
IOPUB_QUIET = 5.0
STDIN_HINT = (
    "stdin is not available in a jenkins-kernel run: a cell cannot ask for input; "
    "pass the value as a parameter instead (-p NAME VALUE)"
)
_STDIN_ERRORS = {"StdinNotImplementedError"}


@dataclass(frozen=True)
class Deadline:
    """A point in ``time.monotonic()`` time and the words for it in a timeout message."""

    at: float
    reason: str

    @classmethod
    def after(cls, seconds: float, reason: str) -> Deadline:
        return cls(time.monotonic() + seconds, reason)


@dataclass
class CellOutcome:
    status: RunStatus
    started: float
    ended: float = 0.0
    execution_count: int | None = None
    error: dict[str, Any] | None = None
    #: Wall-clock times of JupyterLab's four ``execution`` fields (``iopub.status.busy``,
    #: ``iopub.execute_input``, ``shell.execute_reply``, ``iopub.status.idle``) as seen here.
    times: dict[str, float] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return max(0.0, self.ended - self.started)


@dataclass
class _Progress:
    execution_count: int | None = None
    error: dict[str, Any] | None = None
    stdin_refused: dict[str, Any] | None = None
    busy_at: float | None = None  # when the kernel said it was busy with this cell
    input_seen: bool = False  # execute_input: the kernel is about to run the user's code
    last_message: float = field(default_factory=time.monotonic)
    times: dict[str, float] = field(default_factory=dict)
    reply_at: float | None = None  # when the watch loop first saw the execute_reply


async def execute_cell(
    session: Kernel,
    code: str,
    emit: Emit,
    *,
    deadlines: Sequence[Deadline] = (),
    cancel: asyncio.Event | None = None,
    interrupt_grace: float = 3.0,
    restart_when_stuck: bool = True,
) -> CellOutcome:
    """Run ``code`` on ``session``; emit its outputs; say how it ended.

    A timeout or a cancel interrupts the kernel; if it does not come back within
    ``interrupt_grace`` seconds it is restarted (or killed when ``restart_when_stuck`` is
    false, for a session about to end anyway).
    """
    if await session.exit_code() is not None:
        return _died(session, emit, time.time(), await session.exit_code())
    outcome = CellOutcome(RunStatus.SUCCEEDED, started=time.time())
    progress = _Progress()
    msg_id = session.execute(code, store_history=True, allow_stdin=False)
    pump = asyncio.ensure_future(_pump_iopub(session, msg_id, emit, progress))
    reply = asyncio.ensure_future(_wait_reply(session, msg_id, progress))
    cancelled = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
    stdin = asyncio.ensure_future(_refuse_stdin(session, msg_id, emit, progress))
    try:
        stop = await _watch(session, pump, reply, cancelled, stdin, deadlines, progress)
        if stop is None:
            content = reply.result()["content"] if reply.done() and reply.result() else {}
            # The reply decides, as in nbclient: a traceback shown on the way by a cell that
            # went on (showtraceback(), a display formatter's error) is output, not failure.
            if content.get("status", "ok") != "ok" or progress.stdin_refused:
                outcome.status = RunStatus.FAILED
                outcome.error = progress.stdin_refused or _failing_error(content, progress.error)
        elif stop == "died":
            await _drain(pump, progress)
            code_ = await session.exit_code()
            outcome = _died(session, emit, outcome.started, code_)
        elif stop == "stdin":
            # The cell waits for an answer that will never come: stop it like a timed-out one.
            came_back = await _stop_cell(session, pump, reply, progress, interrupt_grace, restart_when_stuck)
            outcome.status = RunStatus.FAILED
            outcome.error = dict(progress.stdin_refused or {})
            if not came_back:
                after = "the kernel did not stop when interrupted, so it was "
                after += "restarted" if restart_when_stuck else "killed"
                outcome.error["evalue"] += f"; {after}"
                emit("error", source="engine", ename="StdinNotAvailable", evalue=after, traceback=[])
        else:
            came_back = await _stop_cell(session, pump, reply, progress, interrupt_grace, restart_when_stuck)
            outcome.status = RunStatus.CANCELLED if stop == "cancel" else RunStatus.TIMED_OUT
            outcome.error = _stop_error(stop, came_back, restart_when_stuck)
            emit("error", source="engine", **outcome.error)
        outcome.execution_count = progress.execution_count
        outcome.times = progress.times
        if outcome.error and outcome.error.get("ename") in _STDIN_ERRORS:
            outcome.error["hint"] = STDIN_HINT
            emit("error", source="engine", ename="StdinNotAvailable", evalue=STDIN_HINT, traceback=[])
    finally:
        for task in (pump, reply, cancelled, stdin):
            if task is not None and not task.done():
                task.cancel()
    outcome.ended = time.time()
    return outcome


async def _wait_reply(session: Kernel, msg_id: str, progress: _Progress) -> Any:
    reply = await session.wait_reply(msg_id, timeout=None)
    progress.times["shell.execute_reply"] = time.time()
    return reply


async def _watch(
    session: Kernel,
    pump: asyncio.Future[None],
    reply: asyncio.Future[Any],
    cancelled: asyncio.Future[Any] | None,
    stdin: asyncio.Future[None],
    deadlines: Sequence[Deadline],
    progress: _Progress,
) -> str | None:
    """Wait for the cell to finish; None when it did, else why it must stop."""
    earliest = min(deadlines, key=lambda d: d.at) if deadlines else None
    while not (pump.done() and reply.done()):
        pending = [t for t in (pump, reply, cancelled, stdin) if t is not None and not t.done()]
        wait = LIVENESS_INTERVAL
        if earliest is not None:
            wait = max(0.0, min(wait, earliest.at - time.monotonic()))
        await asyncio.wait(pending, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        if pump.done() and pump.exception() is not None:
            raise pump.exception()  # type: ignore[misc]
        if cancelled is not None and cancelled.done():
            return "cancel"
        if stdin.done() and not stdin.cancelled() and progress.stdin_refused:
            return "stdin"
        if earliest is not None and time.monotonic() >= earliest.at and not pump.done():
            return earliest.reason
        if reply.done() and not pump.done():
            progress.reply_at = progress.reply_at or time.monotonic()
            if time.monotonic() - max(progress.last_message, progress.reply_at) > IOPUB_QUIET:
                return None  # the reply came and IOPub fell silent: do not wait forever
            continue
        if await session.exit_code() is not None:  # also after "idle" while the reply never came
            return "died"
    return None


async def _pump_iopub(session: Kernel, msg_id: str, emit: Emit, progress: _Progress) -> None:
    """Turn this cell's IOPub messages into events until the kernel reports idle."""
    while True:
        msg = await session.recv_iopub()
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        progress.last_message = time.monotonic()
        kind, content = msg["msg_type"], msg["content"]
        if kind == "status":
            if content.get("execution_state") == "idle":
                progress.times["iopub.status.idle"] = time.time()
                return
            progress.busy_at = progress.busy_at or time.monotonic()
            progress.times.setdefault("iopub.status.busy", time.time())
        elif kind == "stream":
            name, text = content.get("name", "stdout"), content.get("text", "")
            for piece in (text,) if isinstance(text, str) else text:  # a LazyText of a flood
                emit("stream", name=name, text=piece)
        elif kind in ("display_data", "execute_result", "update_display_data"):
            emit("display", **_display_data(kind, content))
        elif kind == "error":
            progress.error = _error_from_reply(content)
            emit("error", source="kernel", **progress.error)
        elif kind == "clear_output":
            emit("clear_output", wait=bool(content.get("wait", False)))
        elif kind == "execute_input":
            progress.times.setdefault("iopub.execute_input", time.time())
            progress.execution_count = content.get("execution_count")
            progress.input_seen = True


async def _refuse_stdin(session: Kernel, msg_id: str, emit: Emit, progress: _Progress) -> None:
    """Some kernels (IRkernel) ask for input even when told there is none: refuse it.

    Returns once a cell asked; the watch loop then stops the cell as it stops a timed-out
    one (interrupt, and restart or kill a kernel that stays blocked on its question).
    """
    while True:
        msg = await session.recv_stdin()
        if msg["parent_header"].get("msg_id") != msg_id or msg["msg_type"] != "input_request":
            continue
        prompt = msg["content"].get("prompt", "")
        progress.stdin_refused = {
            "ename": "StdinNotAvailable",
            "evalue": f"the cell asked for input ({prompt!r}); {STDIN_HINT}",
            "traceback": [],
        }
        emit("error", source="engine", **progress.stdin_refused)
        return


def _display_data(kind: str, content: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "output_type": kind,
        "data": content.get("data", {}),
        "metadata": content.get("metadata", {}),
    }
    if kind == "execute_result":
        data["execution_count"] = content.get("execution_count")
    display_id = (content.get("transient") or {}).get("display_id")
    if display_id:
        data["display_id"] = display_id
    return data


def _failing_error(content: dict[str, Any], shown: dict[str, Any] | None) -> dict[str, Any]:
    """The error that failed the cell: the reply's (a traceback shown earlier on the way may
    be another one), with the traceback IOPub showed when the reply carries none."""
    if not content.get("ename"):
        return shown or _error_from_reply(content)
    error = _error_from_reply(content)
    if not error["traceback"] and shown and shown["ename"] == error["ename"]:
        return shown
    return error


def _error_from_reply(content: dict[str, Any]) -> dict[str, Any]:
    if content.get("status") in ("abort", "aborted") and "ename" not in content:
        return {"ename": "Aborted", "evalue": "the kernel aborted the cell", "traceback": []}
    ename, evalue = str(content.get("ename") or ""), str(content.get("evalue") or "")
    if not ename and evalue.isdigit():  # bash_kernel: a command's non-zero exit status
        ename, evalue = "ExitStatus", f"the last command exited with status {evalue}"
    return {
        "ename": ename or "Error",
        "evalue": evalue,
        "traceback": [str(line) for line in content.get("traceback", [])],
    }


async def _drain(pump: asyncio.Future[None], progress: _Progress, quiet: float = 0.05) -> None:
    """Let output the kernel sent just before dying reach the events (at most 0.5 s)."""
    end = time.monotonic() + 0.5
    while not pump.done() and time.monotonic() < end:
        if time.monotonic() - progress.last_message > quiet:
            return
        await asyncio.sleep(quiet / 2)


async def _stop_cell(
    session: Kernel,
    pump: asyncio.Future[None],
    reply: asyncio.Future[Any],
    progress: _Progress,
    grace: float,
    restart_when_stuck: bool,
) -> bool:
    """Interrupt the kernel; if it does not finish the cell within ``grace``, restart or kill it.

    The interrupt waits until the kernel has begun the user's code: ipykernel ignores
    SIGINT between cells, and one that lands while it sets a cell up can make it drop the
    request without a reply. Kernels that never say execute_input get it 0.2 s after
    "busy". It is sent again every ``RESEND`` seconds until the kernel answers (with an
    error or its reply). True when
    the kernel came back by itself (its state is kept).
    """
    end = time.monotonic() + grace
    next_interrupt = 0.0
    while time.monotonic() < end and await session.exit_code() is None:
        if pump.done() and reply.done():
            return True
        now = time.monotonic()
        begun = progress.input_seen or (progress.busy_at is not None and now - progress.busy_at > 0.2)
        reacted = progress.error is not None  # the interrupt landed: a second one would hit its traceback
        if begun and not reacted and not reply.done() and now >= next_interrupt:
            await session.interrupt()  # a REST call on a gateway: the pause counts from its answer
            next_interrupt = time.monotonic() + RESEND
        await asyncio.wait([t for t in (pump, reply) if not t.done()], timeout=0.05)
    pump.cancel()
    reply.cancel()
    if restart_when_stuck:
        await session.restart()
    else:
        await session.kill()
    return False


def _stop_error(why: str, came_back: bool, restarted: bool) -> dict[str, Any]:
    after = "the kernel was interrupted"
    if not came_back:
        after += " and did not stop, so it was " + ("restarted" if restarted else "killed")
    if why == "cancel":
        return {"ename": "Cancelled", "evalue": f"the run was cancelled; {after}", "traceback": []}
    return {"ename": "CellTimeoutError", "evalue": f"{why} passed; {after}", "traceback": []}


def _died(session: Kernel, emit: Emit, started: float, code: int | None) -> CellOutcome:
    evalue = f"the {session.kernel_name} kernel {session.describe_exit(code)} while running this cell"
    error = {"ename": "DeadKernelError", "evalue": evalue, "traceback": []}
    tail = session.stderr_tail()
    if tail:
        error["hint"] = tail
    emit("error", source="engine", **error)
    return CellOutcome(RunStatus.KERNEL_DIED, started=started, ended=time.time(), error=error)
