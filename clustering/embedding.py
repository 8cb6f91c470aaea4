"""The reduced space the topics are found in: EVoC's node embedding of the shared kNN graph.

EVoC (the UMAP and HDBSCAN authors' embedding-vector clusterer) lays out the same fuzzy
neighbour graph UMAP does, but starts from a label-propagation layout of it and needs 50 epochs
with one negative sample each, not 200 to 500 with five. On the three benchmark sets
(bench/cluster.py, BENCHMARKS.md) the whole topic stage took 0.6 to 4.4 s where it took 4.4 to
14.5 s with UMAP, at a V-measure of the picked level from 0.005 lower to 0.014 higher. EVoC's
own pipeline is not used whole: its approximate kNN graph made it cluster differently with the
thread count, and qclust already has an exact (or IVF) graph from FAISS. Over that graph the
embedding is the same on 1 and 2 threads.

EVoC's noise level of 0.5 left more questions out than UMAP did (CLINC150: 9.5% against 7%,
the demo corpus: 20% against 15%); at 0.0 (seeds 0 and 1) CLINC150 had 7.8% and V 0.883
against 0.875, Banking77 11.8% and 0.755 against 0.749, the demo corpus 13% and 0.75 against
0.73, the titles 19% and 0.689 against 0.700.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from clustering.knn import KnnGraph

Floats = npt.NDArray[np.float32]
EPOCHS = 50  # EVoC's default
LABEL_PROP_ITERATIONS = 20  # EVoC's default
NOISE_LEVEL = 0.0  # EVoC has 0.5; 0.0 clustered more questions, at a V-measure as good (below)
DEFAULT_SEED = 0  # the layout is reproducible whatever the thread count, so a seed costs nothing


def node_embedding(
    graph: KnnGraph,
    vectors: Floats,
    *,
    n_components: int,
    n_neighbors: int,
    n_epochs: int | None = None,
    random_state: int | None = None,
    start: Floats | None = None,
) -> Floats:
    """`n_components` coordinates per row of `vectors`, from the first `n_neighbors` of each
    row's neighbours in `graph` (self first, as `knn_graph` gives them). `start`: a layout of
    the same rows (`n_components` wide) to refine, in place of EVoC's label-propagation one."""
    from evoc.graph_construction import neighbor_graph_matrix
    from evoc.label_propagation import label_propagation_init
    from evoc.node_embedding import node_embedding as layout

    k = min(n_neighbors, graph.k)
    # A row shorter than k (a tiny corpus) has -1 neighbours: point them at the row itself.
    indices = np.where(
        graph.indices[:, :k] >= 0, graph.indices[:, :k], np.arange(len(vectors))[:, None]
    )
    fuzzy = neighbor_graph_matrix(float(k), indices, graph.distances[:, :k], True)
    seed = DEFAULT_SEED if random_state is None else random_state
    state = np.random.RandomState(seed)
    if start is None:
        start = label_propagation_init(
            fuzzy,
            n_components=n_components,
            approx_n_parts=int(np.clip(8 * np.sqrt(len(vectors)), 256, 16_384)),
            random_scale=0.1,
            scaling=0.5,
            noise_level=NOISE_LEVEL,
            random_state=state,
            data=vectors,
            n_label_prop_iter=LABEL_PROP_ITERATIONS,
        )
    embedding = layout(
        fuzzy,
        n_components=n_components,
        n_epochs=n_epochs or EPOCHS,
        initial_embedding=np.ascontiguousarray(start, dtype=np.float32),
        negative_sample_rate=1.0,
        noise_level=NOISE_LEVEL,
        random_state=state,
        verbose=False,
        reproducible_flag=True,
        initial_alpha=0.1,
    )
    return np.asarray(embedding, dtype=np.float32)
