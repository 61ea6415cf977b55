"""The bundled models' cards, read without torch: each model's name, architecture, latent
size, test metrics and the commands that made it, as `vaedesk info` prints them and
Help › About the bundled models shows them."""

from __future__ import annotations

import json
from typing import Any

from vaedesk.core import paths
from vaedesk.core.config import VAEConfig


def bundled_cards() -> list[tuple[str, dict[str, Any] | None]]:
    """(name, card) of each bundled model, the default first; None for a card that
    cannot be read."""
    folder = paths.weights_dir()
    default = paths.bundled_weights().name.removesuffix(".safetensors")
    out: list[tuple[str, dict[str, Any] | None]] = []
    for path in sorted(folder.glob("*.card.json"), key=lambda p: (p.name != f"{default}.card.json", p.name)):
        try:
            card = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            card = None
        out.append((path.name.removesuffix(".card.json"), card if isinstance(card, dict) else None))
    return out


def describe(name: str, card: dict[str, Any] | None) -> str:
    """A few lines on one model: what it is, how it does on the test set, how it was made."""
    if card is None:
        return f"{name}\n  its card cannot be read"
    what = str(card.get("model", "a model"))
    if isinstance(card.get("config"), dict):
        try:
            config = VAEConfig.from_dict(card["config"])  # with the defaults of older files
        except (TypeError, ValueError):
            config = None
        if config is not None:
            prior = f"mixture of {config.components} Gaussians" if config.prior == "mog" else config.prior
            what = f"{config.arch} VAE, {config.latent_dim}-D latent, {prior} prior"
    lines = [f"{name}{' (the default)' if name + '.safetensors' == paths.BUNDLED_WEIGHTS_NAME else ''}"]
    lines.append(f"  {what}")
    lines.append(f"  test set: {_metrics(card)}")
    commands = _commands(card)
    for i, command in enumerate(commands):
        lines.append(f"  {'made by' if i == 0 else 'then'}: {command}")
    return "\n".join(lines)


def describe_bundled() -> str:
    return "\n\n".join(describe(name, card) for name, card in bundled_cards())


def _metrics(card: dict[str, Any]) -> str:
    m = card.get("test_metrics")
    if not isinstance(m, dict):
        return "not measured"
    parts = []
    if "neg_elbo" in m:
        parts.append(f"-ELBO {m['neg_elbo']:.2f} nats (recon {m['recon']:.2f} + KL {m['kl']:.2f})")
    parts += [
        f"IWAE-{k[6:]} {v:.2f}" for k, v in m.items() if k.startswith("iwae_k") and not k.endswith("_se")
    ]
    if "knn5_accuracy" in m:
        parts.append(f"latent 5-NN {100 * m['knn5_accuracy']:.2f} %")
    if "accuracy" in m:
        parts.append(f"accuracy {100 * m['accuracy']:.2f} %")
    binarized = (card.get("options") or {}).get("binarize")
    return ", ".join(parts) + (" (binarized)" if binarized else "") + f" on {m.get('n_test')} images"


def _commands(card: dict[str, Any]) -> list[str]:
    """The commands that made the model, first stage first (a card keeps the card of the
    weights it started from)."""
    commands: list[str] = []
    stage: dict[str, Any] | None = card
    while isinstance(stage, dict):
        if stage.get("command"):
            commands.insert(0, str(stage["command"]))
        previous = stage.get("init_card")
        if not isinstance(previous, dict) and stage.get("init_command"):
            commands.insert(0, str(stage["init_command"]))
        stage = previous if isinstance(previous, dict) else None
    return commands
