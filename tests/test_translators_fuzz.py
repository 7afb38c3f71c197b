"""Parameter translators, fuzzed: any text and nested value reaches a real kernel unchanged.

One kernel per language serves every example (bash_kernel costs ~50 ms a line). Each
example also carries injection attempts (readline control keys, line separators, quotes,
``$()``, backticks) that would create a canary file if any of them ran.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jupyter_client.manager import start_new_kernel

from jenkins_kernel.exceptions import InvalidParameterError
from jenkins_kernel.notebook.translators import parameter_cell_source

from conftest import INSTALLED

CANARY = "canary-file"
_PAYLOADS = [
    f"\x15touch {CANARY}\n",
    f"\x01touch {CANARY}\r",
    f"'; touch {CANARY}; '",
    f'"; touch {CANARY}; "',
    f"$(touch {CANARY})",
    f"`touch {CANARY}`",
    f"\u2028touch {CANARY}\u2028",
    f"\x85touch {CANARY}\x0b",
    f"\x0ctouch {CANARY}\x1c",
    f"\\'); system('touch {CANARY}'); ('",
    f'");require("fs").writeFileSync("{CANARY}","");("',
    f"\x16\x04\x03\x1a!!touch {CANARY}",
    "\\",
    "\\\\x41\\u0041${HOME}",
]
#: Any Unicode scalar but NUL and surrogates (those are refused, tested below).
_CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
TEXT = st.lists(st.one_of(st.text(_CHARS, max_size=12), st.sampled_from(_PAYLOADS)), max_size=5).map("".join)

# language -> (kernelspec, code that prints the UTF-8 hex of variable {n}, code that prints {n} as JSON)
KERNELS = {
    "python": ("python3", "print('h' + {n}.encode('utf-8').hex())", "import json; print(json.dumps({n}))"),
    "javascript": (
        "javascript",
        "console.log('h' + Buffer.from({n}, 'utf8').toString('hex'));",
        "console.log(JSON.stringify({n}));",
    ),
    "r": (
        "ir",
        'cat("h", paste(as.character(charToRaw(enc2utf8({n}))), collapse=""), "\\n", sep="")',
        'cat(as.character(jsonlite::toJSON({n}, auto_unbox=TRUE, null="null", digits=NA)), "\\n", sep="")',
    ),
    "bash": ("bash", "printf h; printf '%s' \"${n}\" | od -An -v -tx1 | tr -d ' \\n'; echo", None),
}


class Kernel:
    """One real kernel and a way to run code in it and read what it printed."""

    def __init__(self, name: str, cwd: Path) -> None:
        self.km, self.kc = start_new_kernel(kernel_name=name, cwd=str(cwd), startup_timeout=60)

    def run(self, code: str) -> str:
        out: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("ERROR: " + msg["content"]["evalue"])

        self.kc.execute_interactive(code, output_hook=hook, timeout=60)
        return "".join(out)

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    """Kernels started on first use, one per language, shared by every example."""
    started: dict[str, tuple[Kernel, Path]] = {}

    def get(language: str) -> tuple[Kernel, Path]:
        name = KERNELS[language][0]
        if name not in INSTALLED:
            pytest.skip(f"the {name} kernel is not installed here (run `make kernels`)")
        if language not in started:
            cwd = tmp_path_factory.mktemp(f"fuzz-{language}")
            started[language] = (Kernel(name, cwd), cwd)
        return started[language]

    yield get
    for k, _ in started.values():
        k.close()


def _assert_no_canary(cwd: Path) -> None:
    assert not (cwd / CANARY).exists(), "a parameter value ran as code"


_FUZZ = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)


@pytest.mark.parametrize("language", list(KERNELS))
@_FUZZ
@given(values=st.lists(TEXT, min_size=1, max_size=3))
def test_any_text_reaches_every_kernel_unchanged_and_never_runs(kernels, language, values):
    k, cwd = kernels(language)
    params = {f"p{i}": v for i, v in enumerate(values)}
    source = parameter_cell_source(params, language)
    assert len(source.splitlines()) == 1 + len(params), "one line per parameter, whatever the text"
    if language != "python":  # Python's repr keeps printable Unicode (é, 中) and escapes the rest
        assert all(" " <= c <= "~" or c == "\n" for c in source), "the cell is printable ASCII only"
    readback = "\n".join(KERNELS[language][1].format(n=n) for n in params)
    out = k.run(source + readback)
    assert out.split() == ["h" + v.encode("utf-8").hex() for v in values], out
    _assert_no_canary(cwd)


_SAFE_TEXT = st.text(_CHARS, max_size=8)
_SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**31) + 1, 2**31 - 1), st.integers(-(10**6), 10**6).map(lambda i: i / 8)
)
_KEY = st.text(_CHARS, min_size=1, max_size=6)
NESTED = st.recursive(
    st.one_of(_SCALAR, TEXT),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3), st.dictionaries(_KEY, inner, min_size=1, max_size=3)
    ),
    max_leaves=8,
)


@pytest.mark.parametrize("language", ["python", "javascript", "r"])
@_FUZZ
@given(value=NESTED)
def test_nested_values_reach_python_r_and_javascript_unchanged(kernels, language, value):
    k, cwd = kernels(language)
    if language == "r":
        value = _without_null(value)  # R's NULL is "nothing": jsonlite cannot tell it back as null
    out = k.run(parameter_cell_source({"x": value}, language) + KERNELS[language][2].format(n="x"))
    assert json.loads(out) == value, out
    _assert_no_canary(cwd)


def _without_null(value: Any) -> Any:
    if value is None:
        return 0
    if isinstance(value, list):
        return [_without_null(v) for v in value]
    if isinstance(value, dict):
        return {k: _without_null(v) for k, v in value.items()}
    return value


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(items=st.lists(TEXT, min_size=1, max_size=3), mapping=st.dictionaries(_KEY, TEXT, min_size=1, max_size=3))
def test_bash_arrays_and_associative_arrays_hold_any_text(kernels, items, mapping):
    k, cwd = kernels("bash")
    source = parameter_cell_source({"xs": items, "m": mapping}, "bash")
    hexed = "{ printf h; od -An -v -tx1 | tr -d ' \\n'; echo; }"
    readback = (
        f'for v in "${{xs[@]}}"; do printf "%s" "$v" | {hexed}; done\n'
        f'for k in "${{!m[@]}}"; do printf "%s" "$k" | {hexed}; printf "%s" "${{m["$k"]}}" | {hexed}; done'
    )
    lines = k.run(source + readback).split()
    n = len(items)
    assert lines[:n] == ["h" + v.encode().hex() for v in items]
    got = dict(zip(lines[n::2], lines[n + 1 :: 2]))
    assert got == {"h" + key.encode().hex(): "h" + v.encode().hex() for key, v in mapping.items()}
    _assert_no_canary(cwd)


@pytest.mark.parametrize("language", list(KERNELS))
@pytest.mark.parametrize(
    "name",
    ["whoami\n", "x\n", "1x", "x-y", "x y", "", "é", "x;touch", "x\u2028", "$(id)", "x\x00"],
)
def test_parameter_names_must_match_in_full(language, name):
    with pytest.raises(InvalidParameterError, match="not a valid parameter name"):
        parameter_cell_source({name: 1}, language)


@pytest.mark.parametrize("language", list(KERNELS))
@pytest.mark.parametrize("value", ["a\x00b", "\ud800", ["ok", "\udfff"], {"k": "\x00"}, {"\ud83d": 1}])
def test_nul_and_lone_surrogates_are_refused_anywhere_in_a_value(language, value):
    with pytest.raises(InvalidParameterError, match="cannot be passed"):
        parameter_cell_source({"x": value}, language)
