"""Block-diagonal covariance algebra: memory and time linear in the number of effects.

Effects of different trials are independent in every model `rma_mv` fits, so the marginal
covariance V + ZDZ' is block-diagonal by the connected groups of effects (the outermost cluster).
`BlockLayout` finds those groups and stacks blocks of equal size into (blocks, size, size) arrays,
so that factorisations run vectorised over many small blocks instead of on one k × k matrix.
`BlockCovariance` is a known sampling covariance matrix held the same way (what `vcalc` returns).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse import csgraph

__all__ = ["BlockCovariance", "BlockGroup", "BlockLayout", "coo_of", "not_positive_definite"]

_Array = NDArray[np.float64]
_Index = NDArray[np.intp]


@dataclass(frozen=True, eq=False)
class BlockCovariance:
    """A symmetric block-diagonal matrix (k × k) held as its blocks: `rows[b]` are the data rows of
    block b (in data order) and `blocks[b]` its matrix. Use it wherever a sampling covariance V goes."""

    k: int
    rows: tuple[_Index, ...]
    blocks: tuple[_Array, ...]

    @classmethod
    def from_blocks(cls, k: int, rows: Sequence[Any], blocks: Sequence[Any]) -> BlockCovariance:
        """Blocks given as (row indices, square matrix) pairs; rows must not overlap."""
        r = tuple(np.asarray(x, dtype=np.intp) for x in rows)
        b = tuple(np.asarray(x, dtype=float) for x in blocks)
        seen = np.zeros(k, dtype=bool)
        for idx, block in zip(r, b, strict=True):
            if block.shape != (idx.size, idx.size):
                raise ValueError(f"a block of {idx.size} rows needs a {idx.size} × {idx.size} matrix; "
                                 f"got {block.shape}")
            if np.any(seen[idx]):
                raise ValueError("blocks of a block-diagonal matrix must not share rows")
            seen[idx] = True
        return cls(k, r, b)

    def __repr__(self) -> str:
        sizes = [idx.size for idx in self.rows]
        return f"BlockCovariance(k={self.k}, {len(sizes)} blocks of 1 to {max(sizes, default=0)} effects)"

    def to_dense(self) -> _Array:
        """The full k × k matrix (for small k: inspection, export)."""
        out = np.zeros((self.k, self.k))
        for idx, block in zip(self.rows, self.blocks, strict=True):
            out[np.ix_(idx, idx)] = block
        return out

    def diagonal(self) -> _Array:
        """The variances (the matrix's diagonal)."""
        out = np.zeros(self.k)
        for idx, block in zip(self.rows, self.blocks, strict=True):
            out[idx] = np.diag(block)
        return out

    def subset(self, keep: _Index) -> BlockCovariance:
        """The matrix of the rows `keep` (in that order), as when studies with missing values are left out."""
        new_pos = np.full(self.k, -1, dtype=np.intp)
        new_pos[keep] = np.arange(keep.size)
        rows, blocks = [], []
        for idx, block in zip(self.rows, self.blocks, strict=True):
            inside = new_pos[idx] >= 0
            if inside.any():
                rows.append(new_pos[idx][inside])
                blocks.append(block[np.ix_(inside, inside)])
        return BlockCovariance(int(keep.size), tuple(rows), tuple(blocks))


def coo_of(V: Any, k: int) -> tuple[_Index, _Index, _Array]:
    """The nonzero entries (row, column, value) of a sampling covariance given as variances (k,),
    a k × k array, a scipy sparse matrix or a `BlockCovariance`."""
    if isinstance(V, BlockCovariance):
        if V.k != k:
            raise ValueError(f"V is {V.k} × {V.k} but there are {k} effects")
        ii = [np.repeat(idx, idx.size) for idx in V.rows]
        jj = [np.tile(idx, idx.size) for idx in V.rows]
        vv = [b.ravel() for b in V.blocks]
        i, j, v = (np.concatenate(x) if x else np.empty(0) for x in (ii, jj, vv))
        return i.astype(np.intp), j.astype(np.intp), v.astype(float)
    if sparse.issparse(V):
        m = sparse.coo_matrix(V)
        if m.shape != (k, k):
            raise ValueError(f"V is {m.shape[0]} × {m.shape[1]} but there are {k} effects")
        return m.row.astype(np.intp), m.col.astype(np.intp), m.data.astype(float)
    arr = np.asarray(V, dtype=float)
    if arr.ndim == 1:
        if arr.shape[0] != k:
            raise ValueError(f"V has {arr.shape[0]} sampling variances but there are {k} effects")
        idx = np.arange(k, dtype=np.intp)
        return idx, idx.copy(), arr
    if arr.shape != (k, k):
        raise ValueError(f"V must be a vector of {k} variances or a {k} × {k} matrix; got shape {arr.shape}")
    i, j = np.nonzero(arr)
    return i.astype(np.intp), j.astype(np.intp), arr[i, j]


@dataclass(frozen=True, eq=False)
class BlockGroup:
    """All blocks of one size s, stacked: `rows` is (blocks, s), the data rows of each block."""

    size: int
    rows: _Index
    block_ids: _Index

    def stack(self, x: _Array) -> _Array:
        """Rows of a vector (k,) or matrix (k, m) gathered into (blocks, s) or (blocks, s, m)."""
        return np.asarray(x[self.rows])


@dataclass(frozen=True, eq=False)
class BlockLayout:
    """The partition of the k effects into independent blocks, grouped by block size."""

    k: int
    block_of_row: _Index
    position_of_row: _Index
    groups: tuple[BlockGroup, ...]
    n_blocks: int

    @classmethod
    def connect(cls, k: int, pairs: tuple[_Index, _Index], memberships: Sequence[_Index]) -> BlockLayout:
        """Blocks = connected groups of rows: rows linked by a nonzero covariance (`pairs`) or sharing a
        level of any grouping factor (`memberships`, one integer code per row each)."""
        i, j = pairs
        off = i != j
        src, dst = [i[off]], [j[off]]
        nodes = k
        for codes in memberships:
            src.append(np.arange(k, dtype=np.intp))
            dst.append(nodes + codes)
            nodes += int(codes.max()) + 1 if codes.size else 0
        a = np.concatenate(src)
        b = np.concatenate(dst)
        graph = sparse.coo_matrix((np.ones(a.size), (a, b)), shape=(nodes, nodes))
        _, comp = csgraph.connected_components(graph, directed=False)
        return cls.from_labels(comp[:k])

    @classmethod
    def from_labels(cls, labels: Any) -> BlockLayout:
        """Rows with equal labels form one block; blocks ordered by their first row."""
        lab = np.asarray(labels)
        k = lab.shape[0]
        _, first, inverse = np.unique(lab, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        block = rank[inverse.ravel()].astype(np.intp)
        n_blocks = int(order.size)
        sizes = np.bincount(block, minlength=n_blocks)
        # rows sorted by block, data order inside each block
        by_block = np.argsort(block, kind="stable").astype(np.intp)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        position = np.empty(k, dtype=np.intp)
        position[by_block] = np.arange(k) - np.repeat(starts, sizes)
        groups = []
        for s in np.unique(sizes):
            ids = np.flatnonzero(sizes == s).astype(np.intp)
            rows = by_block[(starts[ids][:, None] + np.arange(s)[None, :])]
            groups.append(BlockGroup(int(s), rows.astype(np.intp), ids))
        return cls(k, block, position, tuple(groups), n_blocks)

    def scatter(self, i: _Index, j: _Index, v: _Array) -> list[_Array]:
        """Entries (i, j, v) of a matrix whose blocks lie within this layout's, stacked per group."""
        out = [np.zeros((g.rows.shape[0], g.size, g.size)) for g in self.groups]
        group_of_block = np.empty(self.n_blocks, dtype=np.intp)
        slot_of_block = np.empty(self.n_blocks, dtype=np.intp)
        for gi, g in enumerate(self.groups):
            group_of_block[g.block_ids] = gi
            slot_of_block[g.block_ids] = np.arange(g.block_ids.size)
        bi, bj = self.block_of_row[i], self.block_of_row[j]
        if np.any(bi != bj):
            raise ValueError("the covariance matrix links effects this layout keeps apart")
        gi_all = group_of_block[bi]
        for gi in range(len(self.groups)):
            sel = gi_all == gi
            np.add.at(out[gi], (slot_of_block[bi[sel]], self.position_of_row[i[sel]],
                                self.position_of_row[j[sel]]), v[sel])
        return out

    def same_level(self, codes: _Index) -> list[_Array]:
        """For a grouping factor (one code per row): stacked 0/1 blocks, 1 where two effects share a level."""
        out = []
        for g in self.groups:
            c = codes[g.rows]
            out.append((c[:, :, None] == c[:, None, :]).astype(float))
        return out


def not_positive_definite(stack: _Array) -> _Index:
    """Indices of the blocks in a (blocks, s, s) stack that are not positive definite."""
    ev = np.linalg.eigvalsh(stack)
    scale = np.maximum(np.abs(ev).max(axis=1), np.finfo(float).tiny)
    return np.flatnonzero(ev.min(axis=1) <= scale * 1e-14 * stack.shape[1]).astype(np.intp)
