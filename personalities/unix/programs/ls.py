#!mk
"""ls [-la1] [PATH...]: list directories (names sorted), or name the files given.
-l: mode, links, owner, group, size, modification time, name; -a: also dot files."""
import stat
import sys
import time

from personalities.unix import libc

__all__ = ["main"]


def main(argv, envp):
    flags = "".join(a[1:] for a in argv[1:] if a.startswith("-") and len(a) > 1)
    paths = [a for a in argv[1:] if not (a.startswith("-") and len(a) > 1)] or ["."]
    long, all_ = "l" in flags, "a" in flags
    status = 0
    files, dirs = [], []
    for p in paths:
        try:
            st = libc.stat(p)
        except OSError as e:
            print(f"ls: {p}: {e.strerror}", file=sys.stderr)
            status = 2
            continue
        (dirs if stat.S_ISDIR(st.st_mode) else files).append((p, st))
    out = []
    for p, st in sorted(files):
        out.append(line(p, st, long))
    for i, (p, _) in enumerate(sorted(dirs)):
        if len(paths) > 1:
            out.append(("\n" if out else "") + f"{p}:")
        try:
            names = sorted(n for n, _, _ in libc.readdir(p) if all_ or not n.startswith("."))
        except OSError as e:
            print(f"ls: {p}: {e.strerror}", file=sys.stderr)
            status = 2
            continue
        for n in names:
            full = p.rstrip("/") + "/" + n
            try:
                out.append(line(n, libc.lstat(full) if long else None, long))
            except OSError as e:
                print(f"ls: {full}: {e.strerror}", file=sys.stderr)
                status = 1
    if out:
        libc.write(1, ("\n".join(out) + "\n").encode())
    return status


def line(name, st, long):
    if not long:
        return name
    when = time.strftime("%b %d %H:%M", time.gmtime(st.st_mtime))
    return (f"{stat.filemode(st.st_mode)} {st.st_nlink:2} {st.st_uid:4} {st.st_gid:4} "
            f"{st.st_size:8} {when} {name}")
