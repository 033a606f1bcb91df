"""Deterministic, realistic benchmark data: `python -m bench.generate --claims N --database URL`.

Everything comes from one random.Random(seed), consumed in a fixed order, so a seed and a size
always give the same data (ids may differ between databases; content does not).

- vocabulary (small: ~300 targets with aliases and a few CURIEs, ~100 interventions acting on
  them, a condition hierarchy, three organisms, ~100 outcomes) through the ordinary store
  commands, so it is validated and audited like a curator's work;
- sources (~N/5, most with DOIs; blog posts and lay summaries retell an earlier paper), cohorts
  and claims through api.store.bulk (validated, one audit event per row as the commands record),
  drawn and written in chunks of CHUNK_SOURCES sources with their claims, so memory is bounded
  by the chunk. By default the whole run is one import, one transaction: all or nothing, and the
  import builds the indexes of the (empty) tables once at the end, which is what makes it fast.

With --block-sources N each block of N sources is its own transaction instead. An interrupted run
(killed, or the machine went down) is then resumed by running the same command again: the
vocabulary is one transaction and so is each block, so the database holds the vocabulary and a
whole number of blocks, and the next run draws (without writing) what those already hold, then
writes the rest. The result equals an uninterrupted run with the same seed and block size
(tests/test_faults.py kills it mid-way to check). Only the first block of a new database has its
indexes built at the end; later blocks update them row by row, several times slower. Without
--block-sources an interrupted run has written no claims, and the next run writes them all.

The data is skewed like real literature: targets, interventions and outcomes are drawn from
Zipf-like distributions (IL-6R, the hottest target, has ~15% of all claims: tens of thousands at a
million), directions are mixed so conflicts exist, quotes use a Zipf-distributed domain vocabulary
so text search has common and rare words.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import gc
import itertools
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import sqlalchemy as sa

from api.settings import Settings, SettingsError
from api.store import migrations
from api.store.bulk import AuditMode, BulkImport, bulk_import
from api.store.commands.users import system_user
from api.store.commands.vocabulary import (
    ActionInput,
    ConditionInput,
    InterventionInput,
    OrganismInput,
    OutcomeInput,
    TargetInput,
    create_condition,
    create_intervention,
    create_organism,
    create_outcome,
    create_target,
)
from api.store.db import Database
from schema.enums import (
    ClaimStatus,
    EffectDirection,
    EvidenceType,
    Modality,
    Role,
    SourceKind,
    Stance,
    TargetAction,
)
from schema.records import ClaimRecord, CohortRecord, EvidenceRecord, SourceRecord, StatisticsRecord
from schema.tables import Claim, Condition, Intervention, Organism, Outcome, Source, Target, User
from schema.users import Actor

T = TypeVar("T")

DEFAULT_CLAIMS = 1_000_000
DEFAULT_SEED = 20240611
GENERATOR_USER = "bench-generator"
# Sources drawn and written at a time, with their cohorts and claims (15,000 claims): memory is
# bounded by this, and the data depends on it (a chunk's claims cite the chunk's sources).
CHUNK_SOURCES = 3000
# Sources per transaction; None: the whole run is one (see the module doc).
BLOCK_SOURCES: int | None = None
CLAIMS_PER_SOURCE = 5
TARGET_COUNT = 300
INTERVENTION_COUNT = 100
OUTCOME_COUNT = 100

# What the scenarios ask about (bench.scenarios): the hottest target, by an alias, and a
# two-word text query of middling selectivity (both words are common, together much rarer).
HOT_TARGET = "IL-6R"
HOT_TARGET_ALIAS = "il6r"
TEXT_QUERY = "microglial remyelination"


class GenerateError(Exception):
    """The database cannot take generated data as asked; the message says why and what to do."""


# --- weighted choices ---------------------------------------------------------------------


class Weighted:
    """Items with weights; pick() is one random() and a bisect."""

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        if len(items) != len(weights) or not items:
            raise ValueError("items and weights must be non-empty and of one length")
        self.items = list(items)
        self.cum = list(itertools.accumulate(weights))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> Any:
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.total)]


def zipf(items: Sequence[T], s: float = 1.0, offset: float = 1.0) -> Weighted:
    """Rank r (from 0) weighted 1 / (r + offset) ** s: a few hot items, a long tail."""
    return Weighted(items, [1.0 / (rank + offset) ** s for rank in range(len(items))])


def _weights(w: Weighted) -> list[float]:
    return [b - a for a, b in zip([0.0, *w.cum[:-1]], w.cum, strict=True)]


def weighted(pairs: Sequence[tuple[T, float]]) -> Weighted:
    return Weighted([p[0] for p in pairs], [p[1] for p in pairs])


# --- vocabulary ---------------------------------------------------------------------------

ORGANISMS = [
    OrganismInput(9606, "Homo sapiens", "human", ["humans", "patients"]),
    OrganismInput(10090, "Mus musculus", "mouse", ["mice"]),
    OrganismInput(10116, "Rattus norvegicus", "rat", ["rats"]),
]

# Parents before children.
CONDITIONS = [
    ConditionInput("multiple sclerosis", None, ["MS"], ["MONDO:0005301", "MeSH:D009103"]),
    ConditionInput("clinically isolated syndrome", "MS", ["CIS"]),
    ConditionInput("relapsing multiple sclerosis", "MS", ["relapsing MS", "RMS"]),
    ConditionInput("relapsing-remitting multiple sclerosis", "RMS", ["RRMS"], ["MeSH:D020529"]),
    ConditionInput("progressive multiple sclerosis", "MS", ["progressive MS"], ["MeSH:D020528"]),
    ConditionInput("secondary progressive multiple sclerosis", "progressive MS", ["SPMS"]),
    ConditionInput("primary progressive multiple sclerosis", "progressive MS", ["PPMS"]),
    ConditionInput("experimental autoimmune encephalomyelitis", "MS", ["EAE"], ["MeSH:D004681"]),
    ConditionInput("neuromyelitis optica spectrum disorder", None, ["NMOSD", "NMO"], ["MeSH:D009471"]),
    ConditionInput("MOG antibody-associated disease", None, ["MOGAD"]),
    ConditionInput("optic neuritis", None, ["ON"]),
    ConditionInput("amyotrophic lateral sclerosis", None, ["ALS"], ["MONDO:0004976"]),
    ConditionInput("SOD1-G93A ALS model", "ALS", ["SOD1 mice"]),
    ConditionInput("healthy", None, ["healthy controls", "HC"]),
]

# (symbol, name, kind, aliases, xrefs), hottest first: rank decides how many claims a target gets.
REAL_TARGETS: list[tuple[str, str, str, list[str], list[str]]] = [
    ("IL-6R", "interleukin 6 receptor subunit alpha", "gene product",
     ["IL6R", "CD126", "interleukin 6 receptor"], ["HGNC:6019", "UniProt:P08887"]),
    ("MIF", "macrophage migration inhibitory factor", "gene product",
     ["migration inhibitory factor"], ["HGNC:7097", "UniProt:P14174"]),
    ("PDE4", "phosphodiesterase 4", "protein family", ["type 4 phosphodiesterase"], []),
    ("TNF-α", "tumor necrosis factor", "gene product", ["TNF", "TNFA"], ["HGNC:11892"]),
    ("CD20", "membrane spanning 4-domains A1", "gene product", ["MS4A1"], ["HGNC:7315"]),
    ("LIF", "leukemia inhibitory factor", "gene product", ["leukaemia inhibitory factor"], ["HGNC:6596"]),
    ("PIM1", "Pim-1 proto-oncogene, serine/threonine kinase", "gene product", ["PIM1 kinase"], ["HGNC:8986"]),
    ("IL-17A", "interleukin 17A", "gene product", ["IL17A", "IL-17"], ["HGNC:5981"]),
    ("IL-1β", "interleukin 1 beta", "gene product", ["IL1B"], ["HGNC:5992"]),
    ("IFN-γ", "interferon gamma", "gene product", ["IFNG"], ["HGNC:5438"]),
    ("S1PR1", "sphingosine-1-phosphate receptor 1", "gene product", ["EDG1"], ["HGNC:3165"]),
    ("BTK", "Bruton tyrosine kinase", "gene product", ["Bruton's tyrosine kinase"], ["HGNC:1133"]),
    ("CD52", "CD52 molecule", "gene product", ["CAMPATH-1 antigen"], ["HGNC:1804"]),
    ("VLA-4", "very late antigen 4", "complex", ["integrin alpha4beta1", "ITGA4"], []),
    ("IL-2RA", "interleukin 2 receptor subunit alpha", "gene product", ["CD25", "IL2RA"], ["HGNC:6008"]),
    ("CXCL13", "C-X-C motif chemokine ligand 13", "gene product", ["BLC"], ["HGNC:10639"]),
    ("NfL", "neurofilament light chain", "gene product", ["NEFL"], ["HGNC:7739"]),
    ("GFAP", "glial fibrillary acidic protein", "gene product", [], ["HGNC:4235"]),
    ("AQP4", "aquaporin 4", "gene product", ["aquaporin-4"], ["HGNC:637"]),
    ("MOG", "myelin oligodendrocyte glycoprotein", "gene product", [], ["HGNC:7197"]),
    ("TREM2", "triggering receptor expressed on myeloid cells 2", "gene product", [], ["HGNC:17761"]),
    ("CSF1R", "colony stimulating factor 1 receptor", "gene product", ["CD115"], ["HGNC:2433"]),
    ("C5", "complement C5", "gene product", ["complement component 5"], ["HGNC:1331"]),
    ("FcRn", "neonatal Fc receptor", "gene product", ["FCGRT"], ["HGNC:3621"]),
    ("CD19", "CD19 molecule", "gene product", ["B4"], ["HGNC:1633"]),
    ("IL-23", "interleukin 23", "complex", ["IL23"], []),
    ("IL-12", "interleukin 12", "complex", ["IL12"], []),
    ("GM-CSF", "colony stimulating factor 2", "gene product", ["CSF2"], ["HGNC:2434"]),
    ("TGF-β1", "transforming growth factor beta 1", "gene product", ["TGFB1"], ["HGNC:11766"]),
    ("IL-10", "interleukin 10", "gene product", ["IL10"], ["HGNC:5962"]),
    ("NLRP3", "NLR family pyrin domain containing 3", "gene product", ["cryopyrin"], ["HGNC:16400"]),
    ("STAT3", "signal transducer and activator of transcription 3", "gene product", [], ["HGNC:11364"]),
    ("JAK1", "Janus kinase 1", "gene product", [], ["HGNC:6190"]),
    ("SOD1", "superoxide dismutase 1", "gene product", [], ["HGNC:11179"]),
    ("TDP-43", "TAR DNA binding protein", "gene product", ["TARDBP"], ["HGNC:11571"]),
    ("C9orf72", "C9orf72-SMCR8 complex subunit", "gene product", [], ["HGNC:28337"]),
    ("DRP1", "dynamin 1 like", "gene product", ["DNM1L"], ["HGNC:2973"]),
    ("microglia", "microglial cell", "cell type", ["microglial cells"], ["CL:0000129"]),
    ("B cells", "B lymphocyte", "cell type", ["B lymphocytes"], ["CL:0000236"]),
    ("Th17 cells", "T-helper 17 cell", "cell type", ["Th17"], ["CL:0000899"]),
    ("regulatory T cells", "regulatory T cell", "cell type", ["Tregs"], ["CL:0000815"]),
    ("NF-κB pathway", "NF-kappa B signalling", "pathway", ["NF-kB signaling"], []),
]  # fmt: skip

# (name, kind, aliases, [(target symbol, action)]), most studied first.
REAL_INTERVENTIONS: list[tuple[str, str, list[str], list[tuple[str, TargetAction]]]] = [
    ("tocilizumab", "biologic", ["Actemra", "RoActemra"], [("IL-6R", TargetAction.INHIBITS)]),
    ("ocrelizumab", "biologic", ["Ocrevus"], [("CD20", TargetAction.BINDS)]),
    ("ibudilast", "drug", ["MN-166"], [("PDE4", TargetAction.INHIBITS), ("MIF", TargetAction.INHIBITS)]),
    ("satralizumab", "biologic", ["Enspryng"], [("IL-6R", TargetAction.INHIBITS)]),
    ("natalizumab", "biologic", ["Tysabri"], [("VLA-4", TargetAction.INHIBITS)]),
    ("fingolimod", "drug", ["Gilenya", "FTY720"], [("S1PR1", TargetAction.MODULATES)]),
    ("rolipram", "drug", [], [("PDE4", TargetAction.INHIBITS)]),
    ("sarilumab", "biologic", ["Kevzara"], [("IL-6R", TargetAction.INHIBITS)]),
    ("rituximab", "biologic", ["Rituxan", "MabThera"], [("CD20", TargetAction.BINDS)]),
    ("alemtuzumab", "biologic", ["Lemtrada"], [("CD52", TargetAction.BINDS)]),
    ("evobrutinib", "drug", [], [("BTK", TargetAction.INHIBITS)]),
    ("eculizumab", "biologic", ["Soliris"], [("C5", TargetAction.INHIBITS)]),
    ("inebilizumab", "biologic", ["Uplizna"], [("CD19", TargetAction.BINDS)]),
    ("infliximab", "biologic", ["Remicade"], [("TNF-α", TargetAction.INHIBITS)]),
    ("secukinumab", "biologic", ["Cosentyx"], [("IL-17A", TargetAction.INHIBITS)]),
    ("siponimod", "drug", ["Mayzent"], [("S1PR1", TargetAction.MODULATES)]),
    ("daclizumab", "biologic", ["Zinbryta"], [("IL-2RA", TargetAction.INHIBITS)]),
    ("ustekinumab", "biologic", ["Stelara"],
     [("IL-23", TargetAction.INHIBITS), ("IL-12", TargetAction.INHIBITS)]),
    ("recombinant LIF", "biologic", ["rLIF"], [("LIF", TargetAction.ACTIVATES)]),
    ("AZD1208", "drug", [], [("PIM1", TargetAction.INHIBITS)]),
    ("ISO-1", "drug", [], [("MIF", TargetAction.INHIBITS)]),
    ("MCC950", "drug", ["CRID3"], [("NLRP3", TargetAction.INHIBITS)]),
    ("tofacitinib", "drug", ["Xeljanz"], [("JAK1", TargetAction.INHIBITS)]),
    ("tofersen", "genetic manipulation", ["Qalsody"], [("SOD1", TargetAction.INHIBITS)]),
    ("efgartigimod", "biologic", ["Vyvgart"], [("FcRn", TargetAction.INHIBITS)]),
    ("PLX5622", "drug", [], [("CSF1R", TargetAction.INHIBITS)]),
    ("roflumilast", "drug", ["Daliresp"], [("PDE4", TargetAction.INHIBITS)]),
    ("interleukin-2 low dose", "biologic", ["low-dose IL-2"],
     [("regulatory T cells", TargetAction.ACTIVATES)]),
]  # fmt: skip

_BIOMARKERS = [
    "MIF", "IL-6", "soluble IL-6R", "NfL", "GFAP", "CXCL13", "IL-17", "TNF", "LIF", "IL-10",
    "IgG index", "chitinase-3-like 1", "sCD14", "osteopontin", "MMP-9", "CCL2", "IL-1β",
    "GM-CSF", "sTREM2", "complement C3",
]  # fmt: skip
_OTHER_OUTCOMES = [
    ("disease activity", "clinical course"), ("relapse rate", "clinical course"),
    ("disability progression", "clinical course"), ("EDSS worsening", "clinical course"),
    ("MRI lesion load", "clinical course"), ("brain atrophy", "clinical course"),
    ("time to first relapse", "clinical course"), ("survival", "clinical course"),
    ("ALSFRS-R decline", "clinical course"), ("visual acuity", "clinical course"),
    ("EAE clinical score", "clinical course"), ("onset of EAE", "clinical course"),
    ("gadolinium-enhancing lesions", "clinical course"), ("cognitive decline", "clinical course"),
    ("remyelination", "cellular process"), ("demyelination", "cellular process"),
    ("mitophagy", "cellular process"), ("microglial activation", "cellular process"),
    ("astrocyte reactivity", "cellular process"), ("T cell proliferation", "cellular process"),
    ("Th17 differentiation", "cellular process"), ("B cell depletion", "cellular process"),
    ("oligodendrocyte survival", "cellular process"), ("axonal loss", "cellular process"),
    ("neuroinflammation", "cellular process"), ("blood-brain barrier permeability", "cellular process"),
    ("motor neuron survival", "cellular process"), ("synaptic loss", "cellular process"),
    ("Treg expansion", "cellular process"), ("immune cell infiltration", "cellular process"),
    ("pro-inflammatory cytokines", "molecular interaction"), ("IL-6 signalling", "molecular interaction"),
    ("STAT3 phosphorylation", "molecular interaction"), ("NF-κB activation", "molecular interaction"),
    ("complement activation", "molecular interaction"), ("antibody titres", "molecular interaction"),
    ("cAMP levels", "molecular interaction"), ("mitochondrial fission", "molecular interaction"),
    ("MS incidence", "epidemiology"), ("NMOSD risk", "epidemiology"), ("ALS risk", "epidemiology"),
    ("infection risk", "epidemiology"),
]  # fmt: skip


def outcome_inputs(count: int = OUTCOME_COUNT) -> list[OutcomeInput]:
    """~100 outcomes: CSF and serum levels of the biomarkers, then clinical and cellular ones."""
    out = [OutcomeInput(name, kind) for name, kind in _OTHER_OUTCOMES]
    for fluid in ("CSF", "serum", "plasma"):
        for marker in _BIOMARKERS:
            out.append(OutcomeInput(f"{fluid} {marker} level", "biomarker level", [f"{marker} in {fluid}"]))
    return out[:count]


def target_inputs(count: int = TARGET_COUNT) -> list[TargetInput]:
    out = [TargetInput(s, n, k, a, x) for s, n, k, a, x in REAL_TARGETS]
    kinds = ["gene product", "gene product", "gene product", "protein family", "pathway", "cell type"]
    for n in range(len(out), count):
        symbol = f"NIT{n:03d}"
        out.append(
            TargetInput(symbol, f"neuroimmune target {n}", kinds[n % len(kinds)], [f"NIT-{n:03d} protein"])
        )
    return out


def intervention_inputs(
    rng: random.Random, targets: Sequence[str], count: int = INTERVENTION_COUNT
) -> list[InterventionInput]:
    out = [
        InterventionInput(name, kind, aliases, (), [ActionInput(t, a) for t, a in actions])
        for name, kind, aliases, actions in REAL_INTERVENTIONS
    ]
    pick_target = zipf(targets, 1.0, 2.0)
    pick_action = weighted(
        [(TargetAction.INHIBITS, 50), (TargetAction.ACTIVATES, 25), (TargetAction.BINDS, 15),
         (TargetAction.MODULATES, 10)]
    )  # fmt: skip
    kinds = ["drug", "drug", "biologic", "genetic manipulation", "cell therapy"]
    for n in range(len(out), count):
        chosen: list[str] = []
        for _ in range(1 + (rng.random() < 0.3)):
            symbol = pick_target.pick(rng)
            if symbol not in chosen:
                chosen.append(symbol)
        out.append(
            InterventionInput(
                f"NX-{n:03d}",
                kinds[n % len(kinds)],
                [f"compound {n}"],
                (),
                [ActionInput(symbol, pick_action.pick(rng)) for symbol in chosen],
            )
        )
    return out


# --- text ---------------------------------------------------------------------------------

# Domain words, most frequent first (Zipf); the TEXT_QUERY words sit at ranks ~10 and ~30.
DOMAIN_WORDS = (
    "patients levels expression cells inflammatory disease increased reduced significantly "
    "microglial cytokine lesions signalling treatment cohort compared controls activation "
    "associated model serum cerebrospinal fluid mice response therapy clinical progression "
    "remyelination myelin axonal neurodegeneration antibody receptor inhibition blockade "
    "relapses disability astrocytes oligodendrocytes lymphocytes infiltration chemokine "
    "pathway phosphorylation transcription biomarker concentration baseline follow-up "
    "randomised placebo trial dose efficacy safety adverse events tolerability imaging "
    "gadolinium atrophy cortical spinal cord optic nerve retina demyelinating plaques "
    "macrophages monocytes neutrophils dendritic plasmablasts immunoglobulin complement "
    "oxidative stress mitochondrial mitophagy apoptosis necroptosis pyroptosis inflammasome "
    "autoantibodies aquaporin seropositive seronegative motor neurons denervation fasciculations "
    "survival knockout transgenic wild-type littermates immunisation peptide adjuvant pertussis "
    "encephalitogenic proliferation differentiation polarisation regulatory tolerance "
    "homeostasis permeability endothelial barrier leakage extravasation trafficking migration "
    "chemotaxis integrin adhesion costimulation antigen presentation cross-reactivity epitope"
).split()
FILLER_WORDS = (
    "the of in and with was were that this a an to for by from on at as than not but these "
    "our we observed found showed suggest data results study analysis after before during"
).split()
LOCATORS = ["Abstract", "Introduction", "Results", "Discussion", "Methods", "Figure 2", "Table 1",
            "Results, paragraph 3", "Discussion, paragraph 2", "Supplementary Table S4"]  # fmt: skip
SURNAMES = (
    "Hjæresen Nielsen Smith García Müller Rossi Tanaka Kim Chen Wang Dubois Kowalski Novak "
    "Ivanova Silva Costa Jensen Larsen Andersson Virtanen O'Brien Murphy Schmidt Weber Fischer "
    "Moreau Bianchi Romano Sato Suzuki Li Zhang Liu Singh Patel Cohen Levi Haddad Okafor Mensah"
).split()


class _Text:
    """Sentences of domain words (Zipf, 55%) and filler words (uniform, 45%)."""

    def __init__(self) -> None:
        self.domain = zipf(DOMAIN_WORDS, 0.9, 3.0)
        domain_share, filler_share = 0.55, 0.45
        weights = [w / self.domain.total * domain_share for w in _weights(self.domain)]
        weights += [filler_share / len(FILLER_WORDS)] * len(FILLER_WORDS)
        self.words = DOMAIN_WORDS + FILLER_WORDS
        self.cum = list(itertools.accumulate(weights))

    def sentence(self, rng: random.Random, extra: Sequence[str] = ()) -> str:
        words = rng.choices(self.words, cum_weights=self.cum, k=9 + int(rng.random() * 14))
        for word in extra:
            words.insert(int(rng.random() * (len(words) + 1)), word)
        text = " ".join(words)
        return text[0].upper() + text[1:] + "."

    def title(self, rng: random.Random) -> str:
        words = [self.domain.pick(rng) for _ in range(rng.randint(5, 11))]
        return (" ".join(words)).capitalize()


# --- the plan: what a generated database holds --------------------------------------------

_VERBS = {
    EffectDirection.INCREASES: ["increases", "raises", "up-regulates", "worsens"],
    EffectDirection.DECREASES: ["decreases", "reduces", "lowers", "suppresses"],
    EffectDirection.NO_EFFECT: ["does not change", "has no effect on", "leaves unchanged"],
    EffectDirection.MIXED: ["has mixed effects on", "variably affects"],
}
_HEDGES = {
    Modality.ASSERTED: "",
    Modality.HEDGED: "may ",
    Modality.HYPOTHESIS: "is hypothesised to ",
}
_HEDGED_VERB = {"increases": "increase", "raises": "raise", "up-regulates": "up-regulate",
                "worsens": "worsen",
                "decreases": "decrease", "reduces": "reduce", "lowers": "lower", "suppresses": "suppress",
                "does not change": "not change", "has no effect on": "have no effect on",
                "leaves unchanged": "leave unchanged", "has mixed effects on": "have mixed effects on",
                "variably affects": "variably affect"}  # fmt: skip
SAMPLE_TYPES = ["CSF", "serum", "plasma", "brain tissue", "spinal cord", "PBMC"]


@dataclass
class Ids:
    """Names of the generated vocabulary → database ids."""

    targets: dict[str, int]
    interventions: dict[str, int]
    outcomes: dict[str, int]
    organisms: dict[str, int]  # by common name
    conditions: dict[str, int]  # by name


@dataclass
class GenerationReport:
    claims: int = 0
    sources: int = 0
    cohorts: int = 0
    duplicates: int = 0
    reused: bool = False
    # Claims an interrupted earlier run had written (whole blocks); this run wrote the rest.
    resumed_after: int = 0
    seconds: float = 0.0
    vocabulary_seconds: float = 0.0
    # Drawing the records in Python, and writing them (api.store.bulk, commits included).
    plan_seconds: float = 0.0
    import_seconds: float = 0.0
    # CPU time of this process while writing (SQLite's work runs in it; PostgreSQL's does not).
    import_cpu_seconds: float = 0.0

    @property
    def claims_per_second(self) -> float:
        """Import throughput: claims (with their sources and cohorts) per second of writing."""
        return self.claims / self.import_seconds if self.import_seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "claims": self.claims,
            "sources": self.sources,
            "cohorts": self.cohorts,
            "skipped_duplicates": self.duplicates,
            "reused": self.reused,
            "resumed_after": self.resumed_after,
            "seconds": round(self.seconds, 2),
            "vocabulary_seconds": round(self.vocabulary_seconds, 2),
            "plan_seconds": round(self.plan_seconds, 2),
            "import_seconds": round(self.import_seconds, 2),
            "import_cpu_seconds": round(self.import_cpu_seconds, 2),
            "claims_per_second": round(self.claims_per_second),
        }


@dataclass(frozen=True)
class DrawnCohort:
    """A cohort drawn for a source: the record claims name it by, and its organism (a claim
    naming it is about that organism)."""

    source_id: int
    organism_id: int
    record: CohortRecord


def by_source(cohorts: Sequence[DrawnCohort]) -> dict[int, list[DrawnCohort]]:
    out: dict[int, list[DrawnCohort]] = {}
    for cohort in cohorts:
        out.setdefault(cohort.source_id, []).append(cohort)
    return out


class Plan:
    """Draws sources, cohorts and claims for one block at a time from the one rng."""

    def __init__(self, rng: random.Random, ids: Ids, seed: int) -> None:
        self.rng = rng
        self.ids = ids
        self.seed = seed
        self.text = _Text()
        self.pick_target = zipf(list(ids.targets), 1.05, 1.0)
        self.pick_intervention = zipf(list(ids.interventions), 1.0, 1.0)
        self.pick_outcome = zipf(list(ids.outcomes), 0.9, 2.0)
        self.pick_organism = weighted([("human", 70), ("mouse", 22), ("rat", 8)])
        self.human_condition = weighted(
            [("multiple sclerosis", 10), ("relapsing-remitting multiple sclerosis", 25),
             ("secondary progressive multiple sclerosis", 10), ("primary progressive multiple sclerosis", 7),
             ("clinically isolated syndrome", 5), ("relapsing multiple sclerosis", 5),
             ("progressive multiple sclerosis", 3), ("neuromyelitis optica spectrum disorder", 12),
             ("MOG antibody-associated disease", 3), ("amyotrophic lateral sclerosis", 12),
             ("optic neuritis", 3), ("healthy", 5)]
        )  # fmt: skip
        self.animal_condition = weighted(
            [("experimental autoimmune encephalomyelitis", 60), ("SOD1-G93A ALS model", 20),
             ("multiple sclerosis", 5), ("amyotrophic lateral sclerosis", 10), (None, 5)]
        )  # fmt: skip
        self.human_evidence = weighted(
            [(EvidenceType.OBSERVATIONAL, 40), (EvidenceType.CLINICAL_TRIAL, 15),
             (EvidenceType.RANDOMIZED_TRIAL, 10), (EvidenceType.CASE_REPORT, 8), (EvidenceType.REVIEW, 10),
             (EvidenceType.EXPERT_OPINION, 7), (EvidenceType.ANECDOTE, 5), (EvidenceType.IN_VITRO, 5)]
        )  # fmt: skip
        self.direction = weighted(
            [(EffectDirection.INCREASES, 36), (EffectDirection.DECREASES, 36),
             (EffectDirection.NO_EFFECT, 20), (EffectDirection.MIXED, 8)]
        )  # fmt: skip
        self.modality = weighted([(Modality.ASSERTED, 70), (Modality.HEDGED, 22), (Modality.HYPOTHESIS, 8)])
        self.status = weighted(
            [(ClaimStatus.ACCEPTED, 90), (ClaimStatus.SUBMITTED, 4), (ClaimStatus.DRAFT, 3),
             (ClaimStatus.REJECTED, 2), (ClaimStatus.RETRACTED, 1)]
        )  # fmt: skip
        self.source_kind = weighted(
            [(SourceKind.PRIMARY_RESEARCH, 60), (SourceKind.REVIEW, 12), (SourceKind.CLINICAL_TRIAL, 10),
             (SourceKind.PREPRINT, 6), (SourceKind.BLOG_POST, 5), (SourceKind.LAY_SUMMARY, 3),
             (SourceKind.PRESS_RELEASE, 2), (SourceKind.COMMENT, 2)]
        )  # fmt: skip
        self.quotes = weighted([(1, 50), (2, 35), (3, 15)])

    # sources ---------------------------------------------------------------------------

    def sources(
        self, first_index: int, count: int
    ) -> tuple[list[SourceRecord], list[tuple[SourceRecord, int]]]:
        """Originals (with DOIs) and retellings (blog posts, lay summaries... each pointing at
        the position of an original in the first list)."""
        rng = self.rng
        originals: list[SourceRecord] = []
        retellings: list[tuple[SourceRecord, int]] = []
        for n in range(first_index, first_index + count):
            kind = self.source_kind.pick(rng)
            year = rng.randint(1995, 2025)
            published = date(year, rng.randint(1, 12), rng.randint(1, 28)) if rng.random() < 0.7 else None
            authors = [
                rng.choice(SURNAMES) + " " + rng.choice("ABCDEFGHJKLMNOPRST")
                for _ in range(rng.randint(1, 6))
            ]
            title = self.text.title(rng)
            if kind in (
                SourceKind.BLOG_POST,
                SourceKind.LAY_SUMMARY,
                SourceKind.PRESS_RELEASE,
                SourceKind.COMMENT,
            ):
                record = SourceRecord(
                    kind=kind, title=title, authors=authors[:1], year=year, published=published,
                    url=f"https://blog.example.org/{self.seed}/posts/{n}",
                    ai_generated=kind is SourceKind.LAY_SUMMARY and rng.random() < 0.5,
                )  # fmt: skip
                if originals:
                    retellings.append((record, rng.randrange(len(originals))))
                else:
                    originals.append(record)
                continue
            originals.append(
                SourceRecord(
                    kind=kind, title=title, authors=authors, venue=rng.choice(
                        ["Ann Neurol", "Brain", "Mult Scler", "Neurology", "J Neuroinflammation", "Nat Med",
                         "bioRxiv", "Lancet Neurol", "JAMA Neurol", "Front Immunol"]),
                    year=year, published=published, doi=f"10.5555/cdb.{self.seed}.{n}",
                    pmid=str(30_000_000 + n) if rng.random() < 0.6 else None,
                    peer_reviewed=kind is not SourceKind.PREPRINT,
                )
            )  # fmt: skip
        return originals, retellings

    # cohorts ---------------------------------------------------------------------------

    def cohorts(self, source_ids: Sequence[int], kinds: Sequence[SourceKind]) -> list[DrawnCohort]:
        """Cohorts of the studies among the sources; claims name them (schema.records: by label,
        within the claim's source), and a cohort no claim names is not written."""
        rng = self.rng
        out: list[DrawnCohort] = []
        for source_id, kind in zip(source_ids, kinds, strict=True):
            if kind not in (SourceKind.PRIMARY_RESEARCH, SourceKind.CLINICAL_TRIAL) or rng.random() < 0.5:
                continue
            organism = self.pick_organism.pick(rng)
            condition = (self.human_condition if organism == "human" else self.animal_condition).pick(rng)
            size = rng.randint(6, 400)
            out.append(
                DrawnCohort(
                    source_id,
                    self.ids.organisms[organism],
                    CohortRecord(
                        label=f"{rng.choice(['treatment-naive', 'treated', 'untreated', 'early', 'late'])} "
                        f"{condition or 'animals'}",
                        size=size,
                        female_count=rng.randint(0, size) if organism == "human" else None,
                        condition=self.ids.conditions[condition] if condition else None,
                        treatment_status=rng.choice(["treatment-naive", "on therapy", None]),
                        sample_type=rng.choice(SAMPLE_TYPES + [None]),
                    ),
                )
            )
            if organism == "human" and rng.random() < 0.6:
                out.append(
                    DrawnCohort(
                        source_id, self.ids.organisms["human"],
                        CohortRecord(
                            label="healthy controls", condition=self.ids.conditions["healthy"],
                            size=rng.randint(6, 200),
                        ),
                    )
                )  # fmt: skip
        return out

    # claims ----------------------------------------------------------------------------

    def claims(
        self,
        count: int,
        source_ids: Sequence[int],
        cohorts: dict[int, list[DrawnCohort]],
    ) -> tuple[list[ClaimRecord], list[ClaimStatus]]:
        """`count` claims spread over the block's sources, and the status of each; no two repeat
        a fingerprint."""
        rng = self.rng
        ids = self.ids
        out: list[ClaimRecord] = []
        statuses: list[ClaimStatus] = []
        taken: set[tuple] = set()
        while len(out) < count:
            source_id = source_ids[rng.randrange(len(source_ids))]
            if rng.random() < 0.65:
                subject_name, target_id, intervention_id = self.pick_target.pick(rng), None, None
                target_id = ids.targets[subject_name]
            else:
                subject_name, target_id = self.pick_intervention.pick(rng), None
                intervention_id = ids.interventions[subject_name]
            outcome_name = self.pick_outcome.pick(rng)
            direction = self.direction.pick(rng)
            modality = self.modality.pick(rng)
            cohort = comparator = None
            own = cohorts.get(source_id, [])
            if own and rng.random() < 0.6:
                drawn = own[rng.randrange(len(own))]
                cohort = drawn.record
                organism_id, condition_id = drawn.organism_id, cohort.condition
                organism = next(k for k, v in ids.organisms.items() if v == organism_id)
                condition = next((k for k, v in ids.conditions.items() if v == condition_id), None)
                controls = [c for c in own if c.record.label == "healthy controls" and c is not drawn]
                if controls and rng.random() < 0.7:
                    comparator = controls[0].record
            else:
                organism = self.pick_organism.pick(rng)
                condition = (self.human_condition if organism == "human" else self.animal_condition).pick(rng)
                organism_id = ids.organisms[organism]
                condition_id = ids.conditions[condition] if condition else None
            if organism == "human":
                evidence_type = self.human_evidence.pick(rng)
            else:
                evidence_type = EvidenceType.ANIMAL_MODEL if rng.random() < 0.8 else EvidenceType.IN_VITRO
            sample_type = rng.choice(SAMPLE_TYPES) if rng.random() < 0.4 else None
            key = (source_id, target_id, intervention_id, outcome_name, direction, organism_id, condition_id,
                   cohort and cohort.label, comparator and comparator.label, sample_type)  # fmt: skip
            if key in taken:
                continue
            taken.add(key)
            verb = rng.choice(_VERBS[direction])
            hedge = _HEDGES[modality]
            statement = (
                f"{subject_name} {hedge}{_HEDGED_VERB[verb] if hedge else verb} {outcome_name}"
                f" in {condition or 'animals'} ({organism})"
            )
            if rng.random() < 0.5:
                statement += f", {self.text.domain.pick(rng)} {self.text.domain.pick(rng)}"
            quotes = [
                EvidenceRecord(
                    quote=self.text.sentence(rng, [subject_name] if q == 0 else ()),
                    locator=rng.choice(LOCATORS) if rng.random() < 0.7 else None,
                    stance=Stance.SUPPORTS if rng.random() < 0.93 else Stance.DISPUTES,
                )
                for q in range(self.quotes.pick(rng))
            ]
            statistics = None
            if rng.random() < 0.3:
                effect = round(rng.gauss(0.0, 1.2), 3)
                spread = round(abs(rng.gauss(0.4, 0.2)) + 0.01, 3)
                statistics = StatisticsRecord(
                    effect_size=effect,
                    effect_measure=rng.choice(["SMD", "odds ratio", "hazard ratio", "fold change"]),
                    p_value=round(rng.random() ** 3 * 0.2, 5),
                    ci_low=round(effect - spread, 3),
                    ci_high=round(effect + spread, 3),
                )
            out.append(
                ClaimRecord(
                    statement=statement, outcome=ids.outcomes[outcome_name], direction=direction,
                    modality=modality, evidence_type=evidence_type, organism=organism_id,
                    source=source_id, evidence=quotes, target=target_id, intervention=intervention_id,
                    condition=condition_id, cohort=cohort, comparator=comparator, sample_type=sample_type,
                    statistics=statistics,
                )
            )  # fmt: skip
            statuses.append(self.status.pick(rng))
        return out, statuses


# --- running ------------------------------------------------------------------------------


async def _generator_actor(db: Database) -> Actor:
    async with db.write(Actor(None, GENERATOR_USER, Role.ADMIN)) as w:
        user = await system_user(w, GENERATOR_USER)
    assert user.id is not None
    return Actor(user.id, user.name, Role.ADMIN)


async def generated_claims(db: Database) -> int:
    """How many claims the generator has put in this database (0 when none, or not migrated)."""
    async with db.read() as session:
        user_id = await session.scalar(sa.select(User.id).where(User.name == GENERATOR_USER))
        if user_id is None:
            return 0
        return int(
            await session.scalar(
                sa.select(sa.func.count()).select_from(Claim).where(Claim.created_by_id == user_id)
            )
            or 0
        )


async def _name_map(db: Database, table: Any, column: Any) -> dict[str, int]:
    async with db.read() as session:
        rows = await session.execute(sa.select(table.id, column).order_by(table.id))
        return {name: id_ for id_, name in rows.all()}


async def create_vocabulary(db: Database, actor: Actor, rng: random.Random) -> Ids:
    """The vocabulary through the store commands (validated and audited like a curator's), in one
    transaction, so a run killed while making it leaves none of it. When an earlier run of the
    generator made it already, it is reused; its random draws are made again either way, so the
    rng stands where an uninterrupted run's would."""
    targets = target_inputs()
    interventions = intervention_inputs(rng, [t.symbol for t in targets])
    async with db.read() as session:
        present = set((await session.scalars(sa.select(Target.symbol))).all())
    if present:
        if present != {t.symbol for t in targets}:
            raise GenerateError(
                "the database already holds targets but no generated claims; generate into an empty "
                "(migrated or new) database"
            )
        return await load_ids(db)
    async with db.write(actor) as w:
        for organism in ORGANISMS:
            await create_organism(w, organism)
        for condition in CONDITIONS:
            await create_condition(w, condition)
        for target in targets:
            await create_target(w, target)
        for intervention in interventions:
            await create_intervention(w, intervention)
        for outcome in outcome_inputs():
            await create_outcome(w, outcome)
    return await load_ids(db)


async def load_ids(db: Database) -> Ids:
    return Ids(
        targets=await _name_map(db, Target, Target.symbol),
        interventions=await _name_map(db, Intervention, Intervention.name),
        outcomes=await _name_map(db, Outcome, Outcome.name),
        organisms=await _name_map(db, Organism, Organism.common_name),
        conditions=await _name_map(db, Condition, Condition.name),
    )


def _blocks(total_claims: int, block_sources: int | None = BLOCK_SOURCES) -> Iterator[tuple[int, int, int]]:
    """(first source index, sources, claims) per block (None: one block)."""
    per_block = block_sources * CLAIMS_PER_SOURCE if block_sources else total_claims
    first_source = 0
    remaining = total_claims
    while remaining > 0:
        claims = min(per_block, remaining)
        sources = max(1, -(-claims // CLAIMS_PER_SOURCE))
        yield first_source, sources, claims
        first_source += sources
        remaining -= claims


def _chunks(first_source: int, n_claims: int) -> Iterator[tuple[int, int, int]]:
    """A block's chunks, (first source index, sources, claims): CHUNK_SOURCES sources at most."""
    for first, sources, claims in _blocks(n_claims, CHUNK_SOURCES):
        yield first_source + first, sources, claims


def _replay_block(plan: Plan, first_source: int, n_claims: int) -> None:
    """Draw a block's records without writing them, so the rng moves on as writing it would."""
    for chunk in _chunks(first_source, n_claims):
        _replay_chunk(plan, *chunk)


def _replay_chunk(plan: Plan, first_source: int, n_sources: int, n_claims: int) -> None:
    """The plan only compares source ids (for equality), so stand-in ids draw the same."""
    originals, retellings = plan.sources(first_source, n_sources)
    source_ids = list(range(1, len(originals) + len(retellings) + 1))
    kinds = [r.kind for r in originals] + [r.kind for r, _ in retellings]
    plan.claims(n_claims, source_ids, by_source(plan.cohorts(source_ids, kinds)))


async def _check_seed(db: Database, seed: int) -> None:
    """Resuming with another seed would mix two data sets: every generated source names its seed."""
    async with db.read() as session:
        found = await session.scalar(
            sa.select(Source.id)
            .where(
                sa.or_(
                    Source.doi.like(f"10.5555/cdb.{seed}.%"),
                    Source.url.like(f"https://blog.example.org/{seed}/%"),
                )
            )
            .limit(1)
        )
    if found is None:
        raise GenerateError(
            f"the database holds claims generated with another seed than {seed}; give that --seed "
            "to resume, or generate into an empty database"
        )


async def generate(
    db: Database,
    claims: int,
    *,
    seed: int = DEFAULT_SEED,
    block_sources: int | None = BLOCK_SOURCES,
    audit: AuditMode = "entity",
    progress: Callable[[int, int], None] | None = None,
) -> GenerationReport:
    """Fill a migrated database with `claims` claims (and their world); reuse it when the
    generator already put at least that many there, resume it when an interrupted run (same seed
    and block size) left fewer. `audit`: api.store.bulk's audit mode (an event per row, or per
    chunk). `progress(done, total)` after each chunk."""
    if claims < 1:
        raise GenerateError("--claims must be at least 1")
    if block_sources is not None and block_sources < 1:
        raise GenerateError("--block-sources must be at least 1")
    report = GenerationReport()
    began = time.perf_counter()
    existing = await generated_claims(db)
    if existing >= claims:
        report.claims, report.reused = existing, True
        report.seconds = time.perf_counter() - began
        return report
    blocks = list(_blocks(claims, block_sources))
    # Each block is one transaction, so an interrupted run left a whole number of blocks.
    written = list(itertools.accumulate(n for _, _, n in blocks))
    if existing and existing not in written:
        raise GenerateError(
            f"the database holds {existing:,} generated claims, which is not where a run of "
            f"{claims:,} claims in blocks of {block_sources or 'all'} sources stops between blocks; generate "
            "into an empty database (or resume with the --claims, --seed and --block-sources of the "
            "run that made them)"
        )
    if existing:
        await _check_seed(db, seed)
    done_blocks = written.index(existing) + 1 if existing else 0
    rng = random.Random(seed)
    actor = await _generator_actor(db)
    ids = await create_vocabulary(db, actor, rng)
    report.vocabulary_seconds = time.perf_counter() - began
    plan = Plan(rng, ids, seed)
    done = 0
    for index, (first_source, _n_sources, n_claims) in enumerate(blocks):
        if index < done_blocks:
            _replay_block(plan, first_source, n_claims)
            done += n_claims
            report.resumed_after += n_claims
            continue
        block_began, block_cpu = time.perf_counter(), time.process_time()
        drawing = _Drawing()
        # One import, one transaction: its indexes are built and its events chained by the end.
        with _without_cycle_collection():
            async with db.write(actor) as w, bulk_import(w, audit=audit) as load:
                for chunk in _chunks(first_source, n_claims):
                    await _write_chunk(load, plan, chunk, done, report, drawing)
                    done += chunk[2]
                    if progress is not None:
                        progress(done, claims)
        report.plan_seconds += drawing.wall
        report.import_seconds += time.perf_counter() - block_began - drawing.wall
        report.import_cpu_seconds += time.process_time() - block_cpu - drawing.cpu
    if not db.is_sqlite:
        # Autovacuum would vacuum and analyse the new rows, later; the benchmark measures the
        # steady state now: plans from statistics, and index-only scans, which read the heap
        # only for pages not yet marked all-visible (a hot target's summary cells are spread
        # over ~2,000 of them). (SQLite has neither, and claimsdb does not run ANALYZE there,
        # so neither does this.) VACUUM cannot run inside a transaction.
        async with db.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(sa.text("VACUUM ANALYZE"))
    report.seconds = time.perf_counter() - began
    return report


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Drawing and importing make millions of short-lived objects (records, rows, events) and
    hardly a reference cycle; the cyclic collector would walk the live chunk again and again for
    nothing (a quarter of the writing time, measured). Reference counting still frees them, and
    the collector runs again afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class _Drawing:
    """Time spent drawing records (Python), kept apart from the time spent writing them."""

    wall: float = 0.0
    cpu: float = 0.0

    def draw(self, fn: Callable[[], T]) -> T:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return fn()
        finally:
            self.wall += time.perf_counter() - wall
            self.cpu += time.process_time() - cpu


async def _write_chunk(
    load: BulkImport,
    plan: Plan,
    chunk: tuple[int, int, int],
    first_claim: int,
    report: GenerationReport,
    drawing: _Drawing,
) -> None:
    """Draw a chunk's sources, cohorts and claims and import them, in that order (each step
    needs the ids the one before got). Records are named by their position in the whole run."""
    first_source, n_sources, n_claims = chunk
    originals, retellings = drawing.draw(lambda: plan.sources(first_source, n_sources))
    original_ids = (await load.sources(originals, start=first_source)).ids
    retold = [rec.model_copy(update={"derived_from": original_ids[pos]}) for rec, pos in retellings]
    retold_ids = (await load.sources(retold, start=first_source + len(originals))).ids
    source_ids = [i for i in original_ids + retold_ids if i is not None]
    kinds = [r.kind for r in originals] + [r.kind for r, _ in retellings]
    cohorts = drawing.draw(lambda: by_source(plan.cohorts(source_ids, kinds)))
    records, statuses = drawing.draw(lambda: plan.claims(n_claims, source_ids, cohorts))
    result = await load.claims(records, start=first_claim, statuses=statuses)
    report.sources += len(source_ids)
    report.cohorts += result.cohorts
    report.claims += result.inserted
    report.duplicates += result.duplicates


async def generate_into(
    settings: Settings,
    claims: int,
    seed: int = DEFAULT_SEED,
    show_progress: bool = True,
    block_sources: int | None = BLOCK_SOURCES,
    audit: AuditMode = "entity",
) -> GenerationReport:
    """Migrate the database if needed, then generate with a rich progress bar."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    await asyncio.to_thread(migrations.upgrade, settings)
    db = Database(settings)
    try:
        if not show_progress:
            return await generate(db, claims, seed=seed, block_sources=block_sources, audit=audit)
        with Progress(
            TextColumn("[bold]{task.description}[/]"), BarColumn(), MofNCompleteColumn(),
            TextColumn("claims"), TimeElapsedColumn(), TimeRemainingColumn(), transient=False,
        ) as bar:  # fmt: skip
            task = bar.add_task("generating", total=claims)

            def advance(done: int, total: int) -> None:
                # The last chunk written, the import builds its indexes and commits.
                finishing = "building indexes, committing" if done >= total else "generating"
                bar.update(task, completed=done, description=finishing)

            return await generate(
                db,
                claims,
                seed=seed,
                block_sources=block_sources,
                audit=audit,
                progress=advance,
            )
    finally:
        await db.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--claims", type=int, default=DEFAULT_CLAIMS, help="how many claims (default 1,000,000)"
    )
    parser.add_argument(
        "--database", required=True, help="database URL (sqlite:///file.db, postgresql://...)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--block-sources",
        type=int,
        default=BLOCK_SOURCES,
        help="sources per transaction, with their claims (default: the whole run is one transaction, "
        "which is fastest); resume with the same",
    )
    parser.add_argument(
        "--audit",
        choices=["entity", "batch"],
        default="entity",
        help="an audit event per source, cohort and claim, as the commands record (default), or one "
        "per chunk (faster; a claim's own history then lacks its creation)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        settings = Settings(database_url=args.database)
        _ = settings.url
    except (SettingsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        report = asyncio.run(
            generate_into(settings, args.claims, args.seed, not args.quiet, args.block_sources, args.audit)
        )
    except GenerateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if report.reused:
        print(f"reused: the database already holds {report.claims:,} generated claims")
    else:
        if report.resumed_after:
            print(f"resumed: an earlier run had written {report.resumed_after:,} claims")
        print(
            f"generated {report.claims:,} claims, {report.sources:,} sources, {report.cohorts:,} cohorts "
            f"in {report.seconds:.1f} s (vocabulary {report.vocabulary_seconds:.1f} s, drawing records "
            f"{report.plan_seconds:.1f} s, writing {report.import_seconds:.1f} s: "
            f"{report.claims_per_second:,.0f} claims/s with their sources and cohorts)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
