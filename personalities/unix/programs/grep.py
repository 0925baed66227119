#!mk
"""grep [-ivcnlq] PATTERN [FILE...]: print lines that match a regular expression.
Exit status 0 when something matched, 1 when nothing did, 2 on an error."""
import re
import sys

from personalities.unix import libc

__all__ = ["main"]


def main(argv, envp):
    args = argv[1:]
    flags = ""
    while args and args[0].startswith("-") and len(args[0]) > 1:
        if args[0] == "--":
            args = args[1:]
            break
        flags += args.pop(0)[1:]
    if not args:
        print("usage: grep [-ivcnlq] PATTERN [FILE...]", file=sys.stderr)
        return 2
    try:
        rx = re.compile(args[0], re.IGNORECASE if "i" in flags else 0)
    except re.error as e:
        print(f"grep: bad pattern: {e}", file=sys.stderr)
        return 2
    paths = args[1:] or ["-"]
    status, found = 0, False
    for path in paths:
        try:
            data = libc.read_all(path)
        except OSError as e:
            print(f"grep: {path}: {e.strerror}", file=sys.stderr)
            status = 2
            continue
        prefix = f"{path}:" if len(paths) > 1 else ""
        count = 0
        for no, text in enumerate(data.decode(errors="replace").splitlines(), 1):
            if bool(rx.search(text)) != ("v" in flags):
                count += 1
                if not set("clq") & set(flags):
                    print(prefix + (f"{no}:" if "n" in flags else "") + text)
        found = found or count > 0
        if "q" in flags:
            continue
        if "c" in flags:
            print(f"{prefix}{count}")
        elif "l" in flags and count:
            print(path)
    return status if status else (0 if found else 1)

