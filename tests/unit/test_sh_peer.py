"""The shell's peer suite (tests/unit/sh_cases, see its README): every case on mk's
shell engine, run over the host's system calls (sh_host.HostSys) in a forked child,
and the same cases on the host's /bin/sh, so the suite's expectations are checked
against a real POSIX shell too.

    python tests/unit/test_sh_peer.py [-v]   prints the tally for both shells
"""
from __future__ import annotations

import os
import pathlib
import select
import signal
import subprocess
import sys
import tempfile
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
CASES = HERE / "sh_cases"
PRELUDE = "argv() { for _a_ in \"$@\"; do printf '[%s]' \"$_a_\"; done; echo; }\n"
HOST_SH = "/bin/sh"
TIMEOUT = 10.0

# Cases where mk's shell is known to differ, and why.
MK_DIFFERS: dict[str, str] = {}
# Cases where the host's /bin/sh (dash) differs from the POSIX expectation, and why.
HOST_DIFFERS = {
    "builtin-bracket: three arguments: binary operators":
        "dash reads [ -n -a -z ] as -n (-a) -z, an error, not as the binary -a POSIX's "
        "three-argument rule asks for",
}


def load_cases() -> list[tuple[str, str, str, int]]:
    """(id, script, expected stdout, expected status) of every case file."""
    out = []
    for path in sorted(CASES.glob("*.cases")):
        blocks = path.read_text().split("\n== ")
        blocks[0] = blocks[0].removeprefix("== ")
        for block in blocks:
            if not block.strip():
                continue
            name, _, body = block.partition("\n")
            script, _, rest = body.partition("-- out\n")
            expected, _, status = rest.partition("-- status ")
            out.append((f"{path.stem}: {name.strip()}", script,
                        expected, int(status.strip() or 0)))
    return out


def _env(home: str) -> dict:
    return {"PATH": "/usr/bin:/bin", "HOME": home, "TMP": home, "LC_ALL": "C"}


def run_mk(script: str) -> tuple[str, int]:
    """(stdout, status) of mk's shell engine running `script` (sh -c), on the host."""
    sys.path.insert(0, str(HERE))
    from sh_host import run
    with tempfile.TemporaryDirectory(prefix="mksh") as tmp:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:                                 # pragma: no cover - the child
            try:
                os.close(r)
                os.chdir(tmp)
                null = os.open(os.devnull, os.O_RDWR)
                os.dup2(null, 0)
                os.dup2(w, 1)
                os.dup2(null, 2)
                os.closerange(3, 256)                # nothing of pytest's leaks in
                signal.alarm(int(TIMEOUT))
                os._exit(run(["sh", "-c", PRELUDE + script, "sh"], _env(tmp)))
            except BaseException:                    # noqa: BLE001
                os._exit(99)
        os.close(w)
        out, deadline = bytearray(), time.monotonic() + TIMEOUT + 2
        while time.monotonic() < deadline:
            if select.select([r], [], [], 0.5)[0]:
                chunk = os.read(r, 65536)
                if not chunk:
                    break
                out += chunk
        os.close(r)
        _, st = os.waitpid(pid, 0)
        code = os.WEXITSTATUS(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st)
        return out.decode(errors="replace"), code


def run_host(script: str) -> tuple[str, int]:
    """(stdout, status) of the host's /bin/sh running `script`."""
    with tempfile.TemporaryDirectory(prefix="hostsh") as tmp:
        try:
            p = subprocess.run([HOST_SH, "-c", PRELUDE + script, "sh"], cwd=tmp,
                               env=_env(tmp), stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            return "", -1
        return p.stdout.decode(errors="replace"), p.returncode


ALL = load_cases()


@pytest.mark.parametrize("case", ALL, ids=[c[0] for c in ALL])
def test_mk_sh(case):
    name, script, expected, status = case
    if name in MK_DIFFERS:
        pytest.xfail(MK_DIFFERS[name])
    assert run_mk(script) == (expected, status)


@pytest.mark.skipif(not os.path.exists(HOST_SH), reason="no host /bin/sh")
def test_the_cases_hold_for_the_host_shell():
    """The expectations are a real shell's: the host's /bin/sh passes every case
    but those listed (with why) in HOST_DIFFERS."""
    failing = sorted(name for name, script, expected, status in ALL
                     if run_host(script) != (expected, status))
    assert failing == sorted(HOST_DIFFERS)


def test_the_docs_count_the_cases():
    """docs/unix.md's tally is this suite's: N cases, mk passes N of N, dash N - its
    differences."""
    import re
    text = (HERE.parents[1] / "docs" / "unix.md").read_text()
    n, passed, of, host = map(int, re.search(
        r"holds (\d+) cases.*?mk passes (\d+) of (\d+), dash (\d+)", text, re.S).groups())
    assert n == of == len(ALL) and passed == n - len(MK_DIFFERS)
    assert host == n - len(HOST_DIFFERS)


def tally(verbose: bool = False) -> None:
    results = {"mk sh": run_mk, f"host {HOST_SH}": run_host}
    for label, fn in results.items():
        failed = []
        for name, script, expected, status in ALL:
            got = fn(script)
            if got != (expected, status):
                failed.append(name)
                if verbose:
                    print(f"--- {label} FAIL {name}\n    want {(expected, status)!r}\n"
                          f"    got  {got!r}")
        print(f"{label}: {len(ALL) - len(failed)}/{len(ALL)} pass")
        for name in failed:
            print(f"    fails: {name}")


if __name__ == "__main__":
    tally("-v" in sys.argv)
