"""The error the user fixes: a setting in params.yaml, or the data a stage was given."""

from __future__ import annotations


class UserInputError(ValueError):
    """A problem the user fixes in params.yaml or in the pipeline's data; its message names
    the setting (or file) and what to do. The stages report it in one line, without a
    traceback (a ValueError, so callers that catch those still do)."""
