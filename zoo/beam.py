"""``python -m zoo.beam``, kept from before the pipeline moved to ``zoo.tagging.beam``."""
import sys

from zoo.tagging.beam import ZooTagger, build_pipeline, expand_input, main

__all__ = ["ZooTagger", "build_pipeline", "expand_input", "main"]

if __name__ == "__main__":
    sys.exit(main())
