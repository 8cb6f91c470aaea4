"""The 2-D map of a corpus for the UI: the same kNN graph as the topics, laid out in 2-D.

Started from the topics' own layout (its two main axes), the 2-D layout needs few epochs to
settle. Where the topics were laid out by EVoC, so is the map: 200 of its epochs from that
start took 1.03 s on 20,000 StackOverflow titles where UMAP's 100 took 3.42 s, and kept more of
each question's 15 nearest neighbours among its 15 nearest on the map (0.187 against 0.168;
Banking77 0.502 against 0.511, CLINC150 0.629 against 0.635; bench/map_layout.py). Smaller
corpora, laid out by UMAP, keep UMAP's map: EVoC's kernels would be loaded for it alone.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from clustering.embedding import node_embedding
from clustering.knn import KnnGraph
from clustering.topics import SMALL_CORPUS, is_degenerate, umap_embedding

Floats = npt.NDArray[np.float32]
WARM_START_EPOCHS = 100  # UMAP's, from the topics' layout
EVOC_EPOCHS = 200  # EVoC's, from the topics' layout


def map_2d(
    graph: KnnGraph,
    vectors: Floats,
    *,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    n_epochs: int | None = None,
    random_state: int | None = None,
    start: Floats | None = None,
    evoc: bool = False,
) -> Floats:
    """One (x, y) per row; PCA for tiny corpora, all zeros when every vector is the same.

    `start`: an embedding of the same rows (the topics' layout) to begin the layout from;
    `evoc`: refine it with EVoC's node embedding (no `min_dist`: EVoC has none), not UMAP.
    """
    n = len(vectors)
    if is_degenerate(vectors):
        return np.zeros((n, 2), dtype=np.float32)
    if n < SMALL_CORPUS:
        centred = vectors - vectors.mean(axis=0)
        _, _, components = np.linalg.svd(centred, full_matrices=False)
        projected: Floats = np.asarray(centred @ components[:2].T, dtype=np.float32)
        if projected.shape[1] < 2:
            projected = np.hstack([projected, np.zeros((n, 1), dtype=np.float32)])
        return projected
    init = None
    if start is not None and start.shape[1] >= 2:
        init = principal_axes(start, 2)
        if evoc:
            return node_embedding(
                graph, vectors, n_components=2, n_neighbors=n_neighbors,
                n_epochs=n_epochs or EVOC_EPOCHS, random_state=random_state, start=init,
            )  # fmt: skip
        n_epochs = n_epochs or WARM_START_EPOCHS
    return umap_embedding(
        graph,
        vectors,
        n_components=2,
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        n_epochs=n_epochs,
        random_state=random_state,
        init=init,
    )


def principal_axes(points: Floats, dimensions: int) -> Floats:
    """`points` projected on their main axes and scaled to UMAP's init range (about +-10)."""
    centred = points - points.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    projected = centred @ axes[:dimensions].T
    scale = float(np.abs(projected).max()) or 1.0
    return np.asarray(10.0 * projected / scale, dtype=np.float32)


def neighbours_kept(xy: Floats, graph: KnnGraph, k: int = 15) -> float:
    """How much of the graph a map keeps: the mean share of each row's `k` nearest neighbours
    in `graph` (self excluded) that are among its `k` nearest on the map."""
    import faiss

    points = np.ascontiguousarray(xy, dtype=np.float32)
    index = faiss.IndexFlatL2(points.shape[1])
    index.add(points)
    _, nearest = index.search(points, k + 1)
    wanted = graph.indices[:, 1 : k + 1]
    return float(
        np.mean([len(set(a) & set(b[1:])) / k for a, b in zip(wanted, nearest, strict=True)])
    )
