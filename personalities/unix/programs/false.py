#!mk
"""false: exit with status 1."""

__all__ = ["main"]


def main(argv, envp):
    return 1
