"""Old prints' physical damage: a model of it (`damage`, for training and tests), the detector that
finds it (`detector`) and the repair that fills it (`repair`). Imports downwards only: nothing here
knows the colorizer."""

from pix2pix_color.repair.repair import Repaired, find_damage, repair_photo

__all__ = ["Repaired", "find_damage", "repair_photo"]
