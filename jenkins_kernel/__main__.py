"""``python -m jenkins_kernel`` is the ``jenkins-kernel`` command."""

from .cli import main

main(prog_name="jenkins-kernel")
