"""A first task: RPC to a second thread, memory through the pager, and a look at itself.

    mk run examples/hello.py:main world
"""
from microkernel.abi import Msg


def server(rt):
    """lthread 1: answer each request with its first word doubled."""
    msg = rt.wait()
    while True:
        msg = rt.reply_and_wait(msg.sender, Msg(words=(msg.words[0] * 2,)))


def main(rt, name="world"):
    me = rt.myself()
    print(f"hello, {name}: I am {me}, my pager is {rt.pager}, my chief {rt.chief()}")
    rt.lthread_ex_regs(1, server)
    reply = rt.call(me.lthread_id(1), Msg(words=(21,)))
    print(f"lthread 1 answered {reply.words[0]} (from {reply.sender})")
    rt.mem.write(0x1000_0000, f"hello, {name}".encode())     # faults in through the pager
    print(f"read back through the MMU: {rt.mem.read(0x1000_0000, 7 + len(name))!r}")
