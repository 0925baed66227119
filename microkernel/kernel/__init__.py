"""microkernel/kernel."""
