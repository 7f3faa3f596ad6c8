"""The SkyServer SQL that selects the SDSS Main Galaxy Sample (Moran et al. 2025 selection)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from compute.errors import ZcellsInputError

#: releases whose SkyServer database has SpecObj.legacy_target1, PhotoObj and Photoz
MIN_RELEASE = 8


@dataclass(frozen=True)
class SqlColumn:
    """One output column of the query.

    Attributes
    ----------
    name : str
        Column name in SkyServer's CSV answer (the SQL alias).
    expr : str
        SQL expression over ``s`` (SpecObj), ``p`` (PhotoObj) and ``pz`` (Photoz).
    canonical : str
        Column name in the zcells catalogue contract.
    dtype : str
        ``"int64"`` (parsed exactly, never through float) or ``"float64"``.
    """

    name: str
    expr: str
    canonical: str
    dtype: str = "float64"

    def select_item(self) -> str:
        """Return the SELECT list item, aliased only when the name differs from the column."""
        if self.expr.split(".")[-1] == self.name:
            return self.expr
        return f"{self.expr} AS {self.name}"


_BANDS = ("u", "g", "r", "i", "z")

#: Output columns in order: CSV name, SQL expression, canonical name, dtype.
SQL_COLUMNS: tuple[SqlColumn, ...] = (
    SqlColumn("objID", "p.objID", "objid", "int64"),
    SqlColumn("specObjID", "s.specObjID", "specobjid", "int64"),
    SqlColumn("ra", "p.ra", "ra"),
    SqlColumn("dec", "p.dec", "dec"),
    SqlColumn("z", "s.z", "zspec"),
    *(SqlColumn(f"dered_{b}", f"p.modelMag_{b} - p.extinction_{b}", b) for b in _BANDS),
    *(SqlColumn(f"modelMagErr_{b}", f"p.modelMagErr_{b}", f"err_{b}") for b in _BANDS),
    SqlColumn("dered_cModelMag_r", "p.cModelMag_r - p.extinction_r", "cmodel_r"),
    SqlColumn("dered_petroMag_r", "p.petroMag_r - p.extinction_r", "petro_r"),
    SqlColumn("fracDeV_r", "p.fracDeV_r", "frac_dev_r"),
    SqlColumn("expAB_r", "p.expAB_r", "exp_ab_r"),
    SqlColumn("zphot_b16", "pz.z", "zphot_b16"),
)

#: Selection limits of the paper's sample.
Z_MAX = 0.4
PETRO_R_MAX = 17.8
MGS_TARGET_BIT = 64  # legacy_target1 bit 6: GALAXY (Main Galaxy Sample target)

#: The query. ``{top}`` is empty or ``TOP n``; ``{columns}`` the SELECT list built from
#: `SQL_COLUMNS`; ``{ra_clause}`` empty or a half-open RA slice ``AND p.ra >= a AND p.ra < b``.
#: SpecObj is the view of SpecObjAll with sciencePrimary = 1 (one best spectrum per object);
#: PhotoObj holds the imaging; Photoz is Beck et al. (2016), one row per objID (LEFT JOIN: kept
#: as NULL when absent). No SQL comments: SkyServer may fold the query onto one line.
SQL_TEMPLATE = """SELECT {top}
    {columns}
FROM SpecObj AS s
JOIN PhotoObj AS p ON p.objID = s.bestObjID
LEFT OUTER JOIN Photoz AS pz ON pz.objID = p.objID
WHERE s.class = 'GALAXY'
  AND (s.legacy_target1 & {mgs_bit}) != 0
  AND s.zWarning = 0
  AND s.z <= {z_max}
  AND p.petroMag_r - p.extinction_r <= {petro_r_max}{ra_clause}"""


def check_release(release: str) -> str:
    """Return the release normalised to ``drNN`` or raise `ZcellsInputError`.

    Examples
    --------
    >>> check_release("DR12")
    'dr12'
    """
    text = str(release).strip().lower()
    match = re.fullmatch(r"dr(\d+)", text)
    if not match or int(match.group(1)) < MIN_RELEASE:
        raise ZcellsInputError(
            f"--release {release!r}: expected an SDSS data release such as 'dr12' "
            f"(DR{MIN_RELEASE} or later; the paper uses dr12)"
        )
    return text


def build_sql(
    release: str = "dr12",
    *,
    max_rows: int | None = None,
    ra_range: tuple[float, float] | None = None,
) -> str:
    """Return the Main Galaxy Sample query for SkyServer's SqlSearch service.

    Parameters
    ----------
    release : str
        SDSS data release (``dr12`` for the paper). It selects the SkyServer database (the
        service URL); the query is the same for DR8 and later, so it is only validated here.
    max_rows : int, optional
        ``TOP n`` for a quick sample (whatever rows the server finds first, not random).
    ra_range : (float, float), optional
        Half-open RA slice ``[lo, hi)`` in degrees, for chunked downloads.

    Examples
    --------
    >>> sql = build_sql("dr12", max_rows=10, ra_range=(0.0, 15.0))
    >>> sql.splitlines()[0]
    'SELECT TOP 10'
    >>> sql.splitlines()[-1].strip()
    'AND p.ra >= 0.0 AND p.ra < 15.0'
    """
    check_release(release)
    top = ""
    if max_rows is not None:
        if int(max_rows) < 1:
            raise ZcellsInputError(f"--max-rows must be at least 1, got {max_rows}")
        top = f"TOP {int(max_rows)}"
    ra_clause = ""
    if ra_range is not None:
        lo, hi = (float(v) for v in ra_range)
        if not 0.0 <= lo < hi <= 360.0:
            raise ZcellsInputError(f"RA slice [{lo}, {hi}) is not inside [0, 360)")
        ra_clause = f"\n  AND p.ra >= {lo!r} AND p.ra < {hi!r}"
    columns = ",\n    ".join(col.select_item() for col in SQL_COLUMNS)
    return SQL_TEMPLATE.format(
        top=top,
        columns=columns,
        mgs_bit=MGS_TARGET_BIT,
        z_max=Z_MAX,
        petro_r_max=PETRO_R_MAX,
        ra_clause=ra_clause,
    ).replace("SELECT \n", "SELECT\n")
