"""Address-space limits of the inspection child (``setrlimit``; a no-op where unsupported)."""

from __future__ import annotations

import os
import signal
from typing import Callable, Optional


def address_space() -> Optional[int]:
    """The process's current virtual size in bytes (Linux ``/proc``), else None."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def limit_address_space(extra_bytes: int) -> Callable[[], None]:
    """Cap the address space at its current size plus ``extra_bytes`` (what torch already
    mapped does not count against the user's model); returns a function restoring the previous
    limit. Never raises the limit."""
    try:
        import resource
    except ImportError:
        return lambda: None
    current = address_space()
    if current is None or extra_bytes <= 0:
        return lambda: None
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    wanted = current + extra_bytes
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft <= wanted:
        return lambda: None
    resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def limit_file_size(max_bytes: int) -> None:
    """Cap every file the child writes (its captured output included) at ``max_bytes``: a print
    loop fails with ``OSError(EFBIG)`` instead of filling the disk until the timeout."""
    try:
        import resource
    except ImportError:
        return
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write, do not kill the child
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if hard != resource.RLIM_INFINITY:
        max_bytes = min(max_bytes, hard)
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, hard))
