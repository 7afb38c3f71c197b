"""Large stream messages are decoded lazily, slice by slice, exactly."""

from __future__ import annotations

import json
import random

import pytest

from jenkins_kernel.engine.wire import LazyText, _lazy_stream_content

ALPHABET = ["a", "b", " ", "\n", "\\", '"', "\t", "é", "日", "😀", "\x00", "\r", "/", "u"]


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("slice_size", [13, 14, 17, 64])
def test_slices_reassemble_to_the_exact_text(seed, slice_size):
    rng = random.Random(seed)
    text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 400)))
    for ensure_ascii in (True, False):
        raw = json.dumps({"name": "stdout", "text": text}, ensure_ascii=ensure_ascii).encode()
        content = _lazy_stream_content(memoryview(raw))
        assert content is not None and content["name"] == "stdout"
        lazy = content["text"]
        lazy.slice_size = slice_size
        pieces = list(lazy)
        assert "".join(pieces) == text
        for piece in pieces:
            piece.encode("utf-8")  # no lone surrogates from a split pair


def test_key_order_and_spacing_do_not_matter():
    raw = b'{ "text" : "a\\"name\\": \\"x\\"" ,"name":"stderr"}'
    content = _lazy_stream_content(memoryview(raw))
    assert content["name"] == "stderr" and "".join(content["text"]) == 'a"name": "x"'


def test_lazy_text_knows_its_encoded_size():
    assert len(LazyText(memoryview(b'"abc"'), 1, 4)) == 3


def test_a_message_signed_with_another_key_is_dropped_not_raised():
    """Another kernel's message on our port (a port race under load) once crashed the CLI."""
    import asyncio

    import zmq
    import zmq.asyncio
    from jupyter_client.session import Session

    from jenkins_kernel.engine.wire import recv_message

    async def main() -> dict:
        ctx = zmq.asyncio.Context()
        receiver, sender = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
        port = receiver.bind_to_random_port("tcp://127.0.0.1")
        sender.connect(f"tcp://127.0.0.1:{port}")
        ours, theirs = Session(key=b"ours"), Session(key=b"theirs")
        theirs.send(sender, "status", {"execution_state": "idle"})
        ours.send(sender, "status", {"execution_state": "busy"})
        try:
            return await asyncio.wait_for(recv_message(receiver, ours), 10)
        finally:
            receiver.close(0)
            sender.close(0)
            ctx.term()

    assert asyncio.run(main())["content"] == {"execution_state": "busy"}
