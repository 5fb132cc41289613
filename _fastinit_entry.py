"""The ``fastinit`` console script's entry point: signals first, then the imports.

The ``fastinit`` command spends its first ~0.3 s importing NumPy, the
extension and the command line (``import fastinit.cli`` runs
``fastinit/__init__.py`` first, which imports all of them).  A Ctrl-C there
used to print a KeyboardInterrupt traceback from deep inside an import, and
a SIGTERM killed the process without a word.  This module lives outside the
``fastinit`` package so that importing it imports nothing heavy: :func:`main`
catches SIGINT, SIGTERM and SIGHUP, then imports the command line, which
installs its own handlers for the rest of the run
(:func:`fastinit.cli.main`).

While starting, nothing has been written and no file is open, so a signal
prints one line, ``fastinit: error: interrupted by SIGINT; nothing was
written``, and ends the process at once with the status the rest of the
command line gives: 130 (SIGINT), 143 (SIGTERM), 129 (SIGHUP).
``os._exit`` rather than an exception: an exception raised inside an import
can be swallowed by the module being imported, or leave it half initialized
for the cleanup that follows.

Only the few milliseconds before this module runs (the interpreter's own
start-up) are outside its reach.  ``python -m fastinit`` imports the
package before any of its code runs, so it has no such guard.
"""

import os
import signal
import sys

_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                 if hasattr(signal, name))


def _interrupted_while_starting(signum, frame):
    try:
        os.write(2, f"fastinit: error: interrupted by {signal.Signals(signum).name}; "
                    "nothing was written\n".encode())
    finally:
        os._exit(128 + signum)


def main(argv=None) -> int:
    """The console script ``fastinit``: returns the exit status of :func:`fastinit.cli.main`."""
    for signum in _SIGNALS:
        signal.signal(signum, _interrupted_while_starting)
    from fastinit.cli import main as run, safe_stdout   # the heavy imports (NumPy, the extension)

    safe_stdout()
    try:
        return run(argv)
    finally:
        # The run is over and has reported; a signal during the interpreter's shutdown just
        # ends the process (no traceback, and not the message above).
        for signum in _SIGNALS:
            signal.signal(signum, signal.SIG_DFL)


if __name__ == "__main__":
    sys.exit(main())
