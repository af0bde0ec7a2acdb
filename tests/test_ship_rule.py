"""The ship rule (train.ship_rule): better colors, PSNR kept, never below gray; small differences are ties."""

from __future__ import annotations

import json

from train.ship_rule import decide, main


def _scores(psnr=25.0, hit=0.70, chroma=0.80, hq_psnr=21.0, hq_hit=0.30, hq_chroma=0.60, general_psnr=21.5):
    return {
        "validation@192 (auto)": {"psnr": psnr, "gray_psnr": 23.4, "color_hit": hit, "chroma_ratio": chroma},
        "photos-hq@192 (auto)": {"psnr": hq_psnr, "gray_psnr": 20.1, "color_hit": hq_hit, "chroma_ratio": hq_chroma},
        "photos-hq@512": {"psnr": hq_psnr - 0.3, "gray_psnr": 20.1, "color_hit": hq_hit, "chroma_ratio": hq_chroma},
        "general@192 (auto)": {"psnr": general_psnr, "gray_psnr": 18.4, "color_hit": 0.5, "chroma_ratio": 0.6},
    }


SHIPPED = _scores()


def test_better_colors_with_psnr_within_the_margin_ship():
    decision = decide(_scores(psnr=24.75, hit=0.72, hq_chroma=0.65), SHIPPED)
    assert decision.ships and len(decision.wins) == 2 and not decision.losses


def test_a_lower_rate_on_either_set_or_too_much_psnr_lost_does_not_ship():
    assert not decide(_scores(hit=0.75, hq_hit=0.29), SHIPPED).ships
    lost = decide(_scores(hit=0.75, psnr=24.6), SHIPPED)
    assert not lost.ships and "more than 0.3 dB below" in lost.losses[0]


def test_differences_under_the_tie_thresholds_are_ties_not_losses_or_wins():
    # 0.004 lower in a rate is a tie; a 0.004 gain alone is nothing to ship for.
    assert decide(_scores(hit=0.75, hq_hit=0.296), SHIPPED).ships
    nothing = decide(_scores(hit=0.704, chroma=0.796), SHIPPED)
    assert not nothing.ships and "nothing to ship for" in nothing.losses[0]
    assert decide(_scores(hit=0.75, psnr=24.685), SHIPPED).ships  # 0.315 dB: within margin + tie


def test_below_gray_anywhere_does_not_ship():
    decision = decide(_scores(hit=0.8, general_psnr=18.3), SHIPPED)
    assert not decision.ships and "below gray" in decision.losses[0]


def test_the_command_says_why_and_exits_by_the_decision(tmp_path, capsys):
    path = tmp_path / "scores.json"
    path.write_text(json.dumps({"new": _scores(hit=0.6), "old": SHIPPED}))
    assert main([str(path), "--candidate", "new", "--shipped", "old"]) == 1
    out = capsys.readouterr().out
    assert "worse:  validation: color_hit 0.600 < 0.700" in out and "new does not ship" in out
    assert main([str(path), "--candidate", "gen9", "--shipped", "old"]) == 2
    assert "has no scores for 'gen9'" in capsys.readouterr().err
