"""paramlens worker: runs in the user's interpreter, introspects their models on the meta device.

Only the standard library and torch may be imported here: this package is put alone on the
PYTHONPATH of the user's interpreter, so it can never shadow the user's own packages.
"""
