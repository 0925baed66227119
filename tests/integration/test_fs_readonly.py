"""The fs server on a disk it may only read: a node booted on an image whose superblock
says it has errors serves it read-only, says why in its log, reads work, every change
is "Read-only file system", and the image is left byte for byte."""
import os

import pytest

from personalities.unix.image import MOTD, build
from protocols.wellknown import FS_TASK
from servers.ext2.superblock import SB_OFFSET, STATE_ERROR

from conftest import TestNode

pytestmark = pytest.mark.timeout(180)
STATE = SB_OFFSET + 58                          # s_state, little-endian 16 bits


@pytest.fixture
def marked_node(mk_home):
    node = TestNode(f"ro{os.getpid()}", mk_home)
    os.makedirs(node.dir, mode=0o700)
    disk = node.path("disk.img")
    build(disk)
    with open(disk, "r+b") as f:
        f.seek(STATE)
        state = f.read(1)[0]
        f.seek(STATE)
        f.write(bytes([state | STATE_ERROR]))
    with open(disk, "rb") as f:
        before = f.read()
    node.up()
    yield node, disk, before
    node.down()


def test_a_disk_with_errors_is_served_read_only(marked_node):
    node, disk, before = marked_node
    assert node.sh("cat /etc/motd") == (0, MOTD)
    rc, out = node.sh("echo hi > /tmp/new")
    assert rc != 0 and "Read-only file system" in out, (rc, out)
    rc, out = node.sh("mkdir /tmp/d")
    assert rc != 0 and "Read-only file system" in out, (rc, out)
    with open(node.path("logs", f"task-{FS_TASK}.log")) as f:
        log = f.read()
    assert "mounted read-only" in log and "marked as having errors" in log, log
    node.down()
    with open(disk, "rb") as f:
        assert f.read() == before
