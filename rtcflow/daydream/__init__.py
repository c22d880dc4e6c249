"""Daydream: the hosted StreamDiffusion service, its params, and an offline emulator.

- :class:`DaydreamClient`: the REST API (create, get, update, delete, status).
- :data:`StreamDiffusionParams`: the params models, discriminated by ``model_id``;
  :func:`changed_params` / :func:`cold_changes` say what an edit costs a live stream.
- :mod:`rtcflow.daydream.spec`: the Flow spec's ``daydream:`` step.
- :mod:`rtcflow.daydream.emulator`: the API on loopback, for work without the service.
"""

# The Flow models embed the ``daydream:`` step (rtcflow.daydream.spec), which builds on
# rtcflow.spec.base: loading rtcflow.spec first lets either package be imported first.
import rtcflow.spec  # noqa: F401  # isort: skip
from rtcflow.daydream.changes import HOT_PARAMS, changed_params, cold_changes
from rtcflow.daydream.client import DaydreamClient
from rtcflow.daydream.errors import (
    DaydreamAPIError,
    DaydreamAuthError,
    DaydreamBadRequest,
    DaydreamConfigError,
    DaydreamConflict,
    DaydreamConnectionError,
    DaydreamError,
    DaydreamNotFound,
    DaydreamProtocolError,
    DaydreamRateLimited,
    DaydreamServerError,
)
from rtcflow.daydream.params import (
    MODEL_IDS,
    BaseStreamDiffusionParams,
    SD15Params,
    SDTurboParams,
    SDXLParams,
    StreamDiffusionParams,
    merge_params,
    parse_params,
)
from rtcflow.daydream.streams import Stream, StreamStatus
from rtcflow.protocols.retry import RetryPolicy

__all__ = [
    "HOT_PARAMS",
    "MODEL_IDS",
    "BaseStreamDiffusionParams",
    "DaydreamAPIError",
    "DaydreamAuthError",
    "DaydreamBadRequest",
    "DaydreamClient",
    "DaydreamConfigError",
    "DaydreamConflict",
    "DaydreamConnectionError",
    "DaydreamError",
    "DaydreamNotFound",
    "DaydreamProtocolError",
    "DaydreamRateLimited",
    "DaydreamServerError",
    "RetryPolicy",
    "SD15Params",
    "SDTurboParams",
    "SDXLParams",
    "Stream",
    "StreamDiffusionParams",
    "StreamStatus",
    "changed_params",
    "cold_changes",
    "merge_params",
    "parse_params",
]
