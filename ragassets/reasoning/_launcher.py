"""Sandbox launcher: the first program inside the sandbox, run as ``python -I -S _launcher.py SPEC``.

Standard library only (it runs with ``-S``, before anything else is importable), no ragassets import.
SPEC is a JSON object: ``workdir`` (the only writable folder), ``argv`` (the program to run),
``limits`` (rlimits), ``namespaces`` (true when started by ``unshare`` in new user, mount, network
and pid namespaces).

With namespaces this process is pid 1 of a fresh pid namespace and root of a fresh user namespace
(root only there; outside it is the caller's own user). It then

1. binds ``workdir`` onto itself and remounts every other mount read-only, so the program can
   write nowhere else (not the repository, not /tmp, not /dev/shm, not cgroup files);
2. sets the rlimits (CPU seconds, address space, file size, processes, open files, no core dumps);
3. drops every capability from the bounding set and sets no_new_privs, so the program, although
   uid 0 inside, cannot remount anything writable again or gain privileges by exec;
4. forks the program with an empty environment in ``workdir``, reaps every process of the
   namespace while it runs, and exits with the program's status (128 + signal when it was
   killed). When this process exits, the kernel kills everything left in the pid namespace.

Without namespaces (a machine that forbids unprivileged user namespaces) it does steps 2 and 4 and
runs the program under ``_guard.py`` (Python audit hooks) instead.
"""

import ctypes
import json
import os
import resource
import sys

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24

PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38

SETUP_FAILED = 125

_FLAG_WORDS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "relatime": MS_RELATIME,
    "strictatime": MS_STRICTATIME,
}


def _fail(message):
    sys.stderr.write(f"ragassets-sandbox: setup failed: {message}\n")
    sys.stderr.flush()
    os._exit(SETUP_FAILED)


def _unescape(path):
    # mountinfo escapes space, tab, newline and backslash as octal
    out, i = [], 0
    while i < len(path):
        if path[i] == "\\" and path[i + 1 : i + 4].isdigit() and len(path[i + 1 : i + 4]) == 3:
            out.append(chr(int(path[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(path[i])
            i += 1
    return "".join(out)


def _mounts():
    """(mount point, per-mount flags) of every mount visible here, parents before children."""
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            target = _unescape(parts[4])
            flags = 0
            for word in parts[5].split(","):
                flags |= _FLAG_WORDS.get(word, 0)
            found.append((target, flags))
    return found


def _mount(libc, source, target, flags):
    if libc.mount(source, target.encode(), None, flags, None) != 0:
        err = ctypes.get_errno()
        return os.strerror(err)
    return None


def _lock_filesystem(workdir):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
    err = _mount(libc, workdir.encode(), workdir, MS_BIND)
    if err:
        _fail(f"cannot bind the work folder {workdir}: {err}")
    workdir_flags = 0
    for target, flags in _mounts():
        if target == workdir:
            workdir_flags = flags
            continue
        if target.startswith(workdir.rstrip("/") + "/"):
            continue
        err = _mount(libc, None, target, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)
        if err and os.path.exists(target):
            _fail(f"cannot make {target} read-only: {err}")
    # the bind of the work folder was copied from a mount that is read-only now: make it writable
    err = _mount(libc, None, workdir, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | workdir_flags)
    if err:
        _fail(f"cannot make the work folder writable: {err}")


def _drop_privileges():
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in range(64):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != 22:  # EINVAL: no such cap
            _fail(f"cannot drop capability {cap}: {os.strerror(ctypes.get_errno())}")
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        _fail(f"cannot set no_new_privs: {os.strerror(ctypes.get_errno())}")


def _set_limits(limits):
    table = {
        "cpu_s": resource.RLIMIT_CPU,
        "memory_bytes": resource.RLIMIT_AS,
        "file_bytes": resource.RLIMIT_FSIZE,
        "nproc": resource.RLIMIT_NPROC,
        "nofile": resource.RLIMIT_NOFILE,
    }
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for key, which in table.items():
        value = limits.get(key)
        if value is None:
            continue
        value = int(value)
        if key == "cpu_s":  # soft limit sends SIGXCPU, the hard one a second later SIGKILL
            resource.setrlimit(which, (value, value + 1))
        else:
            resource.setrlimit(which, (value, value))


def _status_code(status):
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def main():
    spec = json.loads(sys.argv[1])
    workdir = spec["workdir"]
    if spec.get("namespaces"):
        _lock_filesystem(workdir)
        _set_limits(spec["limits"])
        _drop_privileges()
    else:
        _set_limits(spec["limits"])
    argv = spec["argv"]
    if not spec.get("namespaces"):
        os.chdir(workdir)
        os.execve(argv[0], argv, {})
    pid = os.fork()
    if pid == 0:
        try:
            os.chdir(workdir)
            os.execve(argv[0], argv, {})
        except BaseException as exc:  # noqa: BLE001 - reported, then the child ends
            sys.stderr.write(f"ragassets-sandbox: cannot start {argv[0]}: {exc}\n")
            os._exit(SETUP_FAILED)
    code = None
    while True:  # pid 1 of the namespace: reap everything, stop when the program has ended
        try:
            done, status = os.wait()
        except ChildProcessError:
            break
        if done == pid:
            code = _status_code(status)
            break
    os._exit(SETUP_FAILED if code is None else code)


if __name__ == "__main__":
    main()
