"""Training a classifier on in-memory feature arrays: seeded, class-weighted, early stopping.

Features are computed once per snapshot (decoding, log-mels, spectrum preprocessing are the
expensive part on a CPU); epochs then run from memory, with crop augmentation per epoch.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm


@dataclass(frozen=True)
class TrainConfig:
    arch: str
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 5
    """Epochs without a better validation loss before training stops."""
    min_epochs: int = 10
    """Epochs always run: small snapshots often sit on a plateau for the first few."""
    seed: int = 0
    device: str = "auto"
    augment: bool = True

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    state_dict: dict
    best_epoch: int
    history: list[dict] = field(default_factory=list)
    samples_seen: int = 0
    seconds: float = 0.0


def class_weights(labels: NDArray[np.int64], n_classes: int) -> NDArray[np.float32]:
    """Inverse-frequency weights, normalised to mean 1 over the classes present."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / n_classes, 0.0)
    present = counts > 0
    weights[present] /= weights[present].mean()
    return weights.astype(np.float32)


def seed_everything(seed: int) -> None:
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def fit(
    model,  # type: ignore[no-untyped-def]
    x_train: NDArray[np.float32],
    y_train: NDArray[np.int64],
    x_val: NDArray[np.float32],
    y_val: NDArray[np.int64],
    config: TrainConfig,
    *,
    n_classes: int,
    augment: Callable[[NDArray[np.float32], np.random.Generator], NDArray[np.float32]]
    | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ``model`` and return the weights of its best validation epoch.

    Raises
    ------
    ValueError
        No training items, or arrays that disagree in length.
    """
    import time

    import torch

    if len(x_train) == 0:
        raise ValueError("no training items: the snapshot's train split is empty")
    if len(x_train) != len(y_train) or len(x_val) != len(y_val):
        raise ValueError("features and labels disagree in length")
    from learner.networks import pick_device

    seed_everything(config.seed)
    device = pick_device(config.device)
    model = model.to(device)
    weights = torch.as_tensor(class_weights(y_train, n_classes), device=device)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    rng = np.random.default_rng(config.seed)
    x_val_t = torch.as_tensor(x_val[:, None], device=device)
    y_val_t = torch.as_tensor(y_val, device=device)
    best_loss, best_epoch, best_state, waited = math.inf, -1, None, 0
    result = TrainResult({}, -1)
    started = time.perf_counter()
    steps = math.ceil(len(x_train) / config.batch_size)
    bar = tqdm(total=config.epochs * steps, unit="batch", desc="train", disable=not progress)
    for epoch in range(config.epochs):
        model.train()
        order = rng.permutation(len(x_train))
        train_loss = 0.0
        for start in range(0, len(order), config.batch_size):
            index = order[start : start + config.batch_size]
            batch = x_train[index]
            if augment is not None and config.augment:
                batch = augment(batch, rng)
            inputs = torch.as_tensor(batch[:, None], device=device)
            targets = torch.as_tensor(y_train[index], device=device)
            optimiser.zero_grad(set_to_none=True)
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimiser.step()
            train_loss += loss.item() * len(index)
            result.samples_seen += len(index)
            bar.update(1)
        val_loss, val_accuracy = _validate(model, x_val_t, y_val_t, loss_fn, config.batch_size)
        record = {
            "epoch": epoch,
            "train_loss": train_loss / len(order),
            "val_loss": val_loss,
            "val_accuracy": val_accuracy,
        }
        result.history.append(record)
        bar.set_postfix(val_loss=f"{val_loss:.3f}", val_acc=f"{val_accuracy:.3f}")
        if val_loss < best_loss - 1e-6:
            best_loss, best_epoch, waited = val_loss, epoch, 0
            best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
        else:
            waited += 1
            if waited >= config.patience and epoch + 1 >= config.min_epochs:
                break
    bar.close()
    result.seconds = time.perf_counter() - started
    result.state_dict = best_state if best_state is not None else model.state_dict()
    result.best_epoch = best_epoch
    return result


def _validate(model, x, y, loss_fn, batch_size: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Validation loss and accuracy; with no validation items, the training loss is the guide."""
    import torch

    if len(x) == 0:
        return math.inf, float("nan")
    model.eval()
    total, correct = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(x), batch_size * 4):
            logits = model(x[start : start + batch_size * 4])
            target = y[start : start + batch_size * 4]
            total += float(loss_fn(logits, target)) * len(target)
            correct += int((logits.argmax(1) == target).sum())
    return total / len(x), correct / len(x)


def predict_logits(
    model, x: NDArray[np.float32], *, batch_size: int = 256, device: str = "auto"
) -> NDArray[np.float64]:  # type: ignore[no-untyped-def]
    """Logits of ``model`` for every row of ``x``, in inference mode."""
    import torch

    from learner.networks import pick_device

    target = pick_device(device)
    model = model.to(target).eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            batch = torch.as_tensor(x[start : start + batch_size, None], device=target)
            out.append(model(batch).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))
