"""Re-export of :mod:`labram_hf.training.tokenizer` (the earlier import path of this recipe)."""

from ..training.tokenizer import *  # noqa: F401,F403
from ..training.tokenizer import __all__  # noqa: F401
