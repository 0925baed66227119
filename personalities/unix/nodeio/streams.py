"""Python's streams on the node's fds: open (builtins.open and io.open once installed),
input, sys.stdin/stdout/stderr over fds 0, 1 and 2 (`stdio`), and `flush_all`, what
libc.flush does once installed. Each is a NodeFile in io's buffers and text layer, as
the host's open builds a FileIO in them; mode, buffering, encoding (default UTF-8, the
node's), errors, newline, closefd and opener mean what they mean there."""
from __future__ import annotations

import io
import os
import sys
import weakref

from .. import libc
from .rawfile import BUFSIZE, NodeFile

__all__ = ["open", "input", "stdio", "flush_all"]

_files: "weakref.WeakSet" = weakref.WeakSet()    # what open() returned, for flush_all


class _StdFile(NodeFile):
    """fd 0, 1 or 2: no system call to set it up (every process has three); neither
    seekable nor telling, as a terminal or pipe is."""

    def __init__(self, fd: int, mode: str, name: str):
        super().__init__(fd, mode, closefd=False, name=name)
        self._seekable = False

    def seek(self, pos, whence=os.SEEK_SET):
        raise io.UnsupportedOperation("seek")

    def tell(self):
        raise io.UnsupportedOperation("tell")


def stdio(ttys: int | None = None) -> None:
    """sys.stdin, stdout and stderr over fds 0, 1 and 2 (UTF-8, bad bytes replaced);
    stdout is line buffered on a terminal, stderr always written through. `ttys` (bit
    n: fd n is a terminal), when the server gave it, spares asking. stdout's buffer is
    one WRITE system call's most (BUFSIZE), what a pipe holds: a program printing line
    by line into a pipe makes a system call per 64 KiB, not per 8 KiB."""
    std = [_StdFile(0, "r", "<stdin>"), _StdFile(1, "w", "<stdout>"),
           _StdFile(2, "w", "<stderr>")]
    if ttys is not None:
        for n, f in enumerate(std):
            f._tty = bool(ttys >> n & 1)
    sys.stdin = io.TextIOWrapper(io.BufferedReader(std[0]),
                                 encoding="utf-8", errors="replace")
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(std[1], BUFSIZE), encoding="utf-8",
                                  errors="replace", line_buffering=std[1].isatty())
    sys.stderr = io.TextIOWrapper(io.BufferedWriter(std[2]),
                                  encoding="utf-8", errors="replace", write_through=True)
    for f, mode in ((sys.stdin, "r"), (sys.stdout, "w"), (sys.stderr, "w")):
        f.mode = mode


def open(file, mode="r", buffering=-1, encoding=None, errors=None, newline=None,
         closefd=True, opener=None):
    """The builtin open, on the node's files (see the module's doc)."""
    if not isinstance(file, int):
        file = os.fspath(file)
    if not isinstance(mode, str):
        raise TypeError(f"open() argument 'mode' must be str, not {type(mode).__name__}")
    modes = set(mode)
    if modes - set("axrwb+t") or len(mode) > len(modes):
        raise ValueError(f"invalid mode: '{mode}'")
    text, binary = "t" in modes, "b" in modes
    if text and binary:
        raise ValueError("can't have text and binary mode at once")
    if sum(c in modes for c in "xrwa") != 1:
        raise ValueError("must have exactly one of create/read/write/append mode")
    if binary and encoding is not None:
        raise ValueError("binary mode doesn't take an encoding argument")
    if binary and errors is not None:
        raise ValueError("binary mode doesn't take an errors argument")
    if binary and newline is not None:
        raise ValueError("binary mode doesn't take a newline argument")
    if binary and buffering == 1:
        import warnings
        warnings.warn("line buffering (buffering=1) isn't supported in binary mode, the "
                      "default buffer size will be used", RuntimeWarning, 2)
    raw = NodeFile(file, "".join(c for c in mode if c in "xrwa+"), closefd, opener)
    try:
        line_buffering = buffering == 1 or (buffering < 0 and raw.isatty())
        if buffering < 0 or buffering == 1:
            buffering = BUFSIZE
        if buffering == 0:
            if binary:
                return raw
            raise ValueError("can't have unbuffered text I/O")
        if "+" in modes:
            buffer = io.BufferedRandom(raw, buffering)
        elif modes & set("wxa"):
            buffer = io.BufferedWriter(raw, buffering)
        else:
            buffer = io.BufferedReader(raw, buffering)
        if binary:
            result = buffer
        else:
            result = io.TextIOWrapper(buffer, "utf-8" if encoding in (None, "locale")
                                      else encoding, errors, newline, line_buffering)
            result.mode = mode
        if raw.writable():
            _files.add(result)
        return result
    except BaseException:
        raw.close()
        raise


def input(prompt="") -> str:
    """The builtin input, on sys.stdin and sys.stdout (the node's fds 0 and 1)."""
    if sys.stdin is None:
        raise RuntimeError("input(): lost sys.stdin")
    try:
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass
    if prompt != "":
        sys.stdout.write(str(prompt))
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError("EOF when reading a line")
    return line[:-1] if line.endswith("\n") else line


_libc_flush = libc.flush                         # stdio's


def flush_all() -> None:
    """What libc.flush does once installed (before fork, exec and exit): stdio, and
    every file open() returned for writing that is still open."""
    _libc_flush()
    for f in list(_files):
        try:
            f.flush()
        except (OSError, ValueError):
            pass
