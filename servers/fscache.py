"""The fs server's page cache: the file pages it maps to its clients (MAP), which makes
the fs server a pager, so files can be mapped into address spaces (docs/unix.md, "mmap
of files").

Frames come from root (protocols.root MEMORY: root takes them from sigma0 and maps them
on) into the fs server's own space at POOL, CAPACITY pages at most. MAP of (inode, page) fills a free page with those
4 KiB of the file (zeros past its end) and answers with a read-only map item of it:
every client that maps the same file page gets the same frame, and a mapping tree
sigma0 -> root -> fs -> client.

Coherence: WRITE and TRUNCATE update the cached pages of the file in place (the fs
server writes its own page), so every mapping of them sees the new bytes at once,
without a fault. A page is flushed from its mappers (`fpage_unmap`, flush, not own)
only when the cache needs it for another file page (least recently mapped first), or
when its inode is gone (checked after UNLINK, RMDIR and RENAME); a mapper's next
access then faults, and its pager asks for the page again.
"""
from __future__ import annotations

import errno
from collections import OrderedDict

from microkernel.abi import Fpage
from protocols.root import Root

from .ext2.errors import FsError

__all__ = ["PageCache", "CAPACITY", "POOL", "PAGE"]

PAGE = 0x1000
POOL = 0x4000_0000              # where the cache's frames sit in the fs server's space
CAPACITY = 256                  # pages (1 MiB)
CHUNK = 20                      # log2 of what is asked from root at a time
MAX_PAGE = 1 << 20              # page numbers of a file that can be mapped (4 GiB)


class PageCache:
    """File pages held in frames of the fs server, keyed by (inode, page number)."""

    def __init__(self, rt, fs, capacity: int = CAPACITY):
        self.rt, self.fs = rt, fs
        self.capacity = capacity
        self.pages: OrderedDict[tuple[int, int], int] = OrderedDict()   # LRU first
        self.by_ino: dict[int, set[int]] = {}
        self.free: list[int] = []
        self.cursor = POOL
        self.maps = self.loads = self.flushes = 0

    # -- MAP -----------------------------------------------------------------------------

    def map(self, ino: int, page: int) -> int:
        """The address (in my space) of the cached page `page` of file `ino`, loaded
        if need be. EISDIR / EINVAL for what is not a regular file, ENOENT."""
        if not 0 <= page < MAX_PAGE:
            raise FsError(errno.EINVAL, "page beyond what can be mapped")
        key = (ino, page)
        addr = self.pages.get(key)
        if addr is None:
            data = self.fs.read(ino, page * PAGE, PAGE)    # checks the inode's type
            addr = self._take()
            self.rt.mem.write(addr, data.ljust(PAGE, b"\0"))
            self.pages[key] = addr
            self.by_ino.setdefault(ino, set()).add(page)
            self.loads += 1
        else:
            self.pages.move_to_end(key)
        self.maps += 1
        return addr

    def info(self) -> tuple[int, int, int, int, int]:
        return self.maps, self.loads, len(self.pages), self.capacity, self.flushes

    # -- coherence ---------------------------------------------------------------------

    def written(self, ino: int, offset: int, count: int) -> None:
        """Bytes [offset, offset+count) of `ino` changed: refresh the cached pages."""
        pages = self.by_ino.get(ino)
        if not pages or count <= 0:
            return
        first, last = offset // PAGE, (offset + count - 1) // PAGE
        for page in sorted(pages):
            if first <= page <= last:
                self._load(ino, page)

    def resized(self, ino: int) -> None:
        """`ino` was truncated or extended: every cached page of it is read again."""
        for page in sorted(self.by_ino.get(ino, ())):
            self._load(ino, page)

    def check_inodes(self) -> None:
        """Drop (and flush) the pages of inodes no longer in use (their numbers may be
        given to new files)."""
        for ino in list(self.by_ino):
            try:
                self.fs.stat(ino)
            except FsError:
                for page in list(self.by_ino[ino]):
                    self.drop(ino, page)

    def drop(self, ino: int, page: int) -> None:
        """Take the page out of the cache, flushing it from every mapper."""
        addr = self.pages.pop((ino, page), None)
        if addr is None:
            return
        self._unindex(ino, page)
        self._flush(addr)
        self.free.append(addr)

    # -- frames --------------------------------------------------------------------------

    def _load(self, ino: int, page: int) -> None:
        try:
            data = self.fs.read(ino, page * PAGE, PAGE)
        except FsError:
            self.drop(ino, page)
            return
        self.rt.mem.write(self.pages[(ino, page)], data.ljust(PAGE, b"\0"))

    def _take(self) -> int:
        """A free page of the cache: a new frame, or the least recently mapped page."""
        if not self.free and len(self.pages) < self.capacity:
            self._grow()
        if self.free:
            return self.free.pop()
        if not self.pages:
            raise FsError(errno.ENOMEM, "no frames for the page cache")
        (ino, page), addr = self.pages.popitem(last=False)
        self._unindex(ino, page)
        self._flush(addr)
        return addr

    def _grow(self) -> None:
        """Frames from root: a chunk if the cache has room for it, else one page;
        nothing if there are none left."""
        room = (self.capacity - len(self.pages)) * PAGE
        sizes = (CHUNK, 12) if (1 << CHUNK) <= room else (12,)
        got = Root(self.rt).frames(self.cursor, sizes)
        self.free.extend(range(self.cursor, self.cursor + got, PAGE))
        self.cursor += got

    def _flush(self, addr: int) -> None:
        self.rt.fpage_unmap(Fpage(addr, 12), flush=True, own=False)
        self.flushes += 1

    def _unindex(self, ino: int, page: int) -> None:
        pages = self.by_ino.get(ino)
        if pages is not None:
            pages.discard(page)
            if not pages:
                del self.by_ino[ino]
