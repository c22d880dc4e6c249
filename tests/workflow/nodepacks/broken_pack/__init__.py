"""A pack whose dependency is missing: loading it must fail alone."""

import rtcflow_missing_dependency  # noqa: F401

NODE_CLASS_MAPPINGS = {}
