"""Email: rendering, MIME, DKIM, the outbox, SMTP, the development mailbox, suppressions, links."""
