#!mk
"""du [-ask] [PATH...]: disk usage in KiB blocks of each directory under PATH (.),
and of PATH; -a: of files too; -s: of PATH only (-k: KiB, the only unit)."""
import stat

from personalities.unix import libc
from personalities.unix.progargs import fail, options, out

__all__ = ["main"]


def main(argv, envp):
    opts, paths = options("du", argv[1:], "ask", "du [-ask] [PATH...]")
    status = [0]
    for p in paths or ["."]:
        usage(p, opts, status, top=True)
    return status[0]


def usage(path, opts, status, top=False) -> int:
    """KiB under `path`, printing the lines -a and -s ask for."""
    try:
        st = libc.lstat(path)
    except OSError as e:
        status[0] = fail("du", path, e)
        return 0
    total = st.st_blocks // 2
    if stat.S_ISDIR(st.st_mode):
        try:
            names = sorted(libc.listdir(path))
        except OSError as e:
            status[0] = fail("du", path, e)
            names = []
        for n in names:
            total += usage(f"{path.rstrip('/')}/{n}" if path != "/" else "/" + n, opts, status)
    if top or ("s" not in opts and (stat.S_ISDIR(st.st_mode) or "a" in opts)):
        out(f"{total}\t{path}\n")
    return total
