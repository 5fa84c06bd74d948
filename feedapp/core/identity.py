"""Who is recording: this boot of this machine, and this process, told apart exactly.

A session stores its host name, the kernel's boot id (``/proc/sys/kernel/random/boot_id``, new at
every boot) and its process id with that process's start time (field 22 of ``/proc/PID/stat``:
clock ticks after boot). On the next start, recovery (store/recover.py) asks: same host, same boot,
and is the process with that pid still the one that started then? A reboot or a reused pid is
recognised without looking at any clock. Where ``/proc`` is missing (not Linux) both are unknown
(``""`` and ``None``) and recovery falls back to the pid and how long the session has been quiet.
"""

from __future__ import annotations

from pathlib import Path

BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")


def boot_id() -> str:
    """This boot's id (a UUID), or ``""`` when the system does not tell."""
    try:
        return BOOT_ID_FILE.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3 onwards of ``/proc/PID/stat`` (``[0]`` is the state), or None without that process."""
    if not pid or pid < 0:
        return None
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return stat[stat.rfind(")") + 2:].split()  # the command name (field 2) is in parentheses, may hold ')'


def process_exited(pid: int) -> bool:
    """True when process ``pid`` has ended but its parent has not collected it yet (a zombie): it
    still has a ``/proc`` entry and a pid, yet it records nothing any more (a ``kill -9`` of an app
    started by a script that does not wait for it leaves one until that script ends)."""
    fields = _stat_fields(pid)
    return bool(fields) and fields[0] in ("Z", "X")


def process_start(pid: int) -> int | None:
    """Start time of process ``pid`` in clock ticks after boot, or None when there is no such process
    (an ended one not collected yet included: ``process_exited``) or no ``/proc``. Note: inside a time
    namespace the kernel shifts this by the namespace's boot-time offset, so compare values read from
    the same namespace."""
    fields = _stat_fields(pid)
    if not fields or fields[0] in ("Z", "X"):
        return None
    try:
        return int(fields[19])  # field 22 overall; fields[0] is field 3 (state)
    except (IndexError, ValueError):
        return None
