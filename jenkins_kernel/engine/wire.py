"""Read IOPub messages without copying a flood of output.

ipykernel sends whatever a cell printed in the last 0.2 s as one ``stream`` message, so a
cell writing 200 MB can arrive as a single 200 MB message. jupyter_client's deserializer
would hold it three times (the frame, the decoded bytes, the parsed string). Here a large
stream message keeps only its frame: the text is decoded lazily, a slice at a time, by
:class:`LazyText`, so memory stays near one copy plus one slice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterator
from hmac import compare_digest
from typing import Any

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.session import Session

__all__ = ["LARGE_CONTENT", "FloodSafeIOPubChannel", "LazyText", "decode_message"]

#: Content frames at least this large are decoded lazily (stream messages only).
LARGE_CONTENT = 4 * 1024 * 1024
#: Bytes of JSON-encoded text turned into one ``str`` at a time.
SLICE = 1024 * 1024

_QUOTE = re.compile(rb'"')
_BACKSLASH = 0x5C


def _string_end(view: memoryview, start: int) -> int:
    """Index of the quote closing the JSON string whose content starts at ``start``."""
    pos = start
    while True:
        match = _QUOTE.search(view, pos)
        if match is None:
            raise ValueError("unterminated JSON string")
        q = match.start()
        run = 0
        while q - run - 1 >= start and view[q - run - 1] == _BACKSLASH:
            run += 1
        if run % 2 == 0:
            return q
        pos = q + 1


def _safe_cut(view: memoryview, start: int, cut: int) -> int:
    """Move ``cut`` back so it splits neither an escape (``\\n``, ``\\u00e9``, a surrogate
    pair) nor a UTF-8 character."""
    # An escape starts at an odd-numbered backslash of a run; the longest is 12 bytes.
    i = cut - 1
    while i >= max(start, cut - 12):
        if view[i] == _BACKSLASH:
            first = i
            while first - 1 >= start and view[first - 1] == _BACKSLASH:
                first -= 1
            escape_start = i if (i - first) % 2 == 0 else i - 1
            length = 2
            if escape_start + 1 < len(view) and view[escape_start + 1] == ord("u"):
                length = 12 if _is_high_surrogate(view, escape_start) else 6
            if escape_start + length > cut:
                pair = escape_start - 6
                if pair >= start and _is_high_surrogate(view, pair) and _starts_escape(view, pair, start):
                    return pair  # the low half of a pair: keep the pair together
                return escape_start
            break
        i -= 1
    while cut > start and (view[cut] & 0xC0) == 0x80:
        cut -= 1
    return cut


def _starts_escape(view: memoryview, at: int, start: int) -> bool:
    """Whether the backslash at ``at`` begins an escape (an even run of backslashes before it)."""
    run = 0
    while at - run - 1 >= start and view[at - run - 1] == _BACKSLASH:
        run += 1
    return run % 2 == 0


def _is_high_surrogate(view: memoryview, at: int) -> bool:
    """Whether ``view[at:at + 6]`` is an escape ``\\uD800``..``\\uDBFF``."""
    escape = bytes(view[at : at + 6]).lower()
    return escape[:2] == b"\\u" and escape[2:4] in (b"d8", b"d9", b"da", b"db")


class LazyText:
    """The text of a large stream message, decoded one slice at a time."""

    def __init__(self, view: memoryview, start: int, end: int, slice_size: int = SLICE) -> None:
        self.view, self.start, self.end, self.slice_size = view, start, end, slice_size

    def __len__(self) -> int:
        return self.end - self.start

    def __iter__(self) -> Iterator[str]:
        pos = self.start
        while pos < self.end:
            cut = min(self.end, pos + self.slice_size)
            if cut < self.end:
                cut = _safe_cut(self.view, pos, cut)
                if cut <= pos:  # cannot happen with a slice above 12 bytes
                    cut = min(self.end, pos + self.slice_size)
            yield json.loads(b'"' + bytes(self.view[pos:cut]) + b'"')
            pos = cut


def _lazy_stream_content(view: memoryview) -> dict[str, Any] | None:
    """``{"name": ..., "text": LazyText}`` from a stream message's JSON object; None when it
    is not a flat object of strings (then the caller parses it the ordinary way)."""
    fields: dict[str, Any] = {}
    pos = bytes(view[:64]).find(b"{")
    if pos < 0:
        return None
    pos += 1
    while True:
        pos = _skip_space(view, pos)
        if view[pos] == ord("}"):
            break
        if view[pos] != ord('"'):
            return None
        key_end = _string_end(view, pos + 1)
        key = json.loads(bytes(view[pos : key_end + 1]))
        pos = _skip_space(view, key_end + 1)
        if view[pos] != ord(":"):
            return None
        pos = _skip_space(view, pos + 1)
        if view[pos] != ord('"'):
            return None
        value_end = _string_end(view, pos + 1)
        if key == "text":
            fields["text"] = LazyText(view, pos + 1, value_end)
        else:
            fields[key] = json.loads(bytes(view[pos : value_end + 1]))
        pos = _skip_space(view, value_end + 1)
        if view[pos] == ord(","):
            pos += 1
    return fields if "text" in fields else None


def _skip_space(view: memoryview, pos: int) -> int:
    while view[pos] in b" \t\r\n":
        pos += 1
    return pos


_DELIM = b"<IDS|MSG>"
log = logging.getLogger(__name__)


def decode_message(session: Session, frames: list[Any]) -> dict[str, Any]:
    """A message from its frames, as ``session.deserialize`` would give it, but leaner: no
    copy of a large stream's text (see :class:`LazyText`), no parsing of header dates
    (nothing here reads them: it is most of jupyter_client's per-message cost)."""
    start = next(i for i, frame in enumerate(frames) if len(frame) == len(_DELIM) and frame.bytes == _DELIM)
    parts = frames[start + 1 :]
    if session.auth is not None and not compare_digest(parts[0].bytes, session.sign(parts[1:5])):
        raise ValueError("invalid message signature")
    header = json.loads(parts[1].bytes)
    content_frame = parts[4]
    content = None
    if len(content_frame) >= LARGE_CONTENT and header.get("msg_type") == "stream":
        content = _lazy_stream_content(content_frame.buffer)
    return {
        "header": header,
        "msg_id": header.get("msg_id"),
        "msg_type": header.get("msg_type"),
        "parent_header": json.loads(parts[2].bytes),
        "metadata": json.loads(parts[3].bytes),
        "content": content if content is not None else json.loads(content_frame.bytes),
        "buffers": parts[5:],
    }


async def recv_message(socket: Any, session: Session) -> dict[str, Any]:
    """The next message on a channel's socket (an await on the socket, no poll first).

    A message signed with another key is dropped, as jupyter_client's channels drop it: it
    is another kernel's (a port taken between jupyter_client choosing it and our kernel
    binding it), and must neither crash the run nor be read as ours.
    """
    while True:
        frames = await socket.recv_multipart(copy=False)
        try:
            return decode_message(session, frames)
        except ValueError as exc:
            log.warning("dropped a message that is not this kernel's: %s", exc)


async def recv_message_within(socket: Any, session: Session, timeout: float | None) -> dict[str, Any] | None:
    """The next message, or None if none comes within ``timeout`` seconds."""
    if timeout is None:
        return await recv_message(socket, session)
    try:
        return await asyncio.wait_for(recv_message(socket, session), max(timeout, 0.0))
    except asyncio.TimeoutError:
        return None


class FloodSafeIOPubChannel(AsyncZMQSocketChannel):
    """The IOPub channel: frames received without a copy, large streams decoded lazily."""

    async def _recv(self, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        assert self.socket is not None
        return await recv_message(self.socket, self.session)


class FloodSafeKernelClient(AsyncKernelClient):
    """An async client whose IOPub never drops messages (no receive high-water mark) and
    never copies a flood of output."""

    iopub_channel_class = FloodSafeIOPubChannel  # type: ignore[assignment]

    def connect_iopub(self, identity: bytes | None = None) -> Any:
        import zmq

        sock = self.context.socket(zmq.SUB)
        sock.linger = 1000
        sock.rcvhwm = 0
        sock.setsockopt(zmq.SUBSCRIBE, b"")
        sock.connect(self._make_url("iopub"))
        return sock
