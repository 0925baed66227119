#!mk
"""false: exit with status 1."""


def main(argv, envp):
    return 1
