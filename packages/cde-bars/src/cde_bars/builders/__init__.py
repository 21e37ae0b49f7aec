"""Registered bar builders, one module per family."""
