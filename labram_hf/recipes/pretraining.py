"""Re-export of :mod:`labram_hf.training.pretraining` (the earlier import path of this recipe)."""

from ..training.pretraining import *  # noqa: F401,F403
from ..training.pretraining import __all__  # noqa: F401
