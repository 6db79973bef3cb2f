"""Helpers shared by Hearth's apps (written once): JSON bodies, errors, pagination, CORS."""
