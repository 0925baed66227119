#!mk
"""ls [-1adlR] [PATH...]: list directories (names sorted), or name the files given.
-l: mode, links, owner and group (names from /etc/passwd and /etc/group), size,
modification time, name, and a directory's `total` of 1 KiB blocks; -a: also dot
files; -d: directories themselves, not their contents; -R: subdirectories too."""
import stat
import time

from personalities.unix import libc
from personalities.unix.progargs import fail, id_names, options, out

__all__ = ["main"]

USAGE = "ls [-1adlR] [PATH...]"
HALF_YEAR = 183 * 86400


def main(argv, envp):
    opts, paths = options("ls", argv[1:], "1adlR", USAGE)
    ls = Lister(opts)
    files, dirs = [], []
    for p in paths or ["."]:
        try:
            st = libc.lstat(p) if "d" in opts or "l" in opts else libc.stat(p)
        except OSError as e:
            fail("ls", p, e)
            ls.status = 2
            continue
        is_dir = stat.S_ISDIR(st.st_mode) and "d" not in opts
        (dirs if is_dir else files).append((p, st))
    ls.rows(sorted(files), "")
    for p, _ in sorted(dirs):
        ls.directory(p, len(paths) > 1 or "R" in opts)
    return ls.status


class Lister:
    """Lines of output, written as they are made; owner names looked up once."""

    def __init__(self, opts):
        self.opts, self.status, self.first = opts, 0, True
        self.users = id_names("/etc/passwd") if "l" in opts else {}
        self.groups = id_names("/etc/group") if "l" in opts else {}

    def emit(self, lines):
        if lines:
            out("".join(ln + "\n" for ln in lines))
            self.first = False

    def directory(self, path, header):
        try:
            names = sorted(n for n, _, _ in libc.readdir(path)
                           if "a" in self.opts or not n.startswith("."))
        except OSError as e:
            fail("ls", path, e)
            self.status = 2
            return
        if header:
            self.emit([("" if self.first else "\n") + f"{path}:"])
        base = path.rstrip("/") + "/" if path != "/" else "/"
        entries = []
        for n in names:
            try:
                entries.append((n, libc.lstat(base + n)))
            except OSError as e:
                self.status = fail("ls", base + n, e)
        if "l" in self.opts:
            self.emit([f"total {sum(st.st_blocks for _, st in entries) // 2}"])
        self.rows(entries, base)
        if "R" in self.opts:
            for n, st in entries:
                if stat.S_ISDIR(st.st_mode) and n not in (".", ".."):
                    self.directory(base + n, True)

    def rows(self, entries, base):
        if "l" not in self.opts:
            return self.emit([n for n, _ in entries])
        cols = [self.fields(n, st, base) for n, st in entries]
        widths = [max((len(c[k]) for c in cols), default=0) for k in range(5)]
        self.emit([" ".join([c[0], c[1].rjust(widths[1]), c[2].ljust(widths[2]),
                             c[3].ljust(widths[3]), c[4].rjust(widths[4]), c[5], c[6]])
                   for c in cols])

    def fields(self, name, st, base):
        now = time.time()
        fmt = "%b %e %H:%M" if abs(now - st.st_mtime) < HALF_YEAR else "%b %e  %Y"
        if stat.S_ISLNK(st.st_mode):
            try:
                name += " -> " + libc.readlink(base + name)
            except OSError:
                pass
        return [stat.filemode(st.st_mode), str(st.st_nlink),
                self.users.get(st.st_uid, str(st.st_uid)),
                self.groups.get(st.st_gid, str(st.st_gid)), str(st.st_size),
                time.strftime(fmt, time.gmtime(st.st_mtime)), name]

