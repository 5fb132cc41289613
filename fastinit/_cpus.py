"""How many CPUs this process may use: the one place fastinit decides it.

OpenMP's default thread count is the number of CPUs in the affinity mask when
the program started.  In a container that is often the host's CPU count,
while the container's CPU *quota* (cgroup CPU bandwidth control) is much
smaller, and every thread beyond the quota only adds waiting.  So the default
count is capped at :func:`usable_cpu_count`, the rule of ``loky.cpu_count``
and scikit-learn:

    ``max(1, min(os.cpu_count(), len(os.sched_getaffinity(0)), ceil(quota / period)))``

with the cgroup quota read from

* cgroup v2: ``cpu.max`` (``"<quota> <period>"``, or ``"max <period>"`` for
  none) of the process's cgroup and of each of its ancestors (the smallest
  limit wins, since a parent's limit applies to its children);
* cgroup v1: ``cpu.cfs_quota_us`` and ``cpu.cfs_period_us`` (quota ``-1``
  for none) in the ``cpu`` controller's hierarchy, the same way.

The cgroup paths come from ``/proc/self/cgroup``; a path that does not exist
under ``/sys/fs/cgroup`` (a container without its own cgroup namespace sees
the host's path) is skipped, so the container's own files at the top are
still read.  Missing or unreadable files mean "no limit".  ``ceil`` keeps a
quota of 1.5 CPUs at 2 threads and one below a whole CPU at 1.
"""

from __future__ import annotations

import math
import os

__all__ = ["cgroup_cpu_quota", "usable_cpu_count"]

# Mount points of the cgroup v1 cpu controller, as systemd and Docker make them.
_V1_CPU_DIRECTORIES = ("cpu", "cpu,cpuacct", "cpuacct,cpu")


def _read(path):
    try:
        with open(path, encoding="ascii") as file:
            return file.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _own_cgroups(root):
    """``{"v2": path or None, "v1": path or None}`` from ``<root>/proc/self/cgroup``.

    Without the file (not Linux, or a fake root without it), both are ``"/"``:
    the top of the hierarchy, which is what a container sees as its own.
    """
    text = _read(os.path.join(root, "proc", "self", "cgroup"))
    if text is None:
        return {"v2": "/", "v1": "/"}
    found = {"v2": None, "v1": None}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            found["v2"] = path
        elif "cpu" in controllers.split(","):
            found["v1"] = path
    return found


def _ancestors(base, path):
    """``base``, then ``base/<first part of path>``, ... down to ``base/<path>``."""
    directory = base
    yield directory
    for part in path.strip("/").split("/"):
        if part and part not in (".", ".."):
            directory = os.path.join(directory, part)
            yield directory


def _ratio(quota, period):
    """quota / period in CPUs, or None for no limit or text that is not one."""
    try:
        quota, period = int(quota), int(period)
    except (TypeError, ValueError):
        return None
    if quota <= 0 or period <= 0:          # -1 is cgroup v1's "no limit"
        return None
    return quota / period


def _v2_limits(base, path):
    for directory in _ancestors(base, path):
        fields = (_read(os.path.join(directory, "cpu.max")) or "").split()
        if len(fields) == 2 and fields[0] != "max":
            limit = _ratio(*fields)
            if limit is not None:
                yield limit


def _v1_limits(base, path):
    seen = set()
    for name in _V1_CPU_DIRECTORIES:
        top = os.path.join(base, name)
        if not os.path.isdir(top) or os.path.realpath(top) in seen:
            continue
        seen.add(os.path.realpath(top))
        for directory in _ancestors(top, path):
            limit = _ratio(_read(os.path.join(directory, "cpu.cfs_quota_us")),
                           _read(os.path.join(directory, "cpu.cfs_period_us")))
            if limit is not None:
                yield limit


def cgroup_cpu_quota(root="/"):
    """The cgroup CPU bandwidth limit of this process, in CPUs (a float), or None.

    Parameters
    ----------
    root : str, optional
        Directory standing for ``/`` (tests pass a fake tree holding
        ``proc/self/cgroup`` and ``sys/fs/cgroup/...``).

    Returns
    -------
    float or None
        The smallest ``quota / period`` over cgroup v2 and v1 and all
        ancestors of the process's cgroups; None when no limit is set.
    """
    own = _own_cgroups(root)
    base = os.path.join(root, "sys", "fs", "cgroup")
    limits = []
    if own["v2"] is not None:
        limits.extend(_v2_limits(base, own["v2"]))
    if own["v1"] is not None:
        limits.extend(_v1_limits(base, own["v1"]))
    return min(limits) if limits else None


def usable_cpu_count(root="/"):
    """CPUs this process may use: the cap on fastinit's default thread count.

    ``max(1, min(os.cpu_count(), len(os.sched_getaffinity(0)), ceil(quota)))``,
    each term left out where the platform does not have it; ``quota`` is
    :func:`cgroup_cpu_quota`.

    Parameters
    ----------
    root : str, optional
        As in :func:`cgroup_cpu_quota`.

    Returns
    -------
    int
        At least 1.
    """
    counts = [os.cpu_count() or 1]
    if hasattr(os, "sched_getaffinity"):
        try:
            counts.append(len(os.sched_getaffinity(0)))
        except OSError:
            pass
    quota = cgroup_cpu_quota(root)
    if quota is not None:
        counts.append(math.ceil(quota))
    return max(1, min(counts))
