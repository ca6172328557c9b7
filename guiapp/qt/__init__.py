"""The desktop window: a thin Qt adapter over :mod:`guiapp.core` (the only place Qt appears).

Importing this package first applies :func:`_keep_none_alive` (see there).
"""

from __future__ import annotations

import sys


def _keep_none_alive() -> None:
    """Work around a reference-count bug of PySide6 6.12 on CPython 3.11 and older
    (``None``, ``True`` and ``False``).

    The 6.12 wheels (``cp310-abi3``) return ``None`` from void methods -- ``setText``,
    ``QPainter.setPen``, ``fillRect``, ``setContentsMargins``, ... -- and convert an invalid
    ``QVariant`` to ``None`` without taking a new reference, as if ``None`` were immortal (it
    is from CPython 3.12 on, PEP 683). On 3.11 every such call drops one reference that was
    never taken, and after some tens of thousands of calls (minutes of painting or scrolling)
    the interpreter aborts with "Fatal Python error: none_dealloc". ``tests/qt`` and
    ``benchmarks/bench_window.py`` reproduce it. Giving ``None`` a huge reference count does
    what PEP 683 does: it can then never reach zero in the life of a process.
    """
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return
    import ctypes

    # ``True`` and ``False`` lose references the same way (returned by ``isVisible``,
    # ``isChecked``, ... ): a long test run ended in "Fatal Python error: bool_dealloc"
    # while the interpreter finalised.
    for immortal in (None, True, False):
        # ob_refcnt is a PyObject's first field
        count = ctypes.c_ssize_t.from_address(id(immortal))
        if count.value < 1 << 40:
            count.value += 1 << 40


_keep_none_alive()
