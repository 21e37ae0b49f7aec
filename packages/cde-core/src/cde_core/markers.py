"""The pluggy markers of the `cde` project; plugins import `hookimpl` from `cde_core`."""

import pluggy

PROJECT = "cde"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
