"""Per-pixel colour nodes: ``ImageInvert``, ``ImageBlend`` and ``RtcflowColorAdjust``.

``ImageInvert`` and ``ImageBlend`` keep ComfyUI's names, inputs and formulas (blend modes
as in ``nodes_post_processing``: soft light is the W3C compositing formula, and
"difference" is ComfyUI's signed ``image1 - image2`` clamped, not ``|a - b|``). ComfyUI
core has no brightness/contrast/saturation node, so ``RtcflowColorAdjust`` is rtcflow's
own, with Pillow ``ImageEnhance`` semantics: each factor is 1.0 for "unchanged" and
interpolates from a degenerate image (black, mean grey, greyscale) through the original.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from rtcflow.workflow.nodes.resize import resize

#: ITU-R BT.601 luma weights, as Pillow's RGB -> L conversion uses.
_LUMA = (0.299, 0.587, 0.114)


def luminance(images: torch.Tensor) -> torch.Tensor:
    """BT.601 luma of IMAGE ``[B, H, W, 3]``, shaped ``[B, H, W, 1]``."""
    weights = torch.tensor(_LUMA, dtype=images.dtype, device=images.device)
    return (images * weights).sum(dim=-1, keepdim=True)


def _soft_light_curve(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x <= 0.25, ((16 * x - 12) * x + 4) * x, torch.sqrt(x))


BLEND_MODES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "normal": lambda base, layer: layer,
    "multiply": lambda base, layer: base * layer,
    "screen": lambda base, layer: 1 - (1 - base) * (1 - layer),
    "overlay": lambda base, layer: torch.where(
        base <= 0.5, 2 * base * layer, 1 - 2 * (1 - base) * (1 - layer)
    ),
    "soft_light": lambda base, layer: torch.where(
        layer <= 0.5,
        base - (1 - 2 * layer) * base * (1 - base),
        base + (2 * layer - 1) * (_soft_light_curve(base) - base),
    ),
    "difference": lambda base, layer: base - layer,
}


class ImageInvert:
    """``1 - image``."""

    CATEGORY = "image"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "invert"

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {"required": {"image": ("IMAGE",)}}

    def invert(self, image: torch.Tensor) -> tuple[torch.Tensor]:
        return (1.0 - image,)


class ImageBlend:
    """Blend ``image2`` over ``image1``; ``image2`` is resized (centre crop) to fit."""

    CATEGORY = "image/postprocessing"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "blend_images"

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "image1": ("IMAGE",),
                "image2": ("IMAGE",),
                "blend_factor": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0, "step": 0.01}),
                "blend_mode": (list(BLEND_MODES),),
            }
        }

    def blend_images(
        self, image1: torch.Tensor, image2: torch.Tensor, blend_factor: float, blend_mode: str
    ) -> tuple[torch.Tensor]:
        image2 = image2.to(image1.device, image1.dtype)
        if image2.shape[1:3] != image1.shape[1:3]:
            image2 = resize(image2, image1.shape[2], image1.shape[1], "bicubic", "center")
        blended = BLEND_MODES[blend_mode](image1, image2)
        return (torch.clamp(torch.lerp(image1, blended, blend_factor), 0.0, 1.0),)


class RtcflowColorAdjust:
    """Brightness, contrast and saturation factors (1.0 leaves the image unchanged)."""

    CATEGORY = "image/adjustments"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "adjust"

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        factor = ("FLOAT", {"default": 1.0, "min": 0.0, "max": 3.0, "step": 0.01})
        return {
            "required": {
                "image": ("IMAGE",),
                "brightness": factor,
                "contrast": factor,
                "saturation": factor,
            }
        }

    def adjust(
        self, image: torch.Tensor, brightness: float, contrast: float, saturation: float
    ) -> tuple[torch.Tensor]:
        if brightness != 1.0:
            image = torch.clamp(image * brightness, 0.0, 1.0)
        if contrast != 1.0:
            mean = luminance(image).mean(dim=(1, 2, 3), keepdim=True)
            image = torch.clamp(torch.lerp(mean, image, contrast), 0.0, 1.0)
        if saturation != 1.0:
            image = torch.clamp(torch.lerp(luminance(image), image, saturation), 0.0, 1.0)
        return (image,)
