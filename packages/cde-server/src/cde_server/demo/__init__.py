"""`cde demo`: the whole pipeline, offline, composed only from the commands plugins register."""
