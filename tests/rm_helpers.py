"""Helpers of the reward-model tests: tiny sequence-classification models built on the spot
(random weights, a WordLevel tokenizer trained in the test, saved to a temp folder; nothing
downloaded), scenarios with scripted reward models, and config tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CORPUS = ["the answer is four because two plus two is four",
          "explain it step by step and check the result",
          "hello world how are you today question about math law coding safety",
          "tell me about topic narrow it down please thanks"]
SPECIALS = ["[UNK]", "[PAD]", "<s>", "</s>", "[CLS]", "[SEP]", "<|user|>", "<|assistant|>",
            "<|system|>"]
CHAT_TEMPLATE = ("{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}"
                 "\n{% endfor %}")


def train_tokenizer(kind: str) -> Any:
    """A WordLevel tokenizer trained on ``CORPUS``: ``llama`` style (``<s> $A``, a chat
    template that writes the BOS) or ``bert`` style (``[CLS] $A [SEP] $B [SEP]``)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(CORPUS, trainers.WordLevelTrainer(special_tokens=SPECIALS))
    ids = {t: tok.token_to_id(t) for t in SPECIALS}
    if kind == "llama":
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A </s> $B:1",
            special_tokens=[("<s>", ids["<s>"]), ("</s>", ids["</s>"])])
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                       pad_token="[PAD]", unk_token="[UNK]")
        fast.chat_template = CHAT_TEMPLATE
        return fast
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])])
    return PreTrainedTokenizerFast(tokenizer_object=tok, cls_token="[CLS]", sep_token="[SEP]",
                                   pad_token="[PAD]", unk_token="[UNK]",
                                   model_input_names=["input_ids", "token_type_ids",
                                                      "attention_mask"])


def build_llama_rm(folder: Path, num_labels: int = 1, seed: int = 0) -> Path:
    """A 2-layer, width-32 Llama reward model with a chat template (random weights)."""
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    tok = train_tokenizer("llama")
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
                      max_position_embeddings=256, num_labels=num_labels,
                      pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                      eos_token_id=tok.eos_token_id)
    model = LlamaForSequenceClassification(cfg)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def build_bert_rm(folder: Path, num_labels: int = 3, seed: int = 0) -> Path:
    """A 2-layer, width-32 BERT question/answer classifier (text pairs; random weights)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    tok = train_tokenizer("bert")
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                     num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=256,
                     num_labels=num_labels, pad_token_id=tok.pad_token_id)
    model = BertForSequenceClassification(cfg)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def rm_table(name: str, **keys: Any) -> str:
    """A ``[reward_models.NAME]`` TOML table."""
    lines = [f"[reward_models.{name}]"]
    for key, value in keys.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, int | float):
            lines.append(f"{key} = {value}")
        else:
            lines.append(f'{key} = "{value}"')
    return "\n".join(lines) + "\n"


def with_rewards(scenario: dict[str, Any], models: dict[str, dict[str, Any]],
                 tei: str | None = None) -> dict[str, Any]:
    """``scenario`` plus scripted reward models."""
    table: dict[str, Any] = {"models": models}
    if tei:
        table["tei"] = tei
    return {**scenario, "rewards": table}
