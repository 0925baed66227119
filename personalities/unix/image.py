"""The node's root file system image: ext2, made on the first `mk up`.

It holds /bin (the programs of personalities/unix/programs, without their .py), /etc
(motd, passwd, group), /home and /tmp (sticky, world-writable). It is a plain raw file that
host tools read: `e2fsck -fn disk.img`, `debugfs -R 'ls -l /bin' disk.img`.
"""
from __future__ import annotations

import os
import shutil
import tempfile

from servers.ext2.mkfs import make_image

__all__ = ["build", "PROGRAMS", "IMAGE_BYTES"]

PROGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs")
IMAGE_BYTES = 32 << 20
MOTD = "Welcome to mk: Unix as user-level servers on an L4 microkernel.\n"
PASSWD = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n"
GROUP = "root:x:0:\nuser:x:1000:\n"


def build(path: str, size: int = IMAGE_BYTES) -> None:
    """Write a fresh root image at `path`."""
    with tempfile.TemporaryDirectory(prefix="mkimg") as root:
        for d in ("bin", "etc", "home/user", "tmp", "root"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        os.chmod(os.path.join(root, "tmp"), 0o1777)
        if os.path.isdir(PROGRAMS):
            for name in sorted(os.listdir(PROGRAMS)):
                if name.endswith(".py") and not name.startswith("_"):
                    dst = os.path.join(root, "bin", name[:-3])
                    shutil.copyfile(os.path.join(PROGRAMS, name), dst)
                    os.chmod(dst, 0o755)
        with open(os.path.join(root, "etc", "motd"), "w") as f:
            f.write(MOTD)
        for name, text in (("passwd", PASSWD), ("group", GROUP)):
            with open(os.path.join(root, "etc", name), "w") as f:
                f.write(text)
        make_image(path, size, populate_dir=root)
