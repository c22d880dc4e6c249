"""The httpx client the trickle publisher and subscriber use by default."""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Building an SSL context (loading CA certificates) costs tens of milliseconds; every
    # client shares one, so that opening a channel stays cheap.
    return httpx.create_ssl_context()


def new_client(timeout: httpx.Timeout) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=timeout, verify=_ssl_context())
