"""The console's own domain: administrators, their passwords and their second factor."""
