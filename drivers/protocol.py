"""Compatibility only, TO DELETE after the merge: the one name of the old driver
protocols that code outside drivers/ still imports (servers/root.py). The device
classes' protocols are declared in protocols/{block,char,net,timer}.py, the driver's
hello in protocols/root.py."""
from protocols.root import Op as _Root

__all__ = ["DRIVER_HELLO"]

DRIVER_HELLO = int(_Root.DRIVER_HELLO)
