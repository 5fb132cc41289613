"""``python -m fastinit.cli ...``: the same command line as ``python -m fastinit``."""

from fastinit.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
