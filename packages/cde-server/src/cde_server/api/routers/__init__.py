"""cde-server's own routers (stage routers arrive from plugins through ``register_routes``)."""
