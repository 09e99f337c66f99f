"""Every reader's rhythm: the periods of a daily, weekly and monthly issue, and when a
reader's change of rhythm takes effect. Below the catalogue, the readers and the issues,
which all ask it."""
