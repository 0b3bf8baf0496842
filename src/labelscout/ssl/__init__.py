"""Self-supervised training of embedding networks on the user's own images.

One module per method (:mod:`.simclr`, :mod:`.swav`, :mod:`.autoencoder`), batched
tensor augmentations in :mod:`.views`, in-memory training data in :mod:`.data`, pair
samplers (which images are positives) in :mod:`.samplers`, and the loop in
:mod:`.trainer`. :func:`train_model` is the one-call entry point.
"""
from .autoencoder import AutoEncoder
from .data import ImageData, load_image_folder
from .samplers import InstancePairSampler, PairSampler
from .simclr import SimCLR, nt_xent_loss
from .swav import SwAV, sinkhorn_knopp, swav_loss
from .trainer import METHODS, SSLTrainer, train_model
from .views import ViewAugment, ViewConfig

__all__ = [
    "train_model", "SSLTrainer", "METHODS", "SimCLR", "SwAV", "AutoEncoder", "nt_xent_loss", "swav_loss",
    "sinkhorn_knopp", "ViewConfig", "ViewAugment", "ImageData", "load_image_folder", "PairSampler",
    "InstancePairSampler",
]
