"""/bin/sh's engine: a POSIX shell over the personality's libc (or any object with
libc's functions: the unit tests give it the host's).

lexer -> parser (ast) -> execute (with expand, arith, pattern, builtins, testcmd,
printf). `programs/sh.py` is the program; it only reads its arguments and input.
"""
