"""The host's system calls with libc's names and manners, for running mk's shell
engine (personalities/unix/sh) on the host in unit tests: what the engine asks of
the personality's libc, answered by the host's `os`.

    python tests/unit/sh_host.py [sh ARGS...]   mk's sh on the host (the peer suite's
                                                 harness runs it so)
"""
from __future__ import annotations

import os
import signal as _signal
import sys as _sys


class HostSys:
    """libc's functions over the host's os module (same names, same errors)."""

    open = staticmethod(os.open)
    read = staticmethod(os.read)
    close = staticmethod(os.close)
    dup = staticmethod(os.dup)
    pipe = staticmethod(os.pipe)
    stat = staticmethod(os.stat)
    lstat = staticmethod(os.lstat)
    fstat = staticmethod(os.fstat)
    chdir = staticmethod(os.chdir)
    getcwd = staticmethod(os.getcwd)
    getpid = staticmethod(os.getpid)
    isatty = staticmethod(os.isatty)
    lseek = staticmethod(os.lseek)
    kill = staticmethod(os.kill)
    umask = staticmethod(os.umask)

    @staticmethod
    def write(fd, data):
        data, done = bytes(data), 0
        while done < len(data):
            done += os.write(fd, data[done:])
        return done

    @staticmethod
    def dup2(fd, fd2):
        return os.dup2(fd, fd2)

    @staticmethod
    def set_cloexec(fd, on=True):
        os.set_inheritable(fd, not on)

    @staticmethod
    def listdir(path="."):
        return os.listdir(path)

    @staticmethod
    def fork():
        _sys.stdout.flush()
        return os.fork()

    @staticmethod
    def posix_spawn(path, argv, env, file_actions=(), setpgroup=None, setsigdef=()):
        _sys.stdout.flush()
        kw = {} if setpgroup is None else {"setpgroup": setpgroup}
        return os.posix_spawn(path, argv, env, file_actions=list(file_actions),
                              setsigdef=setsigdef, **kw)

    @staticmethod
    def execve(path, argv, env):
        os.execve(path, argv, env)

    @staticmethod
    def waitpid(pid, options=0):
        try:
            return os.waitpid(pid, options)
        except ChildProcessError:
            raise OSError(10, "No child processes") from None

    @staticmethod
    def exit(status=0):
        os._exit(status & 0xFF)

    @staticmethod
    def signal(sig, handler):
        return _signal.signal(sig, handler)

    @staticmethod
    def read_all(path):
        with open(path, "rb") as f:
            return f.read()


def run(argv, env=None) -> int:
    from personalities.unix.sh.main import main
    _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
    return main(HostSys, argv, dict(os.environ) if env is None else env)


if __name__ == "__main__":
    _sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    os._exit(run(["sh", *_sys.argv[1:]]))
