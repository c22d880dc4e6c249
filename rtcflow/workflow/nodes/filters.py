"""Convolution filters: ``ImageBlur`` and ``ImageSharpen`` (ComfyUI ``nodes_post_processing``).

ComfyUI's Gaussian kernel samples ``exp(-d^2 / (2 sigma^2))`` on a grid spanning -1..1 across the
kernel (so ``sigma`` is relative to the radius, not in pixels) and pads by reflection.
That kernel is the outer product of two 1-D Gaussians, so it runs here as two 1-D
passes: O(r) instead of O(r²) per pixel, same result. Sharpen is an unsharp mask,
``image + 10·alpha·(image - blur(image))``, which is what ComfyUI's kernel works out to.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gaussian_weights(radius: int, sigma: float, like: torch.Tensor) -> torch.Tensor:
    """The normalised 1-D factor of ComfyUI's ``(2r+1)²`` Gaussian kernel."""
    x = torch.linspace(-1.0, 1.0, 2 * radius + 1, dtype=like.dtype, device=like.device)
    weights = torch.exp(-(x * x) / (2.0 * sigma * sigma))
    return weights / weights.sum()


def gaussian_blur(images: torch.Tensor, radius: int, sigma: float) -> torch.Tensor:
    """Blur IMAGE ``[B, H, W, C]`` with ComfyUI's Gaussian, reflecting at the borders."""
    batch, height, width, channels = images.shape
    weights = gaussian_weights(radius, sigma, images)
    planes = images.permute(0, 3, 1, 2).reshape(batch * channels, 1, height, width)
    # Reflection needs the image wider than the radius; tiny images repeat their edge.
    mode = "reflect" if radius < min(height, width) else "replicate"
    planes = F.pad(planes, (radius, radius, radius, radius), mode=mode)
    planes = F.conv2d(planes, weights.view(1, 1, -1, 1))
    planes = F.conv2d(planes, weights.view(1, 1, 1, -1))
    return planes.reshape(batch, channels, height, width).permute(0, 2, 3, 1)


class ImageBlur:
    """Gaussian blur with ComfyUI's ``ImageBlur`` inputs."""

    CATEGORY = "image/postprocessing"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "blur"

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "image": ("IMAGE",),
                "blur_radius": ("INT", {"default": 1, "min": 1, "max": 31, "step": 1}),
                "sigma": ("FLOAT", {"default": 1.0, "min": 0.1, "max": 10.0, "step": 0.1}),
            }
        }

    def blur(self, image: torch.Tensor, blur_radius: int, sigma: float) -> tuple[torch.Tensor]:
        return (gaussian_blur(image, blur_radius, sigma),)


class ImageSharpen:
    """Unsharp-mask sharpening with ComfyUI's ``ImageSharpen`` inputs."""

    CATEGORY = "image/postprocessing"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "sharpen"

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "image": ("IMAGE",),
                "sharpen_radius": ("INT", {"default": 1, "min": 1, "max": 31, "step": 1}),
                "sigma": ("FLOAT", {"default": 1.0, "min": 0.1, "max": 10.0, "step": 0.01}),
                "alpha": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 5.0, "step": 0.01}),
            }
        }

    def sharpen(
        self, image: torch.Tensor, sharpen_radius: int, sigma: float, alpha: float
    ) -> tuple[torch.Tensor]:
        detail = image - gaussian_blur(image, sharpen_radius, sigma)
        return (torch.clamp(image + (10.0 * alpha) * detail, 0.0, 1.0),)
