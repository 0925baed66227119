#!mk
"""grep [-cEFilnoqrvw] [-e PATTERN]... [PATTERN] [FILE...]: print lines that match a
basic regular expression (-E: an extended one; -F: a fixed string; Python's `re`
does the matching, so its classes such as \\d work too). -w: whole words; -o: only
the matching parts; -r: the files under directories (. without any), in sorted
order, links met on the way skipped (-R: followed). Exit status 0 when something
matched, 1 when nothing did, 2 on an error."""
import re
import stat

from personalities.unix import libc
from personalities.unix.progargs import bre, fail, is_dir, options, out, usage_error

__all__ = ["main"]

USAGE = "grep [-cEFilnoqrvw] [-e PATTERN]... [PATTERN] [FILE...]"


def main(argv, envp):
    opts, args = options("grep", argv[1:], "cFilnoqrRvwEe:", USAGE, many="e")
    follow = "R" in opts
    if follow:
        opts["r"] = True
    pats = opts["e"] or args[:1]
    if not pats:
        usage_error("grep", USAGE)
    paths = args[0 if opts["e"] else 1:] or ["." if "r" in opts else "-"]
    if "r" in opts:
        paths = [f for p in paths for f in walk(p, follow)]
        many = True
    else:
        many = len(paths) > 1
    pats = [re.escape(p) if "F" in opts else bre(p, "E" in opts) for p in pats]
    if "w" in opts:
        pats = [rf"(?<!\w)(?:{p})(?!\w)" for p in pats]
    try:
        rx = re.compile("|".join(f"(?:{p})" for p in pats), re.I if "i" in opts else 0)
    except re.error as e:
        fail("grep", f"bad pattern: {e}")
        return 2
    status, found = 0, False
    for path in paths:
        count, seen = 0, 0                # lines matched, lines read
        try:
            for piece in pieces(path):
                hits, lines = scan(rx, opts, piece, f"{path}:" if many else "", seen)
                count, seen = count + hits, seen + lines
                if "q" in opts and count:
                    return 0
        except OSError as e:
            fail("grep", path, e)
            status = 2
            continue
        found = found or count > 0
        if "c" in opts:
            out(f"{path}:{count}\n" if many else f"{count}\n")
        elif "l" in opts and count:
            out(f"{path}\n")
    return status if status else (0 if found else 1)


def pieces(path):
    """The bytes of `path` ("-": standard input) as they come, in pieces of whole lines
    (the last may lack its newline): grep matches while its writer still writes."""
    fd = 0 if path == "-" else libc.open(path)
    try:
        pending = []
        while chunk := libc.read(fd, libc.MAX_IO):
            cut = chunk.rfind(b"\n") + 1
            pending.append(chunk[:cut] if cut else chunk)
            if cut:
                yield b"".join(pending)
                pending = [chunk[cut:]]
        if tail := b"".join(pending):
            yield tail
    finally:
        if fd:
            libc.close(fd)


def scan(rx, opts, data, prefix, before=0):
    """Print the matching lines (or parts, -o) of `data`, whose first line is line
    `before` + 1: (how many lines matched, how many lines it held)."""
    lines = data.decode(errors="surrogateescape").splitlines()
    search = rx.search
    if "v" in opts:                     # one comprehension: the loop runs in C's pace
        hits = [i for i, text in enumerate(lines, before) if not search(text)]
    else:
        hits = [i for i, text in enumerate(lines, before) if search(text)]
    if hits and not set("clq") & set(opts):
        out("".join(_shown(rx, opts, prefix, i, lines[i - before]) for i in hits))
    return len(hits), len(lines)


def _shown(rx, opts, prefix, i, text):
    """What is printed of matching line `text` (line number i + 1)."""
    head = prefix + (f"{i + 1}:" if "n" in opts else "")
    if "o" in opts and "v" not in opts:
        return "".join(f"{head}{m.group(0)}\n" for m in rx.finditer(text) if m.group(0))
    return f"{head}{text}\n"


def walk(path, follow: bool, top: bool = True):
    """`path`, or the files under it when it is a directory (names sorted); links met
    on the way are skipped unless `follow` (-R), as GNU's grep -r does."""
    try:
        if not top and not follow and stat.S_ISLNK(libc.lstat(path).st_mode):
            return
        names = sorted(libc.listdir(path)) if is_dir(path) else None
    except OSError:
        names = None
    if names is None:
        yield path
        return
    for n in names:
        yield from walk(f"{path.rstrip('/')}/{n}", follow, False)
