"""Where the zoo keeps what it computes once: converted weights, rendered and resampled audio."""
import os
from pathlib import Path

__all__ = ["CACHE_ENV", "cache_dir"]

CACHE_ENV = "ZOO_CACHE_DIR"


def cache_dir(*parts):
    """$ZOO_CACHE_DIR (else ~/.cache/audio-zoo), joined with ``parts``, created on demand."""
    path = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "audio-zoo").expanduser().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
