"""protocols/trickle."""
