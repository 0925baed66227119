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
        try:
            data = libc.read_all(path)
        except OSError as e:
            fail("grep", path, e)
            status = 2
            continue
        count = scan(rx, opts, data, f"{path}:" if many else "")
        found = found or count > 0
        if "q" in opts and found:
            return 0
        if "c" in opts:
            out(f"{path}:{count}\n" if many else f"{count}\n")
        elif "l" in opts and count:
            out(f"{path}\n")
    return status if status else (0 if found else 1)


def scan(rx, opts, data, prefix):
    """Print the matching lines (or parts, -o) of `data`; how many lines matched."""
    count, lines = 0, []
    quiet = set("clq") & set(opts)
    for no, text in enumerate(data.decode(errors="surrogateescape").splitlines(), 1):
        if bool(rx.search(text)) == ("v" in opts):
            continue
        count += 1
        if quiet:
            continue
        head = prefix + (f"{no}:" if "n" in opts else "")
        if "o" in opts and "v" not in opts:
            lines += [head + m.group(0) for m in rx.finditer(text) if m.group(0)]
        else:
            lines.append(head + text)
    if lines:
        out("".join(ln + "\n" for ln in lines))
    return count


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
