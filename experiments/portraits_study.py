"""People in old photos, measured (issue 42): what the shipped model does with skin, on the photos of
people we may use: scikit-image's `astronaut` (public domain, NASA) and the ImageNet samples of
`photos-varied` whose class is a person (groom, scuba diver, ballplayer...; `label` holds the class;
the shipped gen7 never trained on `photos-varied`).

Skin is where the *real* photo's color lies in a skin locus of CIE L*a*b* (hue 25-75 degrees,
chroma 8-45, L* 25-92: light to dark skin under daylight; it also takes in some wood, sand and
tan clothing, which is why this is an approximation stated as one). On those pixels, per photo:

- dE2000 of the output against the real photo (the gray input's beside it);
- chroma ratio, ours / real;
- skin read as skin: the share of them whose output color lies in the same locus;
- the confidence map's mean there and over the whole photo (a face should not be called sure
  when the model paints it gray).

Paths: the photo's black-and-white version colorized; the same as a sepia print, restored
(`restore`: toned prints are colorized, the tone taken off).

    PYTHONPATH=. python experiments/portraits_study.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import color as skcolor
from skimage import data

from pix2pix_color import Colorizer, ColorizeRequest
from pix2pix_color.core.color import gray_version
from pix2pix_color.synthetic.fading import sepia_tone

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
PEOPLE = ("groom", "scuba", "diver", "ballplayer", "person", "people", "man", "woman", "boy", "girl", "bride")


def hue(lab: np.ndarray) -> np.ndarray:
    return np.degrees(np.arctan2(lab[..., 2], lab[..., 1])) % 360


def skin_locus(lab: np.ndarray) -> np.ndarray:
    """(H,W,3) L*a*b* -> (H,W) bool: colors in the skin locus."""
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    hue, chroma = np.degrees(np.arctan2(b, a)) % 360, np.hypot(a, b)
    return (hue >= 25) & (hue <= 75) & (chroma >= 8) & (chroma <= 45) & (L >= 25) & (L <= 92)


def people_photos() -> list[tuple[str, Image.Image]]:
    photos = [("astronaut", Image.fromarray(data.astronaut()))]
    from datasets import load_dataset

    for row in load_dataset(str(SHARED / "photos-varied"), split="train", streaming=True):
        label = row["label"].lower()
        words = set(label.removesuffix(".jpg").split("_")[1:])  # n00007846_160891_person -> {"160891", "person"}
        if row.get("kind") == "sample" and words & set(PEOPLE):
            photos.append((label, row["image"].convert("RGB")))
    return photos


def scores(out: Image.Image, real: np.ndarray, skin: np.ndarray, confidence) -> dict:
    lab_out = skcolor.rgb2lab(np.asarray(out.convert("RGB")))
    lab_real = skcolor.rgb2lab(real)
    lab_gray = skcolor.rgb2lab(np.repeat(gray_version(real)[..., None], 3, axis=2))
    chroma = lambda lab: np.hypot(lab[..., 1], lab[..., 2])[skin]  # noqa: E731
    record = {
        "de2000": float(skcolor.deltaE_ciede2000(lab_out, lab_real)[skin].mean()),
        "de2000_gray": float(skcolor.deltaE_ciede2000(lab_gray, lab_real)[skin].mean()),
        "chroma_ratio": float(chroma(lab_out).mean() / max(chroma(lab_real).mean(), 1e-6)),
        "skin_as_skin": float(skin_locus(lab_out)[skin].mean()),
        "hue_out": float(np.median(hue(lab_out)[skin])),
        "hue_real": float(np.median(hue(lab_real)[skin])),
    }
    if confidence is not None:
        record["confidence_skin"] = float(confidence.map[skin].mean())
        record["confidence_all"] = float(confidence.map.mean())
    return record


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "portraits.json"))
    p.add_argument("--min-skin", type=float, default=0.03, help="photos with less skin than this share are left out")
    args = p.parse_args()
    colorizer = Colorizer.from_pretrained()
    per_photo, rows = {}, {"colorize the gray version": [], "restore a sepia print": []}
    for name, photo in people_photos():
        real = np.asarray(photo)
        skin = skin_locus(skcolor.rgb2lab(real))
        if skin.mean() < args.min_skin:
            continue
        gray = Image.fromarray(gray_version(real), "L")
        plain = colorizer.run(ColorizeRequest(gray, confidence=True))
        toned = Image.fromarray(sepia_tone(real))
        restored = colorizer.run(ColorizeRequest(toned, restore=True, confidence=True))
        per_photo[name] = {"skin_share": float(skin.mean())}
        for path, output in zip(rows, (plain, restored)):
            record = scores(output.image, real, skin, output.confidence)
            rows[path].append(record)
            per_photo[name][path] = record
    summary = {path: {k: float(np.mean([r[k] for r in records])) for k in records[0]} for path, records in rows.items()}
    print(f"{len(per_photo)} photos of people: " + ", ".join(per_photo))
    header = ["dE2000 on skin (gray input's)", "chroma ratio", "skin read as skin", "median hue ours / real"]
    print(f"| path | {' | '.join(header)} | confidence on skin / all |")
    print("|---|---|---|---|---|---|")
    for path, s in summary.items():
        conf = f"{s['confidence_skin']:.2f} / {s['confidence_all']:.2f}" if "confidence_skin" in s else ""
        cells = [f"{s['de2000']:.1f} ({s['de2000_gray']:.1f})", f"{s['chroma_ratio']:.2f}", f"{s['skin_as_skin']:.2f}"]
        cells += [f"{s['hue_out']:.0f} / {s['hue_real']:.0f} deg", conf]
        print(f"| {path} | {' | '.join(cells)} |")
    Path(args.out).write_text(json.dumps({"summary": summary, "photos": per_photo}, indent=1))


if __name__ == "__main__":
    main()
