"""Code for tests/integration/test_unix_shell.py's libc tests: files through libc
(needs the fs server) and execve keeping the pid and the fds without close-on-exec.

`drive` (see unix_common) starts p_files or p_exec as a process, which reports
what libc answered as facts on fd 1.
"""
import os
import sys

from microkernel.user.testing import report
from personalities.unix import libc

sys.path.append(os.path.dirname(os.path.abspath(__file__)))   # loaded by path: its helpers
from unix_common import driver, ended, error  # noqa: E402

drive = driver(__file__)


def p_files(argv, envp):
    import stat
    d = "/tmp/pf"
    libc.mkdir(d, 0o755)
    libc.chdir(d)
    report(cwd=libc.getcwd())
    fd = libc.open("f", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o640)
    report(wrote=libc.write(fd, b"0123456789"))
    report(seek=[libc.lseek(fd, 2, os.SEEK_SET), libc.read(fd, 3),
                 libc.lseek(fd, 0, os.SEEK_CUR), libc.lseek(fd, -1, os.SEEK_END),
                 libc.read(fd, 10), libc.read(fd, 10)])
    st = libc.fstat(fd)
    report(fstat={"regular": stat.S_ISREG(st.st_mode), "mode": st.st_mode & 0o777,
                  "size": st.st_size})
    libc.close(fd)
    fd = libc.open("f", os.O_WRONLY | os.O_APPEND)
    libc.write(fd, b"AB")
    libc.close(fd)
    libc.link("f", "g")
    libc.rename("g", "h")
    report(links=libc.stat("h").st_nlink, appended_size=libc.stat(f"{d}/f").st_size,
           listdir=sorted(libc.listdir(".")))
    types = {n: t for n, _, t in libc.readdir(d)}
    report(readdir=sorted(types), f_type=types["f"])
    report(errors={
        "enoent": error(lambda: libc.open("nope")),
        "eexist": error(lambda: libc.open("f", os.O_CREAT | os.O_EXCL | os.O_WRONLY)),
        "eisdir": error(lambda: libc.open(d, os.O_WRONLY)),
        "enotdir": error(lambda: libc.chdir("f")),
        "enotempty": error(lambda: libc.rmdir(d)),
        "ebadf": error(lambda: libc.read(42, 1))})
    libc.unlink("f")
    libc.unlink("h")
    libc.chdir("/")
    libc.rmdir(d)
    report(tmp_after=libc.listdir("/tmp"))
    libc.sync()
    return 0


def p_exec(argv, envp):
    """execve keeps the pid and fds without close-on-exec."""
    r, w = libc.pipe()
    keep = libc.dup(w)
    libc.set_cloexec(w)
    pid = libc.fork()
    if pid == 0:
        libc.dup2(keep, 1)
        libc.execve("/bin/sh", ["sh", "-c", f"echo $$; echo x >&{w}"], {"PATH": "/bin"})
    libc.close(w)
    libc.close(keep)
    out = b""
    while chunk := libc.read(r, 100):
        out += chunk
    _, status = libc.waitpid(pid)
    report(child=pid, shell_said=out, shell=ended(status),
           exec_motd=error(lambda: libc.execve("/etc/motd", ["motd"], {})))
    return 0
