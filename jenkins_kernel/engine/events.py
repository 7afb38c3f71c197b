"""Events: the ordered record of everything a run did.

A run's events are numbered ``seq`` 1, 2, 3 ... without gaps. Every consumer (the console,
the executed notebook, the store, the HTTP stream) sees the same events in the same order,
so each can be rebuilt from the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EVENT_TYPES", "Event", "EventStream", "Listener"]

#: stream: stdout/stderr text; display: display_data, execute_result, update_display_data;
#: clear_output; error: ename/evalue/traceback; cell: a notebook cell starts or ends;
#: status: queued, running, then how the run ended.
EVENT_TYPES = ("status", "cell", "stream", "display", "clear_output", "error")


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    type: str
    time: float
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "type": self.type, "time": self.time, "data": self.data}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Event:
        return cls(int(raw["seq"]), str(raw["type"]), float(raw["time"]), dict(raw["data"]))


Listener = Callable[[Event], None]
#: Sees each event before it is numbered: returns it (perhaps changed), or None to drop it.
Gate = Callable[[str, dict[str, Any]], "tuple[str, dict[str, Any]] | None"]


class EventStream:
    """Numbers a run's events and hands each, in order, to every listener.

    A ``gate`` may drop or replace events before they are numbered, so a dropped event
    leaves no gap in ``seq``.
    """

    def __init__(self, listeners: Iterable[Listener] = (), *, last_seq: int = 0, gate: Gate | None = None) -> None:
        self.listeners: list[Listener] = list(listeners)
        self.last_seq = last_seq
        self.gate = gate

    def emit(self, type: str, **data: Any) -> Event | None:
        if self.gate is not None:
            passed = self.gate(type, data)
            if passed is None:
                return None
            type, data = passed
        self.last_seq += 1
        event = Event(self.last_seq, type, time.time(), data)
        for listener in self.listeners:
            listener(event)
        return event


class OutputBudget:
    """A gate that lets through at most ``limit`` characters of output per run.

    Past the limit, output events are dropped; the first one dropped is replaced by a
    marker saying so. Errors, cell and status events always pass.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.dropped = 0

    def __call__(self, type: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        if type == "stream":
            size = len(data.get("text", ""))
        elif type == "display":
            size = sum(len(str(v)) for v in (data.get("data") or {}).values())
        else:
            return type, data
        self.used += size
        if self.used <= self.limit:
            return type, data
        self.dropped += size
        if self.dropped > size:
            return None
        marker = (
            f"[jenkins-kernel] output limit reached: this run may store {self.limit} characters of output; "
            "further output is dropped (max_run_output_bytes)\n"
        )
        return "stream", {**{k: v for k, v in data.items() if k == "cell"}, "name": "stderr", "text": marker}
