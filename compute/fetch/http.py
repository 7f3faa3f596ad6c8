"""HTTP session with retries, backoff that honours Retry-After, and a polite request rate."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from compute import __version__
from compute.errors import ZcellsInputError

#: statuses retried with backoff (Retry-After is honoured when the server sends it)
RETRY_STATUSES = (429, 500, 502, 503, 504)

USER_AGENT = f"zcells/{__version__} (+python-requests {requests.__version__})"


class HttpError(ZcellsInputError):
    """A request that did not give a usable answer (after retries).

    Attributes
    ----------
    url : str
        The URL asked for (shortened for messages).
    status : int or None
        The last HTTP status, or None when no answer came back.
    """

    def __init__(self, message: str, *, url: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try.

    Attributes
    ----------
    retries : int
        Retries per request on connection errors, timeouts and the statuses in
        ``RETRY_STATUSES``.
    backoff : float
        Backoff factor: waits grow as ``backoff * 2**(k-1)`` seconds (urllib3 rule).
    backoff_max : float
        Longest backoff wait in seconds.
    retry_after_max : float
        Longest wait a server's ``Retry-After`` header may impose, in seconds.
    body_retries : int
        Extra tries when the body arrives cut off or malformed (not retried by urllib3).
    """

    retries: int = 5
    backoff: float = 2.0
    backoff_max: float = 120.0
    retry_after_max: float = 600.0
    body_retries: int = 2


class CappedRetry(Retry):
    """urllib3 ``Retry`` whose ``Retry-After`` waits are capped at ``retry_after_cap`` seconds."""

    def __init__(self, *args: Any, retry_after_cap: float = 600.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after_cap = retry_after_cap

    def new(self, **kw: Any) -> CappedRetry:  # noqa: D102 - keeps the cap on copies
        retry = super().new(**kw)
        retry.retry_after_cap = self.retry_after_cap
        return retry

    def get_retry_after(self, response: Any) -> float | None:  # noqa: D102
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, self.retry_after_cap)


def make_session(policy: RetryPolicy | None = None, *, pool_size: int = 10) -> requests.Session:
    """Return a ``requests.Session`` that retries GETs with backoff.

    Parameters
    ----------
    policy : RetryPolicy, optional
        Retry counts and waits; the defaults suit public services.
    pool_size : int
        Connections kept per host (set it to the number of worker threads).
    """
    policy = policy or RetryPolicy()
    retry = CappedRetry(
        total=policy.retries,
        connect=policy.retries,
        read=policy.retries,
        status=policy.retries,
        other=0,
        backoff_factor=policy.backoff,
        backoff_max=policy.backoff_max,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=True,
        raise_on_status=False,
        retry_after_cap=policy.retry_after_max,
    )
    adapter = HTTPAdapter(max_retries=retry, pool_connections=pool_size, pool_maxsize=pool_size)
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


class RateLimiter:
    """Keep at least ``min_interval`` seconds between request starts, across threads."""

    def __init__(self, min_interval: float = 0.0) -> None:
        if min_interval < 0:
            raise ZcellsInputError(f"min interval must be >= 0 seconds, got {min_interval}")
        self.min_interval = float(min_interval)
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self) -> None:
        """Block until the next request may start."""
        if self.min_interval <= 0:
            return
        with self._lock:
            now = time.monotonic()
            if self._next > now:
                time.sleep(self._next - now)
                now = self._next
            self._next = now + self.min_interval


def short_url(url: str, limit: int = 160) -> str:
    """Return ``url`` cut to ``limit`` characters (SQL queries make very long URLs)."""
    return url if len(url) <= limit else url[: limit - 3] + "..."


def body_start(body: bytes | str, limit: int = 300) -> str:
    """Return the start of a response body for an error message.

    HTML is reduced to its text; whitespace is collapsed.

    Examples
    --------
    >>> body_start(b"<html><title>Server Error</title><body><p>Timeout</p></body></html>")
    '(HTML) Server Error Timeout'
    >>> body_start("")
    '(empty body)'
    """
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    is_html = text.lstrip().startswith("<")
    if is_html:
        text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
        text = re.sub(r"<[^>]*>", " ", text)
    text = " ".join(text.split())
    if not text:
        return "(empty body)"
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"(HTML) {text}" if is_html else text


def http_get(
    session: requests.Session,
    url: str,
    *,
    params: dict[str, str] | None = None,
    timeout: float | tuple[float, float] = 30.0,
    limiter: RateLimiter | None = None,
    body_retries: int = 2,
    body_backoff: float = 1.0,
    what: str = "",
) -> requests.Response:
    """GET ``url`` and read the whole body, retrying bodies that arrive cut off.

    Status retries, connection retries and Retry-After are handled by the session's adapter
    (see `make_session`); this adds the polite rate and retries on truncated transfers.
    The response is returned whatever its status: callers check it.

    Raises
    ------
    HttpError
        When no answer came back (connection refused, DNS, timeouts after all retries) or
        the body was cut off on every try.
    """
    label = f"{what}: " if what else ""
    attempt = 0
    while True:
        if limiter is not None:
            limiter.wait()
        try:
            response = session.get(url, params=params, timeout=timeout)
            _ = response.content  # read the body now, inside the try
            return response
        except (
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            if attempt >= body_retries:
                full = requests.Request("GET", url, params=params).prepare().url or url
                raise HttpError(
                    f"{label}the answer from {short_url(full)} was cut off on each of "
                    f"{attempt + 1} tries ({_reason(exc)})",
                    url=full,
                ) from None
            attempt += 1
            time.sleep(body_backoff * attempt)
        except requests.exceptions.RequestException as exc:
            full = requests.Request("GET", url, params=params).prepare().url or url
            raise HttpError(
                f"{label}no answer from {short_url(full)} ({_reason(exc)}); check the network "
                "connection or try again later",
                url=full,
            ) from None


def check_ok(response: requests.Response, what: str = "") -> None:
    """Raise `HttpError` naming the URL, the status and the body start unless status is 200."""
    if response.status_code == 200:
        return
    label = f"{what}: " if what else ""
    raise HttpError(
        f"{label}HTTP {response.status_code} {response.reason or ''} from "
        f"{short_url(response.url)}; the body starts: {body_start(response.content)}".replace(
            "  ", " "
        ),
        url=response.url,
        status=response.status_code,
    )


def _reason(exc: BaseException) -> str:
    """A one-line reason for a requests exception (urllib3 nests the real cause)."""
    text = str(exc)
    match = re.search(r"Caused by (\w+\(.*?\))\)*$", text)
    if match:
        text = match.group(1)
    text = " ".join(text.split())
    return f"{type(exc).__name__}: {text[:240]}"
