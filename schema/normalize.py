"""One alias normaliser for every write and every read.

"IL-1β", "IL1beta" and "il-1 beta" are one name; so are "IL-6R" and "il6r". Names are compared
after Unicode compatibility folding, case folding, spelling out Greek letters, and dropping
whitespace, hyphens (of every dash kind) and underscores. Other punctuation is kept: "IL-1/IL-6"
and "IL-1 IL-6" stay different names.
"""

from __future__ import annotations

import re
import unicodedata

# Lower-case Greek letters after casefold (capital letters fold to these; final sigma to sigma).
_GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta",
    "η": "eta", "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu",
    "ξ": "xi", "ο": "omicron", "π": "pi", "ρ": "rho", "σ": "sigma", "ς": "sigma", "τ": "tau",
    "υ": "upsilon", "φ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega",
    # Variant forms that NFKC keeps distinct.
    "ϐ": "beta", "ϑ": "theta", "ϕ": "phi", "ϰ": "kappa", "ϱ": "rho", "ϵ": "epsilon",
}  # fmt: skip
_GREEK_RE = re.compile("|".join(map(re.escape, _GREEK)))

# Whitespace, underscores and the dash family (hyphen-minus, hyphen, non-breaking hyphen,
# figure dash, en and em dash, minus sign, small and full-width hyphen-minus).
_DROPPED_RE = re.compile(r"[\s_\-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d]+")


def normalize_name(name: str) -> str:
    """The comparison key of a name, alias or symbol."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    # "µ" (micro sign) folds to Greek mu under NFKC, so it spells out like the rest.
    spelled = _GREEK_RE.sub(lambda m: _GREEK[m.group(0)], folded)
    return _DROPPED_RE.sub("", spelled)


def clean_label(label: str) -> str:
    """A display label as stored: trimmed, inner whitespace runs folded to one space."""
    return " ".join(unicodedata.normalize("NFC", label).split())
