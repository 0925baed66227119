#!mk
"""kill [-SIGNAL | -s SIGNAL] PID...: send a signal (TERM); kill -l lists them.
A negative PID is a process group."""
import signal

from personalities.unix import libc
from personalities.unix.progargs import fail, usage_error

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
        usage_error("kill", "kill [-SIGNAL | -s SIGNAL] PID... | kill -l",
                    "no such signal" if sig is None else "missing operand")
    status = 0
    for a in args:
        try:
            libc.kill(int(a), sig)
        except ValueError:
            status = fail("kill", a, "not a pid")
        except OSError as e:
            status = fail("kill", f"({a})", e)
    return status


def parse(name):
    if name.isdigit():
        return int(name)
    name = name.upper()
    try:
        return signal.Signals[name if name.startswith("SIG") else "SIG" + name]
    except KeyError:
        return None
