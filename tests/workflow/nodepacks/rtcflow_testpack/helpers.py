"""A submodule, imported relatively, as real packs do."""

CHANNELS = ("red", "green", "blue")


def keep_channel(image, channel):
    mask = image.new_zeros(3)
    mask[CHANNELS.index(channel)] = 1.0
    return image * mask
