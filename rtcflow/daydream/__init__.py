"""daydream."""
