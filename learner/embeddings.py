"""Penultimate embeddings and Monte-Carlo dropout on the head of any Loupe network.

Every network of ``learner.networks`` is an ``nn.Sequential`` that ends in one ``nn.Linear``
(the head); everything before it is the body, whose output is the item's embedding. Prelabel
runs the body once per item and gets, from the same pass, the logits (the head on the
embedding), the embedding the ``diverse`` strategy spreads over, and BALD's stochastic passes.

Monte-Carlo dropout is applied to the embedding only, not inside the body: ``T`` dropout masks on
the penultimate activations, each followed by the head. That costs one body pass plus a small
matrix product, and it works for every network, including LeNet-5, which has no dropout layer.
The masks are drawn once per :class:`HeadDropout` from a seed and shared by every item: each
item still sees ``T`` independent thinned heads, its BALD score is deterministic (a rerun
writes the same value), and the ``T`` passes fold into one ``(n, d) @ (d, T·C)`` product.

Embeddings are stored as float16 bytes. Up to :data:`EMBEDDING_WIDTH` dimensions they are kept
as they are (LeNet-5: 84, figure2 and resnet1d: 128, the audio CNN and resnet_small: 64); a wider
layer (resnet18_1d: 512) is projected to :data:`EMBEDDING_WIDTH` dimensions by a fixed Gaussian
random projection, which keeps Euclidean distances within a few per cent (Johnson-Lindenstrauss)
— what k-center greedy needs — at a quarter of the bytes.

Torch is imported inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import torch
    from torch import nn

MC_PASSES = 20
"""Stochastic passes for BALD: enough for a stable mutual information at a negligible cost."""

MC_DROPOUT = 0.2
"""Dropout rate on the embedding when the network has none of its own before the head. Low
enough that the thinned heads still agree with the trained one on clear items (a network
trained without dropout degrades quickly past ~0.3), high enough that items near the decision
boundary show disagreement."""

EMBEDDING_WIDTH = 128
"""Stored embeddings have at most this many dimensions (wider layers are projected)."""

_FLOAT16_MAX = float(np.finfo(np.float16).max)


def split_network(model: nn.Module) -> tuple[nn.Sequential, nn.Linear]:
    """The body (input to penultimate activations) and the head (the final ``nn.Linear``).

    The body shares the model's modules (no copy), so it follows its device and mode.

    Raises
    ------
    ValueError
        ``model`` is not an ``nn.Sequential`` ending in an ``nn.Linear``.
    """
    from torch import nn

    if not isinstance(model, nn.Sequential) or len(model) < 2:
        raise ValueError(f"expected an nn.Sequential network, got {type(model).__name__}")
    head = model[-1]
    if not isinstance(head, nn.Linear):
        raise ValueError(f"the network ends in {type(head).__name__}, not in an nn.Linear head")
    return nn.Sequential(*list(model)[:-1]), head


def forward_with_embeddings(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits, embeddings)`` of a batch in one pass: the body once, then the head.

    Raises
    ------
    ValueError
        As :func:`split_network`.
    """
    body, head = split_network(model)
    embeddings = body(x)
    return head(embeddings), embeddings


def dropout_rate(model: nn.Module) -> float:
    """The network's own dropout rate right before the head, else :data:`MC_DROPOUT`."""
    from torch import nn

    body, _ = split_network(model)
    last = body[-1] if len(body) else None
    if isinstance(last, nn.Dropout) and 0.0 < last.p < 1.0:
        return float(last.p)
    return MC_DROPOUT


@dataclass(frozen=True)
class HeadDropout:
    """``T`` thinned copies of a head, one per dropout mask, stacked for one matrix product.

    Build with :meth:`of`; call :meth:`probabilities` on a batch of embeddings.
    """

    weights: Any
    """``(d, T·C)`` tensor: column block ``t`` is the head's weight with mask ``t``, rescaled."""
    bias: Any
    """``(T·C,)`` tensor: the head's bias, repeated per pass."""
    passes: int
    n_classes: int
    rate: float

    @classmethod
    def of(
        cls,
        model: nn.Module,
        *,
        passes: int = MC_PASSES,
        rate: float | None = None,
        seed: int = 0,
    ) -> HeadDropout:
        """Draw ``passes`` masks (rate: the network's own, else :data:`MC_DROPOUT`) from ``seed``.

        Raises
        ------
        ValueError
            ``passes < 1``, a rate outside ``[0, 1)``, or a network without a linear head.
        """
        import torch

        if passes < 1:
            raise ValueError(f"passes must be at least 1, got {passes}")
        rate = dropout_rate(model) if rate is None else float(rate)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"the dropout rate must lie in [0, 1), got {rate}")
        _, head = split_network(model)
        weight = head.weight.detach()  # (C, d)
        n_classes, width = weight.shape
        generator = torch.Generator().manual_seed(seed)
        keep = (torch.rand(passes, width, generator=generator) >= rate).to(weight.dtype)
        keep = (keep / (1.0 - rate)).to(weight.device)  # inverted dropout, as nn.Dropout does
        thinned = weight[None, :, :] * keep[:, None, :]  # (T, C, d)
        bias = head.bias.detach() if head.bias is not None else torch.zeros_like(weight[:, 0])
        return cls(
            thinned.reshape(passes * n_classes, width).T.contiguous(),
            bias.repeat(passes),
            passes,
            n_classes,
            rate,
        )

    def logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        """``(T, n, C)`` logits of the thinned heads on ``(n, d)`` embeddings."""
        flat = embeddings.to(self.weights.dtype) @ self.weights + self.bias
        return flat.reshape(-1, self.passes, self.n_classes).transpose(0, 1)

    def probabilities(
        self, embeddings: torch.Tensor, temperature: float = 1.0
    ) -> NDArray[np.float64]:
        """``(T, n, C)`` calibrated class probabilities: softmax of each pass's logits over the
        version's temperature.

        Raises
        ------
        ValueError
            A temperature that is not positive.
        """
        import torch

        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        logits = self.logits(embeddings).double() / temperature
        return torch.softmax(logits, dim=-1).cpu().numpy()


def projection(width: int, target: int = EMBEDDING_WIDTH, seed: int = 0) -> NDArray[np.float32]:
    """A fixed ``(width, target)`` Gaussian random projection, scaled to keep distances."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((width, target)) / np.sqrt(target)).astype(np.float32)


def compact(
    embeddings: NDArray[np.floating], width: int = EMBEDDING_WIDTH, seed: int = 0
) -> NDArray[np.float32]:
    """Embeddings of at most ``width`` dimensions: narrower ones as they are, wider ones
    through :func:`projection` (the same matrix for every batch of a width and seed)."""
    points = np.asarray(embeddings, dtype=np.float32)
    if points.ndim != 2:
        raise ValueError(f"embeddings must have shape (n, d), got {points.shape}")
    if points.shape[1] <= width:
        return points
    return points @ projection(points.shape[1], width, seed)


def encode_embedding(vector: NDArray[np.floating] | Sequence[float]) -> bytes:
    """One embedding as float16 bytes (little-endian), values clipped to float16's range.

    Raises
    ------
    ValueError
        Not one-dimensional, or not finite.
    """
    values = np.asarray(vector, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"an embedding is one-dimensional, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("an embedding must be finite")
    return np.clip(values, -_FLOAT16_MAX, _FLOAT16_MAX).astype("<f2").tobytes()


def encode_embeddings(embeddings: NDArray[np.floating]) -> list[bytes]:
    """Each row of an ``(n, d)`` array as :func:`encode_embedding` bytes (one conversion)."""
    points = np.asarray(embeddings, dtype=np.float64)
    if points.ndim != 2:
        raise ValueError(f"embeddings must have shape (n, d), got {points.shape}")
    if not np.all(np.isfinite(points)):
        raise ValueError("embeddings must be finite")
    rows = np.clip(points, -_FLOAT16_MAX, _FLOAT16_MAX).astype("<f2")
    return [row.tobytes() for row in rows]


def decode_embeddings(blobs: Sequence[bytes]) -> NDArray[np.float32]:
    """``(n, d)`` float32 from :func:`encode_embedding` bytes (``(0, 0)`` for none).

    Raises
    ------
    ValueError
        A missing blob, or blobs of different lengths (different widths).
    """
    if not blobs:
        return np.zeros((0, 0), dtype=np.float32)
    if any(blob is None for blob in blobs):
        raise ValueError("a suggestion has no stored embedding")
    sizes = {len(blob) for blob in blobs}
    if len(sizes) != 1 or next(iter(sizes)) % 2:
        raise ValueError(f"embeddings of different or odd byte lengths: {sorted(sizes)}")
    joined = np.frombuffer(b"".join(bytes(blob) for blob in blobs), dtype="<f2")
    return joined.reshape(len(blobs), -1).astype(np.float32)
