"""kernel.mapdb: the V2 mapping trees as a pure data structure (spaces are plain names)."""
import pytest

from microkernel.kernel.mapdb import PROTECT, REMOVE, Mapping, MappingDB

F = 0x7000                     # a frame


@pytest.fixture
def db():
    return MappingDB()


def chain(db, *spaces, writable=True):
    """sigma0's root for frame F at F, then a map into each space at F, one after another."""
    nodes = [db.add_root("s0", F, F)]
    for s in spaces:
        nodes.append(db.map(nodes[-1], s, F, writable))
    db.check()
    return nodes


def where(changes):
    return [(n.space, action) for n, action in changes]


def test_roots_and_lookup(db):
    r = db.add_root("s0", 0x7123, F)
    assert r.addr == F and r.parent is None and r.writable
    assert db.lookup("s0", 0x7FFF) is r and db.lookup("s0", 0x8000) is None
    assert db.lookup("nobody", F) is None
    assert db.root(F) is r and db.roots() == [r]
    with pytest.raises(ValueError):
        db.add_root("a", 0x1000, F)                  # one tree per frame
    with pytest.raises(ValueError):
        db.add_root("s0", F, 0x9000)                 # one node per (space, address)
    db.check()


def test_ports_have_their_own_trees(db):
    p = db.add_root("s0", 0x3F8, 0x3F8, io=True)
    m = db.add_root("s0", 0x3000, 0x3000)
    assert db.lookup("s0", 0x3F8, io=True) is p and db.lookup("s0", 0x3000) is m
    assert db.lookup("s0", 0x3F8) is None and db.root(0x3F8, io=True) is p
    child = db.map(p, "drv", 0x3F8, True)
    assert child.io and child.key == 0x3F8
    assert len(db) == 3
    db.check()


def test_map_makes_a_child_and_never_amplifies_rights(db):
    s0, a = chain(db, "a")
    ro = db.map(a, "b", 0x1000, writable=False)
    assert ro.parent is a and a.children == {ro: None} and not ro.writable
    again = db.map(ro, "c", 0x2000, writable=True)   # asks for W from a read-only page
    assert not again.writable and again.key == F
    db.check()


def test_map_onto_a_child_of_the_same_source_only_adds_rights(db):
    s0, a = chain(db, "a")
    b = db.map(a, "b", 0x1000, writable=False)
    assert db.map(a, "b", 0x1000, writable=True) is b and b.writable
    assert db.map(a, "b", 0x1000, writable=False) is b and b.writable   # no downgrade
    db.map(s0, "c", 0x5000, True)
    with pytest.raises(ValueError):
        db.map(a, "c", 0x5000, True)                # someone else's mapping is there
    db.check()


def test_grant_moves_the_node_and_keeps_its_children(db):
    s0, a, b = chain(db, "a", "b")
    assert db.grant(a, "g", 0x9000, True) == []
    assert a.space == "g" and a.addr == 0x9000 and a.parent is s0
    assert db.lookup("a", F) is None and db.lookup("g", 0x9000) is a
    assert b.parent is a and a.children == {b: None}
    db.check()


def test_a_read_only_grant_write_protects_the_subtree(db):
    s0, a, b, c = chain(db, "a", "b", "c")
    changes = db.grant(a, "g", 0x9000, False)
    assert where(changes) == [("b", PROTECT), ("c", PROTECT)]
    assert not a.writable and not b.writable and not c.writable
    db.check()


def test_grant_onto_an_occupied_place(db):
    s0, a = chain(db, "a")
    assert db.grant(a, "a", F, True) == []          # onto itself: nothing to do
    db.add_root("b", 0x1000, 0x1000)
    with pytest.raises(ValueError):
        db.grant(a, "b", 0x1000, True)
    db.check()


def test_flush_removes_the_subtree_and_keeps_the_node(db):
    s0, a, b, c = chain(db, "a", "b", "c")
    other = db.map(s0, "d", 0x3000, True)
    changes = db.unmap(a, flush=True, own=False)
    assert where(changes) == [("b", REMOVE), ("c", REMOVE)]
    assert not b.live and not c.live and a.live and a.children == {}
    assert db.lookup("b", F) is None and db.lookup("c", F) is None
    assert other.live and db.lookup("d", 0x3000) is other
    db.check()


def test_flush_own_removes_the_node_too(db):
    s0, a, b = chain(db, "a", "b")
    assert where(db.unmap(a, flush=True, own=True)) == [("a", REMOVE), ("b", REMOVE)]
    assert s0.children == {} and db.root(F) is s0
    assert where(db.unmap(s0, flush=True, own=True)) == [("s0", REMOVE)]
    assert db.root(F) is None and len(db) == 0
    db.check()


def test_removed_nodes_remember_where_they_were(db):
    s0, a = chain(db, "a")
    ((n, _),) = db.unmap(a, flush=True, own=True)
    assert (n.space, n.addr, n.key, n.parent) == ("a", F, F, s0)
    with pytest.raises(ValueError):
        db.unmap(n, flush=True, own=True)
    with pytest.raises(ValueError):
        db.map(n, "x", 0, True)


def test_remap_write_protects_the_subtree_recursively(db):
    s0, a, b, c = chain(db, "a", "b", "c")
    assert where(db.unmap(a, flush=False, own=False)) == [("b", PROTECT), ("c", PROTECT)]
    assert a.writable and not b.writable and not c.writable
    assert db.unmap(a, flush=False, own=False) == []          # nothing left to protect
    assert where(db.unmap(a, flush=False, own=True)) == [("a", PROTECT)]
    assert all(n.live for n in (s0, a, b, c))
    db.check()


def test_remove_space_flushes_everything_it_holds(db):
    s0, a, b, c = chain(db, "a", "b", "c")
    r2 = db.add_root("s0", 0x8000, 0x8000)
    b2 = db.map(r2, "b", 0x8000, True)
    c2 = db.map(b2, "c", 0x1000, True)
    gone = db.remove_space("b")
    assert {(n.space, n.key) for n, _ in gone} == {("b", F), ("c", F), ("b", 0x8000),
                                                  ("c", 0x8000)}
    assert not c2.live and a.live and a.children == {}
    assert db.spaces() == ["s0", "a"] and db.remove_space("b") == []
    db.check()


def test_nodes_in_returns_address_order_both_ways(db):
    for vpn in (5, 1, 3, 900, 2):
        db.add_root("s", vpn << 12, vpn << 12)
    assert [n.addr >> 12 for n in db.nodes_in("s", 0x1000, 0x4000)] == [1, 2, 3]
    assert [n.addr >> 12 for n in db.nodes_in("s", 0, 1 << 32)] == [1, 2, 3, 5, 900]
    assert [n.addr >> 12 for n in db.nodes("s")] == [1, 2, 3, 5, 900]
    assert db.nodes_in("s", 0x1800, 0x1000) == [db.lookup("s", 0x1000), db.lookup("s", 0x2000)]
    assert db.nodes_in("nobody", 0, 1 << 32) == []


def test_derives_from_and_subtree(db):
    s0, a, b = chain(db, "a", "b")
    assert b.derives_from(s0) and b.derives_from(b) and not a.derives_from(b)
    assert list(s0.subtree()) == [s0, a, b]
    assert "frame 0x7000" in repr(a)


@pytest.mark.parametrize("corrupt, message", [
    (lambda s0, a, b: setattr(b, "writable", True) or setattr(a, "writable", False),
     "more rights"),
    (lambda s0, a, b: a.children.clear(), "missing from its parent"),
    (lambda s0, a, b: setattr(b, "key", 0x9000), "differs in key"),
    (lambda s0, a, b: setattr(b, "parent", s0), "points elsewhere|missing from"),
    (lambda s0, a, b: setattr(a, "space", "zz"), "index entry"),
])
def test_check_notices_corruption(db, corrupt, message):
    s0, a, b = chain(db, "a", "b")
    corrupt(s0, a, b)
    with pytest.raises(AssertionError, match=message):
        db.check()


def test_check_notices_an_orphan(db):
    s0, a = chain(db, "a")
    stray = Mapping("x", 0x1000, F, True, False, a)
    db._insert(stray)                                # in the index, not in a tree
    with pytest.raises(AssertionError):
        db.check()
