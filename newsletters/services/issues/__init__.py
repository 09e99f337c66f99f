"""Issues of a newsletter: when one is due, composing it, stories and feeds, sending it."""
