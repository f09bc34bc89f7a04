"""Re-export of :mod:`labram_hf.training.finetuning` (the earlier import path of this recipe)."""

from ..training.finetuning import *  # noqa: F401,F403
from ..training.finetuning import __all__  # noqa: F401
