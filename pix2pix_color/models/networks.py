"""The pix2pix networks (Isola et al. 2017) for colorization in CIE L*a*b*.

`UNetGenerator` maps L to ab; `PatchDiscriminator` scores (L, ab) pairs patch by patch.
Both follow the reference implementation (junyanz/pytorch-CycleGAN-and-pix2pix) layer for layer,
so the default generator is exactly its `unet_256` with 1 input and 2 output channels.
"""

from __future__ import annotations

import json
import os

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from huggingface_hub.errors import HFValidationError
from torch import Tensor, nn

from pix2pix_color.core import ab_bins
from pix2pix_color.core.color import normalize_ab
from pix2pix_color.models.efficientnet import STRIDE, EfficientUNet, imagenet_input
from pix2pix_color.models.hub import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    ModelLoadError,
    load_safetensors_strict,
    offline_kwargs,
    resolve_file,
)

# Bounds for the architecture arguments. They are checked before a single weight is allocated, so
# a hostile `config.json` (depth 1000, a billion channels) is refused instead of exhausting memory.
MAX_DEPTH = 10
MAX_CHANNELS = 1024
MAX_IMAGE_SIZE = 4096


def _check_number(name: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r}")
    return float(value)


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value


class _SkipBlock(nn.Module):
    """One U-Net level: x (B,C,H,W) -> cat(x, up(inner(down(x)))) (B,2C,H,W), or up(...) at the top.

    Down: [LeakyReLU] -> stride-2 4x4 conv -> [BatchNorm]; up: ReLU -> stride-2 4x4 transposed conv
    -> BatchNorm [-> Dropout], or tanh at the outermost level. Convs feeding a BatchNorm carry no bias
    (it would be cancelled by the norm), as in the reference code.
    """

    def __init__(
        self,
        *,
        outer_channels: int,
        inner_channels: int,
        in_channels: int | None = None,
        inner: nn.Module | None = None,
        outermost: bool = False,
        dropout: float = 0.0,
        classifier: bool = False,
    ):
        super().__init__()
        self.outermost = outermost
        in_channels = outer_channels if in_channels is None else in_channels
        innermost = inner is None
        # As in the reference code the outermost down-conv has no bias either, though no norm follows.
        down_conv = nn.Conv2d(in_channels, inner_channels, 4, stride=2, padding=1, bias=False)
        # The inner block returns its input concatenated with its output: twice the channels.
        up_in = inner_channels if innermost else 2 * inner_channels
        up_conv = nn.ConvTranspose2d(up_in, outer_channels, 4, stride=2, padding=1, bias=outermost)
        if outermost and classifier:
            # Features for the class head, at half resolution (the generator applies the head).
            down = [down_conv]
            up = [nn.ReLU(True)]
        elif outermost:
            down = [down_conv]
            up = [nn.ReLU(True), up_conv, nn.Tanh()]
        elif innermost:
            down = [nn.LeakyReLU(0.2, True), down_conv]
            up = [nn.ReLU(True), up_conv, nn.BatchNorm2d(outer_channels)]
        else:
            down = [nn.LeakyReLU(0.2, True), down_conv, nn.BatchNorm2d(inner_channels)]
            up = [nn.ReLU(True), up_conv, nn.BatchNorm2d(outer_channels)]
            if dropout > 0:
                up.append(nn.Dropout(dropout))
        self.model = nn.Sequential(*down, *([] if innermost else [inner]), *up)

    def forward(self, x: Tensor) -> Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], dim=1)


HEADS = ("regression", "classification")
# "none": pix2pix's own U-Net, every weight trained from scratch; "efficientnet-lite0": an ImageNet-
# pretrained EfficientNet-Lite0 encoder under a U-Net decoder (pix2pix_color.models.efficientnet).
ENCODERS = ("none", "efficientnet-lite0")
HINT_CHANNELS = 3  # hint a*, hint b* (model scale), and a mask that is 1 where a hint was given


def _check_config(depth, base_channels, max_channels, dropout, image_size, chroma_gain, head, temperature,
                  hints, encoder) -> None:  # fmt: skip
    """Every architecture and decoding argument of `UNetGenerator` in its range, or ValueError naming it
    (a config.json from anywhere is read through these)."""
    if encoder not in ENCODERS:
        raise ValueError(f"encoder must be one of {ENCODERS}, got {encoder!r}")
    if encoder != "none" and depth != 5:
        raise ValueError(f"depth must be 5 with encoder {encoder!r} (its stride is {STRIDE}), got {depth!r}")
    _check_int("depth", depth, 2, MAX_DEPTH)
    _check_int("base_channels", base_channels, 1, MAX_CHANNELS)
    _check_int("max_channels", max_channels, base_channels, MAX_CHANNELS)
    _check_int("image_size", image_size, 16, MAX_IMAGE_SIZE)
    _check_number("dropout", dropout, 0, 0.999)
    _check_number("chroma_gain", chroma_gain, 0.25, 4)
    _check_number("temperature", temperature, 0.05, 2)
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    if not isinstance(hints, bool):
        raise ValueError(f"hints must be true or false, got {hints!r}")


def _unet(channels: list[int], dropout: float, hints: bool, head: str) -> _SkipBlock:
    """pix2pix's U-Net, built from the bottleneck outwards: level i downsamples channels[i-1] ->
    channels[i]; as in unet_256, dropout sits in levels 4..depth-2 (the 512-channel ones by default)."""
    depth = len(channels)
    block = _SkipBlock(outer_channels=channels[-2], inner_channels=channels[-1])
    for level in range(depth - 2, 0, -1):
        block = _SkipBlock(
            outer_channels=channels[level - 1],
            inner_channels=channels[level],
            inner=block,
            dropout=dropout if level >= 4 else 0.0,
        )
    return _SkipBlock(
        outer_channels=2,
        inner_channels=channels[0],
        in_channels=1 + (HINT_CHANNELS if hints else 0),
        inner=block,
        outermost=True,
        classifier=head == "classification",
    )


class UNetGenerator(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="pix2pix-color",
    pipeline_tag="image-to-image",
    license="apache-2.0",
    tags=["pix2pix", "colorization", "image-colorization", "gan", "lab-color-space"],
    repo_url="https://github.com/pix2pix-color/pix2pix-color",
    paper_url="https://arxiv.org/abs/1611.07004",
):
    """L (B,1,H,W) in [-1,1] [+ hints (B,3,H,W)] -> ab (B,2,H,W) in [-1,1]; H, W multiples of 2**depth.

    Defaults give pix2pix's `unet_256`: 8 stride-2 levels from 64 filters capped at 512, dropout 0.5
    in the three 512-channel decoder blocks around the innermost one; 54,409,858 parameters.

    `head="classification"` replaces the last up-convolution by a 1x1 convolution at half
    resolution that scores the a*b* bins of `pix2pix_color.core.ab_bins` (Zhang et al. 2016); `forward`
    returns those logits and `predict_ab` decodes them with the annealed mean at `temperature`.
    `hints=True` adds three input channels: a*b* a user chose at some pixels and their mask
    (Zhang et al. 2017); without hints they are zeros, which is automatic colorization.

    `encoder="efficientnet-lite0"` replaces the U-Net's encoder by EfficientNet-Lite0 (ImageNet
    weights when training starts: it has seen grass, leaves and cats) and its decoder by
    3x3-convolution stages back to half resolution; `depth` is then the encoder's 5 (sides multiples
    of 32), and `base_channels` / `max_channels` size the decoder (doubling from stride 2, capped).

    `image_size`, `chroma_gain` and `temperature` are not architecture: the resolution the weights
    were trained at (`Colorizer`'s default working resolution), and the calibrated factor on the
    predicted a*b* and decoding temperature (`train.calibrate` measures them on training photos).
    """

    def __init__(
        self,
        *,
        depth: int = 8,
        base_channels: int = 64,
        max_channels: int = 512,
        dropout: float = 0.5,
        image_size: int = 256,
        chroma_gain: float = 1.0,
        head: str = "regression",
        temperature: float = 1.0,
        hints: bool = False,
        encoder: str = "none",
    ):
        super().__init__()
        _check_config(depth, base_channels, max_channels, dropout, image_size, chroma_gain, head, temperature,
                      hints, encoder)  # fmt: skip
        # The model's own config (what config.json says), so copies never read the mixin's private state.
        self.config = dict(
            depth=depth, base_channels=base_channels, max_channels=max_channels, dropout=dropout,
            image_size=image_size, chroma_gain=chroma_gain, head=head, temperature=temperature, hints=hints,
            encoder=encoder,
        )  # fmt: skip
        self.chroma_gain = float(chroma_gain)
        self.temperature = float(temperature)
        self.depth = depth
        self.image_size = image_size
        self.head = head
        self.hints = hints
        self.encoder = encoder
        if encoder != "none":
            widths = tuple(min(base_channels * 2**level, max_channels) for level in range(4))
            self.net = EfficientUNet(widths=widths, hints=hints)
            if head == "classification":
                self.classifier = nn.Conv2d(widths[0], ab_bins.num_bins(), 1)
            else:
                self.regressor = nn.Conv2d(widths[0], 2, 1)
            return
        channels = [min(base_channels * 2**level, max_channels) for level in range(depth)]
        self.net = _unet(channels, dropout, hints, head)
        if head == "classification":
            # Bin logits from the half-resolution features: a full-resolution transposed conv to
            # ~250 channels would cost ten times the rest of the network, and chroma is smooth.
            self.classifier = nn.Conv2d(2 * channels[0], ab_bins.num_bins(), 1)

    def with_decoding(self, **settings: float) -> UNetGenerator:
        """The same weights with other decoding settings (`chroma_gain`, `temperature`): a new model whose
        config.json, when saved, states them (the config is the model's own, never edited as raw JSON)."""
        unknown = set(settings) - {"chroma_gain", "temperature"}
        if unknown:
            raise ValueError(f"not a decoding setting: {', '.join(sorted(unknown))}")
        model = type(self)(**{**self.config, **settings})
        model.load_state_dict(self.state_dict())
        return model.to(next(self.parameters()).device).train(self.training)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs) -> UNetGenerator:
        """Load strictly from a Hub repo id or local folder (config.json + model.safetensors only).

        Every failure is a `ModelLoadError` naming the model and the reason.
        """
        model_id = os.fspath(pretrained_model_name_or_path)
        kwargs = offline_kwargs(model_id, kwargs)
        try:
            return super().from_pretrained(model_id, **kwargs)
        except ModelLoadError:
            raise
        except HFValidationError:
            raise ModelLoadError(f"{model_id!r} is neither a model folder nor a Hub repo id like 'org/name'") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ModelLoadError(f"{model_id}: {CONFIG_NAME} is not a valid model config ({e})") from None
        except (AttributeError, TypeError):
            # huggingface_hub's mixin reads config.json as a dict before our loader sees it: a JSON
            # list or string there fails inside the mixin. Only that case is the user's file;
            # anything else is a bug of ours and must surface as one.
            if not isinstance(_config_of(model_id, kwargs), dict):
                raise ModelLoadError(f"{model_id}: {CONFIG_NAME} must hold a JSON object") from None
            raise
        except OSError as e:
            if kwargs.get("local_files_only") and not os.path.isdir(model_id):
                from huggingface_hub import constants

                raise ModelLoadError(
                    f"{model_id}: {constants.ENDPOINT} cannot be reached (offline?) and the model is not in "
                    "the local cache; connect once to download it, or pass a model folder"
                ) from None
            raise ModelLoadError(f"{model_id}: cannot be loaded: {e}") from None

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        map_location: str = "cpu",
        config: dict | None = None,
        **model_kwargs,
    ) -> UNetGenerator:
        # Replaces the mixin's loader, which loads non-strictly and falls back to pickled weights.
        if config is None:
            # The mixin swallowed why config.json is missing; asking again gives the specific reason.
            resolve_file(
                model_id,
                CONFIG_NAME,
                revision=revision,
                cache_dir=cache_dir,
                token=token,
                local_files_only=local_files_only,
            )
            raise ModelLoadError(f"{model_id}: no readable {CONFIG_NAME} (is it a pix2pix-color model?)")
        if not isinstance(config, dict):
            raise ModelLoadError(f"{model_id}: {CONFIG_NAME} must hold a JSON object")
        try:
            model = cls(**model_kwargs)  # validates every value before any weight is allocated
        except (TypeError, ValueError) as e:
            raise ModelLoadError(f"{model_id}: invalid {CONFIG_NAME}: {e}") from None
        weights = resolve_file(
            model_id,
            WEIGHTS_NAME,
            revision=revision,
            cache_dir=cache_dir,
            force_download=force_download,
            token=token,
            local_files_only=local_files_only,
        )
        load_safetensors_strict(model, weights, device=map_location)
        return model.eval()

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this."""
        return 2**self.depth

    def forward(self, L: Tensor, hints: Tensor | None = None) -> Tensor:
        """The head's raw output: ab (B,2,H,W) in [-1,1], or bin logits (B,Q,H/2,W/2)."""
        out = self._trunk(L, hints)
        return out if self.head == "regression" else self.classifier(out)

    def logits_at(self, L: Tensor, hints: Tensor | None, pixels: Tensor) -> Tensor:
        """Training only (a classification head): the bin logits (N,Q) at `pixels`, flat indices into
        the B*(H/2)*(W/2) half-resolution positions. Training scores a random share of pixels this
        way: the head's logits are the largest tensor of the step."""
        if self.head != "classification":
            raise ValueError("logits_at is for a classification head")
        out = self._trunk(L, hints)
        rows = out.permute(0, 2, 3, 1).reshape(-1, out.shape[1]).index_select(0, pixels)
        return F.linear(rows, self.classifier.weight.flatten(1), self.classifier.bias)

    @property
    def pretrained_encoder(self) -> nn.Module | None:
        """The ImageNet-pretrained encoder module (training loads its weights and freezes it), or None."""
        return self.net.encoder if self.encoder != "none" else None

    def freeze_encoder(self, frozen: bool = True) -> None:
        """Training only: the pretrained encoder runs without autograd and with its BatchNorm
        statistics as pretrained (`EfficientUNet.freeze_encoder`); not saved in the config."""
        if self.pretrained_encoder is None:
            raise ValueError("this model has no pretrained encoder to freeze")
        self.net.freeze_encoder(frozen)

    def encoder_features(self, L: Tensor) -> list[Tensor]:
        """L (B,1,H,W) in [-1,1] -> the pretrained encoder's features at strides 2, 4, 8, 16 and 32
        (as timm's `forward_intermediates`): what the reference matching compares. ValueError for a
        model without a pretrained encoder."""
        if self.pretrained_encoder is None:
            raise ValueError("this model has no pretrained encoder")
        return self.pretrained_encoder.features(imagenet_input(L))

    def _trunk(self, L: Tensor, hints: Tensor | None) -> Tensor:
        """The checked inputs through the network up to the head: the regression output, or the
        half-resolution features (B,C,H/2,W/2) the classifier scores."""
        if L.ndim != 4 or L.shape[1] != 1:
            raise ValueError(f"expected L of shape (B,1,H,W), got {tuple(L.shape)}")
        if L.shape[-2] % self.multiple or L.shape[-1] % self.multiple:
            raise ValueError(f"H and W must be multiples of {self.multiple}, got {tuple(L.shape[-2:])}")
        if hints is not None and not self.hints:
            raise ValueError('this model takes no color hints (its config.json has no "hints": true)')
        if self.hints:
            if hints is None:
                hints = L.new_zeros(L.shape[0], HINT_CHANNELS, *L.shape[-2:])
            elif hints.shape != (L.shape[0], HINT_CHANNELS, *L.shape[-2:]):
                raise ValueError(
                    f"expected hints of shape {(L.shape[0], HINT_CHANNELS, *L.shape[-2:])}, got {tuple(hints.shape)}"
                )
            hints = hints.to(L.dtype)
        if self.encoder == "none":
            return self.net(torch.cat([L, hints], dim=1) if self.hints else L)
        out = self.net(L, hints)  # (B,C,H/2,W/2)
        if self.head == "regression":
            up = F.interpolate(self.regressor(out), size=L.shape[-2:], mode="bilinear", align_corners=False)
            return torch.tanh(up)
        return out

    def predict_ab(self, L: Tensor, hints: Tensor | None = None, *, temperature: float | None = None) -> Tensor:
        """L (B,1,H,W) [+ hints (B,3,H,W)] -> ab (B,2,H,W) in model scale, whatever the head."""
        return self.decode(self(L, hints), L.shape[-2:], temperature=temperature)

    def decode(
        self, out: Tensor, size: tuple[int, int], *, temperature: float | None = None, exp_weighted: bool = False
    ) -> Tensor:
        """The head's raw output (`forward`) -> ab (B,2,*size) in model scale: a classification head's
        bins by the annealed mean at `temperature` (default: the model's), upsampled from half
        resolution. The one decoding: inference, training's GAN step, calibration and the ONNX
        graph (`exp_weighted`: its kernel, see `ab_bins.annealed_mean`) all go through it."""
        if self.head == "regression":
            return out
        T = self.temperature if temperature is None else temperature
        ab = ab_bins.annealed_mean(out, T, exp_weighted=exp_weighted)
        return F.interpolate(normalize_ab(ab), size=tuple(size), mode="bilinear", align_corners=False)


# Generator sizes, beside the model (as DiT's DiT_XL_2): the architecture arguments of each, which the
# training presets and the tests take from here instead of retyping them.
GENERATOR_SIZES: dict[str, dict] = {
    "unet_256": dict(depth=8, base_channels=64, max_channels=512),  # pix2pix's own: 54,409,858 parameters
    "unet_small": dict(depth=7, base_channels=32, max_channels=256),  # the second/third default models: 10.5M
    "lite0_unet": dict(
        depth=5, base_channels=32, max_channels=256, encoder="efficientnet-lite0"
    ),  # 4.4M with hints and the bins
}


def generator(size: str, **kwargs) -> UNetGenerator:
    """A generator of a named size (`GENERATOR_SIZES`), other arguments as given:
    `generator("lite0_unet", head="classification", hints=True)`."""
    if size not in GENERATOR_SIZES:
        raise ValueError(f"size must be one of {', '.join(GENERATOR_SIZES)}, got {size!r}")
    return UNetGenerator(**{**GENERATOR_SIZES[size], **kwargs})


def _config_of(model_id: str, hub_kwargs: dict) -> object:
    keys = ("revision", "cache_dir", "token", "local_files_only")
    path = resolve_file(model_id, CONFIG_NAME, **{k: v for k, v in hub_kwargs.items() if k in keys})
    return json.loads(path.read_text(encoding="utf-8"))


class PatchDiscriminator(nn.Module):
    """(L (B,1,H,W), ab (B,2,H,W)) -> real/fake logits (B,1,h,w): with the default n_layers=3,
    (B,1,H/8-2,W/8-2), 30x30 for 256x256.

    The 70x70 PatchGAN: each logit sees a 70x70 receptive field. `n_layers` stride-2 convs from
    `base_channels` filters (doubling, capped at 8x), then a stride-1 conv and a 1-channel stride-1 conv.
    """

    def __init__(self, *, in_channels: int = 3, base_channels: int = 64, n_layers: int = 3):
        super().__init__()
        _check_int("n_layers", n_layers, 1, 8)
        _check_int("base_channels", base_channels, 1, MAX_CHANNELS)
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, base_channels, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, True),
        ]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(base_channels * prev, base_channels * mult, 4, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(base_channels * mult),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(base_channels * mult, 1, 4, stride=1, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, L: Tensor, ab: Tensor) -> Tensor:
        return self.net(torch.cat([L, ab], dim=1))


def init_weights(module: nn.Module, gain: float = 0.02) -> nn.Module:
    """The paper's initialisation: conv weights ~ N(0, 0.02), BatchNorm scale ~ N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
    return module


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
