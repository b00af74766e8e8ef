"""The transformer estimator: one Hugging Face encoder, one linear head per label field.

Weights are read only from safetensors files; ``make_tiny_base_model`` builds a small
local BERT (config and a tokenizer trained on given texts) for tests and benchmarks.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from btr.errors import ModelError, require
from btr.models.heads import _HeadsMixin, _targets, _texts, applies
from btr.schema import (
    HEADS,
    label_names,
)
from btr.settings import DEFAULT_BASE_MODEL, quiet_default

HEADS_FILE = "heads.safetensors"
ENCODER_DIR = "encoder"


class TransformerModel(_HeadsMixin, BaseEstimator):
    """A Hugging Face encoder with one linear classification head per label field.

    Parameters
    ----------
    base_model : str
        A hub checkpoint name (``bert-base-chinese``, ``xlm-roberta-base``) or a local
        directory holding a config, weights and tokenizer. Both go through
        ``AutoModel.from_pretrained`` and ``AutoTokenizer.from_pretrained``.
    max_length : int
        Tokens per text; longer texts are truncated (news leads carry the facts).
    epochs, batch_size, learning_rate, weight_decay, dropout : training settings.
    heads : tuple of str or None
        Heads to learn; default all of :data:`btr.schema.HEADS`.
    device : str or None
        ``"cuda"`` when available, else ``"cpu"``, unless given.
    random_state : int
        Seed for initialisation and shuffling.
    """

    def __init__(
        self,
        *,
        base_model: str = DEFAULT_BASE_MODEL,
        max_length: int = 256,
        epochs: int = 3,
        batch_size: int = 16,
        learning_rate: float = 5e-5,
        weight_decay: float = 0.01,
        dropout: float = 0.1,
        heads: tuple[str, ...] | None = None,
        device: str | None = None,
        random_state: int = 0,
        quiet: bool | None = None,
    ) -> None:
        self.base_model = base_model
        self.max_length = max_length
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.heads = heads
        self.device = device
        self.random_state = random_state
        self.quiet = quiet

    def _device(self) -> str:
        torch = require("torch", "transformers")
        return self.device or ("cuda" if torch.cuda.is_available() else "cpu")

    def _transformers(self):
        transformers = require("transformers", "transformers")
        if quiet_default(self.quiet):
            transformers.utils.logging.disable_progress_bar()
        return transformers

    def fit(self, X: Sequence[str], y: Any) -> TransformerModel:
        """Fine-tune the encoder and the heads; rows train only the heads that apply to them."""
        torch = require("torch", "transformers")
        transformers = self._transformers()
        from tqdm.auto import tqdm

        from btr.text import normalize

        texts = [normalize(t) for t in _texts(X)]
        heads = tuple(self.heads or HEADS)
        targets = _targets(y, heads)
        torch.manual_seed(self.random_state)
        device = self._device()
        try:
            self.tokenizer_ = transformers.AutoTokenizer.from_pretrained(self.base_model)
            self.encoder_ = transformers.AutoModel.from_pretrained(self.base_model)
        except OSError as err:
            raise ModelError(f"cannot load base model {self.base_model!r}: {err}") from err
        self.classes_ = {}
        index: dict[str, np.ndarray] = {}
        for head in heads:
            labels = targets[head]
            mask = applies(head, labels)
            classes = sorted({str(v) for v in labels[mask]})
            if not classes:
                raise ValueError(f"no row has an applicable {head!r} label")
            self.classes_[head] = classes
            index[head] = np.array(
                [classes.index(v) if m else -100 for v, m in zip(labels, mask, strict=True)]
            )
        hidden = self.encoder_.config.hidden_size
        self.heads_module_ = torch.nn.ModuleDict(
            {head: torch.nn.Linear(hidden, len(self.classes_[head])) for head in heads}
        )
        self.encoder_.to(device)
        self.heads_module_.to(device)
        params = list(self.encoder_.parameters()) + list(self.heads_module_.parameters())
        optimizer = torch.optim.AdamW(params, lr=self.learning_rate, weight_decay=self.weight_decay)
        steps = max(1, self.epochs * -(-len(texts) // self.batch_size))
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1 - step / steps))
        drop = torch.nn.Dropout(self.dropout)
        loss_fn = torch.nn.CrossEntropyLoss(ignore_index=-100)
        generator = torch.Generator().manual_seed(self.random_state)
        self.encoder_.train()
        bar = tqdm(total=steps, desc="fine-tuning", unit="batch", disable=quiet_default(self.quiet))
        for _ in range(self.epochs):
            order = torch.randperm(len(texts), generator=generator).tolist()
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                pooled = drop(self._pool([texts[i] for i in batch], device))
                loss = torch.zeros((), device=device)
                for head in heads:
                    target = torch.as_tensor(index[head][batch], device=device)
                    if (target != -100).any():
                        loss = loss + loss_fn(self.heads_module_[head](pooled), target)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                schedule.step()
                bar.update(1)
        bar.close()
        self.encoder_.eval()
        self.heads_ = {head: label_names(HEADS[head]) for head in heads}
        return self

    def _pool(self, texts: list[str], device: str):
        """Mean of the last hidden states over real tokens."""
        enc = self.tokenizer_(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(device)
        hidden = self.encoder_(
            input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]
        ).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def head_proba(self, X: Sequence[str], *, batch_size: int | None = None) -> dict[str, np.ndarray]:
        """Per head, ``(n, n_labels)`` probabilities; batches sorted by length, no gradients."""
        from sklearn.utils.validation import check_is_fitted

        torch = require("torch", "transformers")
        from btr.text import normalize

        check_is_fitted(self, "heads_module_")
        texts = [normalize(t) for t in _texts(X)]
        device = next(self.encoder_.parameters()).device
        size = batch_size or max(self.batch_size, 32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = {head: np.zeros((len(texts), len(classes))) for head, classes in self.classes_.items()}
        self.encoder_.eval()
        with torch.inference_mode():
            for start in range(0, len(order), size):
                batch = order[start : start + size]
                pooled = self._pool([texts[i] for i in batch], str(device))
                for head, layer in self.heads_module_.items():
                    out[head][batch] = torch.softmax(layer(pooled).float(), dim=-1).cpu().numpy()
        return {head: self._full(head, self.classes_[head], p) for head, p in out.items()}

    def save(self, path: Path) -> None:
        """Write ``encoder/`` (safetensors weights and tokenizer) and ``heads.safetensors``."""
        from safetensors.torch import save_file

        self.encoder_.save_pretrained(path / ENCODER_DIR)
        self.tokenizer_.save_pretrained(path / ENCODER_DIR)
        state = {
            f"{head}.{name}": tensor.detach().cpu().contiguous()
            for head, layer in self.heads_module_.items()
            for name, tensor in layer.state_dict().items()
        }
        save_file(state, str(path / HEADS_FILE))

    @classmethod
    def load(cls, path: Path, *, params: dict[str, Any], classes: dict[str, list[str]]) -> TransformerModel:
        """Rebuild a fitted model from a directory written by :meth:`save`."""
        torch = require("torch", "transformers")
        from safetensors.torch import load_file

        model = cls(**params)
        transformers = model._transformers()
        model.tokenizer_ = transformers.AutoTokenizer.from_pretrained(path / ENCODER_DIR)
        # safetensors only: a pytorch_model.bin in the directory is a pickle and never loaded
        model.encoder_ = transformers.AutoModel.from_pretrained(path / ENCODER_DIR, use_safetensors=True)
        model.encoder_.to(model._device()).eval()
        state = load_file(str(path / HEADS_FILE))
        hidden = model.encoder_.config.hidden_size
        model.heads_module_ = torch.nn.ModuleDict()
        for head, names in classes.items():
            layer = torch.nn.Linear(hidden, len(names))
            layer.load_state_dict({"weight": state[f"{head}.weight"], "bias": state[f"{head}.bias"]})
            model.heads_module_[head] = layer
        model.heads_module_.to(model._device())
        model.classes_ = {head: list(names) for head, names in classes.items()}
        model.heads_ = {head: label_names(HEADS[head]) for head in classes}
        return model


def make_tiny_base_model(
    out: str | Path, texts: Sequence[str], *, vocab_size: int = 3000, seed: int = 0
) -> Path:
    """A randomly initialised 2-layer BERT and a WordPiece tokenizer trained on ``texts``, saved to ``out``.

    For tests, benchmarks and offline demos: nothing is downloaded, and ``out``
    loads through the same ``from_pretrained`` path as a hub checkpoint.
    """
    torch = require("torch", "transformers")
    transformers = require("transformers", "transformers")
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

    from btr.text import normalize

    out = Path(out)
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(handle_chinese_chars=True, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(
        [normalize(t) for t in texts],
        trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=special, show_progress=False),
    )
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[(t, tok.token_to_id(t)) for t in ("[CLS]", "[SEP]")],
    )
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]", model_max_length=512,
    )  # fmt: skip
    fast.save_pretrained(out)
    torch.manual_seed(seed)
    config = transformers.BertConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=512,
    )  # fmt: skip
    transformers.BertModel(config).save_pretrained(out)
    return out
