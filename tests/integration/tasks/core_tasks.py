"""Task code for the supervision tests: what the name server holds."""
from microkernel.user.testing import report
from protocols.names import Names


def names_list(rt):
    """Every registered name and its holder's id."""
    report(names={name: int(tid) for name, tid in Names(rt).list().items()})
