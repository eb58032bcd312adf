"""Audit hook for tests/test_local_only.py: logs every socket and every file opened for writing.

Put this folder first on PYTHONPATH and set MUSE_AUDIT_LOG; every Python
process started with that environment (and its forks) appends one line per
event: ``socket <family> <type>``, ``connect <address>``, ``getaddrinfo <host>``,
``write <path>``.
"""

import os
import sys

_LOG = os.environ.get("MUSE_AUDIT_LOG")


def _hook(event, args):
    if event == "socket.__new__":
        line = f"socket {int(args[1])} {int(args[2])}"
    elif event in ("socket.connect", "socket.sendto", "socket.bind"):
        line = f"{event.split('.')[1]} {args[1]!r}"
    elif event == "socket.getaddrinfo":
        line = f"getaddrinfo {args[0]!r}"
    elif event == "open" and args[1] is not None and not isinstance(args[1], int) and any(c in args[1] for c in "wax+"):
        line = f"write {os.fsdecode(args[0]) if isinstance(args[0], (str, bytes, os.PathLike)) else args[0]}"
    else:
        return
    fd = os.open(_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


if _LOG:
    sys.addaudithook(_hook)
