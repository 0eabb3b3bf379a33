"""Back-ends: how the front-end's latent map becomes a fixed-size embedding."""
