"""Code for tests/integration/test_unix_spawn.py: posix_spawn as a program calls it.

`drive` SPAWN_MODULEs one of the `p_*` functions as a Unix process and reports its
wait status and output; the `p_*` functions call libc only and report what they find
as facts on fd 1.
"""
import errno
import os
import signal

from microkernel.user.testing import report
from personalities.unix import libc
from protocols.unix import Unix

HERE = __file__
O_NEW = os.O_WRONLY | os.O_CREAT | os.O_TRUNC


def drive(rt, func, *argv):
    c = Unix(rt)
    pid = c.spawn(f"{HERE}:{func}", [func, *argv], module=True)
    status, out = c.wait(pid, timeout=40)
    report(pid=pid, status=status, out=out.decode(errors="replace"))


def _spawn_error(*args, **kw) -> list:
    """[errno name, failing action's index] of a posix_spawn that must fail."""
    try:
        pid = libc.posix_spawn(*args, **kw)
    except libc.SpawnError as e:
        return [errno.errorcode[e.errno], e.action]
    libc.waitpid(pid, 0)
    return ["no error", None]


def _read_all(fd: int) -> bytes:
    out = b""
    while chunk := libc.read(fd, 4096):
        out += chunk
    return out


def _mine() -> list:
    """The pids of the processes whose parent I am."""
    me = libc.getpid()
    return sorted(p["pid"] for p in libc.ps() if p["ppid"] == me)


def p_spawn(argv, envp):
    """A child of mine, its output on a pipe, its status, pgrp, fds and signals."""
    r, w = libc.pipe()
    keep = libc.dup(w)                       # open across the spawn: the child has it
    secret = libc.dup(w)
    libc.set_cloexec(secret)                 # closed at the spawn, as at an exec
    libc.signal(signal.SIGINT, libc.SIG_IGN)
    libc.signal(signal.SIGQUIT, libc.SIG_IGN)
    script = (f"echo pid $$; echo kept >&{keep}; echo secret >&{secret} || echo closed; "
              "kill -INT $$; echo int ignored; kill -QUIT $$; echo not here")
    pid = libc.posix_spawn("/bin/sh", ["sh", "-c", script], {"PATH": "/bin"},
                           file_actions=[(os.POSIX_SPAWN_DUP2, w, 1),
                                         (os.POSIX_SPAWN_CLOSE, r)],
                           setsigdef=[signal.SIGQUIT])
    for fd in (w, keep, secret):
        libc.close(fd)
    out = _read_all(r).decode()
    _, status = libc.waitpid(pid, 0)
    grp = libc.posix_spawn("/bin/sleep", ["sleep", "30"], {}, setpgroup=0)
    rows = {p["pid"]: p for p in libc.ps()}
    libc.kill(grp, signal.SIGTERM)
    _, gstatus = libc.waitpid(grp, 0)
    report(pid=pid, said=out.splitlines(), signaled=os.WIFSIGNALED(status),
           sig=os.WTERMSIG(status), ppid=rows.get(grp, {}).get("ppid"), me=libc.getpid(),
           grp_pgrp=rows.get(grp, {}).get("pgrp"), grp=grp, my_pgrp=libc.getpgrp(),
           grp_sig=os.WTERMSIG(gstatus), left=_mine())
    return 0


def p_spawn_open(argv, envp):
    """OPEN actions: fd 1 onto a new file, fd 0 from one; the child's exit status."""
    libc.mkdir("/tmp/sp", 0o755)
    pid = libc.posix_spawn("/bin/sh", ["sh", "-c", "cat; echo more; exit 5"], {},
                           file_actions=[(os.POSIX_SPAWN_OPEN, 1, "/tmp/sp/out", O_NEW, 0o644),
                                         (os.POSIX_SPAWN_OPEN, 0, "/etc/motd", os.O_RDONLY, 0)])
    _, status = libc.waitpid(pid, 0)
    fd = libc.open("/tmp/sp/out")
    got = _read_all(fd)
    libc.close(fd)
    motd = libc.read_all("/etc/motd")
    libc.unlink("/tmp/sp/out")
    libc.rmdir("/tmp/sp")
    natural = os.waitpid(os.posix_spawn("/bin/sh", ["sh", "-c", "exit 3"], {}), 0)[1]
    report(code=os.WEXITSTATUS(status), same=got == motd + b"more\n", left=_mine(),
           os_spawn=os.WEXITSTATUS(natural), system=os.system("exit 4") >> 8)
    return 0


def p_spawn_errors(argv, envp):
    """What a stranger gets wrong: errnos, the failing action, and nothing left over."""
    before = libc.ps()
    fds = [libc.fstat(n).st_ino for n in range(3)]
    r, w = libc.pipe()
    libc.close(w)
    facts = {
        "no_file": _spawn_error("/bin/nonesuch", ["x"], {}),
        "no_dir": _spawn_error("/nonesuch/true", ["x"], {}),
        "not_exec": _spawn_error("/etc/motd", ["motd"], {}),
        "a_dir": _spawn_error("/bin", ["bin"], {}),
        "dup2_closed": _spawn_error("/bin/true", ["true"], {},
                                    file_actions=[(os.POSIX_SPAWN_DUP2, w, 1)]),
        "dup2_negative": _spawn_error("/bin/true", ["true"], {},
                                      file_actions=[(os.POSIX_SPAWN_DUP2, 1, -1)]),
        "open_missing": _spawn_error("/bin/true", ["true"], {}, file_actions=[
            (os.POSIX_SPAWN_CLOSE, 5), (os.POSIX_SPAWN_OPEN, 0, "/nonesuch", os.O_RDONLY, 0)]),
        "close_big": _spawn_error("/bin/true", ["true"], {},
                                  file_actions=[(os.POSIX_SPAWN_CLOSE, 1 << 20)]),
        "bad_kind": _spawn_error("/bin/true", ["true"], {}, file_actions=[(99, 1)]),
        "bad_tuple": _spawn_error("/bin/true", ["true"], {},
                                  file_actions=[(os.POSIX_SPAWN_OPEN, 1)]),
        "bad_group": _spawn_error("/bin/true", ["true"], {}, setpgroup=29999),
        "raw_bad_kind": _raw_bad_kind(),
        "close_unopened": _spawn_error("/bin/true", ["true"], {},
                                       file_actions=[(os.POSIX_SPAWN_CLOSE, 40)]),
    }
    libc.close(r)
    after = libc.ps()
    report(**facts, same_procs=[p["pid"] for p in after] == [p["pid"] for p in before],
           same_fds=[libc.fstat(n).st_ino for n in range(3)] == fds, left=_mine(),
           no_child=_wait_error())
    return 0


def _raw_bad_kind() -> list:
    """An action of no known kind, sent as the server sees it: EINVAL, index 0."""
    import struct
    from protocols.client import ServiceError
    from protocols.unix import Op
    raw = struct.pack("<Biiii", 7, 1, 0, 0, 0)
    try:
        libc._s.unix.call_msg(Op.POSIX_SPAWN, 1, 0xFFFFFFFF, 0, b"/bin/true", raw, (b"true",))
    except ServiceError as e:
        return [errno.errorcode[e.errno], e.detail[0] if e.detail else None]
    return ["no error", None]


def _wait_error() -> str:
    try:
        libc.waitpid(-1, 1)
        return "no error"
    except OSError as e:
        return errno.errorcode[e.errno]
