#!mk
"""on NODE COMMAND [ARG...]: run COMMAND on node NODE (as QNX's `on -n NODE`).

COMMAND is looked up in NODE's /bin unless it has a slash, and runs under NODE's Unix
server (it shows in NODE's ps) with this process's stdin, stdout and stderr; the exit
status is COMMAND's (128 + the signal that killed it). `uname -n` names the nodes.
The shell has `on` as a builtin (personalities/unix/sh/remote.py, this program's body):
this program is for the programs that exec it (xargs, env, ...).
"""
from personalities.unix import libc
from personalities.unix.sh.remote import on

__all__ = ["main"]


def main(argv, envp):
    return on(libc, argv, envp)
