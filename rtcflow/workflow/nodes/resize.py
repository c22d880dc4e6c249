"""Geometry nodes: ``ImageScale``, ``ImageScaleBy`` and ``ImageCrop`` (ComfyUI ``nodes.py``).

Resampling follows ComfyUI's ``common_upscale``: ``nearest-exact``, ``bilinear``,
``area`` and ``bicubic`` are ``torch.nn.functional.interpolate``; ``lanczos`` (which
ComfyUI runs through Pillow on the CPU) is done here in torch, on the image's device,
as two matrix products with Lanczos-3 weights. Like Pillow's resampler, the kernel is
widened by the scale factor when shrinking, so downscaling is antialiased.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

MAX_RESOLUTION = 16384
UPSCALE_METHODS = ("nearest-exact", "bilinear", "area", "bicubic", "lanczos")
CROP_METHODS = ("disabled", "center")
_LANCZOS_LOBES = 3


@functools.lru_cache(maxsize=32)
def lanczos_weights(
    in_size: int, out_size: int, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """The ``[out_size, in_size]`` matrix that resamples one axis with Lanczos-3."""
    scale = in_size / out_size
    stretch = max(scale, 1.0)
    centers = (torch.arange(out_size, dtype=torch.float64) + 0.5) * scale
    samples = torch.arange(in_size, dtype=torch.float64) + 0.5
    x = (samples[None, :] - centers[:, None]) / stretch
    weights = torch.sinc(x) * torch.sinc(x / _LANCZOS_LOBES)
    weights = torch.where(x.abs() < _LANCZOS_LOBES, weights, torch.zeros_like(weights))
    weights = weights / weights.sum(dim=1, keepdim=True)
    return weights.to(device=device, dtype=dtype)


def _center_crop(images: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Crop ``[B, H, W, C]`` around its centre to the aspect ratio ``width / height``."""
    in_height, in_width = images.shape[1:3]
    if in_width * height > width * in_height:
        keep = max(1, round(in_height * width / height))
        left = (in_width - keep) // 2
        return images[:, :, left : left + keep]
    keep = max(1, round(in_width * height / width))
    top = (in_height - keep) // 2
    return images[:, top : top + keep]


def resize(
    images: torch.Tensor, width: int, height: int, method: str, crop: str = "disabled"
) -> torch.Tensor:
    """Resize IMAGE ``[B, H, W, C]`` to ``width`` x ``height`` with a ComfyUI method."""
    if crop == "center":
        images = _center_crop(images, width, height)
    planes = images.movedim(-1, 1)
    if method == "lanczos":
        rows = lanczos_weights(planes.shape[2], height, planes.device, planes.dtype)
        columns = lanczos_weights(planes.shape[3], width, planes.device, planes.dtype)
        resized = torch.clamp(rows @ planes @ columns.T, 0.0, 1.0)
    else:
        resized = F.interpolate(planes, size=(height, width), mode=method)
        if method == "bicubic":
            resized = torch.clamp(resized, 0.0, 1.0)
    return resized.movedim(1, -1)


class ImageScale:
    """Resize to ``width`` x ``height``; a 0 keeps the aspect ratio from the other side."""

    CATEGORY = "image/upscaling"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "upscale"

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        size = ("INT", {"default": 512, "min": 0, "max": MAX_RESOLUTION, "step": 1})
        return {
            "required": {
                "image": ("IMAGE",),
                "upscale_method": (list(UPSCALE_METHODS),),
                "width": size,
                "height": size,
                "crop": (list(CROP_METHODS),),
            }
        }

    def upscale(
        self, image: torch.Tensor, upscale_method: str, width: int, height: int, crop: str
    ) -> tuple[torch.Tensor]:
        if width == 0 and height == 0:
            return (image,)
        in_height, in_width = image.shape[1:3]
        if width == 0:
            width = max(1, round(in_width * height / in_height))
        elif height == 0:
            height = max(1, round(in_height * width / in_width))
        return (resize(image, width, height, upscale_method, crop),)


class ImageScaleBy:
    """Resize by a factor."""

    CATEGORY = "image/upscaling"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "upscale"

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "image": ("IMAGE",),
                "upscale_method": (list(UPSCALE_METHODS),),
                "scale_by": ("FLOAT", {"default": 1.0, "min": 0.01, "max": 8.0, "step": 0.01}),
            }
        }

    def upscale(
        self, image: torch.Tensor, upscale_method: str, scale_by: float
    ) -> tuple[torch.Tensor]:
        width = max(1, round(image.shape[2] * scale_by))
        height = max(1, round(image.shape[1] * scale_by))
        return (resize(image, width, height, upscale_method),)


class ImageCrop:
    """The ``width`` x ``height`` region at ``x``, ``y`` (clipped to the image)."""

    CATEGORY = "image/transform"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "crop"

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        size = ("INT", {"default": 512, "min": 1, "max": MAX_RESOLUTION, "step": 1})
        offset = ("INT", {"default": 0, "min": 0, "max": MAX_RESOLUTION, "step": 1})
        return {
            "required": {
                "image": ("IMAGE",),
                "width": size,
                "height": size,
                "x": offset,
                "y": offset,
            }
        }

    def crop(
        self, image: torch.Tensor, width: int, height: int, x: int, y: int
    ) -> tuple[torch.Tensor]:
        x = min(x, image.shape[2] - 1)
        y = min(y, image.shape[1] - 1)
        return (image[:, y : y + height, x : x + width, :],)
