"""The commented example written by ``evalkit init``."""

EXAMPLE_CONFIG = '''\
# evalkit.toml — checkpoints, judges and defaults for `evalkit compare`.
# Names in [checkpoints.NAME] and [judges.NAME] are what you type on the command line.

[store]
url = "sqlite:///evalkit.db"          # relative to this file; any SQLAlchemy URL works

# A checkpoint served by any OpenAI-compatible chat endpoint (vLLM, SGLang, TGI, Ollama,
# llama.cpp server, OpenAI). Start vLLM with e.g.:
#   vllm serve /ckpts/sft-v3 --served-model-name sft-v3 --port 8000
[checkpoints.sft-v3]
backend = "openai"
base_url = "http://127.0.0.1:8000/v1"
model = "sft-v3"
# api_key_env = "OPENAI_API_KEY"      # the NAME of the variable holding the key
max_concurrency = 64                  # requests in flight to this endpoint
timeout = 120                         # seconds per request
max_retries = 6                       # on 429/5xx/timeouts, exponential backoff + jitter
# system_prompt = "You are a helpful assistant."
sampling = { temperature = 0.0, max_tokens = 1024, seed = 0 }

[checkpoints.rlhf-r1]
backend = "openai"
base_url = "http://127.0.0.1:8001/v1"
model = "rlhf-r1"
sampling = { temperature = 0.0, max_tokens = 1024, seed = 0 }

# Responses generated elsewhere (e.g. on a cluster): one {"id": ..., "response": ...} per line,
# ids matching the pool's prompt ids.
# [checkpoints.dpo-r2]
# backend = "replay"
# path = "outputs/dpo-r2.jsonl"

# The LLM judge: an OpenAI-compatible endpoint and a template from evalkit's judges/
# ("pairwise": A / B / tie, "graded": A>>B … B>>A) or a path to your own template file.
[judges.default]
backend = "openai"
base_url = "https://api.openai.com/v1"
model = "gpt-4o"
api_key_env = "OPENAI_API_KEY"
template = "pairwise"
both_orders = true                    # judge each pair in both orders (position-bias control)
reask_invalid = true                  # re-ask once when the verdict cannot be read
max_concurrency = 32
sampling = { temperature = 0.0, max_tokens = 2048 }

[defaults]
judge = "default"
pool = "rlhf_prompts"                 # shipped with evalkit; `evalkit pool import` adds yours

# ---- optional sections (uncomment what you use; docs/ has each in full) --------------------

# The CI gate (`evalkit gate CANDIDATE`): docs/gate.md, docs/sequential-gate.md
# [gate]
# baseline = "promoted"               # or a checkpoint name
# margin = 0.02                       # a regression: a win rate credibly below 0.5 - margin
# max_mde = 0.05                      # a run that could not see a drop to 0.45 is inconclusive
# [gate.tags.category]                # per-tag rules
# safety = 0.0

# A panel of judges (`--judge panel`): docs/judging-modes.md
# [judges.panel]
# panel = ["default", "rm:skywork"]   # judge names; a reward model as "rm:NAME"
# rule = "majority"                   # or "mean", "unanimous"

# A reward model, to score answers and to judge (`--judge rm:skywork`): docs/reward-models.md
# [reward_models.skywork]             # a vLLM pooling server: vllm serve MODEL --runner pooling
# backend = "vllm"                    # or "tei", or "hf" (pip install 'evalkit[hf]')
# base_url = "http://127.0.0.1:8002"
# model = "Skywork-Reward-V2-Llama-3.1-8B"

# A prompt classifier for `evalkit pool annotate`: docs/curation.md
# [classifiers.tagger]
# base_url = "http://127.0.0.1:8000/v1"
# model = "Qwen2.5-72B-Instruct"
# taxonomy = "default"

# Evaluate every new checkpoint as it appears (`evalkit watch`): docs/watch.md
# [watch]
# chain = "step"
# poll_interval = 120
# [watch.sources.fleet]
# kind = "models"                     # GET {base_url}/models
# base_url = "http://127.0.0.1:8000/v1"
# include = ["rlhf-*"]
'''
