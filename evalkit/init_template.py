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
'''
