"""The REST API: an app factory, cde's own routers, and the hooks plugins add routes through."""

from cde_server.api.app import create_app

__all__ = ["create_app"]
