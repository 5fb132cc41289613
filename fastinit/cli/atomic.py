"""Writing a file safely: all of it or nothing, never a half-written target.

* :func:`check_target` and :func:`check_free_space` refuse early what would
  fail later;
* :class:`AtomicFile` writes a hidden temporary file next to the target
  (``.NAME.HOST.XXXXXXXX.fastinit-part``) under an exclusive ``flock`` and
  renames it into place once it is synced; :func:`remove_stale_parts` removes
  the temporary files of writes that were killed outright;
* :class:`SignalsToExceptions` turns Ctrl-C/SIGTERM/SIGHUP into an exception
  so the temporary file is cleaned up;
* :func:`write_text` writes a small text file (``--json``), not atomically.

What goes into the file, block by block, is :mod:`fastinit.cli.chunked`'s job.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import signal
import stat
import sys
import tempfile
import threading
from pathlib import Path
from typing import Optional

try:
    import fcntl
except ImportError:                            # not POSIX: no locks, so no stale-file cleanup
    fcntl = None

from fastinit.cli.errors import Interrupted, RuntimeFailure, os_error_text
from fastinit.cli.progress import format_bytes

TEMP_SUFFIX = ".fastinit-part"


def check_target(path: Path, force: bool) -> None:
    """Refuse early what would fail later: missing directory, a directory as target, no --force."""
    parent = path.parent
    if not parent.exists():
        raise RuntimeFailure(f"cannot write {str(path)!r}: directory {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise RuntimeFailure(f"cannot write {str(path)!r}: {str(parent)!r} is not a directory")
    if path.is_dir():
        raise RuntimeFailure(f"cannot write {str(path)!r}: it is a directory")
    if path.exists() and not force:
        raise RuntimeFailure(f"{str(path)!r} already exists; pass --force to overwrite it")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RuntimeFailure(f"cannot write {str(path)!r}: directory {str(parent)!r} is not writable")


def check_free_space(path: Path, nbytes: int) -> None:
    try:
        stat = os.statvfs(path.parent)
    except (OSError, AttributeError):
        return
    if stat.f_blocks == 0:                 # a pseudo file system (/proc): let the write fail
        return
    available = stat.f_bavail * stat.f_frsize
    if nbytes > available:
        raise RuntimeFailure(
            f"not enough free space for {str(path)!r}: it needs {format_bytes(nbytes)} "
            f"({nbytes:,} bytes) and {str(path.parent)!r} has {format_bytes(available)} available"
        )


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def host_tag() -> str:
    """8 hex digits naming this machine (a hash of its host name) in temporary file names.

    Only files tagged with our own host are ever removed as stale: on a file
    system shared between machines, locks may be local to each machine (NFS
    ``nolock``, Lustre ``localflock``), so another machine's live write could
    look unlocked from here.
    """
    try:
        node = os.uname().nodename
    except AttributeError:
        node = ""
    return hashlib.blake2b(node.encode("utf-8", "surrogateescape"), digest_size=4).hexdigest()


def temp_name_pattern(tag: str) -> re.Pattern:
    """Our temporary files: ``.NAME.TAG.XXXXXXXX.fastinit-part`` (mkstemp's 8 random characters)."""
    return re.compile(r"\..+\." + re.escape(tag) + r"\.[a-z0-9_]{8}" + re.escape(TEMP_SUFFIX))


def _lock(fd: int) -> bool:
    """Take an exclusive flock on ``fd`` without waiting; False if another process holds one.

    Raises OSError when the file system has no locks (then nothing is ever
    treated as stale there).
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _same_file(fd: int, path: str) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        named = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def remove_stale_parts(directory: Path, keep: str = "") -> list:
    """Remove the temporary files of writes that died (``kill -9``, a crash, a power cut).

    A writer holds an exclusive ``flock`` on its temporary file from just after
    creating it until it is renamed into place or removed; the kernel drops the
    lock when the process dies, however it dies.  So a file named like ours
    that can be locked has no live writer, and is removed while we hold its
    lock.  A file we cannot open or lock (another user's, a live writer's, a
    file system without locks), another machine's (see :func:`host_tag`) or
    one of an older fastinit (no tag: it did not lock) is left alone.
    ``keep`` is our own file's name.

    Returns
    -------
    list of (str, int)
        The names removed and their sizes in bytes.
    """
    if fcntl is None:
        return []
    removed = []
    ours = temp_name_pattern(host_tag())
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    for entry in entries:
        if entry.name == keep or not ours.fullmatch(entry.name):
            continue
        path = os.path.join(directory, entry.name)
        try:
            fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            continue
        try:
            info = os.fstat(fd)
            if stat.S_ISREG(info.st_mode) and _lock(fd) and _same_file(fd, path):
                os.unlink(path)
                removed.append((entry.name, info.st_size))
        except OSError:
            pass
        finally:
            os.close(fd)                       # releases the lock
    return removed


class AtomicFile:
    """A hidden temporary file next to ``target`` that becomes ``target`` once complete.

    Until then the target is untouched; :meth:`discard` (called for any
    exception, including Ctrl-C) removes the temporary file.  Committing is
    :meth:`sync` (fsync, the slow part) and then :meth:`publish` (rename).
    The file stays open, under an exclusive ``flock``, until it is published
    or discarded: that lock is how :func:`remove_stale_parts` (run by
    :meth:`open`) tells a live write from the leftovers of a killed one.
    """

    def __init__(self, target: Path, force: bool):
        self.target = target
        self.force = force
        self.fd: Optional[int] = None
        self.temp_path: Optional[str] = None
        self.removed_stale: list = []

    def open(self) -> int:
        locks = fcntl is not None
        try:
            for _ in range(100):
                fd, temp_path = tempfile.mkstemp(
                    prefix=f".{self.target.name}.{host_tag()}.", suffix=TEMP_SUFFIX,
                    dir=self.target.parent)
                if not locks:
                    break
                try:
                    locked = _lock(fd)
                except OSError:                  # no locks on this file system: no cleanup either
                    locks = False
                    break
                # Another fastinit may have found the new file unlocked and removed it (or hold
                # it to do so) in the moment before the lock: then take another name.
                if locked and _same_file(fd, temp_path):
                    break
                os.close(fd)
            else:
                raise OSError(errno.EEXIST, "no temporary file could be created and locked")
            self.fd, self.temp_path = fd, temp_path
            os.fchmod(self.fd, 0o666 & ~_current_umask())
        except OSError as exc:
            raise RuntimeFailure(f"cannot create a file in {str(self.target.parent)!r}: "
                                 f"{os_error_text(exc)}") from None
        if locks:
            self.removed_stale = remove_stale_parts(self.target.parent, os.path.basename(self.temp_path))
        return self.fd

    def write(self, data) -> None:
        """Write all of ``data`` (a bytes-like object)."""
        view = memoryview(data).cast("B")
        while view:
            written = os.write(self.fd, view)
            view = view[written:]

    def sync(self) -> None:
        """Flush the data to the disk (the file stays open, and locked, until published)."""
        os.fsync(self.fd)

    def publish(self) -> None:
        """Move the synced file into place (refusing to replace a target that appeared meanwhile)."""
        if self.force:
            os.replace(self.temp_path, self.target)
        else:
            try:
                os.link(self.temp_path, self.target)     # fails if the target exists: no clobbering
            except FileExistsError:
                raise RuntimeFailure(f"{str(self.target)!r} already exists; pass --force to "
                                     "overwrite it") from None
            except OSError:                              # no hard links here (FAT, some FUSE)
                if self.target.exists():
                    raise RuntimeFailure(f"{str(self.target)!r} already exists; pass --force to "
                                         "overwrite it") from None
                os.replace(self.temp_path, self.target)
            else:
                os.unlink(self.temp_path)
        self.temp_path = None
        os.close(self.fd)
        self.fd = None
        try:
            directory = os.open(self.target.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(directory)
        except OSError:
            pass
        finally:
            os.close(directory)

    def discard(self) -> None:
        """Remove the temporary file (while still holding its lock), then close it."""
        if self.temp_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.temp_path)
            self.temp_path = None
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None


class SignalsToExceptions:
    """Turn SIGINT, SIGTERM and SIGHUP into :class:`Interrupted` while writing."""

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                    if hasattr(signal, name))

    def __enter__(self):
        self.previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self.previous[signum] = signal.signal(signum, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        raise Interrupted(signum)

    def ignore(self) -> None:
        """Ignore further signals (while cleaning up)."""
        for signum in self.previous:
            signal.signal(signum, signal.SIG_IGN)

    def __exit__(self, *exc_info):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        return False


def report_removed_parts(directory: Path, removed: list) -> None:
    """One stderr line naming the leftovers of killed writes that were just removed."""
    names = ", ".join(f"{name!r} ({format_bytes(size)})" for name, size in removed[:3])
    more = f" and {len(removed) - 3} more" if len(removed) > 3 else ""
    what = "file of a killed write" if len(removed) == 1 else "files of killed writes"
    sys.stderr.write(f"fastinit: removed {len(removed)} stale temporary {what} from "
                     f"{str(directory)!r}: {names}{more}\n")
    sys.stderr.flush()


def write_text(path: Path, text: str) -> None:
    """Write a small text file (``--json``); an OSError becomes a one-line error."""
    try:
        path.write_text(text)
    except OSError as exc:
        raise RuntimeFailure(f"cannot write {str(path)!r}: {os_error_text(exc)}") from None
