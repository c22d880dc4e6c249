"""StreamDiffusion parameters of a Daydream stream (pipeline ``streamdiffusion``).

One model per base-model family, following the schemas ``SDTurbo``, ``SDXL`` and ``SD1.5``
of the vendored OpenAPI document (``openapi.yaml``, the create request's ``params``),
joined in :data:`StreamDiffusionParams`, a union discriminated by ``model_id``. Rules the
document states only in prose are enforced as Daydream's worker enforces them
(livepeer/ai-runner, ``runner/app/live/pipelines/streamdiffusion/params.py``): width and
height multiples of 64, ``t_index_list`` non-decreasing within
``[0, num_inference_steps]``, unique ControlNets, cached attention only with TensorRT at
512x512.

Every field but ``model_id`` is optional. An unset field (``None``, or ``null`` in YAML)
is left to the service's default and never sent (:meth:`to_api`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

#: Largest integer a JSON number carries exactly; the schema's bound for integers.
MAX_SAFE_INTEGER = 2**53 - 1
#: The worker's ``num_inference_steps`` when a request leaves it unset.
DEFAULT_NUM_INFERENCE_STEPS = 50

SafeInt = Annotated[StrictInt, Field(ge=-MAX_SAFE_INTEGER, le=MAX_SAFE_INTEGER)]
UnitFloat = Annotated[StrictFloat, Field(ge=0, le=1)]
Dimension = Annotated[
    StrictInt,
    Field(ge=384, le=1024, multiple_of=64, description="Pixels: a multiple of 64 in 384-1024."),
]
Interpolation = Literal["linear", "slerp"]

WeightedPrompt = tuple[Annotated[StrictStr, Field(min_length=1)], StrictFloat]
Prompt = StrictStr | Annotated[tuple[WeightedPrompt, ...], Field(min_length=1)]
WeightedSeed = tuple[SafeInt, StrictFloat]
Seed = SafeInt | Annotated[tuple[WeightedSeed, ...], Field(min_length=1)]

ImageProcessorType = Literal[
    "blur",
    "canny",
    "depth",
    "depth_tensorrt",
    "external",
    "feedback",
    "hed",
    "lineart",
    "mediapipe_pose",
    "mediapipe_segmentation",
    "openpose",
    "passthrough",
    "pose_tensorrt",
    "realesrgan_trt",
    "sharpen",
    "soft_edge",
    "standard_lineart",
    "temporal_net_tensorrt",
    "upscale",
]
LatentProcessorType = Literal["latent_feedback"]

IPAdapterWeightType = Literal[
    "linear",
    "ease in",
    "ease out",
    "ease in-out",
    "reverse in-out",
    "weak input",
    "weak output",
    "weak middle",
    "strong middle",
    "style transfer",
    "composition",
    "strong style transfer",
    "style and composition",
    "style transfer precise",
    "composition precise",
]


class DaydreamModel(BaseModel):
    """Base of the params models: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# -- processors ------------------------------------------------------------------------


class _Processor(DaydreamModel):
    enabled: StrictBool | None = None
    params: dict[str, Any] | None = None


class ImageProcessor(_Processor):
    """One image processor of a pre- or post-processing chain."""

    type: ImageProcessorType


class LatentProcessor(_Processor):
    """One latent processor of a pre- or post-processing chain."""

    type: LatentProcessorType


class ImageProcessing(DaydreamModel):
    """An image processor chain (``image_preprocessing``/``image_postprocessing``)."""

    enabled: StrictBool | None = None
    processors: tuple[ImageProcessor, ...]


class LatentProcessing(DaydreamModel):
    """A latent processor chain (``latent_preprocessing``/``latent_postprocessing``)."""

    enabled: StrictBool | None = None
    processors: tuple[LatentProcessor, ...]


# -- ControlNets -----------------------------------------------------------------------


class ControlNet(DaydreamModel):
    """One ControlNet; ``model_id`` must suit the base model (see the subclasses)."""

    model_id: str
    conditioning_scale: UnitFloat = Field(
        description="0 disables the control without the reload that disabling costs."
    )
    preprocessor: ImageProcessorType
    preprocessor_params: dict[str, Any] | None = None
    enabled: StrictBool
    control_guidance_start: UnitFloat | None = None
    control_guidance_end: UnitFloat | None = None

    @model_validator(mode="after")
    def _guidance_window(self) -> ControlNet:
        start, end = self.control_guidance_start, self.control_guidance_end
        if start is not None and end is not None and start > end:
            raise ValueError(
                f"control_guidance_start ({start}) is after control_guidance_end ({end})"
            )
        return self


class SDTurboControlNet(ControlNet):
    model_id: Literal[
        "thibaud/controlnet-sd21-openpose-diffusers",
        "thibaud/controlnet-sd21-hed-diffusers",
        "thibaud/controlnet-sd21-canny-diffusers",
        "thibaud/controlnet-sd21-depth-diffusers",
        "thibaud/controlnet-sd21-color-diffusers",
        "daydreamlive/TemporalNet2-stable-diffusion-2-1",
    ]


class SDXLControlNet(ControlNet):
    model_id: Literal[
        "xinsir/controlnet-depth-sdxl-1.0",
        "xinsir/controlnet-canny-sdxl-1.0",
        "xinsir/controlnet-tile-sdxl-1.0",
    ]


class SD15ControlNet(ControlNet):
    model_id: Literal[
        "lllyasviel/control_v11f1p_sd15_depth",
        "lllyasviel/control_v11f1e_sd15_tile",
        "lllyasviel/control_v11p_sd15_canny",
        "daydreamlive/TemporalNet2-stable-diffusion-v1-5",
    ]


# -- IP-Adapter and cached attention ---------------------------------------------------


class IPAdapter(DaydreamModel):
    """IP-Adapter style conditioning; ``type`` must suit the base model (see subclasses)."""

    type: str = "regular"
    enabled: StrictBool | None = None
    scale: StrictFloat | None = None
    weight_type: IPAdapterWeightType | None = None


class SDXLIPAdapter(IPAdapter):
    type: Literal["regular", "faceid"] = "regular"


class SD15IPAdapter(IPAdapter):
    type: Literal["regular"] = "regular"


class CachedAttention(DaydreamModel):
    """Cached attention (StreamV2V): reuse key/value tensors across frames."""

    enabled: StrictBool
    max_frames: Annotated[StrictInt, Field(ge=1, le=4)]
    interval: Annotated[StrictInt, Field(ge=1, le=240, description="Frames between refreshes.")]


# -- params ----------------------------------------------------------------------------


class BaseStreamDiffusionParams(DaydreamModel):
    """The fields every base model shares. Use :data:`StreamDiffusionParams` to parse."""

    model_id: str
    prompt: Prompt | None = Field(
        None, description='A prompt, or weighted prompts to blend: [["a", 0.7], ["b", 0.3]].'
    )
    prompt_interpolation_method: Interpolation | None = None
    normalize_prompt_weights: StrictBool | None = None
    normalize_seed_weights: StrictBool | None = None
    negative_prompt: StrictStr | None = None
    guidance_scale: StrictFloat | None = None
    delta: StrictFloat | None = None
    num_inference_steps: Annotated[StrictInt, Field(ge=1, le=100)] | None = None
    t_index_list: (
        Annotated[
            tuple[StrictInt, ...],
            Field(
                min_length=1,
                max_length=4,
                description="1-4 non-decreasing step indices within [0, num_inference_steps].",
            ),
        ]
        | None
    ) = None
    use_safety_checker: StrictBool | None = None
    width: Dimension | None = None
    height: Dimension | None = None
    lora_dict: dict[str, StrictFloat] | None = None
    use_lcm_lora: StrictBool | None = None
    lcm_lora_id: StrictStr | None = None
    acceleration: Literal["none", "xformers", "tensorrt"] | None = None
    use_denoising_batch: StrictBool | None = None
    do_add_noise: StrictBool | None = None
    seed: Seed | None = Field(
        None, description="A seed, or weighted seeds to blend: [[1, 0.5], [2, 0.5]]."
    )
    seed_interpolation_method: Interpolation | None = None
    enable_similar_image_filter: StrictBool | None = None
    similar_image_filter_threshold: UnitFloat | None = None
    similar_image_filter_max_skip_frame: (
        Annotated[StrictInt, Field(ge=0, le=MAX_SAFE_INTEGER)] | None
    ) = None
    skip_diffusion: StrictBool | None = None
    image_preprocessing: ImageProcessing | None = None
    image_postprocessing: ImageProcessing | None = None
    latent_preprocessing: LatentProcessing | None = None
    latent_postprocessing: LatentProcessing | None = None
    controlnets: tuple[ControlNet, ...] | None = None

    @field_validator("t_index_list")
    @classmethod
    def _t_index_list(
        cls, value: tuple[int, ...] | None, info: ValidationInfo
    ) -> tuple[int, ...] | None:
        if value is None:
            return None
        if "num_inference_steps" not in info.data:  # itself invalid: reported already
            return value
        steps = info.data["num_inference_steps"]
        bound = f"num_inference_steps={steps}"
        if steps is None:
            steps = DEFAULT_NUM_INFERENCE_STEPS
            bound = f"the default num_inference_steps={steps}"
        for index, step in enumerate(value):
            if not 0 <= step <= steps:
                raise ValueError(f"t_index_list[{index}]={step} is outside [0, {bound}]")
        for index in range(1, len(value)):
            if value[index] < value[index - 1]:
                raise ValueError(
                    f"t_index_list must be non-decreasing: t_index_list[{index}]="
                    f"{value[index]} follows {value[index - 1]}"
                )
        return value

    @field_validator("controlnets")
    @classmethod
    def _unique_controlnets(
        cls, value: tuple[ControlNet, ...] | None
    ) -> tuple[ControlNet, ...] | None:
        seen: set[str] = set()
        for controlnet in value or ():
            if controlnet.model_id in seen:
                raise ValueError(f"ControlNet {controlnet.model_id!r} is listed twice")
            seen.add(controlnet.model_id)
        return value

    def to_api(self) -> dict[str, Any]:
        """The JSON object the API takes as ``params``: set fields only."""
        return self.model_dump(mode="json", exclude_none=True)


class SDTurboParams(BaseStreamDiffusionParams):
    """``stabilityai/sd-turbo`` (SD 2.1): OpenAPI schema ``SDTurbo``."""

    model_id: Literal["stabilityai/sd-turbo"]
    controlnets: tuple[SDTurboControlNet, ...] | None = None


class _AdapterParams(BaseStreamDiffusionParams):
    """The fields SDXL and SD 1.5 add: IP-Adapter and cached attention."""

    ip_adapter: IPAdapter | None = None
    ip_adapter_style_image_url: StrictStr | None = Field(
        None, description="An https:// URL or a data:image/...;base64 URI (at most 5 MB)."
    )
    cached_attention: CachedAttention | None = None

    @field_validator("ip_adapter_style_image_url")
    @classmethod
    def _style_image_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "data:image/")):
            raise ValueError("must be an https:// URL or a data:image/... URI")
        return value

    @field_validator("cached_attention")
    @classmethod
    def _cached_attention(
        cls, value: CachedAttention | None, info: ValidationInfo
    ) -> CachedAttention | None:
        if value is None or not value.enabled:
            return value
        acceleration = info.data.get("acceleration")
        if acceleration not in (None, "tensorrt"):
            raise ValueError(f"needs acceleration 'tensorrt', not {acceleration!r}")
        size = (info.data.get("width"), info.data.get("height"))
        if any(side not in (None, 512) for side in size):
            raise ValueError(f"supports only 512x512, not {size[0]}x{size[1]}")
        return value


class SDXLParams(_AdapterParams):
    """``stabilityai/sdxl-turbo``: OpenAPI schema ``SDXL``."""

    model_id: Literal["stabilityai/sdxl-turbo"]
    controlnets: tuple[SDXLControlNet, ...] | None = None
    ip_adapter: SDXLIPAdapter | None = None


class SD15Params(_AdapterParams):
    """``Lykon/dreamshaper-8`` and ``prompthero/openjourney-v4``: OpenAPI schema ``SD1.5``."""

    model_id: Literal["Lykon/dreamshaper-8", "prompthero/openjourney-v4"]
    controlnets: tuple[SD15ControlNet, ...] | None = None
    ip_adapter: SD15IPAdapter | None = None


StreamDiffusionParams = Annotated[
    SDTurboParams | SDXLParams | SD15Params, Field(discriminator="model_id")
]
"""Params for any base model, chosen by ``model_id`` (the spec's ``daydream.params``)."""

MODEL_IDS: tuple[str, ...] = (
    "stabilityai/sd-turbo",
    "stabilityai/sdxl-turbo",
    "Lykon/dreamshaper-8",
    "prompthero/openjourney-v4",
)

_ADAPTER: TypeAdapter[SDTurboParams | SDXLParams | SD15Params] = TypeAdapter(StreamDiffusionParams)


def parse_params(data: Mapping[str, Any]) -> SDTurboParams | SDXLParams | SD15Params:
    """Validate a params object; raises :class:`pydantic.ValidationError`."""
    return _ADAPTER.validate_python(data)


def merge_params(
    params: BaseStreamDiffusionParams, updates: Mapping[str, Any]
) -> SDTurboParams | SDXLParams | SD15Params:
    """``params`` with top-level keys replaced by ``updates``, validated as a whole.

    This is how the API applies a PATCH: each key given replaces the stored one.
    """
    return parse_params({**params.to_api(), **updates})
