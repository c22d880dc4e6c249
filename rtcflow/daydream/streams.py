"""What the API returns about a stream: the stream object and its status.

These models read answers, so they are lenient where requests are strict: unknown fields
are ignored (the service adds fields over time) and only what rtcflow relies on is
required. The stream key is a credential (it publishes to the stream) and is held as a
secret.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Stream(_Answer):
    """A stream object (``POST``/``GET``/``PATCH /v1/streams...``; schemas ``_1``/``_3``/``_4``).

    There is no WHEP URL in it: it arrives in the WHIP answer's ``Livepeer-Playback-URL``
    header and in :attr:`StreamStatus.whep_url`.
    """

    id: str
    whip_url: str
    pipeline: str = "streamdiffusion"
    params: dict[str, Any] = {}
    stream_key: SecretStr | None = None
    output_playback_id: str | None = None
    output_stream_url: str | None = None
    gateway_host: str | None = None
    created_at: str | None = None
    name: str | None = None
    author: str | None = None


class GatewayStatus(_Answer):
    whep_url: str | None = None
    error: dict[str, Any] | None = None
    ingest_metrics: dict[str, Any] | None = None


class StreamStatus(_Answer):
    """``GET /v1/streams/{id}/status`` ``data`` (documented; not in the OpenAPI file)."""

    stream_id: str | None = None
    pipeline: str | None = None
    inference_status: dict[str, Any] | None = None
    gateway_status: GatewayStatus | None = None

    @property
    def whep_url(self) -> str | None:
        """Where to play the processed output, once the gateway knows it."""
        return self.gateway_status.whep_url if self.gateway_status else None
