"""personalities/unix."""
