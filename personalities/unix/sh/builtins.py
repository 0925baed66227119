"""The special builtins (XCU 2.14): : . break continue eval exec exit export readonly
return set shift trap unset; and the table of every builtin (the regular ones are in
regular.py).

A builtin is `fn(sh, argv) -> status`, run in the shell itself. An error of a special
builtin raises ShellError (it ends a shell that is not interactive, as POSIX says);
`exec` is the executor's (execute.Shell.exec_builtin).
"""
from __future__ import annotations

import signal

from . import jobs, regular
from .errors import Break, Continue, Exit, Return, ShellError

__all__ = ["BUILTINS", "SPECIAL"]

OPTIONS = {"errexit": "e", "nounset": "u", "xtrace": "x", "noglob": "f", "allexport": "a",
           "noclobber": "C", "noexec": "n", "verbose": "v"}


def _number(name: str, text: str) -> int:
    t = text.strip()
    if not t.isdigit():
        raise ShellError(f"{name}: Illegal number: {text}")
    return int(t)


def b_colon(sh, argv) -> int:
    return 0


def b_dot(sh, argv) -> int:
    if len(argv) < 2:
        raise ShellError(".: filename argument required")
    name = argv[1]
    path = name
    if "/" not in name:
        for d in (sh.get("PATH") or "/bin").split(":"):
            cand = f"{d or '.'}/{name}"
            try:
                sh.sys.stat(cand)
            except OSError:
                continue
            path = cand
            break
    try:
        text = sh.sys.read_all(path).decode(errors="surrogateescape")
    except OSError:
        raise ShellError(f".: cannot open {name}", status=2) from None
    saved = None
    if len(argv) > 2:
        saved, sh.positional = sh.positional, argv[2:]
    sh.sourcing += 1
    try:
        sh.status = 0
        return sh.run(text)
    except Return as r:
        return r.status
    finally:
        sh.sourcing -= 1
        if saved is not None:
            sh.positional = saved


def _loop_count(sh, argv) -> int:
    n = _number(argv[0], argv[1]) if len(argv) > 1 else 1
    if n < 1:
        raise ShellError(f"{argv[0]}: Illegal number: {argv[1]}")
    return min(n, sh.loops)


def b_break(sh, argv) -> int:
    n = _loop_count(sh, argv)
    if n:
        raise Break(n)
    return 0


def b_continue(sh, argv) -> int:
    n = _loop_count(sh, argv)
    if n:
        raise Continue(n)
    return 0


def b_eval(sh, argv) -> int:
    text = " ".join(argv[1:])
    sh.status = 0
    return sh.run(text, sh.line) if text.strip() else 0


def b_exit(sh, argv) -> int:
    status = _number("exit", argv[1]) if len(argv) > 1 else sh.status
    raise Exit(status & 0xFF)


def b_return(sh, argv) -> int:
    raise Return(_number("return", argv[1]) & 0xFF if len(argv) > 1 else sh.status)


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def _mark(sh, argv, which: str) -> int:
    args = [a for a in argv[1:] if a != "-p"]
    if not args:
        names = sh.exported if which == "export" else sh.readonly
        for n in sorted(names):
            v = sh.vars.get(n)
            sh.write(1, f"{which} {n}" + ("" if v is None else f"={_quoted(v)}") + "\n")
        return 0
    for a in args:
        name, eq, value = a.partition("=")
        if not regular.is_name(name):
            raise ShellError(f"{which}: {name}: bad variable name")
        if eq:
            sh.assign(name, value)
        (sh.exported if which == "export" else sh.readonly).add(name)
    return 0


def b_export(sh, argv) -> int:
    return _mark(sh, argv, "export")


def b_readonly(sh, argv) -> int:
    return _mark(sh, argv, "readonly")


def b_set(sh, argv) -> int:
    args = argv[1:]
    if not args:
        for n in sorted(sh.vars):
            sh.write(1, f"{n}={_quoted(sh.vars[n])}\n")
        return 0
    while args and args[0][:1] in "-+" and args[0] not in ("-", "+"):
        a = args.pop(0)
        if a == "--":
            sh.positional = args
            return 0
        on = a[0] == "-"
        if a[1:] == "o":
            if not args:
                for long, short in OPTIONS.items():
                    sh.write(1, f"{long:<12}{'on' if short in sh.options else 'off'}\n")
                return 0
            name = args.pop(0)
            if name not in OPTIONS:
                raise ShellError(f"set: Illegal option -o {name}")
            letters = OPTIONS[name]
        else:
            letters = a[1:]
        for c in letters:
            if c not in "euxfaCnv":
                raise ShellError(f"set: Illegal option {a[0]}{c}")
            (sh.options.add if on else sh.options.discard)(c)
    if args and args[0] in ("-", "+"):
        args.pop(0)
        sh.options -= {"x", "v"}
        sh.positional = args
    elif args:
        sh.positional = args
    return 0


def b_shift(sh, argv) -> int:
    n = _number("shift", argv[1]) if len(argv) > 1 else 1
    if n > len(sh.positional):
        raise ShellError("shift: can't shift that many")
    sh.positional = sh.positional[n:]
    return 0


def _signal_number(name: str) -> int | None:
    if name.isdigit():
        return int(name)
    try:
        return int(signal.Signals["SIG" + name.upper().removeprefix("SIG")])
    except KeyError:
        return 0 if name.upper() == "EXIT" else None


def b_trap(sh, argv) -> int:
    args = argv[1:]
    if not args:
        for sig, action in sorted(sh.traps.items()):
            name = "EXIT" if sig == 0 else signal.Signals(sig).name[3:]
            sh.write(1, f"trap -- {_quoted(action)} {name}\n")
        return 0
    action = None if args[0] == "-" else args[0]
    if args[0].isdigit():                            # trap N...: reset them
        action, sigs = None, args
    else:
        sigs = args[1:]
    status = 0
    for name in sigs:
        sig = _signal_number(name)
        if sig is None:
            sh.error(f"trap: {name}: bad trap")
            status = 1
            continue
        _set_trap(sh, sig, action)
    return status


def _set_trap(sh, sig: int, action) -> None:
    if action is None:
        sh.traps.pop(sig, None)
    else:
        sh.traps[sig] = action
    if sig == 0:
        return
    if action is None:
        disp = signal.SIG_DFL
    elif action == "":
        disp = signal.SIG_IGN
    else:
        def disp(signum, frame, sh=sh):
            saved = sh.status
            sh.run(sh.traps.get(signum, ""))
            sh.status = saved
    sh.sys.signal(sig, disp)


def b_unset(sh, argv) -> int:
    args = argv[1:]
    funcs = bool(args) and args[0] == "-f"
    if args and args[0] in ("-f", "-v"):
        args = args[1:]
    for name in args:
        if funcs:
            sh.funcs.pop(name, None)
            continue
        if name in sh.readonly:
            raise ShellError(f"unset: {name}: is read only", status=2)
        sh.vars.pop(name, None)
        sh.exported.discard(name)
    return 0


SPECIAL = {":": b_colon, ".": b_dot, "break": b_break, "continue": b_continue,
           "eval": b_eval, "exec": None, "exit": b_exit, "export": b_export,
           "readonly": b_readonly, "return": b_return, "set": b_set, "shift": b_shift,
           "trap": b_trap, "unset": b_unset}
BUILTINS = {**SPECIAL, **regular.REGULAR, **jobs.JOB_BUILTINS}
