"""A node pack written the way ComfyUI custom nodes are: classes + NODE_CLASS_MAPPINGS.

Class-level ``calls`` counters let tests see how often the engine ran each node; the pack
is imported afresh by every registry load, so counters start at zero per registry.
"""

from pathlib import Path

import torch

from .helpers import CHANNELS, keep_channel


class TestGainLoader:
    """Stands in for a model loader: a constant node producing a custom GAIN value."""

    calls = 0
    RETURN_TYPES = ("GAIN",)
    FUNCTION = "load"
    CATEGORY = "tests"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"gain": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 4.0})}}

    def load(self, gain):
        type(self).calls += 1
        return (float(gain),)


class TestGainFromFile:
    """Reads a gain from a text file; IS_CHANGED re-runs it when the file changes."""

    calls = 0
    RETURN_TYPES = ("GAIN",)
    FUNCTION = "load"
    CATEGORY = "tests"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"path": ("STRING", {"default": ""})}}

    @classmethod
    def IS_CHANGED(cls, path):
        return Path(path).read_text()

    def load(self, path):
        type(self).calls += 1
        return (float(Path(path).read_text()),)


class TestNoisyGain:
    """A constant node whose IS_CHANGED says NaN: it must run for every frame."""

    calls = 0
    RETURN_TYPES = ("GAIN",)
    FUNCTION = "load"
    CATEGORY = "tests"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "seed": ("INT", {"default": 0, "min": 0, "max": 2**32}),
                "scale": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 2.0}),
            }
        }

    @classmethod
    def IS_CHANGED(cls, seed, scale):
        return float("nan")

    def load(self, seed, scale):
        type(self).calls += 1
        return (scale * (1 + type(self).calls),)


class TestGainProduct:
    """A constant node downstream of another: GAIN * factor."""

    calls = 0
    RETURN_TYPES = ("GAIN",)
    FUNCTION = "multiply"
    CATEGORY = "tests"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "gain": ("GAIN",),
                "factor": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 4.0}),
            }
        }

    def multiply(self, gain, factor):
        type(self).calls += 1
        return (gain * factor,)


class TestApplyGain:
    """image * gain, for a GAIN from one of the loaders."""

    calls = 0
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "apply"
    CATEGORY = "tests"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",), "gain": ("GAIN",)}}

    def apply(self, image, gain):
        type(self).calls += 1
        return (image * gain,)


class TestChannel:
    """Keeps one colour channel (a combo input)."""

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "pick"
    CATEGORY = "tests"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",), "channel": (list(CHANNELS),)}}

    def pick(self, image, channel):
        return (keep_channel(image, channel),)


class TestFrameStats:
    """An OUTPUT_NODE that feeds nothing: records each frame's mean and its node id."""

    seen = []
    RETURN_TYPES = ()
    FUNCTION = "record"
    OUTPUT_NODE = True
    CATEGORY = "tests"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",)}, "hidden": {"unique_id": "UNIQUE_ID"}}

    def record(self, image, unique_id):
        type(self).seen.append((unique_id, float(image.mean())))
        return {"ui": {"mean": [float(image.mean())]}}


class TestUnusedCounter:
    """Not an output and feeding none: must never run."""

    calls = 0
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"
    CATEGORY = "tests"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",)}}

    def run(self, image):
        type(self).calls += 1
        return (image,)


class TestExplode:
    """Raises when run."""

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"
    CATEGORY = "tests"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",)}}

    def run(self, image):
        raise RuntimeError("kaboom")


class TestNoise:
    """A seeded node: the editor stores 'control after generate' after its seed widget."""

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"
    CATEGORY = "tests"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE",),
                "seed": ("INT", {"default": 0, "min": 0, "max": 2**32}),
                "amount": ("FLOAT", {"default": 0.1, "min": 0.0, "max": 1.0}),
            }
        }

    def run(self, image, seed, amount):
        generator = torch.Generator().manual_seed(seed)
        noise = torch.rand(image.shape, generator=generator).to(image.device)
        return (torch.clamp(image + amount * (noise - 0.5), 0.0, 1.0),)


class TestEvenOnly:
    """VALIDATE_INPUTS accepts only even sizes (and takes over the range check)."""

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"
    CATEGORY = "tests"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE",),
                "size": ("INT", {"default": 2, "min": 0, "max": 8}),
            }
        }

    @classmethod
    def VALIDATE_INPUTS(cls, size):
        return True if size % 2 == 0 else f"size must be even, got {size}"

    def run(self, image, size):
        return (image,)


class TestListInput:
    """Declares INPUT_IS_LIST, which rtcflow reports as unsupported."""

    INPUT_IS_LIST = True
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"
    CATEGORY = "tests"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",)}}

    def run(self, image):
        return (image[0],)


NODE_CLASS_MAPPINGS = {
    "TestGainLoader": TestGainLoader,
    "TestGainFromFile": TestGainFromFile,
    "TestNoisyGain": TestNoisyGain,
    "TestGainProduct": TestGainProduct,
    "TestApplyGain": TestApplyGain,
    "TestChannel": TestChannel,
    "TestFrameStats": TestFrameStats,
    "TestUnusedCounter": TestUnusedCounter,
    "TestExplode": TestExplode,
    "TestNoise": TestNoise,
    "TestEvenOnly": TestEvenOnly,
    "TestListInput": TestListInput,
    # Custom packs may not replace core nodes: this one must be ignored.
    "ImageInvert": TestUnusedCounter,
}
NODE_DISPLAY_NAME_MAPPINGS = {"TestGainLoader": "Gain loader (test)"}
