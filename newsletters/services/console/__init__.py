"""The admin console's own domain: admins, API tokens, the audit log, the dashboard, health."""
