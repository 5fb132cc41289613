"""The progress bar ``fastinit init`` draws on stderr, and byte/duration formatting."""

from __future__ import annotations

import sys
import time

MIB = 1 << 20


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class Progress:
    """A one-line progress bar on stderr: bytes done/total, rate and ETA.

    Drawn only when ``enabled`` (stderr is a TTY and not ``--quiet``), at
    most ten times a second.
    """

    WIDTH = 28

    def __init__(self, total: int, enabled: bool, stream=None):
        self.total = max(total, 1)
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.done = 0
        self.start = time.perf_counter()
        self.last_draw = 0.0
        self.drawn = False

    def advance(self, nbytes: int) -> None:
        self.done += nbytes
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.last_draw >= 0.1 or self.done >= self.total:
            self.last_draw = now
            self.draw(now)

    def draw(self, now: float) -> None:
        elapsed = max(now - self.start, 1e-9)
        fraction = min(self.done / self.total, 1.0)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        filled = int(fraction * self.WIDTH)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        line = (f"\r[{bar}] {fraction * 100:5.1f}%  {format_bytes(self.done)} / "
                f"{format_bytes(self.total)}  {format_bytes(rate)}/s  ETA {format_duration(eta)} ")
        self.stream.write(line)
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.drawn = False

