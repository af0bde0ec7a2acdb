"""python -m train --dataset ... --output-dir ... --max-steps ... [--preset cpu-small] [--resume]"""

import sys

from .config import TrainError, parse_config
from .loop import NonFiniteLossError, train


def main(argv: list[str] | None = None) -> int:
    cfg = parse_config(argv)
    try:
        train(cfg)
    except (TrainError, NonFiniteLossError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted; continue with the same command plus --resume (output: {cfg.output_dir})", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
