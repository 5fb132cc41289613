"""matplotlib for ``--plot`` (of ``bench`` and ``inspect``), imported only when asked for."""

from __future__ import annotations

from pathlib import Path

from fastinit.cli.errors import RuntimeFailure, os_error_text


def import_matplotlib(option: str):
    """``matplotlib.pyplot`` on the Agg backend; a one-line error naming ``option`` if missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeFailure(f"{option} needs matplotlib, which is not installed "
                             "(pip install matplotlib)") from None
    return plt


def save_figure(plt, figure, path: Path) -> None:
    """Save ``figure`` to ``path`` and close it; an OSError becomes a one-line error."""
    try:
        figure.savefig(path)
    except OSError as exc:
        raise RuntimeFailure(f"cannot write {str(path)!r}: {os_error_text(exc)}") from None
    finally:
        plt.close(figure)
