"""sh's command line and input: what /bin/sh's main does, over any libc-like `sys`.

    sh [-euxfaCv] -c COMMAND [NAME [ARG...]]   run COMMAND ($0 = NAME)
    sh [-euxfaCv] FILE [ARG...]                run the script FILE
    sh [-euxfaCv] [-s] [ARG...]                read commands from standard input:
                                               interactive (prompts $PS1, $PS2) on a
                                               terminal, else the whole input as a script
"""
from __future__ import annotations

import signal

from . import jobs
from .errors import Exit, Incomplete, Interrupt, SyntaxErr
from .execute import Shell
from .parser import Parser

__all__ = ["main", "run_script"]


def _options(sys, args: list) -> tuple[set, set, str] | None:
    """(options to set, options to clear, mode "c" | "s" | "i" | "") from the leading
    option arguments, removed from `args`; None after saying why they are bad."""
    on, off, mode = set(), set(), ""
    while args and args[0][:1] in "-+" and args[0] not in ("-", "+"):
        a = args.pop(0)
        if a == "--":
            break
        for c in a[1:]:
            if c in "csi" and a[0] == "-":
                mode += c
            elif c in "euxfaCnv":
                (on if a[0] == "-" else off).add(c)
            else:
                sys.write(2, f"sh: 0: Illegal option {a[0]}{c}\n".encode())
                return None
    if args and args[0] == "-":
        args.pop(0)
    return on, off, mode


def run_script(sh: Shell, text: str) -> int:
    """Run `text` to its end or its `exit`, then the EXIT trap; the exit status."""
    try:
        status = sh.run(text)
    except Exit as e:
        status = e.status
    sh.status = status
    try:
        sh.run_exit_trap()
    except Exit as e:
        status = e.status
    return status


def _read_all(sys, fd: int) -> str:
    out = bytearray()
    while chunk := sys.read(fd, 65536):
        out += chunk
    return out.decode(errors="surrogateescape")


def main(sys, argv, envp) -> int:
    args = list(argv[1:])
    parsed = _options(sys, args)
    if parsed is None:
        return 2
    on, off, mode = parsed
    env = {"PS1": "$ ", "PS2": "> ", "IFS": " \t\n", **dict(envp)}
    if "c" in mode:
        if not args:
            sys.write(2, b"sh: 0: -c requires an argument\n")
            return 2
        sh = Shell(sys, args[1] if len(args) > 1 else argv[0], args[2:], env)
        sh.options |= on - off
        return run_script(sh, args[0])
    if args and "s" not in mode:
        try:
            text = sys.read_all(args[0]).decode(errors="surrogateescape")
        except OSError as e:
            sys.write(2, f"sh: 0: cannot open {args[0]}: {e.strerror}\n".encode())
            return 127
        sh = Shell(sys, args[0], args[1:], env)
        sh.name = args[0]
        sh.options |= on - off
        return run_script(sh, text)
    interactive = "i" in mode or _isatty(sys, 0)
    sh = Shell(sys, argv[0], args, env, interactive)
    sh.options |= on - off
    if not interactive:
        return run_script(sh, _read_all(sys, 0))
    return interactive_loop(sh)


def _isatty(sys, fd: int) -> bool:
    try:
        return bool(sys.isatty(fd))
    except OSError:
        return False


def interactive_loop(sh: Shell) -> int:
    """Prompt, read a line (more while the command is incomplete), run it; until end
    of file or `exit`. ^C (SIGINT, when the shell has the terminal: at the prompt, or
    in a builtin's loop) drops what was typed and gives a new prompt; jobs.py does job
    control."""
    sys = sh.sys
    jobs.setup(sh)
    sys.signal(signal.SIGINT, _interrupt)
    pending = ""
    while True:
        try:
            jobs.reap(sh)
            sh.write(2, sh.vars.get("PS2", "> ") if pending else sh.vars.get("PS1", "$ "))
            line = sys.read(0, 4096).decode(errors="surrogateescape")
            if not line:
                sh.write(2, "\n")
                jobs.orphan(sh)
                return run_script(sh, "")
            pending += line
            if _incomplete(pending):
                continue
            sh.job_text = pending.strip()
            sh.run(pending)
        except Interrupt:
            sh.status = 130
        except Exit as e:
            sh.status = e.status
            jobs.orphan(sh)
            return run_script(sh, "")
        pending = ""


def _incomplete(text: str) -> bool:
    """Does the command typed so far need more lines?"""
    try:
        parser = Parser(text)
        parser.parse_all()
        return bool(parser.lx.unterminated)
    except Incomplete:
        return True
    except SyntaxErr:
        return False


def _interrupt(sig, frame):
    raise Interrupt()
