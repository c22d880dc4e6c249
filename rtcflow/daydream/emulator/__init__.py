"""The Daydream API on loopback (``rtcflow daydream-emulator``), for work offline.

:class:`DaydreamEmulator` serves the REST side; its media side plugs in through
:class:`MediaBackend` (:class:`WebRTCMedia`: WHIP in, WHEP out); :func:`apply_effect` is
the frame effect standing in for the model.
"""

from rtcflow.daydream.emulator.effect import apply_effect, prompt_tint, tint_strength
from rtcflow.daydream.emulator.faults import Fault
from rtcflow.daydream.emulator.media import WHEP_ROUTE, WHIP_ROUTE, EffectOnlyMedia, MediaBackend
from rtcflow.daydream.emulator.server import (
    DaydreamEmulator,
    EmulatedStream,
    RecordedRequest,
    run_emulator,
)
from rtcflow.daydream.emulator.webrtc_media import WebRTCMedia

__all__ = [
    "WHEP_ROUTE",
    "WHIP_ROUTE",
    "DaydreamEmulator",
    "EffectOnlyMedia",
    "EmulatedStream",
    "Fault",
    "MediaBackend",
    "RecordedRequest",
    "WebRTCMedia",
    "apply_effect",
    "prompt_tint",
    "run_emulator",
    "tint_strength",
]
