"""How films get damaged, frame after frame: a damaged copy of a clean clip whose clean frames and
damage masks are known, to score film repair against (`pix2pix_color.video.film_repair`).

A film's damage differs from a print's in time, not in look:

- **Dust and specks** sit on one frame only (dirt passing through the gate), dark on a print from
  a dirty positive, light from dust on the negative; now and then a fibre or a hair.
- **Scratches** run along the film, so they stand on the frame, nearly vertical, over many
  consecutive frames, wandering sideways by a fraction of a pixel a frame; they come and go.
- **Flicker**: the exposure of the whole frame varies from frame to frame.

Drawn with `synthetic.damage`'s marks (anti-aliased, softened like a scan).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pix2pix_color.synthetic.damage import DamageStyle, apply_damage, draw_polyline, speck


@dataclass
class _Scratch:
    x: float
    drift: float  # px per frame
    width: float
    strength: float
    light: bool
    frames_left: int


@dataclass
class FilmDamage:
    """Stateful: `damage(frame)` for each clean frame (H,W) or (H,W,3) uint8 in order -> (clean,
    damaged, mask): the frame at this frame's exposure (flicker is not damage: a repair leaves it),
    the same with its dust and scratches, and the pixels they visibly moved (H,W) bool.

    `dust`: specks per frame per 256x256; `scratch_rate`: the chance that a new scratch starts on a
    frame; `flicker`: the spread of the exposure's gain from frame to frame."""

    rng: np.random.Generator
    dust: float = 3.0
    scratch_rate: float = 0.08
    flicker: float = 0.04
    width: float = 1.5
    scratches: list[_Scratch] = field(default_factory=list)

    def _new_scratch(self, w: int) -> _Scratch:
        rng = self.rng
        return _Scratch(
            x=float(rng.uniform(0.05, 0.95) * w),
            drift=float(rng.normal(0.0, 0.3)),
            width=float(self.width * rng.uniform(0.5, 1.2)),
            strength=float(rng.uniform(0.4, 0.9)),
            light=bool(rng.random() < 0.7),
            frames_left=int(rng.integers(8, 40)),
        )

    def _layers(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        rng, (h, w) = self.rng, shape
        light, dark = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
        style = DamageStyle(width=self.width, contrast=float(rng.uniform(0.5, 1.0)))
        for _ in range(int(rng.poisson(self.dust * h * w / 65_536.0))):
            speck(light if rng.random() < 0.4 else dark, rng, style)
        if rng.random() < self.scratch_rate:
            self.scratches.append(self._new_scratch(w))
        for s in self.scratches:
            ys = np.linspace(-2, h + 2, 24)
            xs = s.x + np.cumsum(rng.normal(0.0, 0.15, len(ys)))  # a slight sideways wander down the frame
            draw_polyline(light if s.light else dark, np.stack([xs, ys], axis=1), s.width, s.strength)
            s.x += s.drift + float(rng.normal(0.0, 0.2))
            s.frames_left -= 1
        self.scratches = [s for s in self.scratches if s.frames_left > 0 and 0 <= s.x < w]
        return light, dark

    def damage(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        gain = 1.0 + float(self.rng.normal(0.0, self.flicker))
        exposed = np.clip(frame.astype(np.float32) * gain, 0, 255).astype(np.uint8)
        light, dark = self._layers(frame.shape[:2])
        damaged, mask = apply_damage(exposed, light, dark, self.rng, soften=0.5)
        return exposed, damaged, mask
