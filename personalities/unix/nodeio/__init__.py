"""A program's Python file world is the node's: open, input, sys.std*, os.* over libc.

crt0 calls `install()` once a program's own imports are done, just before its `main`.
From then on, in that process (and the processes it forks):

- `open` (builtins.open and io.open) opens a file of the node: a `NodeFile` (a raw
  stream over a libc fd, as io.FileIO is over a host fd) wrapped by io.BufferedReader,
  BufferedWriter or BufferedRandom and io.TextIOWrapper, as the real open does; mode,
  buffering, encoding (default UTF-8, the node's), errors, newline, closefd and opener
  mean what they mean there. `sys.stdin`, `sys.stdout` and `sys.stderr` are such
  streams over fds 0, 1 and 2 (`stdio`, which crt0 sets up before the program is
  imported); `print` writes to sys.stdout, and `input` reads sys.stdin.
- `os` calls on paths (stat, lstat, listdir, scandir, mkdir, rmdir, remove, unlink,
  rename, replace, link, chdir, getcwd, utime, access, statvfs, and so os.path.exists,
  isdir, isfile, getsize, abspath, realpath, os.walk, os.makedirs, glob, pathlib and
  shutil's copying), on fds (open, read, write, lseek, close, fstat, dup, dup2, pipe,
  isatty, fsync), chmod, symlink, readlink, umask, on processes (getpid, getppid,
  getpgrp, setpgid, kill, killpg, fork, wait, waitpid, the exec family, posix_spawn,
  _exit, system, uname) and `os.environ` (the process's environment, libc.environ) go to
  libc: to the node's Unix server. Errors are OSError subclasses naming the node's
  path, as the host's os does.
- `os` calls the node has no system call for (chown, truncate, sendfile, pread,
  popen, posix_spawnp, ...) raise OSError(ENOSYS) rather than act on the host's files
  or fds.

What stays the host's: the task runtime (its ZeroMQ sockets and shared memory were
opened before; `HOST_SIDE` modules, libc among them, keep the host's os module,
`host.os`), imports (importlib reads with `_io` and `posix`, never these), linecache
(tracebacks show the host's sources), sys.__stdout__ and sys.__stderr__ (the task's
log), `posix`, io.FileIO, subprocess, socket, ctypes and the `signal` module. This is
not a security boundary: a program is host Python code, in a host process of the user
who runs the node, and can always reach the host underneath (`import posix`,
`host.open`, ...); it makes programs written naturally work on the node's files,
nothing more (docs/security.md).

This package is the switch; the rest is one file each: `rawfile` (NodeFile), `streams`
(open, input, stdio), `paths`, `fds` and `procs` (the os calls on each, with the table
of them install() sets on os), `errors` (how they raise).
"""
import builtins
import io
import os
import sys
import types

from .. import libc
from . import fds, paths, procs
from .errors import absent
from .paths import DirEntry
from .rawfile import BUFSIZE, NodeFile
from .streams import flush_all, input, open, stdio

__all__ = ["install", "installed", "stdio", "open", "input", "NodeFile", "DirEntry",
           "host", "HOST_SIDE", "BUFSIZE"]

# Modules of the runtime that keep the host's os (a name or a package prefix): the
# task runtime and the physical memory it attaches after a fork, the protocols, libc
# (launch is its part that starts programs).
HOST_SIDE = ("microkernel", "hw", "protocols", "zmq", "msgpack", "personalities.unix.libc",
             "personalities.unix.launch", "personalities.unix.crt0", "linecache")

# The host's, as imported (the task factory imports this module before any switch).
_host_os = types.ModuleType("os", "The host's os module, as it was before install().")
_host_os.__dict__.update(os.__dict__)
host = types.SimpleNamespace(os=_host_os, open=builtins.open, input=builtins.input,
                             io_open=io.open, environ=os.environ)

_installed = False


def installed() -> bool:
    return _installed


_OS = {**paths.OS, **fds.OS, **procs.OS}     # the os calls that go to libc
# Host calls that would act on the host's files or fds, which the node has no system
# call for: OSError(ENOSYS) instead.
_ABSENT = ("fchmod lchmod chown fchown lchown chroot fchdir "
           "truncate ftruncate mkfifo mknod pread pwrite preadv pwritev readv writev "
           "sendfile copy_file_range splice lockf posix_fallocate posix_fadvise fstatvfs "
           "get_blocking set_blocking get_inheritable pipe2 posix_spawnp "
           "popen openpty forkpty tcgetpgrp ttyname login_tty memfd_create eventfd "
           "setsid getsid fpathconf pathconf getxattr setxattr listxattr "
           "removexattr").split()
_ABSENT_FNS = {name: absent(name) for name in _ABSENT if hasattr(os, name)}   # made once


# -- the switch ----------------------------------------------------------------------

_HOST_PREFIXES = tuple(p + "." for p in HOST_SIDE)
_walked = 0                                      # len(sys.modules) at the last walk


def _host_side(name: str) -> bool:
    return name.startswith(_HOST_PREFIXES) or name in HOST_SIDE


def keep_host_os() -> None:
    """Give every HOST_SIDE module imported so far the host's os. It walks sys.modules
    only if modules came since the last walk: the task factory has it done once after
    its preloads (crt0.preloaded), so a program's start walks nothing unless it
    imported modules of its own. (A walk in each program touched every module object,
    and after a fork that is a copied page each: 430 page faults, 2 ms.)"""
    global _walked
    if len(sys.modules) == _walked:
        return
    for name, mod in list(sys.modules.items()):
        if _host_side(name) and getattr(mod, "os", None) is os:
            mod.os = _host_os
    _walked = len(sys.modules)


def install(argv=None) -> None:
    """Make this process's Python file world the node's (once; its forks inherit it).
    `argv` becomes sys.argv."""
    global _installed
    if _installed:
        return
    keep_host_os()                                     # the runtime keeps the host's os
    for name, fn in _ABSENT_FNS.items():
        setattr(os, name, fn)
    for name, fn in _OS.items():
        setattr(os, name, fn)
    os.environ = libc.environ                          # os.getenv reads it too
    shutil = sys.modules.get("shutil")                 # imported before: no fd walks
    if shutil is not None:
        shutil._use_fd_functions = False
        shutil.rmtree.avoids_symlink_attacks = False
    builtins.open = io.open = open
    builtins.input = input
    libc.flush = flush_all
    if argv is not None:
        sys.argv = list(argv)
    _installed = True
