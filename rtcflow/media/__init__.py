"""The media ground floor: frames, conversions and PyAV encode/decode.

- ``frame``: ``VideoFrame``, the RGB uint8 tensor every component exchanges.
- ``convert``: PyAV frames and ComfyUI ``IMAGE`` tensors to and from ``VideoFrame``.
- ``geometry``: cover-fit scaling and centre crop.
- ``reader``: demux and decode any input PyAV opens (files, devices, file objects).
- ``codec``: the real-time H.264 encoder and an elementary-stream decoder.
- ``mux``: encoded packets into a container (Matroska, fragmented MP4, MPEG-TS).
- ``timing``: frame rates, time-base conversion and real-time pacing.
- ``threaded``: a blocking iterator run on its own thread with bounded prefetch.
- ``stamp``: a frame number written into the pixels for end-to-end checks.
- ``errors``: ``MediaError`` and its ``InputError``/``OutputError``.
"""
