"""Read cutout answers (FITS cubes, JPEG thumbnails) and tell good images from off-footprint ones."""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image

OK = "ok"
MISSING = "missing"
OFF_FOOTPRINT = "off-footprint"
FAILED = "failed"
SKIPPED = "skipped"

#: JPEG pixels at or below this everywhere mean a blank (no-data) thumbnail
JPEG_BLANK_LEVEL = 2


def read_fits_cutout(data: bytes, bands: str, size: int) -> tuple[np.ndarray | None, str, str]:
    """Read a Legacy Surveys FITS cutout into a ``(len(bands), size, size)`` float32 array.

    Parameters
    ----------
    data : bytes
        The FITS file (primary HDU: ``(bands, size, size)``, or ``(size, size)`` for one band).
    bands : str
        Band letters asked for, e.g. ``"grz"``.
    size : int
        Side in pixels asked for.

    Returns
    -------
    (array or None, status, message)
        ``status`` is ``"ok"``, ``"off-footprint"`` (a band is all zero or NaN: no data
        there) or ``"failed"`` (not FITS, or another shape). NaN pixels in an otherwise good
        image are set to 0 and counted in the message.

    Examples
    --------
    >>> from astropy.io import fits
    >>> buf = io.BytesIO(); fits.PrimaryHDU(np.zeros((3, 4, 4), np.float32)).writeto(buf)
    >>> read_fits_cutout(buf.getvalue(), "grz", 4)[1:]
    ('off-footprint', 'no data (all zero or NaN) in bands g, r, z')
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from astropy.io import fits  # imported here: astropy.io.fits is slow to import

            with fits.open(io.BytesIO(data), memmap=False) as hdus:
                hdu = next((h for h in hdus if h.data is not None and h.data.ndim >= 2), None)
                image = None if hdu is None else np.array(hdu.data, dtype=np.float32)
    except Exception as exc:  # astropy raises many kinds on bad bytes
        return None, FAILED, f"not a readable FITS file ({type(exc).__name__}: {exc})"[:300]
    if image is None:
        return None, FAILED, "FITS file holds no image"
    if image.ndim == 2:
        image = image[None]
    expected = (len(bands), size, size)
    if image.shape != expected:
        return None, FAILED, f"FITS image has shape {image.shape}, expected {expected}"
    finite = np.isfinite(image)
    empty = [b for k, b in enumerate(bands) if not np.any(finite[k] & (image[k] != 0))]
    if empty:
        return None, OFF_FOOTPRINT, f"no data (all zero or NaN) in bands {', '.join(empty)}"
    n_nan = int(image.size - finite.sum())
    if n_nan:
        image[~finite] = 0.0
        return image, OK, f"{n_nan} NaN pixels set to 0"
    return image, OK, ""


def jpeg_status(data: bytes) -> tuple[str, str]:
    """Check a JPEG thumbnail: ``("ok", "")``, ``("off-footprint", why)`` or ``("failed", why)``.

    Examples
    --------
    >>> buf = io.BytesIO(); Image.new("RGB", (8, 8)).save(buf, "JPEG")
    >>> jpeg_status(buf.getvalue())
    ('off-footprint', 'blank (black) image: no data there')
    """
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != "JPEG":
                return FAILED, f"not a JPEG image ({img.format})"
            pixels = np.asarray(img.convert("RGB"))
    except Exception as exc:  # Pillow raises several kinds on bad bytes
        return FAILED, f"not a readable JPEG image ({type(exc).__name__}: {exc})"[:300]
    if pixels.size == 0 or int(pixels.max()) <= JPEG_BLANK_LEVEL:
        return OFF_FOOTPRINT, "blank (black) image: no data there"
    return OK, ""
