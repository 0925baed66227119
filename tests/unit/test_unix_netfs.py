"""/net's routing (personalities/unix/netfs.py): which fs server a path goes to, and
as what path, from a cwd on this node, on another node, or /net itself."""
from __future__ import annotations

from types import SimpleNamespace

from personalities.unix.netfs import Net, net_name


def _net():
    local = object()
    return Net(SimpleNamespace(rundir="/tmp/mkhome/n1/"), local), local


def test_the_node_is_named_after_its_folder():
    assert net_name(SimpleNamespace(rundir="/tmp/home/n2")) == "n2"
    assert net_name(SimpleNamespace()) == "mk"


def test_local_paths_stay_relative_to_the_cwd_inode():
    net, local = _net()
    assert net.route((5, "/home"), "x/y") == (local, 5, "x/y")
    assert net.route((5, "/home"), "/etc") == (local, 5, "/etc")


def test_net_node_paths_go_to_that_nodes_fs_by_absolute_path():
    net, local = _net()
    fs, start, path = net.route((5, "/home"), "/net/n2/tmp/x")
    assert fs.name == "fs@n2" and (start, path) == (0, "/tmp/x")
    assert net.route((0, "/net/n2/tmp"), "../etc")[0] is fs           # one client a node
    assert net.route((0, "/net/n2/tmp"), "../etc")[1:] == (0, "/etc")
    assert net.route((0, "/net/n2"), "")[1:] == (0, "/")


def test_this_nodes_name_is_the_local_fs_and_dotdot_leaves_net():
    net, local = _net()
    assert net.route((0, "/"), "/net/n1/tmp") == (local, 0, "/tmp")
    assert net.route((0, "/net/n2"), "../../etc") == (local, 0, "/etc")
    assert net.route((0, "/net/n2"), "..") == (None, 0, "/")
    assert net.route((0, "/"), "/net/") == (None, 0, "/")
