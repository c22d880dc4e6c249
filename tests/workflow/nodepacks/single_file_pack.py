"""A single-file node pack (ComfyUI loads ``custom_nodes/*.py`` too)."""


class TestOffset:
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"
    CATEGORY = "tests"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE",),
                "offset": ("FLOAT", {"default": 0.0, "min": -1.0, "max": 1.0}),
            }
        }

    def run(self, image, offset):
        return ((image + offset).clamp(0.0, 1.0),)


NODE_CLASS_MAPPINGS = {"TestOffset": TestOffset}
