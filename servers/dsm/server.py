"""The dsm server's four lthreads and their handlers.

    0  the tasks' side: protocols.dsm DSM (ATTACH, DETACH, WHY, FORGET, WRITEBACK) and
       the page faults of every thread whose pager it is
    1  the home's side: HOME (the directory of the segments homed here, their locks
       and barriers, the copies written back to it); its idle look drops the locks of
       nodes that are gone
    2  this node's copies: COPIES FETCH, from the homes
    3  coherence: COPIES INVALIDATE (from a home) and INVALIDATED (from a node that
       voided its copy for this node's write), both one-way

Four threads, so no wait can close a circle: a fault (0) may wait for a home (1, here
or far) and for INVALIDATED (3, which waits for nothing), a home for copies (2), and
copies for nothing but a grant already on its way to 0. A fault is answered under the
copies' lock, so no invalidation slips between the choice of a frame and its map item
reaching the task.
"""
from __future__ import annotations

import array
import errno
import logging
import time

from microkernel.abi import Fpage, MapItem, Msg, ThreadId
from protocols.client import ServiceError
from protocols.comm import CommClient
from protocols.dsm import (COHERENCE_LTHREAD, COPIES, DSM, HOME, HOME_LTHREAD, MAX_AHEAD,
                           MAX_WRITEBACK, PAGE, CopyOp, HomeClient, HomeOp, check_range,
                           parse_name, tell)
from protocols.pager import fault_of
from protocols.server import Dispatch, send_reply, serve

from .attachments import Attachment, Attachments
from .grant import pack, pack_pages, unpack
from .locks import PATIENCE

__all__ = ["Local", "HomeSide", "CopiesSide", "home_loop", "copies_loop"]

log = logging.getLogger("mk.dsm")
TRIES = 4                    # grants overtaken by invalidations before the task re-faults
LOOK = 2.0                   # the home's look for nodes that are gone (s)
GONE_TIMEOUT = 2.0
ACK_LOOK = 1.0               # a writer missing INVALIDATED asks the comm server who lives
ACK_PATIENCE = 15.0          # ... and after this long takes a silent node for gone


class Local:
    """lthread 0: the local tasks' requests and their page faults."""

    def __init__(self, rt, node: str, home, copies, anon):
        self.rt, self.node = rt, node
        self.home, self.copies, self.anon = home, copies, anon
        self.attachments = Attachments()
        self.homes: dict[int, HomeClient] = {}      # site -> its home's client
        self.comm = CommClient(rt, timeout=PATIENCE)

    def attach(self, req, msg):
        """ATTACH: the segment req.name at req.addr of the calling (local) task."""
        if msg.sender.site != self.rt.site:
            raise OSError(errno.EPERM, "a task attaches at its own node's dsm server")
        seg, node = parse_name(req.name.decode())
        check_range(req.addr, req.size)
        if not 1 <= req.ahead <= MAX_AHEAD:
            raise OSError(errno.EINVAL, f"ahead is 1 to {MAX_AHEAD} pages")
        task = msg.sender.task_id()
        self.attachments.check(task, req.addr, req.size)
        if not node or node == self.node:
            site, number = self.rt.site, self.home.open(seg, req.size)
        else:
            client = HomeClient(self.rt, node)
            number = client.call(HomeOp.OPEN, req.size, seg.encode()).segment
            site = client.server().site
            self.homes[site] = client
        self.attachments.add(Attachment(task, req.addr, req.size, site, number,
                                        f"{seg}@{node or self.node}", req.ahead))
        return (number,)

    def detach(self, req, msg):
        """DETACH: no more faults served for that range."""
        self.attachments.remove(msg.sender.task_id(), req.addr, req.size)
        return ()

    def why(self, req, msg):
        """WHY: why the caller's page at req.addr faults for good ("" if it does not)."""
        a = self.attachments.find(msg.sender.task_id(), req.addr)
        return ((self.copies.lost.get(a.key(req.addr), "") if a else "").encode(),)

    def forget(self, req, msg):
        """FORGET (root): a task ended; answer root, then tell each home it is gone."""
        task = ThreadId(req.tid).task_id()
        gone = self.attachments.forget(task)
        self.anon.forget(task)
        send_reply(self.rt, msg.sender, DSM.reply(DSM.codes.FORGET))
        for site in {a.home for a in gone}:
            try:
                self._home(site).call(HomeOp.GONE, task, timeout=GONE_TIMEOUT)
            except ServiceError as e:
                log.warning("dsm: the home at site %d did not hear task %s ended: %s",
                            site, task, e)
        return None

    def writeback(self, req, msg):
        """WRITEBACK (a barrier's first step): the pages of the caller's segment that
        this node writes go read-only and to the home in PUSHes (one-way, on the
        reliable link), so the reads after the barrier find them there: no FETCH from
        each writer, one after the other. A home's own pages are there already."""
        a = self.attachments.find(msg.sender.task_id(), req.addr)
        if a is None:
            raise OSError(errno.ENOENT, f"no segment of the caller's at {req.addr:#x}")
        if a.home == self.rt.site:
            return ()
        pages = self.copies.downgrade(a.home, a.segment, MAX_WRITEBACK)
        home = self._home(a.home).server()
        for i in range(0, len(pages), MAX_AHEAD):
            run = pages[i:i + MAX_AHEAD]
            tell(self.comm, [home], HomeOp.PUSH, a.segment,
                 array.array("I", [p for p, _, _ in run]).tobytes(),
                 *pack([(v, d) for _, v, d in run]), datagram=False, iface=HOME)
        return ()

    def fault(self, msg: Msg):
        """A page fault: a shared page's copy (asked of its home if this node has none
        fit for the access), or anonymous memory outside every segment."""
        f = fault_of(msg)
        task = msg.sender.task_id()
        a = self.attachments.find(task, f.page)
        if a is None:
            try:
                return self.anon.fault(task, f.page, f.write)
            except MemoryError:
                return Msg()
        key, copies = a.key(f.page), self.copies
        for _ in range(TRIES):
            with copies.cond:
                if key in copies.lost:
                    return Msg()                # nothing mapped: the task's fault
                if self._answer(msg, a, key, f):
                    return None
            try:
                pages, acks = self._ask(a, key[2], f.write)
            except ServiceError as e:
                if e.errno != errno.ETIMEDOUT:
                    with copies.cond:
                        copies.lost[key] = self._lost(a, key[2], e)
                return Msg()
            if acks:
                self._await(key, [v for v, _ in pages], acks)
            with copies.cond:
                for i, (version, data) in enumerate(pages[1:], 1):     # the ones ahead
                    copies.install((*key[:2], key[2] + i), version, data, f.write)
                version, data = pages[0]
                if copies.install(key, version, data, f.write) and self._answer(msg, a, key, f):
                    return None
        return Msg()

    def _answer(self, msg: Msg, a: Attachment, key: tuple, f) -> bool:
        """Map the copy for the access if this node holds one fit for it, and with it
        the copies held of the pages after it, up to the attachment's `ahead` (fault-
        around, as Linux maps around a fault: one fault, not one a page). The copies'
        lock is held: the map items land before any invalidation runs."""
        got = self.copies.held(key, f.write)
        if got is None:
            return False
        items = [MapItem(Fpage(got[0], 12, got[1]), f.page)]
        home, segment, page = key
        for i in range(1, a.want(page)):
            more = self.copies.held((home, segment, page + i), False)
            if more is None:
                break
            items.append(MapItem(Fpage(more[0], 12, more[1]), f.page + i * PAGE))
        send_reply(self.rt, msg.sender, Msg(items=tuple(items)))
        return True

    def _ask(self, a: Attachment, page: int, write: bool) -> tuple[list, list]:
        """([(version, data or None)], acks) of a grant from the segment's home, from
        `page` on; acks: the dsm servers whose INVALIDATED a write awaits (their ids)."""
        want = a.want(page)
        if a.home == self.rt.site:
            try:
                if write:
                    return self.home.write(a.segment, page, self.rt.site, want=want)
                return self.home.read(a.segment, page, self.rt.site, want=want), []
            except OSError as e:
                raise ServiceError(e.errno, e.strerror) from None
        if write:
            r = self._home(a.home).call(HomeOp.WRITE, a.segment, page, want)
            return unpack(r.versions, r.kinds, r.data), list(array.array("Q", r.acks))
        r = self._home(a.home).call(HomeOp.READ, a.segment, page, want)
        return unpack(r.versions, r.kinds, r.data), []

    def _await(self, key: tuple, versions: list, holders: list) -> None:
        """Until the dsm server of every node in `holders` (their ids) has voided its
        copies of the run from `key` granted at `versions` (INVALIDATED), is gone in
        the comm server's view at two looks in a row (a node that only missed a few
        announcements is not dead), or stayed silent ACK_PATIENCE (taken for gone, as
        a call that timed out would be). The messages are datagrams: every ACK_LOOK, a
        node still missing is sent INVALIDATE again, by ordinary IPC."""
        holders = {ThreadId(h).site: ThreadId(h) for h in holders}
        deadline, sites, dead = time.monotonic() + ACK_PATIENCE, set(holders), set()
        while sites:
            sites = self.copies.await_acks(key, versions[0], sites, ACK_LOOK)
            if sites and time.monotonic() > deadline:
                log.warning("dsm: nodes %s did not invalidate page %d: taken for gone",
                            sorted(sites), key[2])
                return
            live = alive(self.comm) if sites else None
            if live is not None:
                sites -= dead - live                       # dead at this look and the last
                dead = sites - live
            if sites:
                tell(self.comm, [holders[s].lthread_id(COHERENCE_LTHREAD) for s in sites],
                     CopyOp.INVALIDATE, key[0], key[1], key[2],
                     int(self.rt.myself().task_id()), array.array("I", versions).tobytes(),
                     datagram=False)

    def _home(self, site: int) -> HomeClient:
        if site == self.rt.site:
            return HomeClient(self.rt, tid=self.rt.myself().lthread_id(HOME_LTHREAD))
        return self.homes[site]

    @staticmethod
    def _lost(a: Attachment, page: int, e: ServiceError) -> str:
        if e.errno == errno.EOWNERDEAD:
            return (f"page {page} of segment {a.name} is lost: the node that held its "
                    "only copy is gone")
        return f"page {page} of segment {a.name}: its home cannot be reached ({e.strerror})"


class HomeSide:
    """lthread 1: HOME, over the directory (`home`) and the locks."""

    def __init__(self, rt, home, locks):
        self.rt, self.home, self.locks = rt, home, locks
        self.comm = CommClient(rt, timeout=1.0)          # who lives, for the idle look

    def open(self, req, msg):
        self._heard(msg)
        return (self.home.open(req.name.decode(), req.size),)

    def read(self, req, msg):
        """READ: sent from here, patiently (a lost copy would leave the directory wrong)."""
        self._heard(msg)
        self.home.read(req.segment, req.page, msg.sender.site,
                       self._deliver(HomeOp.READ, msg), _want(req.want))
        return None

    def write(self, req, msg):
        """WRITE: as READ; a write grant that cannot be delivered stays at the home."""
        self._heard(msg)
        self.home.write(req.segment, req.page, msg.sender.site,
                        self._deliver(HomeOp.WRITE, msg), _want(req.want))
        return None

    def push(self, req, msg):
        """PUSH (one-way): pages a node wrote and now holds read-only, written back at
        a barrier; the home keeps a copy of each still at its version."""
        try:
            pages, grant = array.array("I", req.pages), unpack(req.versions, req.kinds,
                                                               req.data)
        except (ValueError, ServiceError):
            pages, grant = (), None
        if not grant or len(pages) != len(grant) or len(pages) > MAX_AHEAD:
            log.warning("dsm: a malformed PUSH from site %d", msg.sender.site)
            return None
        self._heard(msg)
        self.home.push(req.segment, msg.sender.site, list(zip(pages, grant)))
        return None

    def _heard(self, msg: Msg) -> None:
        """Remember the sender's node's dsm server: its copies may be called next."""
        self.home.peers[msg.sender.site] = msg.sender.task_id()

    def _deliver(self, op: HomeOp, msg: Msg):
        def deliver(pages: list, acks: list | None = None) -> bool:
            versions, kinds, data = pack(pages)
            values = (versions, kinds, data) if acks is None else \
                (versions, array.array("Q", sorted(acks)).tobytes(), kinds, data)
            return send_reply(self.rt, msg.sender, HOME.reply(op, values), PATIENCE)
        return deliver

    def lock(self, req, msg):
        return self.locks.lock(self._key(req.segment, req.lock), msg.sender)

    def unlock(self, req, msg):
        return self.locks.unlock(self._key(req.segment, req.lock), msg.sender)

    def barrier(self, req, msg):
        return self.locks.barrier(self._key(req.segment, req.barrier), req.count, msg.sender)

    def gone(self, req, msg):
        self.locks.gone(ThreadId(req.tid).task_id())
        return ()

    def _key(self, segment: int, number: int) -> tuple:
        if segment not in self.home.segments:
            raise OSError(errno.ENOENT, f"no segment {segment}")
        return segment, number

    def look(self) -> None:
        """Drop the locks and waits of tasks on nodes the comm server calls gone."""
        sites = {t.site for t in self.locks.tasks()} - {self.rt.site}
        live = alive(self.comm) if sites else None
        if live is None:
            return
        for site in sites - live:
            log.warning("dsm: node at site %d is gone: its tasks' locks are free", site)
            self.locks.drop_site(site)


class CopiesSide:
    """lthreads 2 and 3: COPIES, from a segment's home (whose site keys the copy: a
    home reaches only its own segments' copies), and INVALIDATED from other nodes."""

    def __init__(self, rt, copies):
        self.rt, self.copies = rt, copies
        self.comm = CommClient(rt, timeout=PATIENCE)     # INVALIDATED's datagrams

    def fetch(self, req, msg):
        key = (msg.sender.site, req.segment, req.page)
        versions = array.array("I", req.versions)         # ValueError: EINVAL
        if not 1 <= len(versions) <= MAX_AHEAD:
            raise OSError(errno.EINVAL, f"1 to {MAX_AHEAD} versions")
        pages = self.copies.fetch(key, list(versions), bool(req.drop))
        send_reply(self.rt, msg.sender, COPIES.reply(CopyOp.FETCH, pack_pages(pages)),
                   PATIENCE)
        return None

    def invalidate(self, req, msg):
        """INVALIDATE (one-way): void the copies, then tell the writer's dsm server.
        From the page's home, or from the writer asking again."""
        writer, versions = ThreadId(req.writer), array.array("I")
        try:
            versions.frombytes(req.versions)
        except ValueError:
            versions = ()
        if (writer.task != self.rt.myself().task or writer.site == self.rt.site
                or msg.sender.site not in (req.home, writer.site)
                or not 1 <= len(versions) <= MAX_AHEAD):
            log.warning("dsm: a malformed INVALIDATE from site %d", msg.sender.site)
            return None
        for i, v in enumerate(versions):
            self.copies.invalidate((req.home, req.segment, req.page + i), v)
        tell(self.comm, [writer.lthread_id(COHERENCE_LTHREAD)], CopyOp.INVALIDATED,
             req.home, req.segment, req.page, versions[0])
        return None

    def invalidated(self, req, msg):
        """INVALIDATED (one-way): a node voided its copy for this node's write."""
        self.copies.acked((req.home, req.segment, req.page), req.version, msg.sender.site)
        return None


def _want(n: int) -> int:
    if not 1 <= n <= MAX_AHEAD:
        raise OSError(errno.EINVAL, f"1 to {MAX_AHEAD} pages")
    return n


def alive(comm: CommClient) -> set | None:
    """The sites the comm server calls alive (None: it cannot be asked)."""
    try:
        peers = comm.nodes()["peers"]
    except (ServiceError, KeyError) as e:
        log.warning("dsm: cannot see the cluster: %s", e)
        return None
    return {p["site"] for p in peers if p.get("alive")}


def home_loop(rt, side: HomeSide) -> None:
    serve(rt, Dispatch(HOME, side, rt), timeout=LOOK, on_idle=side.look)


def copies_loop(rt, side: CopiesSide) -> None:
    serve(rt, Dispatch(COPIES, side, rt))
