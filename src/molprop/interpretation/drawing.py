"""Molecule pictures with RDKit: atom-weight similarity maps, fingerprint-bit environments,
plain structures, and a captioned grid of pictures (matplotlib) for reports.

Pictures are PNG bytes (Cairo) or SVG text; both repeat byte for byte for the same input.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rdkit import Chem
from rdkit.Chem import Draw
from rdkit.Chem.Draw import SimilarityMaps, rdMolDraw2D

# Similarity-map colours: pink lowers the explained output, green raises it (RDKit's default).
MAP_SIZE = (380, 300)


def _options(drawer) -> None:
    options = drawer.drawOptions()
    options.includeMetadata = False  # no molecule blocks embedded in the picture
    options.legendFontSize = 15
    options.fixedBondLength = 32  # same scale for small and large molecules (large ones shrink)


def similarity_map_png(mol: Chem.Mol, weights: Sequence[float], scale: float,
                       size: tuple[int, int] = MAP_SIZE) -> bytes:
    """PNG of ``mol`` with a Gaussian per atom coloured by its weight; ``scale`` is the weight
    at full colour (use one scale for pictures that are compared). Molecules of one atom,
    which RDKit cannot map, are drawn with that atom highlighted instead."""
    drawer = rdMolDraw2D.MolDraw2DCairo(*size)
    _options(drawer)
    weights = [float(w) for w in weights]
    if mol.GetNumAtoms() < 2:
        colour = (0.3, 0.7, 0.3) if weights and weights[0] >= 0 else (0.8, 0.3, 0.6)
        drawer.DrawMolecule(mol, highlightAtoms=[0], highlightAtomColors={0: colour})
    else:
        SimilarityMaps.GetSimilarityMapFromWeights(
            mol, weights, draw2d=drawer, scale=max(float(scale), 1e-12), contourLines=0,
            gridResolution=0.05)
    drawer.FinishDrawing()
    return drawer.GetDrawingText()


def environment_svg(mol: Chem.Mol, centre: int, radius: int, legend: str,
                    size: tuple[int, int] = (220, 180)) -> str:
    """SVG of the atom environment of ``radius`` bonds around ``centre`` (RDKit's Morgan-bit
    depiction: centre blue, aromatic atoms yellow, ring atoms grey)."""
    return _inline(Draw.DrawMorganEnvs([(mol, centre, radius)], molsPerRow=1, subImgSize=size,
                                       legends=[legend], useSVG=True))


def molecule_svg(mol: Chem.Mol, legend: str = "", size: tuple[int, int] = (220, 180)) -> str:
    """SVG of a plain structure drawing."""
    drawer = rdMolDraw2D.MolDraw2DSVG(*size)
    _options(drawer)
    drawer.DrawMolecule(rdMolDraw2D.PrepareMolForDrawing(mol), legend=legend)
    drawer.FinishDrawing()
    return _inline(drawer.GetDrawingText())


def _inline(svg: str) -> str:
    """SVG text without the XML declaration, to be placed inside an HTML page."""
    return svg.split("?>", 1)[1].strip() if svg.startswith("<?xml") else svg.strip()


def picture_grid(pictures: Sequence[bytes], captions: Sequence[str], path: str | Path,
                 title: str, columns: int = 3) -> None:
    """One PNG of several PNG pictures with a caption under each (matplotlib, Agg)."""
    import matplotlib.pyplot as plt

    fig = grid_figure(pictures, captions, title, columns)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def grid_figure(pictures: Sequence[bytes], captions: Sequence[str], title: str, columns: int = 3) -> Any:
    """The matplotlib figure of :func:`picture_grid`: the title in a band of its own above the
    pictures' captions, however many rows there are."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = max(1, -(-len(pictures) // columns))
    height = 3.3 * rows + 0.5
    fig, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, height), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, picture, caption in zip(axes.ravel(), pictures, captions):
        ax.imshow(np.asarray(plt.imread(io.BytesIO(picture), format="png")))
        ax.set_title(caption, fontsize=8.5)
    fig.suptitle(title, fontsize=11, y=1.0 - 0.1 / height, va="top")
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 1.0 - 0.5 / height))  # the top 0.5 in is the title's
    return fig
