#!mk
"""seq [-w] [-s SEP] [FIRST [INCREMENT]] LAST: numbers from FIRST (1) by INCREMENT
(1) up to LAST, one a line (or separated by SEP); -w: padded with zeros to one width."""
from decimal import Decimal, InvalidOperation

from personalities.unix.progargs import out, usage_error

__all__ = ["main"]

USAGE = "seq [-w] [-s SEP] [FIRST [INCREMENT]] LAST"


def main(argv, envp):
    args, sep, wide = argv[1:], "\n", False
    while args and args[0][:1] == "-" and not _number(args[0]):
        a = args.pop(0)
        if a == "-w":
            wide = True
        elif a.startswith("-s"):
            sep = a[2:] or (args.pop(0) if args else usage_error("seq", USAGE))
        else:
            usage_error("seq", USAGE, f"invalid option -- '{a[1:2]}'")
    if not 1 <= len(args) <= 3 or not all(map(_number, args)):
        usage_error("seq", USAGE, "bad operands" if args else "missing operand")
    nums = [Decimal(a) for a in args]
    first, step, last = _fel(nums)
    if step == 0:
        usage_error("seq", USAGE, "invalid Zero increment value: '0'")
    places = max(-a.as_tuple().exponent if a.as_tuple().exponent < 0 else 0
                 for a in (first, step))
    items, x = [], first
    while (x <= last) if step > 0 else (x >= last):
        items.append(f"{x:.{places}f}")
        x += step
    if wide and items:
        width = max(map(len, items))
        items = [s.zfill(width) if not s.startswith("-") else "-" + s[1:].zfill(width - 1)
                 for s in items]
    out(sep.join(items) + ("\n" if items else ""))
    return 0


def _fel(nums):
    """(first, increment, last) of the one, two or three numbers given."""
    if len(nums) == 1:
        return Decimal(1), Decimal(1), nums[0]
    if len(nums) == 2:
        return nums[0], Decimal(1), nums[1]
    return tuple(nums)


def _number(text) -> bool:
    try:
        Decimal(text)
        return True
    except InvalidOperation:
        return False
