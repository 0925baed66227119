"""test and [ (XCU test): string, integer and file conditions.

`test(sys, args)` is 0 (true), 1 (false) or 2 (an error, said on fd 2). With up to
four arguments POSIX's rules by count decide how they are read; more go through a
parser for ! -a -o and parentheses (-a binds tighter than -o). Files are asked of
`sys` (stat, lstat, isatty).
"""
from __future__ import annotations

import stat as S

__all__ = ["test", "TestError"]

UNARY = set("bcdefghLnprsStuwxzk") | {"O", "G"}
BINARY = {"=", "!=", "-eq", "-ne", "-gt", "-ge", "-lt", "-le", "-nt", "-ot", "-ef", "<",
          ">", "=="}


class TestError(Exception):
    pass


def _int(s: str) -> int:
    try:
        return int(s.strip())
    except ValueError:
        raise TestError(f"{s}: bad number") from None


def _stat(sys, path: str, link: bool = False):
    try:
        return (sys.lstat if link else sys.stat)(path)
    except OSError:
        return None


def unary(sys, op: str, arg: str) -> bool:
    if op == "-n":
        return arg != ""
    if op == "-z":
        return arg == ""
    if op == "-t":
        try:
            return bool(sys.isatty(_int(arg)))
        except OSError:
            return False
    st = _stat(sys, arg, link=op in ("-h", "-L"))
    if st is None:
        return False
    m = st.st_mode
    checks = {"-e": lambda: True, "-f": lambda: S.S_ISREG(m), "-d": lambda: S.S_ISDIR(m),
              "-b": lambda: S.S_ISBLK(m), "-c": lambda: S.S_ISCHR(m),
              "-p": lambda: S.S_ISFIFO(m), "-S": lambda: S.S_ISSOCK(m),
              "-h": lambda: S.S_ISLNK(m), "-L": lambda: S.S_ISLNK(m),
              "-s": lambda: st.st_size > 0, "-u": lambda: bool(m & S.S_ISUID),
              "-g": lambda: bool(m & S.S_ISGID), "-k": lambda: bool(m & S.S_ISVTX),
              "-r": lambda: bool(m & 0o444), "-w": lambda: bool(m & 0o222),
              "-x": lambda: bool(m & 0o111), "-O": lambda: True, "-G": lambda: True}
    return checks[op]()


def binary(sys, a: str, op: str, b: str) -> bool:
    if op in ("=", "=="):
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == ">":
        return a > b
    if op in ("-nt", "-ot", "-ef"):
        sa, sb = _stat(sys, a), _stat(sys, b)
        if op == "-ef":
            return bool(sa and sb and (sa.st_ino, sa.st_dev) == (sb.st_ino, sb.st_dev))
        if op == "-nt":
            return bool(sa and (not sb or sa.st_mtime > sb.st_mtime))
        return bool(sb and (not sa or sa.st_mtime < sb.st_mtime))
    x, y = _int(a), _int(b)
    return {"-eq": x == y, "-ne": x != y, "-gt": x > y, "-ge": x >= y, "-lt": x < y,
            "-le": x <= y}[op]


def _is_unary(op: str) -> bool:
    return len(op) == 2 and op[0] == "-" and op[1] in UNARY


def evaluate(sys, a: list) -> bool:
    n = len(a)
    if n == 0:
        return False
    if n == 1:
        return a[0] != ""
    if n == 2:
        if a[0] == "!":
            return not evaluate(sys, a[1:])
        if _is_unary(a[0]):
            return unary(sys, a[0], a[1])
        raise TestError(f"{a[0]}: unary operator expected")
    if n == 3:
        if a[1] in BINARY:
            return binary(sys, a[0], a[1], a[2])
        if a[1] in ("-a", "-o"):
            x, y = a[0] != "", a[2] != ""
            return (x and y) if a[1] == "-a" else (x or y)
        if a[0] == "!":
            return not evaluate(sys, a[1:])
        if a[0] == "(" and a[2] == ")":
            return a[1] != ""
        raise TestError(f"{a[1]}: binary operator expected")
    if n == 4:
        if a[0] == "!":
            return not evaluate(sys, a[1:])
        if a[0] == "(" and a[3] == ")":
            return evaluate(sys, a[1:3])
    p = _Parser(sys, a)
    v = p.or_()
    if p.i != len(a):
        raise TestError(f"{a[p.i]}: unexpected operator")
    return v


class _Parser:
    def __init__(self, sys, args):
        self.sys, self.a, self.i = sys, args, 0

    def more(self) -> bool:
        return self.i < len(self.a)

    def take(self) -> str:
        if not self.more():
            raise TestError("argument expected")
        self.i += 1
        return self.a[self.i - 1]

    def or_(self) -> bool:
        v = self.and_()
        while self.more() and self.a[self.i] == "-o":
            self.i += 1
            v = self.and_() or v
        return v

    def and_(self) -> bool:
        v = self.not_()
        while self.more() and self.a[self.i] == "-a":
            self.i += 1
            v = self.not_() and v
        return v

    def not_(self) -> bool:
        if self.more() and self.a[self.i] == "!":
            self.i += 1
            return not self.not_()
        return self.primary()

    def primary(self) -> bool:
        t = self.take()
        if t == "(":
            v = self.or_()
            if self.take() != ")":
                raise TestError("missing )")
            return v
        if _is_unary(t) and self.more():
            return unary(self.sys, t, self.take())
        if self.i < len(self.a) and self.a[self.i] in BINARY and self.i + 1 < len(self.a):
            op = self.take()
            return binary(self.sys, t, op, self.take())
        return t != ""


def test(sys, args: list, name: str = "test") -> int:
    """Exit status of `test ARGS` (name "[" wants a last "]")."""
    if name == "[":
        if not args or args[-1] != "]":
            sys.write(2, b"[: missing ]\n")
            return 2
        args = args[:-1]
    try:
        return 0 if evaluate(sys, list(args)) else 1
    except TestError as e:
        sys.write(2, f"{name}: {e}\n".encode())
        return 2
