"""The Jenkins build's environment, as a client sends it with a run.

A notebook run through the service sees the same build variables as one run embedded in the
``sh`` step: the client copies the variables named in :data:`BUILD_VARIABLES` (and only
those: an explicit list, so a credential bound by ``withCredentials`` never leaves the step)
into the request's ``env``, plus whatever ``--env NAME=VALUE`` adds. The service puts them on
top of the kernel's allowlisted environment and records them with the run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from .exceptions import RejectedError

__all__ = ["BUILD_VARIABLES", "build_environment", "parse_env_pairs"]

#: Jenkins' documented build variables (``${JENKINS_URL}/env-vars.html``), the Git plugin's
#: and the multibranch ones. Nothing else of the step's environment is sent.
BUILD_VARIABLES = (
    "BUILD_NUMBER",
    "BUILD_ID",
    "BUILD_DISPLAY_NAME",
    "BUILD_TAG",
    "BUILD_URL",
    "JOB_NAME",
    "JOB_BASE_NAME",
    "JOB_URL",
    "EXECUTOR_NUMBER",
    "NODE_NAME",
    "NODE_LABELS",
    "WORKSPACE",
    "JENKINS_URL",
    "STAGE_NAME",
    "BRANCH_NAME",
    "TAG_NAME",
    "CHANGE_ID",
    "CHANGE_URL",
    "CHANGE_TARGET",
    "CHANGE_BRANCH",
    "GIT_COMMIT",
    "GIT_PREVIOUS_COMMIT",
    "GIT_PREVIOUS_SUCCESSFUL_COMMIT",
    "GIT_BRANCH",
    "GIT_LOCAL_BRANCH",
    "GIT_URL",
    "GIT_COMMITTER_NAME",
    "GIT_AUTHOR_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_AUTHOR_EMAIL",
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_env_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """``["SEED=7", "MODE=fast"]`` as a mapping; a pair without ``=`` or a bad name is refused."""
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not _NAME.match(name):
            raise RejectedError(
                f"--env {pair!r} is not NAME=VALUE", code="bad_env", hint="e.g. --env SEED=7 (letters, digits, _)"
            )
        env[name] = value
    return env


def build_environment(environ: Mapping[str, str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The build variables set in ``environ``, then ``extra`` (``--env``) on top."""
    env = {name: environ[name] for name in BUILD_VARIABLES if environ.get(name)}
    env.update(extra or {})
    return env
