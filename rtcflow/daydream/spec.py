"""The ``daydream:`` step of a Flow spec.

```yaml
steps:
  - name: dream
    daydream:
      params: {model_id: stabilityai/sd-turbo, prompt: "a sunset"}
      on_cold_change: reject        # reload | recreate | reject
      api_url: http://127.0.0.1:8787  # optional; else DAYDREAM_API_URL, else the service
```

The API key never appears here: it comes from ``DAYDREAM_API_KEY`` (or a ``.env`` file).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from rtcflow.daydream.params import StreamDiffusionParams
from rtcflow.spec.base import NAME_PATTERN, SpecModel

ColdChangePolicy = Literal["reload", "recreate", "reject"]

_HTTP_URL = r"^https?://[^\s/]+(/\S*)?$"
# Editors validate the file before interpolation: a ${VAR} reference passes there and the
# URL it becomes is checked when the spec loads.
_URL_OR_REFERENCE = {"pattern": r"^(https?://[^\s/]+(/\S*)?|.*\$\{[^}]+\}.*)$"}


class DaydreamConfig(SpecModel):
    """How the step runs its Daydream stream."""

    params: StreamDiffusionParams
    on_cold_change: ColdChangePolicy = Field(
        "reject",
        description=(
            "When an edit changes a param the service cannot apply live (width, model_id, "
            "...): 'reload' PATCHes anyway (about 30 s without new output), 'recreate' "
            "starts a new stream and swaps it in once it has output, 'reject' keeps the "
            "running params and reports the edit as an error."
        ),
    )
    api_url: (
        Annotated[str, Field(pattern=_HTTP_URL, json_schema_extra=_URL_OR_REFERENCE)] | None
    ) = Field(None, description="API base URL; DAYDREAM_API_URL or the hosted service when unset.")


class DaydreamStepSpec(SpecModel):
    """A step that sends frames through a Daydream stream (WHIP out, WHEP back)."""

    name: str = Field(..., pattern=NAME_PATTERN)
    daydream: DaydreamConfig
