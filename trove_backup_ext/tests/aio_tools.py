"""Runs the all-in-one services of tools/ (Swift, Keystone) for tests."""

import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def started(tool, marker, names, timeout):
    """names of a running service, from the environment if marker is set
    there (tools/run-tests.sh exported them), else from what
    `tools/<tool> start` prints (idempotent, and locked against other
    test processes doing the same). A service that cannot be started
    fails the test: it is never skipped."""
    if os.environ.get(marker):
        found = dict(os.environ)
    else:
        result = subprocess.run(
            [os.path.join(REPO, 'tools', tool), 'start'],
            capture_output=True, text=True, stdin=subprocess.DEVNULL,
            timeout=timeout)
        if result.returncode:
            raise RuntimeError('tools/%s start failed: %s'
                               % (tool, result.stderr[-2000:]))
        found = dict(line[len('export '):].split('=', 1)
                     for line in result.stdout.splitlines()
                     if line.startswith('export '))
    return {name: found[name] for name in names}
