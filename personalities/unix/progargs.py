"""What the /bin programs share, written once: option parsing, error messages, and
the argument forms of several programs.

`options` parses the short options of a program by a getopt spec ("rn:": -r, and -n
with a value); an option it does not know, or one missing its value, is said on fd 2
with the program's usage, and the program ends with status 2 (never ignored).
Options may follow operands (as GNU's), up to `--`, unless `stop_at_operand` (env,
xargs: what follows is a command). `fail` says `prog: what: reason` on fd 2.
`count_and_paths` reads head's and tail's counts (`-n N`, `-nN`, `-N`, `-n -N`,
`-n +N`), `targets` cp's and mv's `SRC DST` or `SRC... DIR`; `Inputs` the files
named (or standard input) of a filter, read whole; `id_names` the names of
/etc/passwd and /etc/group; `bre` a POSIX regular expression as Python's (grep, sed).
"""
from __future__ import annotations

import errno
import os
import stat

from . import libc

__all__ = ["options", "fail", "usage_error", "count_and_paths", "is_dir", "exists",
           "targets", "same_file", "out", "Inputs", "id_names", "bre"]


def fail(prog: str, *parts) -> int:
    """Say `prog: part: part...` on fd 2 (an OSError part as its strerror); 1."""
    text = ": ".join(p.strerror or str(p) if isinstance(p, OSError) else str(p)
                     for p in parts)
    try:
        libc.write(2, f"{prog}: {text}\n".encode(errors="surrogateescape"))
    except OSError:
        pass
    return 1


def usage_error(prog: str, usage: str, why: str = ""):
    """Say why (if anything) and the usage on fd 2; end the program with status 2."""
    if why:
        fail(prog, why)
    fail("usage", usage)
    raise SystemExit(2)


def options(prog: str, args, spec: str, usage: str, stop_at_operand: bool = False,
            many: str = "") -> tuple[dict, list]:
    """({letter: True or value}, operands) of `args` by getopt `spec`; the letters in
    `many` collect their values in a list. A bad option ends the program (status 2)."""
    opts: dict = {k: [] for k in many}
    operands = []
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a == "--":
            operands += args[i:]
            break
        if not a.startswith("-") or a == "-":
            operands.append(a)
            if stop_at_operand:
                operands += args[i:]
                break
            continue
        if a.startswith("--"):
            usage_error(prog, usage, f"unrecognized option '{a}'")
        for j, c in enumerate(a[1:], 1):
            k = spec.find(c)
            if k < 0 or c == ":":
                usage_error(prog, usage, f"invalid option -- '{c}'")
            if spec[k + 1:k + 2] != ":":
                opts[c] = True
                continue
            value = a[j + 1:]
            if not value:
                if i >= len(args):
                    usage_error(prog, usage, f"option requires an argument -- '{c}'")
                value, i = args[i], i + 1
            if c in many:
                opts[c].append(value)
            else:
                opts[c] = value
            break
    return opts, operands


def count_and_paths(prog: str, args, usage: str, letters: str = "n") -> tuple[str, int, list]:
    """(letter, signed count, paths) of `-n N` (or `-c N` when "c" is in `letters`),
    `-N` meaning `-n N`; the count's sign is kept as text for head's `-n -N` and tail's
    `-n +N` ("+N" -> its own key). A bad count ends the program (status 2)."""
    args = [f"-n{a[1:]}" if a[:1] == "-" and a[1:].isdigit() and
            (i == 0 or args[i - 1] not in ("-n", "-c")) else a for i, a in enumerate(args)]
    opts, paths = options(prog, args, "".join(c + ":" for c in letters), usage)
    which = "c" if "c" in opts else "n"
    text = opts.get(which, "10")
    body = text[1:] if text[:1] in "+-" else text
    if not body.isdigit():
        usage_error(prog, usage, f"invalid number of {'bytes' if which == 'c' else 'lines'}: "
                                 f"'{text}'")
    return which, text, paths


def is_dir(path) -> bool:
    try:
        return stat.S_ISDIR(libc.stat(path).st_mode)
    except OSError:
        return False


def exists(path) -> bool:
    """Is there anything (a dangling link too) at `path`?"""
    try:
        libc.lstat(path)
        return True
    except OSError:
        return False


def same_file(a, b) -> bool:
    """Do paths a and b name the same inode (b existing)?"""
    try:
        sa, sb = libc.stat(a), libc.stat(b)
    except OSError:
        return False
    return (sa.st_ino, sa.st_dev) == (sb.st_ino, sb.st_dev)


def targets(prog: str, args, usage: str):
    """[(src, target)] for `SRC DST` or `SRC... DIR` (into DIR, keeping the names); a
    DST ending in / must be a directory. None after saying what is wrong on fd 2."""
    if len(args) < 2:
        usage_error(prog, usage, "missing file operand")
    *srcs, dst = args
    into = is_dir(dst)
    if (len(srcs) > 1 or dst.endswith("/")) and not into:
        fail(prog, dst, os.strerror(errno.ENOTDIR))
        return None
    return [(src, dst.rstrip("/") + "/" + src.rstrip("/").split("/")[-1] if into else dst)
            for src in srcs]


def out(text) -> None:
    """Write text (str or bytes) to standard output."""
    libc.write(1, text.encode(errors="surrogateescape") if isinstance(text, str) else text)



class Inputs:
    """The files named, or standard input for none (and for "-"), each read whole as
    (path, bytes); one that cannot be read is said on fd 2 and makes `status` 1."""

    def __init__(self, prog: str, paths):
        self.prog, self.paths, self.status = prog, list(paths) or ["-"], 0

    def __iter__(self):
        for path in self.paths:
            try:
                data = libc.read_all(path)
            except OSError as e:
                self.status = fail(self.prog, path, e)
                continue
            yield path, data

    def lines(self):
        """Every line of every input, without its newline, as str."""
        for _, data in self:
            yield from data.decode(errors="surrogateescape").splitlines()


def id_names(path: str) -> dict:
    """{id: name} of a passwd or group file (empty when it cannot be read)."""
    try:
        text = libc.read_all(path).decode(errors="replace")
    except OSError:
        return {}
    rows = (ln.split(":") for ln in text.splitlines())
    return {int(r[2]): r[0] for r in rows if len(r) > 2 and r[2].isdigit()}


CLASSES = {"[:alpha:]": "a-zA-Z", "[:digit:]": "0-9", "[:alnum:]": "a-zA-Z0-9",
           "[:upper:]": "A-Z", "[:lower:]": "a-z", "[:space:]": r"\s", "[:blank:]": r" \t",
           "[:punct:]": r"!-/:-@\[-`{-~", "[:xdigit:]": "0-9A-Fa-f"}


def bre(rx: str, ere: bool) -> str:
    """A POSIX basic regular expression (an extended one if `ere`) as Python's:
    \\( \\) \\{ \\} \\+ \\? \\| are a basic one's operators, ( ) { } + ? | its plain
    characters; the classes [:alpha:] and friends become ranges."""
    for name, chars in CLASSES.items():
        rx = rx.replace(name, chars)
    if ere:
        return rx
    parts, i = [], 0
    while i < len(rx):
        c = rx[i]
        if c == "\\" and i + 1 < len(rx):
            n = rx[i + 1]
            parts.append(n if n in "(){}+?|" else c + n)
            i += 2
            continue
        parts.append("\\" + c if c in "(){}+?|" else c)
        i += 1
    return "".join(parts)
