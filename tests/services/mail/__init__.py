"""Mail: rendering, the outbox, SMTP and DKIM, and how they are wired."""
