"""Run untrusted Python (model-written solutions) in a sandboxed subprocess, on this machine.

No container runtime, no cloud service: the Linux kernel's own walls, set up by ``unshare`` and a
small launcher (``_launcher.py``):

- **namespaces** (when the machine allows unprivileged user namespaces): new user, mount, network
  and pid namespaces. Every mount is read-only except a fresh temporary folder; the network
  namespace has only a loopback that is down (no connection to anything, the host's loopback
  included); the pid namespace shows only the sandbox's own processes (no other process's
  environment to read, no parent to kill) and dies as a whole when its first process ends;
  every capability is dropped before the program starts;
- **rlimits** (always): CPU seconds, address space (memory), file size, number of processes, open
  files, no core dumps;
- an **empty environment** (no secrets inherited) and a fresh temporary working folder per run;
- a **wall-clock limit**: the whole process group is killed with SIGKILL when it passes (and with
  namespaces, everything left in the pid namespace dies with it).

Where user namespaces are refused (some container runtimes), ``isolation="auto"`` falls back to
rlimits plus a Python audit-hook guard (``_guard.py``) and says so: :func:`isolation_report` is
what the assets put in metadata. ``isolation="namespaces"`` makes that fallback an error instead.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

LAUNCHER = Path(__file__).resolve().with_name("_launcher.py")
GUARD = Path(__file__).resolve().with_name("_guard.py")
SETUP_FAILED = 125
UNSHARE_ARGS = ("--user", "--map-root-user", "--mount", "--net", "--pid", "--fork", "--kill-child", "--mount-proc")

Isolation = Literal["auto", "namespaces", "rlimits"]


class SandboxUnavailable(RuntimeError):
    """The isolation asked for cannot be had on this machine."""


@dataclass(frozen=True)
class SandboxLimits:
    """Limits of one sandboxed run. Memory is address space (RLIMIT_AS), so it counts what the
    program reserves, not only what it touches; 512 MB leaves plenty for CPython and the stdlib."""

    cpu_s: int = 2
    wall_s: float = 5.0
    memory_mb: int = 512
    file_mb: int = 8
    nproc: int = 32
    nofile: int = 64
    max_output_bytes: int = 1_000_000

    def rlimits(self) -> dict[str, int]:
        return {
            "cpu_s": self.cpu_s,
            "memory_bytes": self.memory_mb * 1024 * 1024,
            "file_bytes": self.file_mb * 1024 * 1024,
            "nproc": self.nproc,
            "nofile": self.nofile,
        }


@dataclass
class RunOutcome:
    """What happened to one sandboxed run.

    ``returncode``: the program's exit status (None when it was killed at the wall-clock limit);
    ``signal``: the signal that ended it, if any; ``timed_out``: killed at the wall-clock limit;
    ``stdout``/``stderr``: decoded output, cut at ``max_output_bytes`` (``output_truncated``).
    """

    returncode: int | None
    stdout: str
    stderr: str
    wall_s: float
    timed_out: bool = False
    signal: int | None = None
    output_truncated: bool = False
    isolation: str = ""
    setup_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def failure_reason(self) -> str | None:
        """None for a clean exit; otherwise ``timeout``, ``memory`` or ``crash`` (with
        :meth:`failure_detail` in words)."""
        if self.ok:
            return None
        if self.timed_out or self.signal in (signal.SIGXCPU, signal.SIGKILL):
            return "timeout"
        if "MemoryError" in self.stderr or "Cannot allocate memory" in self.stderr:
            return "memory"
        return "crash"

    def failure_detail(self) -> str:
        if self.setup_error:
            return f"sandbox setup failed: {self.setup_error}"
        if self.timed_out:
            return f"killed at the wall-clock limit ({self.wall_s:.1f} s)"
        if self.signal is not None:
            name = signal.Signals(self.signal).name if self.signal in signal.Signals._value2member_map_ else self.signal
            extra = {
                signal.SIGXCPU: " (CPU-time limit)",
                signal.SIGKILL: " (CPU-time limit)",
                signal.SIGXFSZ: " (file-size limit)",
            }.get(self.signal, "")
            return f"killed by {name}{extra}"
        lines = [ln for ln in self.stderr.strip().splitlines() if ln.strip()]
        last = lines[-1] if lines else ""
        return f"exit status {self.returncode}" + (f": {last[:200]}" if last else "")


@functools.lru_cache(maxsize=1)
def probe_namespaces() -> tuple[bool, str]:
    """(True, '') when ``unshare`` can create the sandbox's namespaces here, else (False, why)."""
    exe = shutil.which("unshare")
    if exe is None:
        return False, "the unshare command (util-linux) is not installed"
    try:
        proc = subprocess.run(
            [exe, *UNSHARE_ARGS, "true"], capture_output=True, text=True, timeout=10, env={}, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"unshare failed: {exc}"
    if proc.returncode != 0:
        return False, f"unshare refused: {proc.stderr.strip() or f'exit {proc.returncode}'}"
    return True, ""


def resolve_isolation(isolation: Isolation = "auto") -> str:
    """``namespaces`` or ``rlimits``: what a run with ``isolation`` will use on this machine."""
    if isolation == "rlimits":
        return "rlimits"
    ok, why = probe_namespaces()
    if ok:
        return "namespaces"
    if isolation == "namespaces":
        raise SandboxUnavailable(
            f"sandbox isolation 'namespaces' is not available here ({why}); allow unprivileged user "
            "namespaces (sysctl kernel.unprivileged_userns_clone=1, or a container seccomp profile "
            "that permits unshare), or set reasoning.sandbox.isolation: auto to accept rlimits + audit hooks"
        )
    return "rlimits"


def isolation_report(isolation: Isolation = "auto") -> dict[str, object]:
    """What the sandbox does on this machine, for asset metadata."""
    mode = resolve_isolation(isolation)
    _, why = probe_namespaces()
    if mode == "namespaces":
        return {
            "isolation": "namespaces",
            "network_isolated": True,
            "filesystem": "read-only except a fresh temporary folder (mount namespace)",
            "processes": "own pid namespace; rlimits",
        }
    return {
        "isolation": "rlimits",
        "network_isolated": False,
        "why_no_namespaces": why or "isolation: rlimits was asked for",
        "filesystem": "Python audit hooks refuse writes outside the temporary folder (not the kernel)",
        "processes": "rlimits; Python audit hooks refuse fork, exec, kill, sockets and ctypes",
    }


def _python() -> str:
    return sys.executable


class Sandbox:
    """Runs programs under :class:`SandboxLimits` with the isolation of this machine.

    ``run_python(source, stdin)`` writes ``source`` as ``main.py`` (plus ``files``) into a fresh
    temporary folder and runs it with this interpreter (``-I -B``: no user site, no environment
    variables read, no bytecode written).
    """

    def __init__(self, limits: SandboxLimits | None = None, isolation: Isolation = "auto") -> None:
        self.limits = limits or SandboxLimits()
        self.isolation = resolve_isolation(isolation)

    def run_python(
        self,
        source: str,
        stdin: str = "",
        *,
        files: dict[str, str] | None = None,
        main: str = "main.py",
        limits: SandboxLimits | None = None,
    ) -> RunOutcome:
        limits = limits or self.limits
        base = Path(tempfile.mkdtemp(prefix="ragassets-sandbox-"))
        try:
            work = base / "work"
            work.mkdir()
            for name, text in {**(files or {}), main: source}.items():
                (work / name).write_text(text, encoding="utf-8")
            program = str(work / main)
            if self.isolation == "namespaces":
                argv = [_python(), "-I", "-B", program]
            else:
                argv = [_python(), "-I", "-B", str(GUARD), str(work), program]
            return self._run(base, work, argv, stdin, limits)
        finally:
            shutil.rmtree(base, ignore_errors=True)

    def _run(self, base: Path, work: Path, argv: list[str], stdin: str, limits: SandboxLimits) -> RunOutcome:
        spec = {
            "workdir": str(work),
            "argv": argv,
            "limits": limits.rlimits(),
            "namespaces": self.isolation == "namespaces",
        }
        launcher = [_python(), "-I", "-S", "-B", str(LAUNCHER), json.dumps(spec)]
        cmd = [shutil.which("unshare") or "unshare", *UNSHARE_ARGS, *launcher] if spec["namespaces"] else launcher
        (base / "stdin").write_text(stdin, encoding="utf-8")
        out_path, err_path = base / "stdout", base / "stderr"
        started = time.monotonic()
        timed_out = False
        with open(base / "stdin", "rb") as fin, open(out_path, "wb") as fout, open(err_path, "wb") as ferr:
            proc = subprocess.Popen(
                cmd, stdin=fin, stdout=fout, stderr=ferr, env={}, cwd=str(work), start_new_session=True
            )
            try:
                proc.wait(timeout=limits.wall_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_group(proc.pid)
                proc.wait()
        wall = time.monotonic() - started
        stdout, t1 = _read_capped(out_path, limits.max_output_bytes)
        stderr, t2 = _read_capped(err_path, limits.max_output_bytes)
        code = proc.returncode
        sig = None
        setup_error = None
        if code is not None and code < 0:
            sig, code = -code, None
        elif spec["namespaces"] and code is not None and code > 128 and code - 128 < 65:
            sig, code = code - 128, None  # the launcher reports a killed program as 128 + signal
        if code == SETUP_FAILED and "ragassets-sandbox: setup failed" in stderr:
            setup_error = stderr.strip().splitlines()[-1]
        return RunOutcome(
            returncode=None if timed_out else code,
            stdout=stdout,
            stderr=stderr,
            wall_s=wall,
            timed_out=timed_out,
            signal=None if timed_out else sig,
            output_truncated=t1 or t2,
            isolation=self.isolation,
            setup_error=setup_error,
        )

    def describe(self) -> dict[str, object]:
        return {**isolation_report("rlimits" if self.isolation == "rlimits" else "auto"), **asdict(self.limits)}


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read_capped(path: Path, cap: int) -> tuple[str, bool]:
    with open(path, "rb") as fh:
        data = fh.read(cap + 1)
    return data[:cap].decode("utf-8", "replace"), len(data) > cap

