"""pix2pix-color training: stream a photo dataset, train pix2pix (L -> ab), validate, publish."""

from .config import PRESETS, TrainConfig, TrainError, parse_config, with_preset

__all__ = ["PRESETS", "TrainConfig", "TrainError", "parse_config", "train", "with_preset"]


def train(cfg: TrainConfig):
    """Run training with `cfg`; returns the exported model folder (see `train.loop.train`)."""
    from .loop import train as _train

    return _train(cfg)
