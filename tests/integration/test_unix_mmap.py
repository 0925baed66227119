"""mmap of files, with the fs server as their pager (docs/unix.md, "mmap of files"),
and utime / touch.

Each test spawns a function of tasks/unix_mmap_tasks.py as a Unix process and asserts
on the facts it reported; the driving task reads the fs server's page-cache counters
before and after, so a test fails if the Unix server read the file and copied it
instead of having the fs server map it."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(90)


def spawn(node, func: str, *argv) -> dict:
    """The process's facts, with "maps" and "flushes": how many pages the fs server
    mapped and flushed meanwhile, and "cache": its page-cache counters after."""
    r = node.spawn("unix_mmap_tasks.py", func, *argv)
    before, r["cache"] = r["drive"]["before"], r["drive"]["after"]
    r["maps"] = r["cache"]["maps"] - before["maps"]
    r["flushes"] = r["cache"]["flushes"] - before["flushes"]
    return r


def test_a_file_written_by_the_shell_reads_through_memory(node):
    assert node.sh("echo hello mapped world > /tmp/m0") == (0, "")
    r = spawn(node, "p_map_file", "/tmp/m0")
    assert r["size"] == 19 and r["same"] and r["zeros"] and r["after_close"], r
    assert "offset" not in r, r                 # a one-page file: no second mapping
    assert r["maps"] >= 2, r                    # page 0 and the page past the end


def test_a_file_written_through_libc_reads_through_memory_at_offsets(node):
    spawn(node, "p_write_file", "/tmp/m1", 10000)
    r = spawn(node, "p_map_file", "/tmp/m1")
    assert r["size"] == 10000 and r["same"] and r["zeros"] and r["after_close"], r
    assert r["offset"], r
    assert r["maps"] >= 4 + 2, r                # 4 pages, then 2 at offset 4096
    assert r["cache"]["cached"] <= r["cache"]["capacity"], r


def test_two_processes_share_the_frame_and_see_writes(node):
    r = spawn(node, "p_shared")
    assert r["parent_first"] == "AA", r
    assert r["child_before"] == "AAAA", r
    assert r["child_saw"] == "NEW!XYZWTAIL", r                  # the parent's write(2)
    assert r["child_inherited"] == "NEW!" and r["child_own"] == "priv", r
    assert r["parent_sees"] == "NEW!XYZWTAIL", r                # the child's copy is its own
    assert r["file"] == "NEW!", r
    assert r["maps"] >= 3, r


def test_errors(node):
    r = spawn(node, "p_errors")
    assert {k: r[k] for k in ("badfd", "dir", "wronly", "pipe", "offset", "length")} == \
        {"badfd": "EBADF", "dir": "ENODEV", "wronly": "EACCES", "pipe": "ENODEV",
         "offset": "EINVAL", "length": "EINVAL"}, r


def test_more_pages_than_the_cache_holds_and_munmap(node):
    pages = 300
    r = spawn(node, "p_big", pages)
    assert r["bad"] == [] and r["again"] == "page000000" and r["unmapped"], r
    assert r["maps"] >= pages + 1, r
    assert r["flushes"] > 0, r                  # the cache evicted pages
    assert r["cache"]["cached"] <= r["cache"]["capacity"] < pages, r


def test_a_file_removed_while_mapped(node):
    r = spawn(node, "p_unlinked")
    assert r["before"] == "old contents" and r["after"] == "MemoryFault", r


def test_utime_and_touch(node):
    r = spawn(node, "p_touch")
    assert r["set"] == [1000, 2000], r
    assert r["touch_exit"] == 0 and min(r["touched"]) >= r["t0"] - 1, r
    assert r["created_size"] == 0, r
    assert min(r["now"]) >= r["t0"] - 1, r                      # utime(path): now
    assert r["enoent"] == "ENOENT", r
