#!mk
"""xargs [-n N] [-I R] [COMMAND [ARG...]]: run COMMAND (echo) with the words of
standard input as more arguments (blanks and newlines separate them; quotes and
backslashes quote), at most N a time; -I R: once per input line, R in the arguments
replaced by it. Status 123 when a command failed, 127 when it was not found."""
import os
import shlex

from personalities.unix import libc
from personalities.unix.progargs import fail, options, usage_error

__all__ = ["main"]

USAGE = "xargs [-n N] [-I R] [COMMAND [ARG...]]"


def main(argv, envp):
    opts, cmd = options("xargs", argv[1:], "n:I:", USAGE, stop_at_operand=True)
    cmd = cmd or ["echo"]
    text = libc.read_all("-").decode(errors="surrogateescape")
    if "I" in opts:
        r = opts["I"]
        runs = [[a.replace(r, line) for a in cmd] for line in text.splitlines() if line]
    else:
        try:
            words = shlex.split(text)
        except ValueError as e:
            return fail("xargs", f"unmatched quote: {e}")
        n = opts.get("n", "0")
        if not n.isdigit() or (n == "0" and "n" in opts):
            usage_error("xargs", USAGE, f"invalid number for -n: '{n}'")
        size = int(n) or max(len(words), 1)
        runs = [cmd + words[i:i + size] for i in range(0, max(len(words), 1), size)]
    status = 0
    for args in runs:
        code = run(args, envp)
        if code in (126, 127):
            return code
        status = status or (123 if code else 0)
    return status


def run(args, envp) -> int:
    """Exit status of `args` run as a child (127: not found, 126: not runnable)."""
    pid = libc.fork()
    if pid == 0:
        try:
            libc.execvp(args[0], args, envp)
        except OSError as e:
            fail("xargs", args[0], e)
            libc.exit(127 if e.errno == 2 else 126)
    _, status = libc.waitpid(pid, 0)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 125
