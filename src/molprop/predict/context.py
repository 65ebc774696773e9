"""What a saved model needs to predict new molecules, stored next to it in the model directory.

``save_predict_context`` (called by the train and baseline stages) writes
``predict_context.json`` (the training-time ``validate`` and ``featurize`` params, the data
provenance, metrics) and ``train_fingerprints.npy`` (the training molecules' Morgan bit
fingerprints, packed 8 bits per byte, for the applicability domain). Predict reads them back
so that new molecules are standardized and featurized exactly as the training molecules were,
whatever params.yaml says today.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from molprop.errors import UserInputError
from molprop.features.config import FeaturizeConfig, config_from_params
from molprop.serialization import undefined_as_null, write_json

CONTEXT_FILE = "predict_context.json"
TRAIN_FPS_FILE = "train_fingerprints.npy"
CONTEXT_VERSION = 1


@dataclass(frozen=True)
class DomainFingerprint:
    """The fingerprint the applicability domain compares: Morgan bits (not counts)."""

    radius: int = 2
    n_bits: int = 2048


@dataclass(frozen=True)
class DomainLimits:
    """What the training molecules span beyond their fingerprints: the elements and the net
    charges that occur among them (None: not recorded, a model saved before 2026-12-08)."""

    elements: tuple[str, ...] | None = None
    net_charges: tuple[int, ...] | None = None

    def outside(self, mol: Any) -> str | None:
        """Why the RDKit molecule ``mol`` lies outside these limits (an element or a net charge
        no training molecule has), or None."""
        from rdkit import Chem

        notes = []
        if self.elements is not None:  # hydrogen is in every molecule, explicit (an H that fixes an
            # imine's geometry stays an atom) or not
            new = sorted({atom.GetSymbol() for atom in mol.GetAtoms()} - set(self.elements) - {"H"})
            if new:
                notes.append(f"element{'s' if len(new) > 1 else ''} {', '.join(new)} in no training molecule")
        charge = Chem.GetFormalCharge(mol)
        if self.net_charges is not None and charge not in self.net_charges:
            seen = ", ".join(f"{c:+d}" if c else "0" for c in self.net_charges)
            notes.append(f"net charge {charge:+d}, the training molecules' {seen}")
        return "; ".join(notes) or None


def domain_limits(mols: Sequence[Any]) -> DomainLimits:
    """The elements and net charges of the RDKit molecules ``mols`` (the training molecules)."""
    from rdkit import Chem

    return DomainLimits(tuple(sorted({atom.GetSymbol() for mol in mols for atom in mol.GetAtoms()})),
                        tuple(sorted({Chem.GetFormalCharge(mol) for mol in mols})))


@dataclass(frozen=True)
class PredictContext:
    """The contents of ``predict_context.json`` plus the training fingerprints (packed)."""

    validate: dict[str, Any]
    featurize: dict[str, Any]
    data_hash: str
    metrics: dict[str, Any] | None
    n_train: int
    domain: DomainFingerprint
    train_fingerprints: np.ndarray  # (n_train, n_bits / 8) uint8, np.packbits rows
    limits: DomainLimits = DomainLimits()

    def standardization(self):
        """(StandardizeConfig, MoleculeRules) exactly as the validate stage used them."""
        from molprop.validation.config import config_from_params

        validate = dict(self.validate)
        # saved before the isotope_parent step existed (contexts now hold every step): the
        # model was trained on labelled isotopes
        validate["standardize"] = {"isotope_parent": False, **(validate.get("standardize") or {})}
        config, _ = config_from_params(validate, "regression", "")
        return config.standardize, config.rules

    def featurization(self, groups: Sequence[str], graph: bool) -> FeaturizeConfig:
        """The training-time FeaturizeConfig restricted to what the model uses: the feature
        ``groups`` (morgan, descriptors) and molecular graphs when ``graph`` is true."""
        full = config_from_params(self.featurize)
        missing = [g for g, on in (("morgan", full.morgan), ("descriptors", full.descriptors))
                   if g in groups and on is None]
        if missing or (graph and not full.graph):
            raise UserInputError(f"the model uses {missing or 'graphs'} but the saved featurize "
                             "config has them turned off: the model directory is inconsistent; "
                             "re-run `dvc repro`.")
        return FeaturizeConfig(morgan=full.morgan if "morgan" in groups else None,
                               descriptors=full.descriptors if "descriptors" in groups else None,
                               graph=graph, n_jobs=1)


def file_md5(path: str | Path) -> str:
    """MD5 of a file's bytes (the hash dvc.lock shows for the same file)."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_predict_context(model_dir: str | Path, validate_cfg: dict[str, Any],
                         featurize_cfg: dict[str, Any], train_smiles: Sequence[str],
                         data_hash: str, metrics: dict[str, Any] | None = None,
                         domain: DomainFingerprint = DomainFingerprint()) -> None:
    """Write ``predict_context.json`` and ``train_fingerprints.npy`` into ``model_dir``.

    ``validate_cfg`` and ``featurize_cfg`` are the params.yaml sections the model's data went
    through; ``train_smiles`` the standardized SMILES of the molecules the model was fitted on
    (the applicability-domain reference; RDKit-canonical, as validate writes them);
    ``data_hash`` identifies the training data (e.g. ``file_md5("data/validated.parquet")``).
    Both files are byte-reproducible.
    """
    from molprop.molecules import parse_validated
    from molprop.predict.domain import bit_fingerprints
    from molprop.validation.config import StandardizeConfig

    model_dir = Path(model_dir)
    config_from_params(featurize_cfg)  # fail now, not at predict time
    # every standardization step as it ran, defaults included: a later default must not
    # change how this model's molecules are read
    steps = {k: v for k, v in asdict(StandardizeConfig()).items() if k != "identity_key"}
    validate_cfg = {**validate_cfg, "standardize": {**steps, **(validate_cfg.get("standardize") or {})}}
    smiles = list(train_smiles)
    if not smiles:
        raise ValueError("save_predict_context: no training SMILES given")
    mols = parse_validated(smiles, range(len(smiles)), "training molecule", "train_smiles", for_fingerprints=True)
    packed = bit_fingerprints(mols, domain.radius, domain.n_bits)
    limits = domain_limits(mols)
    model_dir.mkdir(parents=True, exist_ok=True)
    np.save(model_dir / TRAIN_FPS_FILE, packed, allow_pickle=False)
    write_json(model_dir / CONTEXT_FILE, {
        "version": CONTEXT_VERSION, "validate": validate_cfg, "featurize": featurize_cfg,
        "data_hash": data_hash, "metrics": undefined_as_null(metrics), "n_train": len(smiles),
        "domain": {"fingerprint": "morgan_bits", "radius": domain.radius, "n_bits": domain.n_bits,
                   "elements": list(limits.elements), "net_charges": list(limits.net_charges)},
    })  # fmt: skip


def _context_problem(data: Any) -> str | None:
    """What makes ``data`` (predict_context.json as read) no predict context, or None."""
    if not isinstance(data, dict):
        return "not a JSON object"
    types = {"validate": dict, "featurize": dict, "data_hash": str, "n_train": int, "domain": dict}
    wrong = [key for key, kind in types.items() if not isinstance(data.get(key), kind)]
    domain = data.get("domain") or {}
    if not wrong and not (all(isinstance(domain.get(k), int) and not isinstance(domain.get(k), bool)
                              for k in ("radius", "n_bits")) and domain["radius"] >= 0 and domain["n_bits"] >= 1):
        wrong = ["domain.radius / domain.n_bits (whole numbers, >= 0 / >= 1)"]
    for key, kind in (("elements", str), ("net_charges", int)):  # optional: recorded since 2026-12-08
        values = domain.get(key, [kind()])
        if not wrong and not (isinstance(values, list) and values and
                              all(isinstance(v, kind) and not isinstance(v, bool) for v in values)):
            wrong = [f"domain.{key} (a non-empty list of {'element symbols' if kind is str else 'whole numbers'})"]
    if not wrong and ("elements" in domain) != ("net_charges" in domain):
        wrong = ["domain.elements / domain.net_charges (both or neither)"]
    return f"{', '.join(wrong)} missing or of the wrong type" if wrong else None


def load_predict_context(model_dir: str | Path) -> PredictContext:
    """The context saved in ``model_dir``; a clear error when it is missing or inconsistent."""
    from molprop.models.store import REPAIR, read_model_json

    model_dir = Path(model_dir)
    path = model_dir / CONTEXT_FILE
    if not model_dir.exists():  # a fresh clone: the models are DVC outputs, not in git
        raise FileNotFoundError(f"{model_dir} does not exist. The models are DVC outputs: in a fresh clone, "
                                "fetch them with `dvc pull` (from the project's DVC remote), or train them with "
                                "`dvc repro`; else give --model the directory of a saved model.")
    if not (model_dir / "model.json").is_file():
        if any(model_dir.glob("member_*")):  # a train or baseline stage that did not finish writes
            raise FileNotFoundError(f"{model_dir} is incomplete: it holds member folders but no model.json, "
                                    "which is written last (a training stage killed before it ended?). "
                                    "`dvc repro` trains it again (the train stage resumes from checkpoints/train "
                                    f"when the killed run left some), `dvc checkout --force {model_dir}` restores "
                                    "the model dvc.lock records, or copy the directory whole.")
        raise FileNotFoundError(f"{model_dir} is not a saved molprop model (no model.json); "
                                "give a model directory such as models/model or models/baseline.")
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: this model was saved without what predict "
                                "needs (training-time standardization, featurization and "
                                "fingerprints). Retrain it with this molprop version (dvc repro).")
    data = read_model_json(path)
    if isinstance(data, dict) and data.get("version") != CONTEXT_VERSION:
        raise UserInputError(f"{path}: context version {data.get('version')!r}, this molprop reads "
                         f"version {CONTEXT_VERSION}; retrain the model (dvc repro).")
    problem = _context_problem(data)
    if problem:
        raise UserInputError(f"{path} is not a valid predict context ({problem}): the model directory is "
                             f"damaged. {REPAIR}")
    domain = DomainFingerprint(int(data["domain"]["radius"]), int(data["domain"]["n_bits"]))
    if not (model_dir / TRAIN_FPS_FILE).is_file():
        raise FileNotFoundError(f"{model_dir / TRAIN_FPS_FILE} is missing (the training molecules' "
                                "fingerprints, for the applicability domain): the model directory is "
                                f"incomplete. {REPAIR}")
    try:
        fps = np.load(model_dir / TRAIN_FPS_FILE, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise UserInputError(f"{model_dir / TRAIN_FPS_FILE} cannot be read ({error}): the model directory is "
                             f"damaged. {REPAIR}") from None
    if fps.dtype != np.uint8 or fps.ndim != 2 or fps.shape != (data["n_train"], -(-domain.n_bits // 8)):
        raise UserInputError(f"{model_dir / TRAIN_FPS_FILE}: shape {fps.shape} / {fps.dtype} does not "
                         f"match {data['n_train']} molecules x {domain.n_bits} bits; retrain the model.")
    limits = DomainLimits(*(tuple(data["domain"][key]) if key in data["domain"] else None
                            for key in ("elements", "net_charges")))
    return PredictContext(data["validate"], data["featurize"], data["data_hash"], data.get("metrics"),
                          int(data["n_train"]), domain, fps, limits)
