"""An example third-party cde plugin."""
