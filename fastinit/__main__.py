"""``python -m fastinit ...``: the ``fastinit`` command line (see :mod:`fastinit.cli`)."""

from fastinit.cli import main, safe_stdout

if __name__ == "__main__":
    safe_stdout()
    raise SystemExit(main())
