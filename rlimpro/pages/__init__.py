"""Pages to look at and listen to: a synth's sound map and a run's report (self-contained HTML).

- :mod:`rlimpro.pages.soundmap`: ``map@synth``, the lookup table in 2D (PCA, t-SNE, UMAP), a click
  plays the point, overlays of a corpus track's path and the agent's path.
- :mod:`rlimpro.pages.report`: ``report@synth``, training curves, the evaluation table, the duet's
  trajectories and an audio player with a synced playhead.

Parts: :mod:`~rlimpro.pages.subgrid` (which points a map shows), :mod:`~rlimpro.pages.projection`
(scikit-learn / umap-learn, cached for resume), :mod:`~rlimpro.pages.clips` (Pd clips, ogg),
:mod:`~rlimpro.pages.paths` (overlays), :mod:`~rlimpro.pages.curves` (TensorBoard scalars),
:mod:`~rlimpro.pages.duetdata` (a replay's arrays), :mod:`~rlimpro.pages.html` (templates).
The projections need the ``pages`` extra (``pip install 'rlimpro[pages]'``).
"""

from rlimpro.pages.settings import PageSettings, page_settings

__all__ = ["PageSettings", "page_settings"]
