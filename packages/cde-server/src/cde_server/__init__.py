"""cde-server: the `cde` CLI shell, REST API and task manager."""
