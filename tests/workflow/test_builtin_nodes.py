"""Pixel checks of the built-in nodes against references computed another way.

References are NumPy (direct 2-D convolution, explicit interpolation formulas) or Pillow
(its own resamplers on float images, ``ImageEnhance``), never the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance

from rtcflow.workflow.nodes.color import ImageBlend, ImageInvert, RtcflowColorAdjust
from rtcflow.workflow.nodes.filters import ImageBlur, ImageSharpen
from rtcflow.workflow.nodes.resize import ImageCrop, ImageScale, ImageScaleBy

from .helpers import image

DEVICES = [
    "cpu",
    pytest.param(
        "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
    ),
]


def to_numpy(images: torch.Tensor) -> np.ndarray:
    return images[0].double().cpu().numpy()


def convolve_reflect(pixels: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Direct 2-D correlation of [H, W, C] with a square kernel, reflecting at the edges."""
    radius = kernel.shape[0] // 2
    height, width = pixels.shape[:2]
    padded = np.pad(pixels, ((radius, radius), (radius, radius), (0, 0)), mode="reflect")
    out = np.zeros_like(pixels)
    for dy in range(kernel.shape[0]):
        for dx in range(kernel.shape[1]):
            out += kernel[dy, dx] * padded[dy : dy + height, dx : dx + width]
    return out


def comfy_gaussian(radius: int, sigma: float) -> np.ndarray:
    """ComfyUI's 2-D kernel: exp(-d^2 / 2 sigma^2) on a -1..1 grid, normalised."""
    grid = np.linspace(-1.0, 1.0, 2 * radius + 1)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    kernel = np.exp(-(xx**2 + yy**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def pil_resize(pixels: np.ndarray, width: int, height: int, method: Image.Resampling) -> np.ndarray:
    """Pillow's resampler on float ("F") planes, one channel at a time."""
    planes = [
        np.asarray(
            Image.fromarray(pixels[..., c].astype(np.float32)).resize((width, height), method)
        )
        for c in range(pixels.shape[2])
    ]
    return np.stack(planes, axis=-1)


@pytest.mark.parametrize("device", DEVICES)
def test_invert(device: str) -> None:
    frame = image().to(device)
    as_bytes = (to_numpy(frame) * 255).round().astype(np.uint8)
    (out,) = ImageInvert().invert(torch.from_numpy(as_bytes / 255.0).float()[None].to(device))
    assert out.device.type == device
    expected = np.asarray(Image.fromarray(255 - as_bytes)) / 255.0
    np.testing.assert_allclose(to_numpy(out), expected, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("radius", "sigma"), [(1, 1.0), (3, 0.5), (6, 2.0)])
def test_blur_matches_comfyui_kernel(device: str, radius: int, sigma: float) -> None:
    frame = image(20, 24).to(device)
    (out,) = ImageBlur().blur(frame, blur_radius=radius, sigma=sigma)
    assert out.device.type == device and out.shape == frame.shape
    expected = convolve_reflect(to_numpy(frame), comfy_gaussian(radius, sigma))
    np.testing.assert_allclose(to_numpy(out), expected, atol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    ("radius", "sigma", "alpha"), [(1, 1.0, 1.0), (2, 0.6, 0.3), (3, 2.0, 0.0)]
)
def test_sharpen_matches_comfyui_kernel(device: str, radius: int, sigma: float, alpha: float):
    frame = image(16, 18).to(device)
    (out,) = ImageSharpen().sharpen(frame, sharpen_radius=radius, sigma=sigma, alpha=alpha)
    kernel = comfy_gaussian(radius, sigma) * -(alpha * 10)
    kernel[radius, radius] += 1.0 - kernel.sum()
    expected = np.clip(convolve_reflect(to_numpy(frame), kernel), 0.0, 1.0)
    np.testing.assert_allclose(to_numpy(out), expected, atol=1e-5)


def _soft_light(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """W3C compositing "soft-light", written per its spec's D(x)."""
    d = np.where(a <= 0.25, ((16 * a - 12) * a + 4) * a, np.sqrt(a))
    return np.where(b <= 0.5, a - (1 - 2 * b) * a * (1 - a), a + (2 * b - 1) * (d - a))


BLEND_REFERENCES = {
    "normal": lambda a, b: b,
    "multiply": lambda a, b: a * b,
    "screen": lambda a, b: a + b - a * b,
    "overlay": lambda a, b: np.where(a < 0.5, 2 * a * b, 1 - 2 * (1 - a) * (1 - b)),
    "soft_light": _soft_light,
    "difference": lambda a, b: a - b,  # ComfyUI's signed difference, clamped after mixing
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", list(BLEND_REFERENCES))
@pytest.mark.parametrize("factor", [0.0, 0.35, 1.0])
def test_blend_modes(device: str, mode: str, factor: float) -> None:
    base, layer = image(seed=1).to(device), image(seed=2).to(device)
    (out,) = ImageBlend().blend_images(base, layer, blend_factor=factor, blend_mode=mode)
    a, b = to_numpy(base), to_numpy(layer)
    expected = np.clip(a * (1 - factor) + BLEND_REFERENCES[mode](a, b) * factor, 0.0, 1.0)
    np.testing.assert_allclose(to_numpy(out), expected, atol=1e-6)


def test_blend_fits_a_differently_sized_layer() -> None:
    base = image(8, 12, seed=1)
    layer = torch.full((1, 30, 20, 3), 0.5)  # another size and aspect: scaled, centre-cropped
    (out,) = ImageBlend().blend_images(base, layer, blend_factor=1.0, blend_mode="multiply")
    assert out.shape == base.shape
    torch.testing.assert_close(out, base * 0.5)


def test_color_adjust_matches_pillow_image_enhance() -> None:
    as_bytes = (to_numpy(image(16, 16, seed=3)) * 255).round().astype(np.uint8)
    frame = torch.from_numpy(as_bytes / 255.0).float()[None]
    for brightness, contrast, saturation in [
        (1.3, 1.0, 1.0),
        (1.0, 0.6, 1.0),
        (1.0, 1.0, 1.8),
        (0.8, 1.4, 0.5),
        (1.0, 1.0, 1.0),
    ]:
        (out,) = RtcflowColorAdjust().adjust(frame, brightness, contrast, saturation)
        picture = Image.fromarray(as_bytes)
        picture = ImageEnhance.Brightness(picture).enhance(brightness)
        picture = ImageEnhance.Contrast(picture).enhance(contrast)
        picture = ImageEnhance.Color(picture).enhance(saturation)
        expected = np.asarray(picture) / 255.0
        np.testing.assert_allclose(to_numpy(out), expected, atol=3 / 255)


# -- geometry ----------------------------------------------------------------------------


def _nearest_exact(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    rows = np.minimum(
        ((np.arange(height) + 0.5) * pixels.shape[0] / height).astype(int), pixels.shape[0] - 1
    )
    cols = np.minimum(
        ((np.arange(width) + 0.5) * pixels.shape[1] / width).astype(int), pixels.shape[1] - 1
    )
    return pixels[rows][:, cols]


def _cubic_weights(t: np.ndarray, a: float = -0.75) -> np.ndarray:
    """Keys cubic convolution weights for taps at offsets -1, 0, 1, 2."""
    distances = np.stack([1 + t, t, 1 - t, 2 - t], axis=-1)
    near = ((a + 2) * distances - (a + 3)) * distances**2 + 1
    far = ((a * distances - 5 * a) * distances + 8 * a) * distances - 4 * a
    return np.where(distances <= 1, near, far)


def _bicubic_axis(pixels: np.ndarray, size: int, axis: int) -> np.ndarray:
    length = pixels.shape[axis]
    source = (np.arange(size) + 0.5) * length / size - 0.5
    base = np.floor(source).astype(int)
    weights = _cubic_weights(source - base)
    out = 0
    for tap in range(4):
        index = np.clip(base - 1 + tap, 0, length - 1)
        taken = np.take(pixels, index, axis=axis)
        shape = [1] * pixels.ndim
        shape[axis] = size
        out = out + taken * weights[:, tap].reshape(shape)
    return out


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("width", "height"), [(24, 18), (5, 7), (16, 12)])
def test_scale_methods(device: str, width: int, height: int) -> None:
    frame = image(12, 16, seed=4).to(device)
    pixels = to_numpy(frame)
    references = {
        "nearest-exact": _nearest_exact(pixels, width, height),
        "bicubic": np.clip(_bicubic_axis(_bicubic_axis(pixels, height, 0), width, 1), 0, 1),
        "lanczos": np.clip(pil_resize(pixels, width, height, Image.Resampling.LANCZOS), 0, 1),
    }
    if width >= 16:  # Pillow's bilinear equals torch's (no antialias) when enlarging
        references["bilinear"] = pil_resize(pixels, width, height, Image.Resampling.BILINEAR)
    for method, expected in references.items():
        (out,) = ImageScale().upscale(frame, method, width, height, "disabled")
        assert out.shape == (1, height, width, 3) and out.device.type == device
        np.testing.assert_allclose(to_numpy(out), expected, atol=2e-5, err_msg=method)


def test_area_downscale_averages_blocks() -> None:
    frame = image(12, 16, seed=5)
    (out,) = ImageScale().upscale(frame, "area", 8, 4, "disabled")
    expected = to_numpy(frame).reshape(4, 3, 8, 2, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(to_numpy(out), expected, atol=1e-6)


def test_scale_keeps_aspect_for_a_zero_side_and_crops_center() -> None:
    frame = image(12, 16, seed=6)
    assert ImageScale().upscale(frame, "bilinear", 32, 0, "disabled")[0].shape == (1, 24, 32, 3)
    assert ImageScale().upscale(frame, "bilinear", 0, 6, "disabled")[0].shape == (1, 6, 8, 3)
    assert ImageScale().upscale(frame, "bilinear", 0, 0, "disabled")[0] is frame
    # Centre crop to a square: the middle 12 columns, then an exact-size copy.
    (out,) = ImageScale().upscale(frame, "nearest-exact", 12, 12, "center")
    np.testing.assert_array_equal(to_numpy(out), to_numpy(frame)[:, 2:14])


def test_scale_by() -> None:
    frame = image(10, 14, seed=7)
    (out,) = ImageScaleBy().upscale(frame, "lanczos", 1.5)
    assert out.shape == (1, 15, 21, 3)
    expected = np.clip(pil_resize(to_numpy(frame), 21, 15, Image.Resampling.LANCZOS), 0, 1)
    np.testing.assert_allclose(to_numpy(out), expected, atol=2e-5)


def test_crop_clips_to_the_image() -> None:
    frame = image(10, 12, seed=8)
    (out,) = ImageCrop().crop(frame, width=4, height=3, x=2, y=5)
    np.testing.assert_array_equal(to_numpy(out), to_numpy(frame)[5:8, 2:6])
    (edge,) = ImageCrop().crop(frame, width=8, height=8, x=50, y=9)  # ComfyUI clamps x, y
    np.testing.assert_array_equal(to_numpy(edge), to_numpy(frame)[9:10, 11:12])
