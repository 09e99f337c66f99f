"""Issues: deciding, composing and sending."""
