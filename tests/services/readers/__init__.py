"""Readers: signup, confirmation, imports and the rules they share."""
