"""User-level device drivers, one task each (docs/drivers.md): uart, ata, nic, timer,
each serving its class protocol of protocols/; driver.py is their common start-up."""
