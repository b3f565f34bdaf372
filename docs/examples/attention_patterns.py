"""Figure of the five attention patterns, from ``make_pattern(...).to_dense()``.

Writes ``docs/images/attention_patterns.png`` and prints, for each pattern, the
keys per row and the number of layers after which every position has received
information from every earlier one (the receptive field of Theorem 1 in the
paper).

    python docs/examples/attention_patterns.py
"""

from pathlib import Path

IMAGES = Path(__file__).resolve().parents[1] / "images"  # docs/images

# --8<-- [start:example]
import matplotlib.pyplot as plt
import torch

from sktime_logsparse.nn import KINDS, make_pattern

L, SUB_LEN = 64, 16  # sequence length; subsequence length of the restart kinds


def layers_to_full_reach(mask: torch.Tensor) -> int | None:
    """Layers after which every position has seen every earlier position."""
    step = mask.to(torch.float32)
    reach, target = step.clone(), torch.ones_like(step).tril()
    for n in range(1, mask.shape[0] + 1):
        if torch.equal(reach > 0, target > 0):
            return n
        reach = (reach @ step).clamp(max=1.0)
    return None  # the restart kinds never cross their subsequence boundaries


fig, axes = plt.subplots(1, len(KINDS), figsize=(3.0 * len(KINDS), 3.4))
for ax, kind in zip(axes, KINDS, strict=True):
    pattern = make_pattern(kind, L, sub_len=SUB_LEN)
    mask = pattern.to_dense()  # (L, L) bool: mask[l, m] is True if l attends to m
    per_row = mask.sum().item() / L
    layers = layers_to_full_reach(mask)
    print(
        f"{kind:>13}: {per_row:5.1f} keys per row on average "
        f"({per_row / (L + 1) * 2:4.0%} of causal attention); "
        + (
            f"every earlier position reached after {layers} layers"
            if layers
            else "earlier subsequences never reached"
        )
    )
    ax.imshow(mask.numpy(), cmap="Blues", interpolation="nearest")
    ax.set_title(f"{kind}\n{per_row:.1f} keys per row", fontsize=10)
    ax.set_xlabel("attended position m")
    ax.set_xticks([0, L // 2, L - 1])
    ax.set_yticks([0, L // 2, L - 1])
axes[0].set_ylabel("position l")
fig.tight_layout()
# --8<-- [end:example]
fig.savefig(IMAGES / "attention_patterns.png", dpi=110)
