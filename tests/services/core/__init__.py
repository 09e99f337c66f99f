"""The floor every domain stands on."""
