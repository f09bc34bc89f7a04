"""The fixed numbers of LaBraM's input contract, in one place.

LaBraM was pre-trained on EEG resampled to 200 Hz and cut into one-second patches of 200 samples; the temporal
embedding of the original models has 16 rows (at most 16 patches, i.e. 16 s, per channel). The model configuration
(:class:`labram_hf.LaBraMConfig`) carries its own copies because the modeling files are self-contained remote code;
everything else in labram-hf reads these.

Standard library only (shipped as remote code beside the feature extractor).
"""

from __future__ import annotations

#: Sampling rate LaBraM was trained at (Hz).
SAMPLING_RATE: float = 200.0
#: Samples per patch (one second at :data:`SAMPLING_RATE`).
PATCH_SIZE: int = 200
#: Rows of the original temporal embedding: the longest input, in patches, without ``interpolate_pos_encoding``.
MAX_TIME_PATCHES: int = 16
#: Default window length of prepared datasets and of file inference (seconds).
DEFAULT_WINDOW_SECONDS: float = 10.0
