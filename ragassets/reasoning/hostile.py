"""A fixed suite of hostile programs, run through the same sandbox as model-written code.

Each case is a real attack a generated solution could make by accident or on purpose, with a judge
that looks at the outside world afterwards (not at what the program claims):

==================  ==========================================================================
fork_bomb           forks without end; contained when it ends and no process of it is left
infinite_loop       spins forever; contained when it is stopped near the time limits
big_allocation      asks for 8 GB; contained when the allocation fails and the program ends
write_outside       writes a file into a folder of the caller and into /tmp, tries to remount
                    the root file system writable first; contained when neither file exists
                    (and the program could write in its own temporary folder)
network             connects to a TCP server the caller listens with on 127.0.0.1;
                    contained when the server sees no connection
read_parent_env     prints its environment and every /proc/<pid>/environ it can read, the
                    caller's included; contained when the caller's secret is not in its output
kill_parent         sends SIGKILL to its parent, to the caller and the caller's process group;
                    contained when the caller lives on (judged by whoever started the caller)
==================  ==========================================================================

Run in a process of its own, ``python -m ragassets.reasoning.hostile --json``, started with a
secret in its environment by :func:`run_isolated` (that is what the ``sandbox_contained`` check
does): then a failed ``kill_parent`` kills that process, not the caller, and shows as such.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ragassets.reasoning.sandbox import RunOutcome, Sandbox, SandboxLimits

CANARY_VAR = "RAGASSETS_SANDBOX_CANARY"
CASES = (
    "fork_bomb",
    "infinite_loop",
    "big_allocation",
    "write_outside",
    "network",
    "read_parent_env",
    "kill_parent",
)


@dataclass
class HostileContext:
    token: str  # unique per suite run: marks this run's files and processes
    canary: str  # the caller's secret (in its environment since it started)
    outside: Path  # a folder of the caller, outside the sandbox's temporary folder
    port: int  # a TCP server of the caller on 127.0.0.1
    target_pid: int  # the process the kill attempt aims at (the caller)
    connections: list[str]

    @property
    def tmp_canary(self) -> Path:
        return Path(tempfile.gettempdir()) / f"ragassets-pwned-{self.token}"


@dataclass
class HostileResult:
    case: str
    contained: bool
    detail: str
    outcome: str  # how the run ended, in words
    wall_s: float


def _sources(ctx: HostileContext) -> dict[str, str]:
    outside = str(ctx.outside / "pwned.txt")
    return {
        "fork_bomb": (
            "import os\n"
            "while True:\n"
            "    try:\n"
            "        os.fork()\n"
            "    except OSError:\n"
            "        pass\n"
        ),
        "infinite_loop": "while True:\n    pass\n",
        "big_allocation": (
            "block = bytearray(8 * 1024 ** 3)\n"
            "block[::4096] = b'x' * len(block[::4096])\n"
            "print('ALLOCATED', len(block))\n"
        ),
        "write_outside": (
            "import os\n"
            "try:\n"
            "    import ctypes\n"
            "    libc = ctypes.CDLL(None, use_errno=True)\n"
            "    libc.mount(None, b'/', None, 32 | 4096, None)  # MS_REMOUNT | MS_BIND, read-write\n"
            "except BaseException as exc:\n"
            "    print('remount failed:', exc)\n"
            f"for path in ({outside!r}, {str(ctx.tmp_canary)!r}):\n"
            "    try:\n"
            "        with open(path, 'w') as fh:\n"
            "            fh.write('pwned')\n"
            "        print('WROTE', path)\n"
            "    except BaseException as exc:\n"
            "        print('write failed:', path, exc)\n"
            "with open('inside.txt', 'w') as fh:\n"
            "    fh.write('ok')\n"
            "print('INSIDE_OK')\n"
        ),
        "network": (
            "import socket\n"
            "try:\n"
            f"    s = socket.create_connection(('127.0.0.1', {ctx.port}), timeout=2)\n"
            f"    s.sendall(b'PWNED {ctx.token}')\n"
            "    s.close()\n"
            "    print('CONNECTED')\n"
            "except BaseException as exc:\n"
            "    print('connect failed:', exc)\n"
        ),
        "read_parent_env": (
            "import os\n"
            "print(dict(os.environ))\n"
            "paths = ['/proc/%d/environ' % os.getppid(), "
            f"'/proc/{ctx.target_pid}/environ']\n"
            "try:\n"
            "    paths += ['/proc/%s/environ' % p for p in os.listdir('/proc') if p.isdigit()]\n"
            "except BaseException as exc:\n"
            "    print('listdir failed:', exc)\n"
            "for path in paths:\n"
            "    try:\n"
            "        with open(path, 'rb') as fh:\n"
            "            print(path, fh.read().replace(b'\\0', b' ').decode('utf-8', 'replace'))\n"
            "    except BaseException as exc:\n"
            "        print('read failed:', path, type(exc).__name__)\n"
        ),
        "kill_parent": (
            "import os, signal\n"
            f"for attempt in (lambda: os.kill(os.getppid(), signal.SIGKILL), "
            f"lambda: os.kill({ctx.target_pid}, signal.SIGKILL), "
            f"lambda: os.killpg(os.getpgid({ctx.target_pid}), signal.SIGKILL)):\n"
            "    try:\n"
            "        attempt()\n"
            "        print('signal sent')\n"
            "    except BaseException as exc:\n"
            "        print('kill failed:', exc)\n"
        ),
    }


def _processes_with(token: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if token.encode() in cmdline:
            found.append(int(entry))
    return found


def _ended(o: RunOutcome) -> str:
    if o.setup_error:
        return o.setup_error
    if o.timed_out:
        return f"killed at the wall-clock limit after {o.wall_s:.1f} s"
    if o.signal is not None:
        return f"{o.failure_detail()} after {o.wall_s:.1f} s"
    return f"exit status {o.returncode} after {o.wall_s:.1f} s"


def _judge(case: str, o: RunOutcome, ctx: HostileContext, limits: SandboxLimits) -> tuple[bool, str]:
    out = o.stdout + o.stderr
    if o.setup_error:
        return False, f"the sandbox did not start: {o.setup_error}"
    if case == "fork_bomb":
        left: list[int] = []
        for _ in range(40):  # the kernel tears the namespace down asynchronously
            left = _processes_with(f"bomb_{ctx.token}")
            if not left:
                break
            time.sleep(0.05)
        if left:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            return False, f"{len(left)} process(es) of the fork bomb outlived the run"
        return True, "ended, no process left behind"
    if case == "infinite_loop":
        bound = min(limits.cpu_s + 1, limits.wall_s) + 2.0
        if o.ok or o.wall_s > bound:
            return False, f"ran {o.wall_s:.1f} s (limit about {bound:.1f} s)"
        return True, f"stopped after {o.wall_s:.1f} s ({o.failure_detail()})"
    if case == "big_allocation":
        if "ALLOCATED" in out:
            return False, "the 8 GB allocation succeeded"
        return True, f"allocation refused ({o.failure_reason()})"
    if case == "write_outside":
        written = [str(p) for p in (ctx.outside / "pwned.txt", ctx.tmp_canary) if p.exists()]
        if written:
            return False, f"wrote {', '.join(written)}"
        if "INSIDE_OK" not in out:
            return False, "the program could not even write in its own temporary folder: test inconclusive"
        return True, "nothing written outside its temporary folder (which was writable)"
    if case == "network":
        if ctx.connections:
            return False, f"the caller's server on 127.0.0.1:{ctx.port} got {len(ctx.connections)} connection(s)"
        return True, "no connection reached the caller's server"
    if case == "read_parent_env":
        if ctx.canary in out:
            return False, "the caller's secret appeared in the program's output"
        return True, "the caller's secret stayed hidden"
    if case == "kill_parent":
        # if we got here, this process (the caller) is alive; the check also watches it from outside
        return True, "the caller survived"
    raise ValueError(f"unknown hostile case {case!r}")


class _Listener:
    """A TCP server on 127.0.0.1 that records who connects."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, addr = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections.append(f"{addr[0]}:{addr[1]}")
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def run_suite(
    runner: Any,
    *,
    limits: SandboxLimits | None = None,
    cases: tuple[str, ...] = CASES,
    target_pid: int | None = None,
    on_result: Callable[[HostileResult], None] | None = None,
) -> list[HostileResult]:
    """Run ``cases`` through ``runner`` (a :class:`Sandbox`, or anything with its ``run_python``).

    The caller's secret is ``$RAGASSETS_SANDBOX_CANARY`` when set (it must have been in the
    environment when this process started, as :func:`run_isolated` arranges, to show in
    /proc/<pid>/environ), else a fresh one put in ``os.environ`` (a weaker test of the /proc route).
    ``target_pid``: the process the kill attempt aims at (default: this one).
    """
    limits = limits or getattr(runner, "limits", None) or SandboxLimits()
    canary = os.environ.get(CANARY_VAR)
    if not canary:
        canary = os.environ[CANARY_VAR] = secrets.token_hex(16)
    outside = Path(tempfile.mkdtemp(prefix="ragassets-hostile-"))
    listener = _Listener()
    token = secrets.token_hex(6)
    ctx = HostileContext(
        token=token,
        canary=canary,
        outside=outside,
        port=listener.port,
        target_pid=target_pid or os.getpid(),
        connections=listener.connections,
    )
    sources = _sources(ctx)
    results = []
    try:
        for case in cases:
            main = f"bomb_{token}.py" if case == "fork_bomb" else "main.py"
            outcome = runner.run_python(sources[case], main=main, limits=limits)
            if case == "network":
                time.sleep(0.1)  # let the accept loop record a connection that just arrived
            contained, detail = _judge(case, outcome, ctx, limits)
            res = HostileResult(case, contained, detail, _ended(outcome), round(outcome.wall_s, 3))
            results.append(res)
            if on_result:
                on_result(res)
    finally:
        listener.close()
        shutil.rmtree(outside, ignore_errors=True)
        ctx.tmp_canary.unlink(missing_ok=True)
    return results


def run_isolated(
    *, isolation: str = "auto", limits: SandboxLimits | None = None, timeout_s: float = 120.0
) -> tuple[list[HostileResult], dict[str, Any]]:
    """Run the suite in a child process that holds a fresh secret in its environment from the
    start. A child that dies (``kill_parent`` got through) or hangs is reported as not contained.
    Returns (results, info) with info: ``isolation``, ``suite_exit``, ``suite_wall_s``."""
    limits = limits or SandboxLimits()
    canary = secrets.token_hex(16)
    env = {**os.environ, CANARY_VAR: canary}
    cmd = [sys.executable, "-m", "ragassets.reasoning.hostile", "--json", "--isolation", isolation,
           "--limits", json.dumps(asdict(limits))]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
    wall = time.monotonic() - started
    results: list[HostileResult] = []
    info: dict[str, Any] = {"suite_exit": proc.returncode, "suite_wall_s": round(wall, 2)}
    for line in stdout.splitlines():
        if line.startswith("{"):
            data = json.loads(line)
            if "isolation" in data:
                info["isolation"] = data["isolation"]
            else:
                results.append(HostileResult(**data))
    done = {r.case for r in results}
    for case in CASES:
        if case in done:
            continue
        if proc.returncode is not None and proc.returncode < 0:
            why = f"the suite's process was killed by signal {-proc.returncode} during this case"
        else:
            why = f"the suite ended without judging it (exit {proc.returncode}): {stderr.strip()[-300:]}"
        results.append(HostileResult(case, False, why, "suite process ended", 0.0))
        break  # cases after the one that killed the suite were never run
    for case in CASES:
        if case not in {r.case for r in results}:
            results.append(HostileResult(case, False, "not run: an earlier case ended the suite", "-", 0.0))
    return results, info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the hostile-program suite through the sandbox.")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--isolation", default="auto", choices=["auto", "namespaces", "rlimits"])
    parser.add_argument("--limits", help="SandboxLimits as JSON")
    args = parser.parse_args(argv)
    limits = SandboxLimits(**json.loads(args.limits)) if args.limits else SandboxLimits()
    sandbox = Sandbox(limits, isolation=args.isolation)

    def show(res: HostileResult) -> None:
        if args.json:
            print(json.dumps(asdict(res)), flush=True)
        else:
            print(f"{res.case:<16} {'contained' if res.contained else 'ESCAPED':<10} {res.detail} ({res.outcome})",
                  flush=True)

    if args.json:
        print(json.dumps({"isolation": sandbox.isolation}), flush=True)
    results = run_suite(sandbox, limits=limits, on_result=show)
    return 0 if all(r.contained for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
