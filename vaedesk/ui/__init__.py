"""Everything Qt: the window, the latent map, the drawing pad and the training worker.

The core (`vaedesk.core.api`, `data`, `model`, ...) never imports this package.
"""
