#!mk
"""env: print the environment, one NAME=VALUE a line."""
from personalities.unix import libc

__all__ = ["main"]


def main(argv, envp):
    libc.write(1, "".join(f"{k}={v}\n" for k, v in sorted(envp.items())).encode())
    return 0
