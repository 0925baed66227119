#!mk
"""ln [-sf] TARGET LINK / ln [-sf] TARGET... DIR: make hard links (-s: symbolic
ones) to each TARGET; -f: replace a LINK that exists."""
from personalities.unix import libc
from personalities.unix.progargs import exists, fail, options, targets

__all__ = ["main"]

USAGE = "ln [-sf] TARGET LINK | ln [-sf] TARGET... DIR"


def main(argv, envp):
    opts, args = options("ln", argv[1:], "sf", USAGE)
    pairs = targets("ln", args, USAGE)
    if pairs is None:
        return 1
    status = 0
    for target, name in pairs:
        try:
            if "f" in opts:
                try:
                    libc.unlink(name)
                except OSError as e:
                    if e.errno != 2:
                        raise
            (libc.symlink if "s" in opts else libc.link)(target, name)
        except OSError as e:
            status = fail("ln", name if "s" in opts or exists(target) else target, e)
    return status
