"""Fallback sandbox layer: ``python -I _guard.py WORKDIR PROGRAM [ARGS...]``.

Used only where the kernel refuses unprivileged user namespaces (some containers' seccomp
profiles do): the rlimits still hold, and this guard installs a Python audit hook (PEP 578) before
running PROGRAM as ``__main__``. The hook refuses what a namespace would have made impossible:
writing, renaming or deleting outside WORKDIR, reading other processes' environments, creating
processes, signalling other processes, sockets, and ctypes (the way around every other rule).
An audit hook cannot be removed once installed. It is a weaker wall than the kernel's (a C
extension could still act without raising events), so the sandbox says in its metadata when it
is the one in use. Standard library only; no ragassets import.
"""

import os
import re
import runpy
import sys

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_PROCESS_EVENTS = frozenset(
    {
        "os.fork",
        "os.forkpty",
        "os.posix_spawn",
        "os.spawn",
        "os.exec",
        "os.system",
        "os.startfile",
        "subprocess.Popen",
        "pty.spawn",
    }
)
_NETWORK_EVENTS = frozenset(
    {
        "socket.__new__",
        "socket.connect",
        "socket.bind",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
    }
)
_PATH_EVENTS = {  # event -> indexes of the path arguments it carries
    "os.rename": (0, 1),
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.mkdir": (0,),
    "os.symlink": (0, 1),
    "os.link": (0, 1),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.truncate": (0,),
    "os.utime": (0,),
    "shutil.rmtree": (0,),
}
_FORBIDDEN_IMPORTS = frozenset({"ctypes", "_ctypes", "_posixsubprocess", "mmap"})
_PROC_PRIVATE = re.compile(r"^/proc/[^/]+/(environ|mem|maps|cmdline)$")


def _install(workdir):
    workdir = os.path.realpath(workdir)
    me = os.getpid()
    realpath = os.path.realpath
    fspath = os.fspath

    def inside(path):
        if isinstance(path, int):
            return True  # a file descriptor already open
        try:
            p = realpath(fspath(path) if not isinstance(path, bytes) else path.decode("utf-8", "replace"))
        except (TypeError, ValueError):
            return False
        return p == workdir or p.startswith(workdir + os.sep) or p == "/dev/null"

    def deny(what):
        raise PermissionError(f"sandbox: {what} is not allowed")

    def hook(event, args):
        if event == "open":
            path, mode, flags = args
            if isinstance(path, int) or path is None:
                return
            text = path if isinstance(path, str) else fspath(path)
            if isinstance(text, bytes):
                text = text.decode("utf-8", "replace")
            writing = (mode and any(c in str(mode) for c in "wax+")) or (flags & _WRITE_FLAGS)
            if writing and not inside(text):
                deny(f"writing {text}")
            if text.startswith("/proc/") and _PROC_PRIVATE.match(realpath(text)):
                deny(f"reading {text}")
        elif event in _PROCESS_EVENTS:
            deny("starting a process")
        elif event in ("os.kill", "os.killpg", "signal.pthread_kill"):
            if event != "os.kill" or args[0] != me:
                deny("signalling another process")
        elif event in _NETWORK_EVENTS:
            deny("network access")
        elif event.startswith("ctypes."):
            deny("ctypes")
        elif event == "import" and args[0] in _FORBIDDEN_IMPORTS:
            deny(f"importing {args[0]}")
        elif event in _PATH_EVENTS:
            for i in _PATH_EVENTS[event]:
                if i < len(args) and args[i] is not None and not inside(args[i]):
                    deny(f"{event} outside the work folder")

    sys.addaudithook(hook)


def main():
    workdir, program, *rest = sys.argv[1:]
    _install(workdir)
    sys.argv = [program, *rest]
    sys.path[0] = os.path.dirname(os.path.abspath(program))
    runpy.run_path(program, run_name="__main__")


if __name__ == "__main__":
    main()
