"""After the handoff: bounce reports, complaints and provider events, and the rules they trigger."""
