"""labelscout: decide what to label.

Public API (re-exported names only):

* :func:`select`, :func:`embed`, :func:`inspect`, :func:`report` - the main jobs, as the CLI runs them.
* :func:`review` - the label-review UI, inline in a notebook (``labelscout review`` on the command line).
* :class:`Embedder`, :class:`EmbeddingSet` - embedding models and stored vectors.
* :class:`CoresetSelector`, :class:`RandomSelector` - selection strategies.
* :class:`Selection`, :class:`Issues` - result tables.
"""
__version__ = "0.1.0"

from .api import InspectResult, SelectResult, embed, inspect, select  # noqa: E402
from .embed.embedder import Embedder  # noqa: E402
from .embed.store import EmbeddingSet  # noqa: E402
from .errors import ConfigError, InputError, LabelscoutError, ModelWeightsMissing  # noqa: E402
from .results import Issues, Selection  # noqa: E402
from .strategies import CoresetSelector, RandomSelector  # noqa: E402

# Last, on purpose: importing the subpackage labelscout.report (done above through api)
# binds the name to the module; the public name is the function.
from .api import report  # noqa: E402
from .review import review  # noqa: E402

__all__ = [
    "select", "embed", "inspect", "report", "review", "SelectResult", "InspectResult", "Embedder", "EmbeddingSet", "CoresetSelector", "RandomSelector",
    "Selection", "Issues", "LabelscoutError", "ConfigError", "InputError", "ModelWeightsMissing", "__version__",
]
