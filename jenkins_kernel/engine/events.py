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


class EventStream:
    """Numbers a run's events and hands each, in order, to every listener."""

    def __init__(self, listeners: Iterable[Listener] = (), *, last_seq: int = 0) -> None:
        self.listeners: list[Listener] = list(listeners)
        self.last_seq = last_seq

    def emit(self, type: str, **data: Any) -> Event:
        self.last_seq += 1
        event = Event(self.last_seq, type, time.time(), data)
        for listener in self.listeners:
            listener(event)
        return event
