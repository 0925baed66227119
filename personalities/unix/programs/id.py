#!mk
"""id [-u | -g | -G] [-n]: the user and group of this process. Every process of the
node runs as root (uid 0, gid 0): the Unix server keeps no other credentials."""
from personalities.unix.progargs import id_names, options, out, usage_error

__all__ = ["main"]

USAGE = "id [-u | -g | -G] [-n]"
UID = GID = 0


def main(argv, envp):
    opts, args = options("id", argv[1:], "ugGn", USAGE)
    if args:
        usage_error("id", USAGE, "users other than this process's are not supported")
    user = id_names("/etc/passwd").get(UID, str(UID))
    group = id_names("/etc/group").get(GID, str(GID))
    if "u" in opts:
        out((user if "n" in opts else str(UID)) + "\n")
    elif "g" in opts or "G" in opts:
        out((group if "n" in opts else str(GID)) + "\n")
    else:
        out(f"uid={UID}({user}) gid={GID}({group}) groups={GID}({group})\n")
    return 0
