"""The ``molprop`` command: ``molprop predict`` (score a molecule library with a saved model)
and ``molprop info`` (what a saved model was trained on)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="molprop", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="predict every molecule of a CSV / TSV / Parquet / .smi / SD file",
                       description="Standardize, featurize and predict a molecule library with a saved "
                       "model, in chunks; an interrupted run resumes where it stopped (run the same "
                       "command again). See docs/predict.md.")
    p.add_argument("--model", default="models/model", help="saved model directory (default: models/model)")
    p.add_argument("--input", required=True, help=".csv, .tsv (.tab, .txt), .parquet (.pq; a file or a directory "
                   "of shards), .smi (.smiles) or .sdf (.sd); text formats also gzipped (.csv.gz)")
    p.add_argument("--output", required=True, help=".parquet, .csv, or a directory (keeps the part files)")
    p.add_argument("--smiles-column", default="smiles",
                   help="SMILES column of a CSV / Parquet input or of a .smi file's header line (default: smiles)")
    p.add_argument("--id-column", default=None,
                   help="id column copied to the output (default: the first column named id, mol_id, "
                   "compound_id, name, ... (case-insensitive; see docs/predict.md), else the row number)")
    p.add_argument("--chunk-size", type=int, default=10_000, help="molecules per part file / resume unit (default: 10000)")
    p.add_argument("--batch-size", type=int, default=500, help="molecules per worker task (default: 500)")
    p.add_argument("--ad-threshold", type=float, default=0.3,
                   help="in domain when the Tanimoto similarity to the nearest training molecule is >= this (default: 0.3) "
                        "and the molecule has no element or net charge that no training molecule has")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local worker processes, or a Ray cluster (in the repository: pip install -e '.[ray]')")
    p.add_argument("--n-jobs", type=int, default=-1, help="local worker processes; -1 = all cores")
    p.add_argument("--device", default="auto",
                   help="torch device for network models: auto | cpu | cuda | cuda:<index> | mps")
    p.add_argument("--ray-address", default=None, help="Ray cluster address (default: RAY_ADDRESS or a local Ray)")
    p.add_argument("--ray-actors", type=int, default=None, help="model-holding Ray actors (default: the cluster's CPUs)")
    p.add_argument("--overwrite", action="store_true", help="discard an existing output / unfinished run")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    i = sub.add_parser("info", help="show what a saved model was trained on")
    i.add_argument("--model", default="models/model", help="saved model directory (default: models/model)")
    i.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def describe_ids(id_column: str | None, source: str) -> str:
    """Where the output ids come from, as a sentence (``stream.resolve_id_column``'s answer)."""
    from molprop.predict.stream import ID_COLUMNS

    return {"given": f"ids from column '{id_column}'",
            "detected": f"ids from column '{id_column}' (detected; --id-column names another)",
            "row": f"ids are the row numbers (no column named {', '.join(ID_COLUMNS)}; "
                   "--id-column names one)",
            "smi": "ids are the names after the SMILES (the row number where a line has none)",
            "sdf": "ids are the record titles (the row number where a title is empty; --id-column "
                   "names an SD property instead)"}[source]


def _predict(args: argparse.Namespace) -> int:
    from molprop.predict.runner import PredictOptions, predict_file
    from molprop.predict.stream import resolve_id_column

    ids = resolve_id_column(args.input, args.id_column, args.smiles_column)
    print(f"molprop predict: {describe_ids(*ids)}", flush=True)
    options = PredictOptions(smiles_column=args.smiles_column, id_column=args.id_column,
                             chunk_size=args.chunk_size, batch_size=args.batch_size,
                             ad_threshold=args.ad_threshold)
    ray_options = {"address": args.ray_address, "n_actors": args.ray_actors}
    summary = predict_file(args.model, args.input, args.output, options, executor=args.executor,
                           n_jobs=args.n_jobs, device=args.device, overwrite=args.overwrite,
                           progress=not args.no_progress, ray_options=ray_options)
    print(f"molprop predict: {summary['rows']} molecules -> {summary['output']} "
          f"({summary['invalid']} invalid, {summary['out_of_domain']} outside the applicability domain)")
    if summary["rows"] == 0:  # a cut download or the wrong file: an empty output says nothing itself
        print(f"molprop predict: warning: {args.input} holds no molecule (empty, a header only, or only "
              "comments and blank lines): the output has no rows")
    if summary["repeated_ids"]:
        examples = ", ".join(map(repr, summary["repeated_id_examples"]))
        numbers = any(e.isdigit() for e in summary["repeated_id_examples"])  # maybe a row number
        print(f"molprop predict: warning: {summary['repeated_ids']} row(s) repeat the id of an earlier "
              f"row (e.g. {examples}); all rows are kept, the 'row' column tells them apart."
              + (" A row without an id takes its row number as id, which another row may have as "
                 "its own." if numbers else ""), file=sys.stderr)
    return 0


def model_summary(model_dir: str | Path) -> dict:
    """The model card and the saved training context of a model directory, as one dict."""
    from molprop.models.predictor import check_members
    from molprop.models.store import load_card
    from molprop.predict.context import load_predict_context
    from molprop.predict.parts import model_md5

    context = load_predict_context(model_dir)  # first: it says when model_dir is not a saved model
    card = load_card(Path(model_dir))
    check_members(Path(model_dir), card)  # every member's files are there (not whether they load)
    return {"model": str(model_dir), "kind": card.kind, "task": card.task,
            "members": card.members, "feature_groups": card.feature_groups,
            "classes": card.classes, "uncertainty_scale": card.extra.get("uncertainty_scale"),
            "uncertainty_floor": card.extra.get("uncertainty_floor"),
            "data_hash": context.data_hash, "n_train": context.n_train, "files_md5": model_md5(model_dir),
            "domain_fingerprint": {"radius": context.domain.radius, "n_bits": context.domain.n_bits},
            "domain_elements": context.limits.elements, "domain_net_charges": context.limits.net_charges,
            "validate": context.validate, "featurize": context.featurize, "metrics": context.metrics,
            "extra": card.extra}  # fmt: skip


def _info(args: argparse.Namespace) -> int:
    info = model_summary(args.model)
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return 0
    import yaml

    scale = info["uncertainty_scale"]
    print(f"model:            {info['model']} ({info['kind']}, {info['task']}, "
          f"{len(info['members'])} member(s): {', '.join(info['members'])})")
    print(f"feature groups:   {', '.join(info['feature_groups']) or '(none: graphs only)'}")
    if info["classes"]:
        print(f"classes:          {', '.join(map(repr, info['classes']))}")  # a label may hold a comma
    floor = info["uncertainty_floor"] or 0.0
    shown = "member spread (not calibrated)"
    if len(info["members"]) == 1:  # docs/predict.md: "no ensemble", not "certain"
        shown = "none: one member, no spread (the uncertainty column is 0)"
    elif scale is not None:
        shown = f"sqrt((spread x {scale:.4g})^2 + {floor:.4g}^2)" if floor else f"spread x {scale:.4g}"
    print(f"uncertainty:      {shown}")
    print(f"trained on:       {info['n_train']} molecules, data hash {info['data_hash']}")
    print(f"model files md5:  {info['files_md5']} (the files predict loads: equal md5, the same model)")
    print(f"domain:           Morgan r={info['domain_fingerprint']['radius']}, "
          f"{info['domain_fingerprint']['n_bits']} bits, max Tanimoto to the training set")
    if info["domain_elements"] is not None:
        charges = ", ".join(f"{c:+d}" if c else "0" for c in info["domain_net_charges"])
        print(f"                  elements {', '.join(info['domain_elements'])}; net charges {charges}")
    else:  # saved before they were recorded (docs/predict.md)
        print("                  elements and net charges not recorded (a model saved before 2026-12-08): "
              "the similarity alone")
    # the card's own entries: what was trained (kind, settings, chosen hyperparameters) and its
    # validation scores; the metrics of the saved training context follow
    info["model card"] = {k: v for k, v in info["extra"].items() if k not in ("uncertainty_scale", "uncertainty_floor")}
    for key in ("model card", "metrics", "validate", "featurize"):
        if key == "model card" and not info[key]:
            continue
        if info[key] is None:  # e.g. the metrics of a model fitted without a validation part
            print(f"{key}: none")
            continue
        text = yaml.safe_dump(info[key], sort_keys=True, default_flow_style=False).rstrip()
        print(f"{key}:\n  " + text.replace("\n", "\n  "))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``molprop`` console script."""
    args = _parser().parse_args(argv)
    if args.command == "predict":
        from molprop.lifetime import raise_on_sigterm

        raise_on_sigterm()  # a scheduler's time limit or `kill`: the parts written so far resume
    try:
        code = _predict(args) if args.command == "predict" else _info(args)
        if sys.stdout is not None:  # None: started with stdout closed (>&-)
            sys.stdout.flush()  # here, where a reader that has gone is handled (not at exit)
        return code
    except BrokenPipeError as err:
        if args.command != "info":  # predict writes files: a broken pipe there is an error
            print(f"molprop {args.command}: {err}", file=sys.stderr)
            return 1
        # `molprop info ... | head`: the reader has gone, nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141
    except (OSError, ValueError, ImportError) as err:  # OSError: a missing file, a path through a file...
        print(f"molprop {args.command}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as stop:
        from molprop.lifetime import Terminated

        how, code = ("terminated", 143) if isinstance(stop, Terminated) else ("interrupted", 130)
        print(f"molprop {args.command}: {how}; run the same command again to resume.", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
