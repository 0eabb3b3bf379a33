"""``python -m zoo.describe`` (the catalogue as Markdown), kept from before it moved to
``zoo.models.catalogue``."""
from zoo.models.catalogue import build_catalogue, catalogue_markdown, count_flops

__all__ = ["build_catalogue", "catalogue_markdown", "count_flops"]

if __name__ == "__main__":
    print(catalogue_markdown(build_catalogue()))
