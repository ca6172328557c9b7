"""The desktop window: a thin Qt adapter over :mod:`guiapp.core` (the only place Qt appears)."""
