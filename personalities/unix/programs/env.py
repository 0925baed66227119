#!mk
"""env [-i] [NAME=VALUE]... [COMMAND [ARG...]]: run COMMAND with the environment
changed (-i: emptied first), or print the environment, one NAME=VALUE a line."""
from personalities.unix import libc
from personalities.unix.progargs import fail, options, out

__all__ = ["main"]

USAGE = "env [-i] [NAME=VALUE]... [COMMAND [ARG...]]"


def main(argv, envp):
    opts, args = options("env", argv[1:], "i", USAGE, stop_at_operand=True)
    env = {} if "i" in opts else dict(envp)
    while args and "=" in args[0]:
        name, _, value = args.pop(0).partition("=")
        env[name] = value
    if not args:
        out("".join(f"{k}={v}\n" for k, v in env.items()))
        return 0
    try:
        libc.execvp(args[0], args, env)
    except OSError as e:
        fail("env", args[0], e)
        return 127 if e.errno == 2 else 126
