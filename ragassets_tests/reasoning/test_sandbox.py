"""The sandbox: limits, isolation, and the hostile suite (with a negative control that proves the
suite's judges see a real escape)."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from ragassets.reasoning import hostile
from ragassets.reasoning.sandbox import RunOutcome, Sandbox, SandboxLimits, isolation_report, probe_namespaces

FAST = SandboxLimits(cpu_s=1, wall_s=2.5, memory_mb=512)
MODES = ["auto", "rlimits"]


def namespaces_or_skip():
    ok, why = probe_namespaces()
    if not ok:
        pytest.skip(f"user namespaces are refused on this machine: {why}")


@pytest.mark.parametrize("isolation", MODES)
def test_runs_a_program_with_stdin_in_an_empty_environment(isolation):
    sb = Sandbox(FAST, isolation=isolation)
    out = sb.run_python("import os, sys\nprint(sum(map(int, sys.stdin.read().split())), sorted(os.environ))", "1 2 3")
    assert out.ok, out
    total, env = out.stdout.split(" ", 1)
    assert total == "6"
    assert "PATH" not in env and "HOME" not in env and hostile.CANARY_VAR not in env


@pytest.mark.parametrize("isolation", MODES)
def test_each_run_has_a_fresh_writable_folder(isolation):
    sb = Sandbox(FAST, isolation=isolation)
    first = sb.run_python("import os\nprint(sorted(os.listdir('.')))\nopen('left.txt', 'w').write('x')\n")
    second = sb.run_python("import os\nprint(sorted(os.listdir('.')))\n")
    assert first.ok and second.ok
    assert first.stdout.strip() == second.stdout.strip() == "['main.py']"


@pytest.mark.parametrize("isolation", MODES)
def test_limits_end_runs_with_the_right_reason(isolation):
    sb = Sandbox(FAST, isolation=isolation)
    loop = sb.run_python("while True:\n    pass\n")
    assert loop.failure_reason() == "timeout" and loop.wall_s < 6
    sleeper = sb.run_python("import time\ntime.sleep(60)\n")
    assert sleeper.timed_out and sleeper.failure_reason() == "timeout" and sleeper.wall_s < 5
    memory = sb.run_python("x = bytearray(2 * 1024 ** 3)\n")
    assert memory.failure_reason() == "memory", memory
    crash = sb.run_python("raise ValueError('boom')\n")
    assert crash.failure_reason() == "crash" and "ValueError: boom" in crash.failure_detail()
    big = sb.run_python("open('big', 'wb').write(b'x' * (20 * 1024 * 1024))\n", limits=SandboxLimits(file_mb=1))
    # CPython ignores SIGXFSZ, so the write fails with EFBIG instead of the process being killed
    assert big.failure_reason() == "crash" and "File too large" in big.failure_detail()


def test_namespaces_isolate_network_and_filesystem():
    namespaces_or_skip()
    sb = Sandbox(FAST, isolation="namespaces")
    report = isolation_report("namespaces")
    assert report["network_isolated"] is True
    out = sb.run_python(
        "import os\nprint(os.getpid(), len([p for p in os.listdir('/proc') if p.isdigit()]))\n"
        "print(open('/proc/self/status').read().split('CapEff:')[1].split()[0])\n"
    )
    pid, visible = out.stdout.split()[:2]
    assert int(pid) <= 3 and int(visible) <= 3  # its own pid namespace: only the launcher and itself
    assert out.stdout.split()[2] == "0000000000000000"  # no capabilities left


def test_rlimits_mode_says_so_in_its_report():
    report = isolation_report("rlimits")
    assert report["isolation"] == "rlimits" and report["network_isolated"] is False


@pytest.mark.parametrize("isolation", MODES)
def test_hostile_suite_is_contained(isolation):
    if isolation == "auto":
        namespaces_or_skip()
    results, info = hostile.run_isolated(isolation=isolation, limits=FAST)
    assert info["isolation"] == ("namespaces" if isolation == "auto" else "rlimits")
    assert [r.case for r in results] == list(hostile.CASES)
    escaped = [(r.case, r.detail) for r in results if not r.contained]
    assert not escaped, escaped


class Unsandboxed:
    """Runs programs with no sandbox at all: the negative control of the suite's judges."""

    limits = FAST

    def run_python(self, source, stdin="", *, files=None, main="main.py", limits=None):
        with tempfile.TemporaryDirectory() as d:
            Path(d, main).write_text(source)
            t = time.monotonic()
            # under a shell of its own session, so "kill the parent" hits that shell, not this test
            p = subprocess.run(["sh", "-c", f'"{sys.executable}" {main}; true'], cwd=d, input=stdin,
                               capture_output=True, text=True, timeout=20, check=False, start_new_session=True)
            return RunOutcome(p.returncode, p.stdout, p.stderr, time.monotonic() - t)


def test_the_judges_see_an_escape_without_the_sandbox():
    # the kill attempt aims here (its own session, so killpg hits nothing else), not at the test process
    decoy = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        results = hostile.run_suite(
            Unsandboxed(), cases=("write_outside", "network", "read_parent_env", "kill_parent"), target_pid=decoy.pid
        )
        decoy.wait(timeout=10)
    finally:
        if decoy.poll() is None:
            decoy.kill()
    by_case = {r.case: r for r in results}
    assert not by_case["write_outside"].contained
    assert not by_case["network"].contained
    assert not by_case["read_parent_env"].contained  # os.environ inherited the secret
    assert decoy.returncode == -signal.SIGKILL  # the kill got through to its target


def test_a_killed_suite_process_counts_as_not_contained(monkeypatch):
    # run_isolated judges from outside: a suite process that dies mid-case is an escape of that case
    real_popen = subprocess.Popen

    def popen(cmd, **kw):
        return real_popen([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"], **kw)

    monkeypatch.setattr(hostile.subprocess, "Popen", popen)
    results, info = hostile.run_isolated(limits=FAST, timeout_s=30)
    assert info["suite_exit"] == -signal.SIGKILL
    assert results[0].case == "fork_bomb" and not results[0].contained
    assert "killed by signal 9" in results[0].detail
    assert all(not r.contained for r in results)


def test_no_process_outlives_a_run():
    namespaces_or_skip()
    token = os.urandom(6).hex()
    sb = Sandbox(FAST, isolation="namespaces")
    out = sb.run_python(
        "import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n        os.setsid()\n        time.sleep(60)\n"
        "time.sleep(60)\n", main=f"stay_{token}.py"
    )
    assert out.timed_out
    time.sleep(0.5)
    assert hostile._processes_with(f"stay_{token}") == []
