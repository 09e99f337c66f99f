"""Readers: signing up, confirming, preferences, the audience, imports, exports, history."""
