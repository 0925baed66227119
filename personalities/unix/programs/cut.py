#!mk
"""cut -f LIST [-d SEP] [-s] | -c LIST [FILE...]: the chosen fields (split by SEP,
a tab by default; -s: lines without SEP left out) or characters of each line. LIST
is N, N-M, N- or -M, separated by commas."""
import re

from personalities.unix.progargs import Inputs, options, out, usage_error

__all__ = ["main"]

USAGE = "cut -f LIST [-d SEP] [-s] | -c LIST [FILE...]"


def main(argv, envp):
    opts, paths = options("cut", argv[1:], "f:c:b:d:s", USAGE)
    if ("f" in opts) + ("c" in opts) + ("b" in opts) != 1:
        usage_error("cut", USAGE, "you must specify a list of bytes, characters, or fields")
    sep = opts.get("d", "\t")
    if len(sep) != 1:
        usage_error("cut", USAGE, "the delimiter must be a single character")
    want = ranges(opts.get("f") or opts.get("c") or opts["b"])
    inputs = Inputs("cut", paths)
    rows = []
    for line in inputs.lines():
        if "f" not in opts:
            rows.append("".join(c for i, c in enumerate(line, 1) if want(i)))
        elif sep in line:
            rows.append(sep.join(f for i, f in enumerate(line.split(sep), 1) if want(i)))
        elif "s" not in opts:
            rows.append(line)
    out("".join(r + "\n" for r in rows))
    return inputs.status


def ranges(text):
    """The test `i in LIST` for a LIST such as 1,3-4,6-."""
    spans = []
    for part in text.split(","):
        m = re.fullmatch(r"(\d*)(-?)(\d*)", part)
        if not m or not (m.group(1) or m.group(3)) or m.group(1) == "0":
            usage_error("cut", USAGE, f"invalid field value '{part}'")
        lo = int(m.group(1) or 1)
        hi = int(m.group(3)) if m.group(3) else (lo if not m.group(2) else 1 << 30)
        spans.append((lo, hi))
    return lambda i: any(lo <= i <= hi for lo, hi in spans)
