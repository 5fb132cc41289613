"""``python -m fastinit.cli ...``: the same command line as ``python -m fastinit``."""

from fastinit.cli import main, safe_stdout

if __name__ == "__main__":
    safe_stdout()
    raise SystemExit(main())
