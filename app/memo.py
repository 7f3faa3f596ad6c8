"""Per-worker LRU of JSON-ready callback outputs, in front of the shared flask-caching memo."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from plotly.io.json import to_json_plotly

T = TypeVar("T")


def plain(tree: Any) -> Any:
    """A Dash component tree as plain JSON data: exactly what Dash would send for it.

    Dash serialises plain dicts and lists ~10x faster than components, and they pickle smaller.

    >>> from dash import html
    >>> plain([html.P("hi", id="x")])
    [{'props': {'children': 'hi', 'id': 'x'}, 'type': 'P', 'namespace': 'dash_html_components'}]
    """
    return json.loads(to_json_plotly(tree))


class LRU(Generic[T]):
    """A small thread-safe least-recently-used map (one per gunicorn worker).

    Parameters
    ----------
    maxsize : int
        Entries kept; the least recently used one is dropped beyond it.

    Examples
    --------
    >>> lru: LRU[int] = LRU(2)
    >>> lru.get_or_make("a", lambda: 1), lru.get_or_make("a", lambda: 2)
    (1, 1)
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_make(self, key: Hashable, make: Callable[[], T]) -> T:
        """The cached value of ``key``, else ``make()`` (stored; made outside the lock)."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = make()
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._data.clear()
