#!mk
"""stat [-L] [-c FORMAT] FILE...: the attributes of files (the symbolic link itself
unless -L). FORMAT's %n name, %s size, %a octal mode, %A mode, %F type, %i inode, %h
links, %u %U owner, %g %G group, %b blocks, %X %Y %Z times, %x %y %z dates, %% %."""
import stat as S
import time

from personalities.unix import libc
from personalities.unix.progargs import fail, id_names, options, out, usage_error

__all__ = ["main"]

USAGE = "stat [-L] [-c FORMAT] FILE..."
DEFAULT = ("  File: %N\n  Size: %-10s\tBlocks: %-10b IO Block: 4096   %F\n"
           "Inode: %-11i Links: %h\n"
           "Access: (%04a/%A)  Uid: (%5u/%8U)   Gid: (%5g/%8G)\n"
           "Access: %x\nModify: %y\nChange: %z\n")


def main(argv, envp):
    opts, files = options("stat", argv[1:], "Lc:", USAGE)
    if not files:
        usage_error("stat", USAGE, "missing operand")
    fmt = opts["c"] + "\n" if "c" in opts else DEFAULT
    status = 0
    for f in files:
        try:
            st = (libc.stat if "L" in opts else libc.lstat)(f)
            link = libc.readlink(f) if S.S_ISLNK(st.st_mode) else None
        except OSError as e:
            status = fail("stat", f, e)
            continue
        out(render(fmt, f, st, link))
    return status


def kind(mode) -> str:
    return {S.S_IFREG: "regular file", S.S_IFDIR: "directory", S.S_IFLNK: "symbolic link", S.S_IFIFO: "fifo",
            S.S_IFCHR: "character special file"}.get(S.S_IFMT(mode), "unknown")


def render(fmt, name, st, link) -> str:
    def date(t):
        return time.strftime("%Y-%m-%d %H:%M:%S.000000000 +0000", time.gmtime(t))
    users, groups = id_names("/etc/passwd"), id_names("/etc/group")
    ftype = kind(st.st_mode)
    if ftype == "regular file" and st.st_size == 0:
        ftype = "regular empty file"
    vals = {"n": name, "N": f"'{name}' -> '{link}'" if link else f"'{name}'", "s": st.st_size,
            "a": f"{st.st_mode & 0o7777:o}", "A": S.filemode(st.st_mode), "F": ftype,
            "i": st.st_ino, "h": st.st_nlink, "u": st.st_uid, "g": st.st_gid,
            "U": users.get(st.st_uid, "UNKNOWN"), "G": groups.get(st.st_gid, "UNKNOWN"),
            "b": st.st_blocks, "X": int(st.st_atime), "Y": int(st.st_mtime),
            "Z": int(st.st_ctime), "x": date(st.st_atime), "y": date(st.st_mtime),
            "z": date(st.st_ctime), "%": "%"}
    out_, i = [], 0
    while i < len(fmt):
        if fmt[i] != "%" or i + 1 >= len(fmt):
            out_.append(fmt[i])
            i += 1
            continue
        j = i + 1
        while j < len(fmt) and fmt[j] in "-0123456789":
            j += 1
        c = fmt[j] if j < len(fmt) else "%"
        v = vals.get(c, "?" + c)
        spec = fmt[i + 1:j]
        if c == "a" and spec.startswith("0"):
            v = int(v, 8)
            spec = spec + "o"
        if isinstance(v, str) and spec[:1] not in ("-", ""):
            spec = ">" + spec                   # numbers and names right-aligned
        out_.append(format(v, spec.replace("-", "<")) if spec else str(v))
        i = j + 1
    return "".join(out_)
