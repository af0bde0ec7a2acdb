"""The damage detector: a small U-Net that reads a photo's lightness and says, per pixel, whether it
is a crack, scratch, speck or blotch (a mark on the print) or the photo itself.

Why a network and not a filter: a crack and a twig against the sky, a speck and a star, a scratch and
a wire are the same to a median-difference filter (it finds texture as damage). What tells them
apart is context: a crack wanders across objects and ignores their edges; a branch belongs to a
tree. A U-Net sees 150+ pixels around each one.

Shapes: (B,1,H,W) L*/100 in [0,1] -> (B,1,H,W) logits, for any H, W (padded inside to a multiple
of 32). The first step is a lossless pixel-unshuffle, so every convolution runs at half resolution
or less and a 1-pixel crack still reaches the output (the last step shuffles the four sub-pixels
back): the detector is what makes repair affordable on a 12 MP scan.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import Tensor, nn

# The U-Net reduces by 2 (unshuffle) and then 16 (four stride-2 steps).
MULTIPLE = 32


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class DamageDetector(nn.Module, PyTorchModelHubMixin, library_name="pix2pix-color", tags=["image-restoration"]):
    """U-Net over the pixel-unshuffled lightness; `widths` are the channels at 1/2 ... 1/32."""

    def __init__(self, widths: tuple[int, ...] = (8, 16, 32, 48, 64)):
        super().__init__()
        widths = tuple(int(w) for w in widths)
        self.widths = widths
        self.down = nn.ModuleList(
            [_block(4, widths[0])] + [_block(a, b, stride=2) for a, b in zip(widths[:-1], widths[1:], strict=True)]
        )
        self.up = nn.ModuleList([_block(widths[i + 1] + widths[i], widths[i]) for i in range(len(widths) - 1)])
        self.head = nn.Conv2d(widths[0], 4, 1)  # four sub-pixels per half-resolution cell

    def forward(self, L: Tensor) -> Tensor:
        """(B,1,H,W) L*/100 -> (B,1,H,W) damage logits."""
        h, w = L.shape[-2:]
        pad_h, pad_w = (-h) % MULTIPLE, (-w) % MULTIPLE
        x = F.pad(L, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else L
        return self.aligned(x)[..., :h, :w]

    def aligned(self, L: Tensor) -> Tensor:
        """(B,1,H,W) L*/100 with H, W multiples of `MULTIPLE` -> (B,1,H,W) damage logits: the network
        without the padding, which is what the ONNX graph holds (`repair.onnx_graph`)."""
        x = F.pixel_unshuffle(L - 0.5, 2)
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        x = skips.pop()
        for block in reversed(self.up):
            skip = skips.pop()
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return F.pixel_shuffle(self.head(x), 2)
