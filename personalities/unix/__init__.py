"""The Unix personality: the Unix server (processes, files, pipes, signals over IPC),
crt0 and libc for programs, and the programs of /bin (see docs/unix.md)."""
__all__: list[str] = []
