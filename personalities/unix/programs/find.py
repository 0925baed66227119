#!mk
"""find [PATH...] [-name PATTERN] [-type f|d|l] [-maxdepth N] [-print]: the paths
under each PATH (.) whose last name matches the shell pattern and whose type is the
one given (all the tests must hold); names of a directory are visited in sorted
order."""
import fnmatch
import stat

from personalities.unix import libc
from personalities.unix.progargs import fail, out, usage_error

__all__ = ["main"]

USAGE = "find [PATH...] [-name PATTERN] [-type f|d|l] [-maxdepth N] [-print]"
TYPES = {"f": stat.S_ISREG, "d": stat.S_ISDIR, "l": stat.S_ISLNK}


def main(argv, envp):
    args = argv[1:]
    k = next((i for i, a in enumerate(args) if a.startswith("-")), len(args))
    roots, expr = args[:k] or ["."], args[k:]
    tests, depth = [], None
    while expr:
        op = expr.pop(0)
        if op == "-print":
            continue
        if op not in ("-name", "-type", "-maxdepth"):
            usage_error("find", USAGE, f"unknown predicate '{op}'")
        if not expr:
            usage_error("find", USAGE, f"missing argument to '{op}'")
        value = expr.pop(0)
        if op == "-name":
            tests.append(lambda p, st, v=value: fnmatch.fnmatchcase(p.rsplit("/", 1)[-1], v))
        elif op == "-type":
            if value not in TYPES:
                usage_error("find", USAGE, f"unknown argument to -type: {value}")
            tests.append(lambda p, st, t=TYPES[value]: t(st.st_mode))
        elif not value.isdigit():
            usage_error("find", USAGE, f"invalid argument '{value}' to -maxdepth")
        else:
            depth = int(value)
    walk = Walk(tests, depth)
    for root in roots:
        walk.visit(root, 0)
    return walk.status


class Walk:
    """Visits a tree depth first, printing the paths that pass every test."""

    def __init__(self, tests, depth):
        self.tests, self.depth, self.status = tests, depth, 0

    def visit(self, path, level):
        try:
            st = libc.lstat(path)
        except OSError as e:
            self.status = fail("find", path, e)
            return
        if all(t(path, st) for t in self.tests):
            out(path + "\n")
        if not stat.S_ISDIR(st.st_mode) or (self.depth is not None and level >= self.depth):
            return
        try:
            names = sorted(libc.listdir(path))
        except OSError as e:
            self.status = fail("find", path, e)
            return
        for name in names:
            self.visit(f"{path.rstrip('/') or ''}/{name}" if path != "/" else "/" + name,
                       level + 1)
