"""What a params change costs a running Daydream stream: a live PATCH or a reload.

A PATCH (``{"pipeline": "streamdiffusion", "params": {"model_id", <changed keys>}}``)
replaces the top-level keys it names. The worker applies some of them to the running
pipeline ("hot"); any other change reloads the whole pipeline, about 30 s without output
("cold"). The split follows Daydream's docs and the worker's ``_update_params_dynamic``
(livepeer/ai-runner, ``runner/app/live/pipelines/streamdiffusion/pipeline.py``):

- hot: the keys in :data:`HOT_PARAMS`, with three nested exceptions: in ``controlnets``
  only ``conditioning_scale`` is live (adding or removing a ControlNet, or changing any
  other field of one, reloads); in ``ip_adapter`` changing ``type`` reloads; in
  ``image_postprocessing`` a change of the output scale (``realesrgan_trt``, ``upscale``)
  reloads, as the resolution changes.
- cold: everything else (``model_id``, ``width``, ``height``, ``acceleration``, LoRA
  settings, ``do_add_noise``, ``skip_diffusion``, ``cached_attention``, ...).
- Unsetting a key is cold too: a PATCH cannot restore the service's default.
"""

from __future__ import annotations

from typing import Any

from rtcflow.daydream.params import BaseStreamDiffusionParams

#: Top-level params a PATCH changes live (see the module notes for nested exceptions).
HOT_PARAMS: frozenset[str] = frozenset(
    {
        "prompt",
        "prompt_interpolation_method",
        "normalize_prompt_weights",
        "negative_prompt",
        "guidance_scale",
        "delta",
        "num_inference_steps",
        "t_index_list",
        "seed",
        "seed_interpolation_method",
        "normalize_seed_weights",
        "use_safety_checker",
        "controlnets",
        "ip_adapter",
        "ip_adapter_style_image_url",
        "image_preprocessing",
        "image_postprocessing",
        "latent_preprocessing",
        "latent_postprocessing",
    }
)

# Postprocessors that change the output resolution, and their default scale factor.
_SCALING_PROCESSORS = {"realesrgan_trt": 2.0, "upscale": 2.0}


def changed_params(
    old: BaseStreamDiffusionParams, new: BaseStreamDiffusionParams
) -> dict[str, Any]:
    """The PATCH ``params`` taking ``old`` to ``new``: ``model_id`` and the changed keys.

    Values are JSON-ready. Keys set in ``old`` but unset in ``new`` cannot be sent (see
    :func:`cold_changes`) and are left out.
    """
    before, after = old.to_api(), new.to_api()
    changed = {key: value for key, value in after.items() if before.get(key) != value}
    return {"model_id": new.model_id, **changed}


def cold_changes(old: BaseStreamDiffusionParams, new: BaseStreamDiffusionParams) -> list[str]:
    """Names of the changes from ``old`` to ``new`` that reload the pipeline.

    Nested names point at the field: ``width``, ``controlnets[1].model_id``,
    ``ip_adapter.type``. An empty list means a PATCH applies everything live.
    """
    before, after = old.to_api(), new.to_api()
    names: list[str] = []
    for key in dict.fromkeys([*type(old).model_fields, *type(new).model_fields]):
        was, now = before.get(key), after.get(key)
        if was == now:
            continue
        if now is None or key not in HOT_PARAMS:
            names.append(key)
        elif key == "controlnets":
            names.extend(_cold_controlnet_changes(was or [], now))
        elif key == "ip_adapter":
            if _ip_adapter_type(was) != _ip_adapter_type(now):
                names.append("ip_adapter.type")
        elif key == "image_postprocessing" and _output_scale(was) != _output_scale(now):
            names.append("image_postprocessing")
    return names


def _cold_controlnet_changes(was: list[dict[str, Any]], now: list[dict[str, Any]]) -> list[str]:
    names = ["controlnets"] if len(was) != len(now) else []
    for index, (a, b) in enumerate(zip(was, now, strict=False)):
        for field in dict.fromkeys([*a, *b]):
            if field != "conditioning_scale" and a.get(field) != b.get(field):
                names.append(f"controlnets[{index}].{field}")
    return names


def _ip_adapter_type(config: dict[str, Any] | None) -> str:
    return (config or {}).get("type", "regular")


def _output_scale(config: dict[str, Any] | None) -> float:
    """How much a postprocessing chain scales the output (the worker's rule)."""
    if not config or config.get("enabled") is False:
        return 1.0
    scale = 1.0
    for processor in config["processors"]:
        kind = processor["type"]
        if kind in _SCALING_PROCESSORS and processor.get("enabled") is not False:
            factor = (processor.get("params") or {}).get("scale_factor")
            if kind != "upscale" or not isinstance(factor, int | float):
                factor = _SCALING_PROCESSORS[kind]
            scale *= factor
    return scale
