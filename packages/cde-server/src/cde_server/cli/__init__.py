"""The `cde` command line."""
