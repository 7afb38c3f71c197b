"""Run by every IPython kernel jenkins-kernel starts (``IPKernelApp.exec_files``), in the
kernel's own interpreter: it must import nothing from jenkins_kernel.

ipykernel sends what a cell printed in the last 0.2 s as one ``stream`` message, so one
``print`` of 300 MB reaches the service as a single 300 MB message that it has to hold
whole. Here stdout and stderr send at most ``LIMIT`` characters per message: a longer
write is cut, and the stream is flushed whenever that much is waiting. The output is the
same (consecutive stream messages are merged, as in Jupyter); the service's memory stays
near one message however much a cell prints, and a kernel that prints faster than it can
send waits for the send.
"""


def _jenkins_kernel_bound_output(limit: int = 1 << 20) -> None:
    import sys

    streams = [s for s in (sys.stdout, sys.stderr) if hasattr(s, "pub_thread")]  # ipykernel's OutStream
    flushes = [s.flush for s in streams]

    def bounded(write, flush, others):
        waiting = 0

        def write_bounded(text):
            nonlocal waiting
            if not isinstance(text, str) or waiting + len(text) < limit:
                waiting += len(text) if isinstance(text, str) else 0
                return write(text)
            for other in others:  # what the other stream holds was written first
                other()
            for start in range(0, len(text), limit):
                write(text[start : start + limit])
                flush()
            waiting = 0
            return len(text)

        return write_bounded

    for i, stream in enumerate(streams):
        if not getattr(stream, "_jenkins_kernel_bounded", False):
            stream.write = bounded(stream.write, flushes[i], flushes[:i] + flushes[i + 1 :])
            stream._jenkins_kernel_bounded = True


_jenkins_kernel_bound_output()
del _jenkins_kernel_bound_output
