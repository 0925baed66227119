"""The shell's regular builtins: cd pwd echo printf test [ true false read wait local
command type getopts umask on. Each is `fn(sh, argv) -> status`; an error is said on fd 2
(`sh: LINE: name: reason`) and is a nonzero status, never the shell's end.
"""
from __future__ import annotations

from .printf import printf
from .process import find_program
from .remote import on
from .testcmd import test

__all__ = ["REGULAR", "is_name"]


def is_name(s: str) -> bool:
    return bool(s) and (s[0].isalpha() or s[0] == "_") and all(
        c.isalnum() or c == "_" for c in s)


def b_cd(sh, argv) -> int:
    args = [a for a in argv[1:] if a not in ("-L", "-P")]
    if args == ["-"]:
        target = sh.get("OLDPWD")
        if not target:
            sh.error("cd: OLDPWD not set")
            return 1
    else:
        target = args[0] if args else sh.get("HOME")
        if not target:
            sh.error("cd: HOME not set")
            return 1
    try:
        old = sh.sys.getcwd()
        sh.sys.chdir(target)
        new = sh.sys.getcwd()
    except OSError as e:
        sh.error(f"cd: {target}: {e.strerror}")
        return 1
    sh.assign("OLDPWD", old)
    sh.assign("PWD", new)
    if args == ["-"]:
        sh.write(1, new + "\n")
    return 0


def b_pwd(sh, argv) -> int:
    sh.write(1, sh.sys.getcwd() + "\n")
    return 0


def b_echo(sh, argv) -> int:
    args, end = argv[1:], "\n"
    while args and args[0] == "-n":
        args, end = args[1:], ""
    sh.write(1, " ".join(args) + end)
    return 0


def b_printf(sh, argv) -> int:
    if len(argv) < 2:
        sh.error("printf: usage: printf format [arg ...]")
        return 2
    out, errors = printf(argv[1], argv[2:])
    sh.write(1, out)
    for e in errors:
        sh.error(f"printf: {e}")
    return 1 if errors else 0


def b_test(sh, argv) -> int:
    return test(sh.sys, argv[1:], argv[0])


def b_true(sh, argv) -> int:
    return 0


def b_false(sh, argv) -> int:
    return 1


def _read_line(sys, raw: bool) -> tuple[str, bool]:
    """One line of fd 0 (without the newline; backslash-newline joins lines unless
    raw), and whether it ended at end of file. Reads a byte at a time, so what
    follows the line stays for the next reader."""
    buf, escaped = bytearray(), False
    while True:
        b = sys.read(0, 1)
        if not b:
            return buf.decode(errors="surrogateescape"), True
        if escaped:
            escaped = False
            if b != b"\n":
                buf += b
            continue
        if b == b"\\" and not raw:
            escaped = True
            continue
        if b == b"\n":
            return buf.decode(errors="surrogateescape"), False
        buf += b


def _split_fields(line: str, ifs: str, n: int) -> list[str]:
    """`line` into at most n fields by IFS; the last keeps the rest (read's rule)."""
    white = "".join(c for c in ifs if c in " \t\n")
    s, out = line.strip(white), []
    while len(out) < n - 1 and s:
        i = next((k for k, c in enumerate(s) if c in ifs), None)
        if i is None:
            break
        out.append(s[:i])
        j = i
        while j < len(s) and s[j] in white:
            j += 1
        if j < len(s) and s[j] in ifs and s[j] not in white and s[i] in white:
            j += 1
        elif s[i] not in white:
            j = i + 1
        while j < len(s) and s[j] in white:
            j += 1
        s = s[j:]
    out.append(s)
    return out


def b_read(sh, argv) -> int:
    args, raw = argv[1:], False
    while args and args[0].startswith("-") and args[0] != "-":
        a = args.pop(0)
        if a == "-r":
            raw = True
        elif a == "-p" and args:
            sh.write(2, args.pop(0))
        elif a == "--":
            break
        else:
            sh.error(f"read: {a}: bad option")
            return 2
    names = args or ["REPLY"]
    for n in names:
        if not is_name(n):
            sh.error(f"read: {n}: bad variable name")
            return 2
    line, eof = _read_line(sh.sys, raw)
    ifs = sh.get("IFS")
    ifs = " \t\n" if ifs is None else ifs
    values = _split_fields(line, ifs, len(names)) if ifs else [line]
    values += [""] * (len(names) - len(values))
    for n, v in zip(names, values):
        sh.assign(n, v)
    return 1 if eof else 0


def b_wait(sh, argv) -> int:
    status = 0
    pids = [int(a) for a in argv[1:] if a.isdigit()] or sorted(sh.jobs)
    for pid in pids:
        status = sh.wait_for(pid)
        sh.jobs.discard(pid)
    return status


def b_local(sh, argv) -> int:
    if not sh.locals:
        sh.error("local: not in a function")
        return 1
    scope = sh.locals[-1]
    for a in argv[1:]:
        name, eq, value = a.partition("=")
        if name not in scope:
            scope[name] = (sh.vars.get(name), name in sh.exported)
        if eq:
            sh.assign(name, value)
    return 0


def describe(sh, name: str) -> tuple[str, str] | None:
    """(kind, what) of a command name: builtin, function or a program's path."""
    from .builtins import BUILTINS, SPECIAL
    if name in SPECIAL:
        return "special", name
    if name in sh.funcs:
        return "function", name
    if name in BUILTINS:
        return "builtin", name
    path = find_program(sh.sys, name, sh.get("PATH"))
    if path is None or ("/" in name and not _exists(sh, path)):
        return None
    return "file", path


def _exists(sh, path: str) -> bool:
    try:
        sh.sys.stat(path)
        return True
    except OSError:
        return False


def b_command(sh, argv) -> int:
    args = argv[1:]
    if args and args[0] in ("-v", "-V"):
        status = 0
        for name in args[1:]:
            d = describe(sh, name)
            if d is None:
                status = 1
                if args[0] == "-V":
                    sh.error(f"{name}: not found")
            elif args[0] == "-v":
                sh.write(1, d[1] + "\n")
            else:
                _type_line(sh, name, d)
        return status
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        return 0
    from .builtins import BUILTINS
    if args[0] in BUILTINS and BUILTINS[args[0]] is not None:
        return BUILTINS[args[0]](sh, args)
    return sh.external(args, [], [], False)


def _type_line(sh, name: str, d) -> None:
    kind, what = d
    text = {"special": "a special shell builtin", "builtin": "a shell builtin",
            "function": "a shell function"}.get(kind, what)
    sh.write(1, f"{name} is {text}\n")


def b_type(sh, argv) -> int:
    status = 0
    for name in argv[1:]:
        d = describe(sh, name)
        if d is None:
            sh.error(f"{name}: not found")
            status = 127
        else:
            _type_line(sh, name, d)
    return status


def b_getopts(sh, argv) -> int:
    if len(argv) < 3:
        sh.error("getopts: usage: getopts optstring name [arg...]")
        return 2
    spec, var = argv[1], argv[2]
    args = argv[3:] if len(argv) > 3 else sh.positional
    try:
        ind = int(sh.get("OPTIND") or "1")
    except ValueError:
        ind = 1
    pos = int(sh.vars.get("_OPTPOS", "1"))
    if ind > len(args) or not args[ind - 1].startswith("-") or args[ind - 1] in ("-", "--"):
        if ind <= len(args) and args[ind - 1] == "--":
            sh.assign("OPTIND", str(ind + 1))
        sh.assign(var, "?")
        sh.vars.pop("_OPTPOS", None)
        return 1
    arg = args[ind - 1]
    c = arg[pos]
    pos += 1
    if pos >= len(arg):
        ind, pos = ind + 1, 1
    quiet = spec.startswith(":")
    i = spec.find(c)
    if c == ":" or i < 0:
        sh.assign(var, "?")
        sh.assign("OPTARG", c) if quiet else sh.error(f"getopts: illegal option -- {c}")
    elif spec[i + 1:i + 2] == ":":
        if pos > 1:
            sh.assign("OPTARG", arg[pos:])
            ind, pos = ind + 1, 1
        elif ind <= len(args):
            sh.assign("OPTARG", args[ind - 1])
            ind += 1
        else:
            sh.assign(var, ":" if quiet else "?")
            if not quiet:
                sh.error(f"getopts: option requires an argument -- {c}")
            sh.assign("OPTIND", str(ind))
            return 0
        sh.assign(var, c)
    else:
        sh.assign(var, c)
    sh.assign("OPTIND", str(ind))
    sh.vars["_OPTPOS"] = str(pos)
    return 0


def b_umask(sh, argv) -> int:
    """umask [MODE]: print the file creation mask (0022), or set it (octal)."""
    old = sh.sys.umask(0)
    arg = argv[1] if len(argv) > 1 else None
    if arg is not None and (not arg or any(c not in "01234567" for c in arg)
                            or int(arg, 8) > 0o777):
        sh.sys.umask(old)
        sh.error(f"umask: {arg}: invalid or unsupported mode (octal only)")
        return 1
    sh.sys.umask(old if arg is None else int(arg, 8))
    if arg is None:
        sh.write(1, f"{old:04o}\n")
    return 0


def b_on(sh, argv) -> int:
    """on NODE COMMAND [ARG...] (remote.py), with the exported variables (and the
    command's prefix assignments) as its environment."""
    return on(sh.sys, argv, sh.environment())


REGULAR = {"cd": b_cd, "pwd": b_pwd, "echo": b_echo, "printf": b_printf, "test": b_test,
           "[": b_test, "true": b_true, "false": b_false, "read": b_read, "wait": b_wait,
           "local": b_local, "command": b_command, "type": b_type, "getopts": b_getopts,
           "umask": b_umask, "on": b_on}
