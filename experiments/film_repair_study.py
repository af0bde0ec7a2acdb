"""Film repair, measured (issue 42): clips cut from real photos (a camera that pans, one that stands
still), gray or sepia-toned, damaged frame after frame by `pix2pix_color.synthetic.film_damage`
(fresh dust every frame, scratches that stand on the frame for many frames, exposure flicker), with
fixed seeds, then repaired and scored in L* against the clean clip:

- damage left: mean |dL*| over the true damage, as a share of the damaged input's;
- undamaged moved: mean |dL*| over the pixels that were not damaged;
- flicker added: on the pixels damaged in a frame or the one before, the mean |dL*| between the two
  frames (aligned by the known camera motion) beyond the clean clip's own change there: what a
  viewer sees as a shimmering fill (0 for a fill as steady as the picture).

Methods: the damaged input; the photo repair frame by frame (`repair_photo`); the film repair
(`FilmRepair`: the mask and the fill carried along the motion).

    PYTHONPATH=. python experiments/film_repair_study.py --limit 8 --frames 24
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from pix2pix_color.io.photo_sets import photos_from_folder
from pix2pix_color.repair.repair import LIGHTNESS, repair_photo
from pix2pix_color.synthetic.fading import sepia_tone
from pix2pix_color.synthetic.film_damage import FilmDamage
from pix2pix_color.video.film_repair import repair_film

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
FRAME = (360, 640)  # h, w
MOTIONS = {"pan": (3, 1), "still": (0, 0)}  # camera motion, px per frame (dx, dy)


def L_of(pixels: np.ndarray) -> np.ndarray:
    gray = pixels if pixels.ndim == 2 else np.asarray(Image.fromarray(pixels).convert("L"))
    return LIGHTNESS[gray] * 100.0


def clip(photo: Image.Image, frames: int, motion: tuple[int, int], toned: bool) -> list[np.ndarray]:
    """`frames` crops of FRAME from the photo, the window moving by `motion` a frame."""
    h, w = FRAME
    dx, dy = motion
    need = (w + dx * frames, h + dy * frames)
    scale = max(need[0] / photo.width, need[1] / photo.height)
    size = (max(need[0], round(photo.width * scale)), max(need[1], round(photo.height * scale)))
    big = photo.convert("L").resize(size)
    gray = np.asarray(big)
    if toned:
        gray = np.asarray(sepia_tone(Image.fromarray(gray).convert("RGB")))
    return [np.ascontiguousarray(gray[t * dy : t * dy + h, t * dx : t * dx + w]) for t in range(frames)]


def flicker(out: list[np.ndarray], clean: list[np.ndarray], masks: list[np.ndarray], motion) -> float:
    """Mean over frame pairs of |d_out - d_clean| on pixels damaged in either frame, d the change of
    L* from frame t-1 (moved by the camera motion) to frame t."""
    dx, dy = motion
    h, w = FRAME
    total, count = 0.0, 0
    for t in range(1, len(out)):
        # pixel (y, x) of frame t shows what (y + dy, x + dx) showed in frame t-1
        cur = (slice(0, h - dy), slice(0, w - dx))
        prev = (slice(dy, h), slice(dx, w))
        d_out = L_of(out[t])[cur] - L_of(out[t - 1])[prev]
        d_clean = L_of(clean[t])[cur] - L_of(clean[t - 1])[prev]
        where = masks[t][cur] | masks[t - 1][prev]
        total += float(np.abs(d_out - d_clean)[where].sum())
        count += int(where.sum())
    return total / max(count, 1)


def score(method, frames: list[np.ndarray], seed: int, motion) -> dict:
    film = FilmDamage(np.random.default_rng(seed))
    clean, damaged, masks = zip(*(film.damage(f) for f in frames))
    out = method(list(damaged))
    err_in = err_out = moved = 0.0
    n_dmg = n_clean = 0
    for c, d, o, m in zip(clean, damaged, out, masks):
        Lc = L_of(c)
        err_in += float(np.abs(L_of(d) - Lc)[m].sum())
        err_out += float(np.abs(L_of(o) - Lc)[m].sum())
        moved += float(np.abs(L_of(o) - Lc)[~m].sum())
        n_dmg, n_clean = n_dmg + int(m.sum()), n_clean + int((~m).sum())
    return {
        "damage_left": err_out / max(err_in, 1e-9),
        "undamaged_moved": moved / max(n_clean, 1),
        "flicker_added": flicker(out, list(clean), list(masks), motion),
        "damaged_share": n_dmg / (n_dmg + n_clean),
    }


def per_frame(frames):
    return [np.asarray(repair_photo(Image.fromarray(f)).image) for f in frames]


def carried(frames):
    return [out for out, _ in repair_film(frames)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--limit", type=int, default=8)
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "film_repair_photos-hq.json"))
    args = p.parse_args()
    methods = {"damaged input": lambda f: f, "photo repair, frame by frame": per_frame, "film repair": carried}
    rows: dict[str, dict[str, list]] = {}
    photos = list(photos_from_folder(SHARED / "photos-hq", args.limit))
    for k, photo in enumerate(tqdm(photos, desc="clips")):
        for motion_name, motion in MOTIONS.items():
            frames = clip(photo, args.frames, motion, toned=k % 3 == 2)
            for name, method in methods.items():
                record = score(method, frames, seed=1000 + k, motion=motion)
                for key, value in record.items():
                    rows.setdefault(f"{motion_name}: {name}", {}).setdefault(key, []).append(value)
    summary = {name: {k: round(float(np.mean(v)), 4) for k, v in r.items()} for name, r in rows.items()}
    print("| clip: method | damage left | undamaged moved L* | flicker added L* | damaged share |")
    print("|---|---|---|---|---|")
    for name, s in summary.items():
        cells = [f"{s['damage_left']:.3f}", f"{s['undamaged_moved']:.3f}", f"{s['flicker_added']:.2f}"]
        print(f"| {name} | {' | '.join(cells)} | {s['damaged_share']:.4f} |")
    record = {"clips": len(photos) * len(MOTIONS), "frames": args.frames, **summary}
    Path(args.out).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
