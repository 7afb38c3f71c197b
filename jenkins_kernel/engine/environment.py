"""The environment a kernel starts with: decided here, in one function.

The service's own environment often holds secrets (cloud keys, the token it was started
with); a cell can print ``os.environ``. So a service kernel gets only an allowlist of the
service's variables (what locates programs, the user, the locale, the time zone, the
temporary folder and the Jupyter/R/Node search paths), then the ``kernel_env`` setting,
then the request's ``env`` (later wins). The embedded CLI is different: it runs as the
user's own command, so its kernel inherits the caller's environment, less the token.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["ALLOWED_PREFIXES", "ALLOWED_VARIABLES", "SECRET_ENV_VARS", "kernel_environment"]

#: Never handed to a kernel, whatever the mode.
SECRET_ENV_VARS = frozenset({"JENKINS_KERNEL_TOKEN", "JENKINS_KERNEL_GATEWAY_AUTH_TOKEN"})
#: The service's variables a service kernel keeps (documented in the README's security section).
ALLOWED_VARIABLES = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TERM",
        "TMPDIR",
        "TEMP",
        "TMP",
        "VIRTUAL_ENV",
        "CONDA_PREFIX",
        "JUPYTER_PATH",
        "JUPYTER_DATA_DIR",
        "JUPYTER_CONFIG_DIR",
        "JUPYTER_RUNTIME_DIR",
        "R_HOME",
        "R_LIBS",
        "R_LIBS_USER",
        "R_LIBS_SITE",
        "NODE_PATH",
        "LD_LIBRARY_PATH",
    }
)
ALLOWED_PREFIXES = ("LC_",)


def kernel_environment(
    request_env: Mapping[str, str] | None = None,
    *,
    settings_env: Mapping[str, str] | None = None,
    inherit: bool = False,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The kernel's environment: the allowlisted part of ``base`` (all of it with ``inherit``,
    the embedded mode), then ``settings_env``, then ``request_env``; never a secret of ours."""
    base = os.environ if base is None else base
    if inherit:
        env = {k: v for k, v in base.items() if k not in SECRET_ENV_VARS}
    else:
        env = {k: v for k, v in base.items() if k in ALLOWED_VARIABLES or k.startswith(ALLOWED_PREFIXES)}
    env.update(settings_env or {})
    env.update(request_env or {})
    for name in SECRET_ENV_VARS:
        env.pop(name, None)
    return env
