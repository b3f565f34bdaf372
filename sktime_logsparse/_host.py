"""Memory available on this machine: the kernel's count, under the cgroup's limit.

Read by :func:`._memory.available_memory` (the forecaster's memory checks).
"""

from __future__ import annotations

import os


def host_available() -> float | None:
    """Bytes available: ``MemAvailable`` (else the free physical pages).

    Capped by the room left under the control group's memory limit (cgroup
    v2, else v1); None where nothing tells.
    """
    found = []
    try:
        with open("/proc/meminfo") as f:
            found += [int(x.split()[1]) * 1024 for x in f if x.startswith("MemAvail")]
    except (OSError, ValueError, IndexError):
        pass
    if not found and hasattr(os, "sysconf"):
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError):
            pass
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
         "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):  # fmt: skip
        try:
            with open(limit_file) as f, open(usage_file) as g:
                limit, usage = f.read().strip(), int(g.read().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 2**60:  # v1 writes "no limit" so
            found.append(max(0, int(limit) - usage))
        break
    return float(min(found)) if found else None
