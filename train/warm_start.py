"""`--init-from MODEL`: start a run from a published generator (and its discriminator, when present).

Users fine-tune the bundled model on their own photos this way, and a run longer than one working
session continues from shipped weights. The architecture must match the run's flags (depth and
channel widths); two changes are allowed, since both extend a trained network rather than replace it:
- a hint-free generator into a `--hints` run: the hint channels' input weights start at zero, so
  the network starts out exactly as the published one and learns to use hints from there;
- another `--head`: the shared body is loaded and the new head starts fresh (listed in the log).

With the same head, the run also takes the published decoding (`temperature`, `chroma_gain`: what
`train.calibrate` chose), so its validation and checkpoints are decoded as the published model is
until the run is calibrated again: a continuation is compared with its start like for like.
"""

from __future__ import annotations

import torch
from safetensors.torch import load_file

from pix2pix_color.models.hub import ModelLoadError, resolve_file
from pix2pix_color.models.networks import PatchDiscriminator, UNetGenerator

from .config import TrainError

FIRST_CONV = "net.model.0.weight"  # the generator's input convolution, (out, in_channels, 4, 4)
HINTED_DECODER_CONV = "net.up2.0.weight"  # an encoder model's stride-2 stage: skip features, then hints
DISCRIMINATOR_FILE = "discriminator.safetensors"


def load_initial_weights(G: UNetGenerator, D: PatchDiscriminator, source: str) -> tuple[UNetGenerator, list[str]]:
    """Copy `source`'s weights into G (and D when it ships one); returns G, with the published decoding
    when the heads match (a new module: the decoding is config, not a weight), and what was done, for the log."""
    try:
        published = UNetGenerator.from_pretrained(source)
    except ModelLoadError as e:
        raise TrainError(f"--init-from: {e}") from None
    if published.encoder != G.encoder:
        raise TrainError(
            f"--init-from {source}: its generator's encoder is {published.encoder!r}, this run's "
            f"{G.encoder!r}; set --gen-encoder to the published model's"
        )
    if (published.depth, _widths(published)) != (G.depth, _widths(G)):
        raise TrainError(
            f"--init-from {source}: its generator (depth {published.depth}, channels {_widths(published)}) does not "
            f"match this run's flags (depth {G.depth}, channels {_widths(G)}); set --gen-depth, "
            "--gen-base-channels and --gen-max-channels to the published model's config.json"
        )
    state = {k: v.float() for k, v in published.state_dict().items()}
    notes = []
    target = G.state_dict()
    # The convolutions that take the hint channels (the U-Net's first; an encoder model's last
    # decoder stage, whose hint channels come last): grown with zero weights or cut to fit.
    for name in (FIRST_CONV, HINTED_DECODER_CONV):
        if name not in target or name not in state or state[name].shape[1] == target[name].shape[1]:
            continue
        have, want = state[name].shape[1], target[name].shape[1]
        if have < want:
            grown = torch.zeros_like(target[name])
            grown[:, :have] = state[name]
            state[name] = grown
            note = "hint input channels added with zero weights"
        else:
            state[name] = state[name][:, :want].contiguous()
            note = "the published model's hint input channels dropped (this run trains without --hints)"
        if note not in notes:
            notes.append(note)
    kept = {k: v for k, v in state.items() if k in target and v.shape == target[k].shape}
    fresh = sorted(set(target) - set(kept))
    G.load_state_dict({**target, **kept})
    notes.append(f"generator: {len(kept)} of {len(target)} tensors loaded")
    if fresh:
        notes.append(f"started fresh (head {published.head} -> {G.head}): {', '.join(fresh)}")
    if published.head == G.head:
        decoding = {"temperature": published.temperature, "chroma_gain": published.chroma_gain}
        G = G.with_decoding(**decoding)
        notes.append(f"decoding as published: temperature {published.temperature}, chroma gain {published.chroma_gain}")
    notes.append(_load_discriminator(D, source))
    return G, notes


def _widths(G: UNetGenerator) -> list[int]:
    return [m.out_channels for m in G.modules() if isinstance(m, torch.nn.Conv2d) and m.stride == (2, 2)]


def _load_discriminator(D: PatchDiscriminator, source: str) -> str:
    try:
        path = resolve_file(source, DISCRIMINATOR_FILE)
    except ModelLoadError:
        return f"no {DISCRIMINATOR_FILE}: the discriminator starts fresh"
    state = {k: v.float() for k, v in load_file(path).items()}
    try:
        D.load_state_dict(state)
    except RuntimeError:
        return f"{DISCRIMINATOR_FILE} does not fit this run's --disc-* flags: the discriminator starts fresh"
    return f"discriminator loaded from {DISCRIMINATOR_FILE}"
