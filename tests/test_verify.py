import numpy as np
from PIL import Image, ImageOps

from ndid_desktop.engine.verify import verify_images

from .conftest import dev_photos


def _grey(img: Image.Image) -> np.ndarray:
    img = img.copy()
    img.thumbnail((512, 512))
    return np.asarray(img.convert("L"))


def test_crop_is_verified_with_its_coverage() -> None:
    photo = Image.open(dev_photos(1, offset=10)[0]).convert("RGB")
    w, h = photo.size
    crop = photo.crop((w // 4, h // 4, w * 3 // 4, h * 3 // 4))
    check = verify_images(_grey(photo), _grey(crop))
    assert check.inliers >= 20
    assert 0.15 < check.coverage_ab < 0.4  # the crop covers a quarter of the photo
    assert check.coverage_ba > 0.95  # and the photo covers all of the crop
    assert check.detail_ab > 0.35  # what lies outside the crop is picture, not a frame


def test_border_is_seen_as_a_flat_frame() -> None:
    photo = Image.open(dev_photos(1, offset=11)[0]).convert("RGB")
    framed = ImageOps.expand(photo, border=photo.height // 5, fill=(0, 0, 0))
    check = verify_images(_grey(photo), _grey(framed))
    assert check.coverage_ab > 0.95 and check.coverage_ba < 0.8
    assert check.detail_ba < 0.35


def test_different_photos_do_not_verify() -> None:
    a, b = (Image.open(p).convert("RGB") for p in dev_photos(2, offset=20))
    assert verify_images(_grey(a), _grey(b)).inliers < 15
