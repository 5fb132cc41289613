"""``python -m fastinit ...``: the ``fastinit`` command line (see :mod:`fastinit.cli`)."""

from fastinit.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
