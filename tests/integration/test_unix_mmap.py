"""mmap of files, with the fs server as their pager (docs/unix.md, "mmap of files"),
and utime / touch.

Each test spawns a function of tasks/unix_mmap_tasks.py as a Unix process; the driving
task reads the fs server's page-cache counters before and after, so a test fails if
the Unix server read the file and copied it instead of having the fs server map it."""
from __future__ import annotations

import json
import os

import pytest

pytestmark = pytest.mark.timeout(90)


def spawn(node, func: str, *argv) -> dict:
    status, out = node.run("unix_mmap_tasks.py", "drive", func, *argv, timeout=70)
    assert status == 0, out
    r = json.loads(next(ln for ln in out.splitlines() if ln.startswith("{")))
    assert os.WIFEXITED(r["status"]) and os.WEXITSTATUS(r["status"]) == 0, r["out"]
    r["lines"] = r["out"].splitlines()
    r["maps"] = r["after"]["maps"] - r["before"]["maps"]
    return r


def sh(node, cmd: str) -> str:
    status, out = node.run("unix_tasks.py", "shell", cmd, timeout=45)
    assert status == 0, out
    return json.loads(next(ln for ln in out.splitlines() if ln.startswith("{")))["out"]


def test_a_file_written_by_the_shell_reads_through_memory(node):
    sh(node, "echo hello mapped world > /tmp/m0")
    r = spawn(node, "p_map_file", "/tmp/m0")
    assert r["lines"] == ["size 19", "same True", "zeros True", "after close True"], r["out"]
    assert r["maps"] >= 2                       # page 0 and the page past the end


def test_a_file_written_through_libc_reads_through_memory_at_offsets(node):
    spawn(node, "p_write_file", "/tmp/m1", 10000)
    r = spawn(node, "p_map_file", "/tmp/m1")
    assert r["lines"] == ["size 10000", "same True", "zeros True", "offset True",
                          "after close True"], r["out"]
    assert r["maps"] >= 4 + 2                   # 4 pages, then 2 at offset 4096
    assert r["after"]["cached"] <= r["after"]["capacity"]


def test_two_processes_share_the_frame_and_see_writes(node):
    r = spawn(node, "p_shared")
    assert r["lines"] == [
        "parent first AA",
        "child AAAA" "NEW!XYZWTAIL" "NEW!" "priv",      # before, seen, inherited, own copy
        "parent NEW!XYZWTAIL",                          # the child's copy is its own
        "file NEW!"], r["out"]
    assert r["maps"] >= 3


def test_errors(node):
    r = spawn(node, "p_errors")
    assert r["lines"] == ["badfd EBADF", "dir ENODEV", "wronly EACCES", "pipe ENODEV",
                          "offset EINVAL", "length EINVAL"], r["out"]


def test_more_pages_than_the_cache_holds_and_munmap(node):
    pages = 300
    r = spawn(node, "p_big", pages)
    assert r["lines"] == ["bad []", "again page000000", "unmapped True"], r["out"]
    assert r["maps"] >= pages + 1
    assert r["after"]["flushes"] > r["before"]["flushes"]   # the cache evicted pages
    assert r["after"]["cached"] <= r["after"]["capacity"] < pages


def test_a_file_removed_while_mapped(node):
    r = spawn(node, "p_unlinked")
    assert r["lines"] == ["before old contents", "after MemoryFault"], r["out"]


def test_utime_and_touch(node):
    r = spawn(node, "p_touch")
    assert r["lines"] == ["set 1000 2000", "touched 0 True True", "created 0",
                          "now True True", "enoent ENOENT"], r["out"]
