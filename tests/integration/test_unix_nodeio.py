"""Programs see the node, not the host: a process's plain Python file I/O (open, print,
input, os.listdir, os.stat, os.remove, pathlib, shutil, ...) goes to the node's Unix
personality (personalities/unix/nodeio/). What a program writes this way is what
the node's other programs read (`sh -c 'cat f'`), and the host's /tmp never sees it.

Two kinds of program: functions of tasks/nodeio_tasks.py run as processes
(SPAWN_MODULE), and a program file written into the node's /bin and run by its shell."""
from __future__ import annotations

import os
import uuid

import pytest

from microkernel.user.testing import MARK, facts

pytestmark = pytest.mark.timeout(90)


def run(node, func: str, stdin: str = "", *argv) -> dict:
    """Run `func` of tasks/nodeio_tasks.py as a process with `stdin` on its fd 0; it
    must exit 0. Its facts, plus its other output lines ("lines")."""
    r = node.facts("nodeio_tasks.py", "drive", func, stdin, *argv, timeout=75)
    assert os.WIFEXITED(r["status"]) and os.WEXITSTATUS(r["status"]) == 0, r["out"]
    got = facts(r["out"])
    got["lines"] = [ln for ln in r["out"].splitlines() if not ln.startswith(MARK)]
    return got


def test_open_print_and_os_work_on_the_nodes_files(node):
    base = f"/tmp/nodeio-{uuid.uuid4().hex[:12]}"
    r = run(node, "p_files", "", base)
    assert r["cwd"] == base and r["argv"] == ["p_files", base], r
    assert r["env"] == ["hi", "/root", True], r
    # text: print into a file, UTF-8, append, r+ rewriting a byte, newline modes
    assert r["text"] == "Héllo\nline two\nthree\n", r
    assert bytes.fromhex(r["raw"]) == "Héllo\nline two\nthree\n".encode(), r
    assert r["lines"] == [] and r["crlf"] == ["a\r\nb\n", "a\nb\n"], r
    # binary: 76,800 bytes (two READs), seeks from the end and the start, unbuffered
    assert r["binary_same"] and r["binary_tail"] == [253, 254, 255], r
    assert r["binary_middle"] == [112, 113, 114, 115], r
    assert r["unbuffered"] == list(range(10)) and r["rewritten"] == [0, 255, 254, 3], r
    # directories, through os, os.path, scandir, walk, glob
    assert r["listdir"] == ["bin", "crlf", "d", "text.txt"], r
    assert r["listdir_bytes"] == r["listdir"], r          # bytes in, bytes out (hex'd)
    assert r["size"] == [76800, 76800, True, True], r
    assert r["exists"] == [True, True, True, False, False, True], r
    assert r["scandir"] == [["bin", False, True, True], ["crlf", False, True, True],
                            ["d", True, False, True], ["text.txt", False, True, True]], r
    assert r["walk"] == [["d", ["e"], []], ["d/e", ["f"], []], ["d/e/f", [], ["g"]]], r
    assert r["glob"] == [f"{base}/text.txt"] and r["abspath"] == f"{base}/bin", r
    assert r["realpath"] == f"{base}/d/e/f", r
    # pathlib, shutil (copyfile, rmtree), tempfile, rename, remove
    assert r["pathlib"] == ["via pathlib\n", ["bin", "crlf", "d", "p.txt", "text.txt"]], r
    assert (r["moved"], r["temp"], r["gone"], r["tree_removed"]) == \
        ("via pathlib\n", "temp", False, False), r
    # errors are the host's classes, naming the node's path
    assert r["errors"] == {
        "open": ["FileNotFoundError", "ENOENT", "missing"],
        "open_abs": ["FileNotFoundError", "ENOENT", f"{base}/missing"],
        "stat": ["FileNotFoundError", "ENOENT", "nowhere/x"],
        "listdir": ["FileNotFoundError", "ENOENT", "missing"],
        "dir": ["IsADirectoryError", "EISDIR", base],
        "exclusive": ["FileExistsError", "EEXIST", "bin"],
        "rmdir": ["OSError", "ENOTEMPTY", base],
        "rename": ["FileNotFoundError", "ENOENT", "missing"],
        "chown": ["OSError", "ENOSYS", None]}, r
    # the node's other programs see the same files; a file left open was flushed at exit
    code, out = node.sh(f"cat {base}/text.txt {base}/unclosed.txt; ls {base}; "
                        f"wc -c {base}/bin")
    assert code == 0, out
    assert out.splitlines() == ["Héllo", "line two", "three", "kept at exit", "bin", "crlf",
                                "p.txt", "text.txt", "unclosed.txt", f"76800 {base}/bin"]
    assert not os.path.exists(base)                       # the host's /tmp: untouched
    assert node.sh(f"rm -r {base}") == (0, "")


def test_input_stdin_print_fork_and_system(node):
    r = run(node, "p_stdio", "ann\nrest of\nit\n")
    assert (r["first"], r["rest"], r["eof"]) == ("ann", "rest of\nit\n", True), r
    assert r["names"] == ["<stdin>", "<stdout>", "<stderr>"] and r["fds"] == [0, 1, 2], r
    assert r["lines"] == ["name? hello ann", "child of me", "from sh", "system 3"], r
    assert r["child"] == 5 and r["ppid"] == 1 and r["pid"] > 1, r


PROGRAM = """#!mk
import os
import sys


def main(argv, envp):
    path = input()
    with open(path, "w") as f:
        for line in sys.stdin:
            f.write(line.upper())
    print(sorted(os.listdir(os.path.dirname(path))), os.stat(path).st_size)
    with open(path, "rb") as f:
        sys.stdout.write(f.read().decode())
    if "remove" in argv:
        os.remove(path)
        print("removed", os.path.exists(path))
    try:
        open("/nowhere/file")
    except FileNotFoundError as e:
        print("missing", e.filename)
    if "crash" in argv:
        raise ValueError("on purpose")
    return 0
"""


def test_a_program_in_bin_reads_and_writes_the_nodes_files(node):
    base = f"/tmp/nodeio-{uuid.uuid4().hex[:12]}"
    assert node.sh(f"cat > /bin/pyio; chmod +x /bin/pyio; mkdir {base}", stdin=PROGRAM) == \
        (0, "")
    code, out = node.sh("pyio", stdin=f"{base}/f\nab\ncd\n")
    assert (code, out) == (0, "['f'] 6\nAB\nCD\nmissing /nowhere/file\n")
    assert node.sh(f"cat {base}/f") == (0, "AB\nCD\n")
    assert not os.path.exists(base)
    code, out = node.sh("pyio remove crash", stdin=f"{base}/f\nx\n")
    lines = out.splitlines()
    assert code == 1 and lines[:4] == ["['f'] 2", "X", "removed False",
                                       "missing /nowhere/file"], out
    assert '    raise ValueError("on purpose")' in lines, out   # its source, in the trace
    assert lines[-1] == "ValueError: on purpose", out
    assert node.sh(f"ls {base}; rm -r {base} /bin/pyio") == (0, "")
