"""personalities."""
