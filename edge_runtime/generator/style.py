"""``--style auto``: the style context token inferred from the prompt by the model itself.

The prompt's last bars (at most :data:`MAX_INFER_TOKENS` tokens of body) are scored once
per trained style (``STYLE:classical``, ``folk``…, not ``any``) with the style token at the
end of the header; the style whose token gives the lowest negative log-likelihood of the
body is chosen (maximum likelihood over the styles, equal priors). No prompt, or a model
without style tokens, gives ``any`` (resp. no style token).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from nomad_muse.generator import vocab as V
from nomad_muse.generator.tokenizer import HEADER_LEN, header_len

#: body tokens scored per style (the prompt's last bars that fit)
MAX_INFER_TOKENS = 256
#: the styles ``auto`` chooses among (``any`` is the fallback, never inferred)
INFERRED_STYLES = tuple(s for s in V.STYLES if s != "any")


def resolve_style(style: str | None) -> str | None:
    """Check a ``--style`` value: ``auto`` (returned as is), one of :data:`vocab.STYLES`, or None."""
    if style is None or style == "auto":
        return style
    V.style_token(style)  # ParameterError naming the value
    return style


def prompt_nll(gen, tokens: Sequence[int]) -> float:
    """Mean NLL (nats/token) of ``tokens`` after its header, one model step per token, state reset first."""
    toks = [t for t in tokens if t != V.EOS]
    start = header_len(toks)
    gen.model.reset_state()
    total, n = 0.0, 0
    for i, t in enumerate(toks[:-1]):
        logits = gen._step(t).astype(np.float64)
        if i + 1 >= start:
            m = logits.max()
            total += m + math.log(np.exp(logits - m).sum()) - logits[toks[i + 1]]
            n += 1
    return total / n if n else float("nan")


def infer_style(gen, tokens: Sequence[int]) -> tuple[str, dict[str, float]]:
    """(style, NLL per style) for a prompt stream; ``("any", {})`` when there is nothing to score."""
    toks = [t for t in tokens if t != V.EOS]
    head, body = toks[:HEADER_LEN], toks[header_len(toks):]
    if not gen.has_style or len(body) < 2:
        return "any", {}
    if len(body) > MAX_INFER_TOKENS:
        bars = [i for i, t in enumerate(body) if t == V.BAR and len(body) - i <= MAX_INFER_TOKENS]
        body = body[bars[0]:] if bars else body[-MAX_INFER_TOKENS:]
    scores = {s: prompt_nll(gen, head + [V.style_token(s)] + body) for s in INFERRED_STYLES}
    gen.model.reset_state()
    return min(scores, key=scores.get), scores
