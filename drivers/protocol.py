"""The IPC protocols of the device classes, defined once for drivers and clients.

Every request is `words[0] = opcode`, then arguments; every reply is `words[0] = status`
(OK or an E_* code), then results. Bulk data travels as byte strings. docs/drivers.md
gives the message layouts.

    block (ata0)   INFO -> (OK, sectors, sector_size) + [model]
                   READ lba count -> (OK,) + [data]        count <= 256 sectors
                   WRITE lba count + [data] -> (OK,)
                   FLUSH -> (OK,)
    char (comN)    WRITE + [bytes] -> (OK, written)
                   READ max -> (OK,) + [bytes]             blocks until >= 1 byte
                   READ_NB max -> (OK,) + [bytes]          never blocks (may be empty)
                   INFO -> (OK, irqs, rx_bytes, tx_bytes, overruns, buffered,
                            readers, baud, breaks)
    net (net0)     INFO -> (OK, mac hi16, mac lo32, link, tx_frames, tx_dropped,
                            rx_frames, rx_missed, rx_errors, tx_errors)
                   SEND + [frame] -> (OK,) | (E_IO, card error)   3 = no carrier
                   RECV -> (OK,) + [frame]                 blocks until a frame comes
    timer          NOW -> (OK, ms since the driver started, ticks, lost ticks)
                   SLEEP ms -> (OK,) after >= ms milliseconds (PIT-driven)
"""
from __future__ import annotations

__all__ = ["OK", "E_INVAL", "E_IO", "E_RANGE", "E_BUSY", "E_NODEV",
           "INFO", "READ", "WRITE", "FLUSH", "READ_NB", "SEND", "RECV", "NOW", "SLEEP",
           "DRIVER_HELLO", "SECTOR"]

# statuses
OK, E_INVAL, E_IO, E_RANGE, E_BUSY, E_NODEV = 0, 22, 5, 34, 16, 19   # errno numbers

# opcodes (distinct across classes, so a request to the wrong class is E_INVAL)
INFO, READ, WRITE, FLUSH = 0xD001, 0xD002, 0xD003, 0xD004
READ_NB = 0xD005
SEND, RECV = 0xD011, 0xD012
NOW, SLEEP = 0xD021, 0xD022

# a driver asks its chief (root) for its ports and IRQ with this word
DRIVER_HELLO = 0xD0FF

SECTOR = 512
