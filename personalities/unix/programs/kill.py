#!mk
"""kill [-SIGNAL | -s SIGNAL] PID...: send a signal (TERM); kill -l lists them.
A negative PID is a process group."""
import signal
import sys

from personalities.unix import libc

__all__ = ["main"]


def main(argv, envp):
    args = argv[1:]
    sig = signal.SIGTERM
    if args and args[0] == "-l":
        print(" ".join(s.name[3:] for s in sorted(signal.Signals) if 0 < s < 32))
        return 0
    if args and args[0] == "-s" and len(args) > 1:
        sig, args = parse(args[1]), args[2:]
    elif len(args) > 1 and args[0].startswith("-") and args[0] != "--":
        sig, args = parse(args[0][1:]), args[1:]
    if args and args[0] == "--":
        args = args[1:]
    if sig is None or not args:
        print("usage: kill [-SIGNAL] PID...", file=sys.stderr)
        return 1
    status = 0
    for a in args:
        try:
            libc.kill(int(a), sig)
        except ValueError:
            print(f"kill: {a}: not a pid", file=sys.stderr)
            status = 1
        except OSError as e:
            print(f"kill: ({a}): {e.strerror}", file=sys.stderr)
            status = 1
    return status


def parse(name):
    if name.isdigit():
        return int(name)
    name = name.upper()
    try:
        return signal.Signals[name if name.startswith("SIG") else "SIG" + name]
    except KeyError:
        return None
