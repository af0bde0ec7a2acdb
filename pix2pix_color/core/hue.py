"""What counts as a colored pixel and as the right hue: the thresholds the metrics score with and
the confidence map predicts, in one place below both (the confidence map estimates the chance of
the metrics' hue hit, so the two must never drift apart).
"""

from __future__ import annotations

# The lenient hue hit (`evaluation.metrics.hue_hit_rate`, kept beside the strict color hit).
HUE_REAL_CHROMA = 20.0  # a real pixel counts as colorful from this C*ab on
HUE_OUTPUT_CHROMA = 10.0  # an output pixel must reach this C*ab to count as colored at all
HUE_TOLERANCE_DEG = 45.0
# The strict color hit (issue 40): a tighter hue and enough of the real chroma.
COLOR_TOLERANCE_DEG = 30.0
COLOR_MIN_CHROMA_SHARE = 0.5
WARM_HUES = (10.0, 100.0)  # degrees of atan2(b*, a*): red, orange, yellow
COOL_HUES = (130.0, 290.0)  # green-cyan, cyan, blue
