#!mk
"""chmod [-R] MODE FILE...: set the permission bits of files (-R: of trees). MODE
is octal (644) or symbolic, [ugoa]*[+-=][rwxXst]*, several separated by commas;
without u, g, o or a, the umask's bits are left alone, as POSIX says."""
import re
import stat

from personalities.unix import libc
from personalities.unix.progargs import fail, options, usage_error

__all__ = ["main"]

USAGE = "chmod [-R] MODE FILE..."
WHO = {"u": 0o4700, "g": 0o2070, "o": 0o1007, "a": 0o7777}
PERM = {"r": 0o444, "w": 0o222, "x": 0o111, "s": 0o6000, "t": 0o1000}
CLAUSE = re.compile(r"([ugoa]*)([-+=])([rwxXst]*)$")


def main(argv, envp):
    args = list(argv[1:])
    mode_at = next((i for i, a in enumerate(args) if not a.startswith("-") or
                    CLAUSE.match(a.split(",")[0])), None)
    if mode_at is None or mode_at + 1 >= len(args):
        usage_error("chmod", USAGE, "missing operand")
    opts, _ = options("chmod", args[:mode_at], "R", USAGE)
    spec, files = args[mode_at], args[mode_at + 1:]
    if not (re.fullmatch(r"[0-7]{1,4}", spec) or
            all(CLAUSE.match(c) for c in spec.split(","))):
        usage_error("chmod", USAGE, f"invalid mode: '{spec}'")
    umask = libc.umask(0)
    libc.umask(umask)
    status = 0
    for f in files:
        status |= change(f, spec, umask, "R" in opts)
    return status


def change(path, spec, umask, recursive, top=True) -> int:
    """Change `path` (and under it); links met on the way are left alone, as GNU's."""
    try:
        if not top and stat.S_ISLNK(libc.lstat(path).st_mode):
            return 0
        st = libc.stat(path)
        libc.chmod(path, new_mode(spec, st.st_mode, umask))
    except OSError as e:
        return fail("chmod", path, e)
    status = 0
    if recursive and stat.S_ISDIR(st.st_mode):
        for name in sorted(libc.listdir(path)):
            status |= change(f"{path.rstrip('/')}/{name}", spec, umask, True, False)
    return status


def new_mode(spec, mode, umask) -> int:
    """The permission bits `spec` makes of `mode`."""
    if spec.isdigit():
        return int(spec, 8)
    bits = mode & 0o7777
    for clause in spec.split(","):
        who, op, perms = CLAUSE.match(clause).groups()
        mask = 0
        for w in who or "a":
            mask |= WHO[w]
        if not who:
            mask &= ~umask
        want = 0
        for p in perms:
            if p == "X":
                want |= 0o111 if stat.S_ISDIR(mode) or mode & 0o111 else 0
            else:
                want |= PERM[p]
        want &= mask
        if op == "+":
            bits |= want
        elif op == "-":
            bits &= ~want
        else:
            bits = bits & ~(mask & 0o777 if who else 0o777) | want
    return bits
