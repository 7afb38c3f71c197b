"""The README keeps up with the code: every setting, command, option and route is in it."""

from __future__ import annotations

import dataclasses
import re

import click
import pytest

import jenkins_kernel
from jenkins_kernel.cli import main
from jenkins_kernel.server.api import openapi_document
from jenkins_kernel.server.config import SETTINGS_HELP, Settings

from conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_every_setting_is_documented_with_help_text():
    names = [f.name for f in dataclasses.fields(Settings)]
    assert sorted(names) == sorted(SETTINGS_HELP)
    for name in names:
        assert f"| `{name}` |" in README, name


def _commands(group: click.Group, prefix: str = ""):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", command


@pytest.mark.parametrize(("name", "command"), list(_commands(main)), ids=lambda x: x if isinstance(x, str) else "")
def test_every_command_and_option_is_documented(name, command):
    assert f"jenkins-kernel {name}" in README
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            longest = max(param.opts, key=len)
            assert longest in README, f"{name} {longest}"


def test_every_route_is_in_the_api_table():
    for path in openapi_document()["paths"]:
        assert path.split("{")[0].rstrip("/") in README, path


def test_the_public_api_is_what_all_says():
    for name in jenkins_kernel.__all__:
        assert getattr(jenkins_kernel, name) is not None
    assert jenkins_kernel.run_notebook.__module__ == "jenkins_kernel.local"
    assert re.match(r"\d+\.\d+\.\d+", jenkins_kernel.__version__)


def test_the_cli_offers_every_command_the_readme_shows():
    shown = set(re.findall(r"^jenkins-kernel ((?:jenkins |service )?[a-z]+)", README, re.M))
    assert shown == {name for name, _ in _commands(main)}
