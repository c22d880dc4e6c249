"""rtcflow's built-in nodes: ComfyUI's core image nodes in torch, plus the frame boundary.

Every node works on whatever device its input image is on.
"""

from __future__ import annotations

from rtcflow.workflow.frame_boundary import LoadTensor, SaveTensor
from rtcflow.workflow.nodes.color import ImageBlend, ImageInvert, RtcflowColorAdjust
from rtcflow.workflow.nodes.filters import ImageBlur, ImageSharpen
from rtcflow.workflow.nodes.resize import ImageCrop, ImageScale, ImageScaleBy

BUILTIN_NODES: dict[str, type] = {
    "LoadTensor": LoadTensor,
    "SaveTensor": SaveTensor,
    "ImageInvert": ImageInvert,
    "ImageBlur": ImageBlur,
    "ImageSharpen": ImageSharpen,
    "ImageBlend": ImageBlend,
    "ImageScale": ImageScale,
    "ImageScaleBy": ImageScaleBy,
    "ImageCrop": ImageCrop,
    "RtcflowColorAdjust": RtcflowColorAdjust,
}

__all__ = ["BUILTIN_NODES"]
