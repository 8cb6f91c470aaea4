"""Parameters of a clustering run, validated before any work starts."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from clustering.embedding import DEFAULT_SEED
from clustering.errors import ParameterError
from clustering.sampled import DEFAULT_SAMPLE, MIN_SAMPLE
from clustering.topics import Granularity, Selection, TopicClusterer


@dataclass(frozen=True, kw_only=True)
class ClusterParams:
    min_cluster_size: int | None = None  # None: chosen per corpus (see `granularity`)
    granularity: Granularity = "auto"  # coarser or finer than the most coherent level
    min_samples: int | None = None  # None: min_cluster_size, at most topics.MAX_MIN_SAMPLES
    selection: Selection = "eom"
    n_neighbors: int = 15
    n_components: int = 5
    duplicate_threshold: float | None = None  # None: the corpus's threshold
    make_map: bool = True
    join_outliers: bool = True  # outliers as close to a topic's centre as its members join it
    # Above twice this many questions, topics are fitted on a seeded sample of this many and
    # the rest placed by their sampled neighbours' vote (clustering.sampled); 0: never.
    topic_sample: int = DEFAULT_SAMPLE
    # Seeded by default: the same corpus and parameters give the same clusters, at no cost
    # measured (the demo corpus's topic fit, UMAP's layout single-threaded when seeded: 2.0 s
    # seeded, 2.1 s not).
    random_state: int = DEFAULT_SEED

    def topic_clusterer(self) -> TopicClusterer:
        return TopicClusterer(
            n_neighbors=self.n_neighbors,
            n_components=self.n_components,
            min_cluster_size=self.min_cluster_size,
            min_samples=self.min_samples,
            selection=self.selection,
            random_state=self.random_state,
            granularity=self.granularity,
        )

    def validate(self) -> None:
        self.topic_clusterer().validate()
        if self.duplicate_threshold is not None and not 0.0 < self.duplicate_threshold <= 1.0:
            raise ParameterError(
                f"duplicate threshold must be in (0, 1], not {self.duplicate_threshold}"
            )
        if self.topic_sample and self.topic_sample < MIN_SAMPLE:
            raise ParameterError(
                f"topic sample must be 0 (never sample) or at least {MIN_SAMPLE}, "
                f"not {self.topic_sample}"
            )

    @property
    def knn_k(self) -> int:
        """Neighbours per point in the shared graph: enough for the layouts and duplicate groups."""
        return max(self.n_neighbors, 16)

    def as_record(self) -> dict[str, Any]:
        return asdict(self)
