"""Map common SDSS column names onto the canonical catalogue contract."""

from __future__ import annotations

import pandas as pd

BANDS = ("u", "g", "r", "i", "z")

#: alias (case-insensitive) -> canonical name
ALIASES: dict[str, str] = {
    "objid": "objid",
    "obj_id": "objid",
    "specobjid": "specobjid",
    "spec_obj_id": "specobjid",
    "z_spec": "zspec",
    "zspec": "zspec",
    "redshift": "zspec",
    "fracdev_r": "frac_dev_r",
    "frac_dev_r": "frac_dev_r",
    "expab_r": "exp_ab_r",
    "exp_ab_r": "exp_ab_r",
    "cmodelmag_r": "cmodel_r",
    "dered_cmodelmag_r": "cmodel_r",
    "cmodel_r": "cmodel_r",
    "petromag_r": "petro_r",
    "dered_petromag_r": "petro_r",
    "petro_r": "petro_r",
    "ra": "ra",
    "dec": "dec",
    "split": "split",
}
for _b in BANDS:
    ALIASES[f"dered_{_b}"] = _b
    ALIASES[f"deredmag_{_b}"] = _b
    ALIASES[f"modelmagerr_{_b}"] = f"err_{_b}"
    ALIASES[f"err_{_b}"] = f"err_{_b}"
    ALIASES[f"{_b}_err"] = f"err_{_b}"


def canonicalise(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rename aliased columns to canonical names.

    ``modelMag_x`` together with ``extinction_x`` becomes the dereddened ``x``.
    Columns that already carry a canonical name are kept. When the file has both
    a canonical column and an alias of it, the canonical one wins.

    Parameters
    ----------
    df : pandas.DataFrame
        The table as read from the file.

    Returns
    -------
    (pandas.DataFrame, dict)
        The renamed table and the mapping ``{original name: canonical name}`` that was
        applied (identity renames left out).

    Examples
    --------
    >>> import pandas as pd
    >>> out, mapping = canonicalise(pd.DataFrame({"z_spec": [0.1], "fracDeV_r": [0.5]}))
    >>> sorted(out.columns), mapping
    (['frac_dev_r', 'zspec'], {'z_spec': 'zspec', 'fracDeV_r': 'frac_dev_r'})
    """
    df = df.copy()
    mapping: dict[str, str] = {}
    lower = {c.lower(): c for c in df.columns if isinstance(c, str)}
    # SDSS calls the spectroscopic redshift `z`; read it so only when the z-band magnitude
    # is also given under another name (else `z` is the z-band magnitude).
    if "zspec" not in lower and "z" in df.columns and (
        "dered_z" in lower or ("modelmag_z" in lower and "extinction_z" in lower)
    ):
        df = df.rename(columns={"z": "zspec"})
        mapping["z"] = "zspec"
        lower.pop("z")
    # modelMag_x - extinction_x -> x (and likewise cModelMag_r, petroMag_r)
    derived = [(b, f"modelmag_{b}", f"extinction_{b}") for b in BANDS]
    derived += [("cmodel_r", "cmodelmag_r", "extinction_r"), ("petro_r", "petromag_r", "extinction_r")]
    for target, mag_key, ext_key in derived:
        mag, ext = lower.get(mag_key), lower.get(ext_key)
        if target not in df.columns and mag is not None and ext is not None:
            df[target] = pd.to_numeric(df[mag], errors="coerce") - pd.to_numeric(df[ext], errors="coerce")
            mapping[f"{mag} - {ext}"] = target
    renames: dict[str, str] = {}
    present = set(df.columns)
    for low, orig in lower.items():
        canon = ALIASES.get(low)
        if canon is None and low.startswith("zphot_"):
            canon = "zphot_" + low[len("zphot_"):]
        if canon is None or canon == orig:
            continue
        if canon in present or canon in renames.values():
            continue
        renames[orig] = canon
    df = df.rename(columns=renames)
    mapping.update(renames)
    return df, mapping
