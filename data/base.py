"""The interface every dataset implements: :class:`BaseDataset`.

A dataset declares, as class attributes, its folder (``name``), the ``data_split`` values it
accepts (``splits``), the parts it serves in each role of a run (``roles``: ``trainset_3d``,
``trainset_2d``, ``testset``) and whether it has an evaluation (``can_evaluate``). The
configuration checks ``--trainset_3d/--trainset_2d/--testset`` against these declarations.

The constructor is shared: it checks the split, stores the config, transform and split, runs the
dataset's :meth:`BaseDataset.setup`, loads the records with :meth:`BaseDataset.load_records`
(which counts every annotation it leaves out, by reason, with :meth:`BaseDataset.drop`), then
runs :meth:`BaseDataset.finish_loading`, and logs what was kept and dropped.
"""

from __future__ import annotations

import logging
import os.path as osp
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from common.utils.augmentation import augmentation
from common.utils.human_model_targets import HumanModelTargets, process_human_model_output
from common.utils.image_io import decode_img, load_img
from common.utils.joint_targets import process_db_coord
from common.utils.reduced_decode import augmentation_reduced
from data.box_screen import BoxScreen
from data.coco import get_image
from data.dataset import PART_TARGETS, SPLITS, Augmentation, check_split
from data.samples import Record

if TYPE_CHECKING:
    from main.config import Config

logger = logging.getLogger(__name__)

PARTS = ("body", "hand", "face")
ROLES = ("trainset_3d", "trainset_2d", "testset")


def dataset_roles(
    train: Sequence[str] = (), test: Sequence[str] = ()
) -> dict[str, tuple[str, ...]]:
    """The ``roles`` declaration of a dataset: role -> parts it serves in that role.

    Args:
        train: parts whose training samples the dataset yields. It serves them in both training
            lists: the original only uses the list to balance the 3D group against the 2D group,
            so a training set runs in either (the ``is_3D`` flag comes from the dataset itself).
        test: parts it can be the test set of (its test items and evaluation fit that part's
            test outputs; an evaluation that returns no metric still runs to the end).
    """
    for part in (*train, *test):
        if part not in PARTS:
            raise ValueError(f"dataset_roles: unknown part {part!r}; valid: {', '.join(PARTS)}")
    return {"trainset_3d": tuple(train), "trainset_2d": tuple(train), "testset": tuple(test)}


class BaseDataset(Dataset):
    """What every dataset shares: the declarations, the constructor and the patch step.

    Subclasses declare the class attributes below and implement :meth:`load_records` (and
    :meth:`__getitem__`; test sets :meth:`evaluate` and :meth:`print_eval_result`). They are
    constructed as ``NAME(cfg, transform, data_split)``.

    Attributes:
        name: the data set's name, its folder ``<cfg.data_dir>/<name>`` (:attr:`root_dir`).
        splits: the accepted ``data_split`` values.
        roles: role (``trainset_3d``, ``trainset_2d``, ``testset``) -> parts served there
            (see :func:`dataset_roles`).
        can_evaluate: whether :meth:`evaluate` exists (a test set needs it).
        datalist: the records, one per sample, in annotation order.
        drop_counts: reason -> number of annotations (or persons, hands) the loader left out;
            the kept count is ``len(self)``.
        reference_loader: False (default): the fast loader. The image stays 8-bit until the
            patch step converts (and mirrors) only the window that the warp reads, and the fits'
            training targets are computed without their meshes (:mod:`common.utils.joint_fk`).
            True: the reference's per-sample design, every image converted to float and
            mirrored whole, the colour factors applied in float64, every fit's mesh through the
            smplx layer. Both give the same samples (the image bit for bit, the targets up to
            float32 rounding); True is several times slower, the baseline of
            ``tool/bench_data.py``. Set it on an instance.
        check_images: refuse truncated JPEG/PNG files (:func:`decode_img`'s ``check``); False
            only for the benchmark's comparison.
        box_screen: the boxes dropped or kept with a warning (NaN/inf, wholly outside).
    """

    name: ClassVar[str] = ""
    splits: ClassVar[tuple[str, ...]] = SPLITS
    roles: ClassVar[Mapping[str, tuple[str, ...]]] = dataset_roles()
    can_evaluate: ClassVar[bool] = False
    reference_loader: bool = False
    check_images: bool = True

    def __init__(
        self, cfg: Config, transform: Callable[[np.ndarray], torch.Tensor], data_split: str
    ) -> None:
        check_split(self.name, data_split, self.splits)
        if cfg.fast_decode and data_split != "train":
            raise ValueError(
                f"{self.name} {data_split}: fast_decode is for the train split only (it changes "
                "the crop pixels); build the config without fast_decode"
            )
        self.cfg = cfg
        self.transform = transform
        self.data_split = data_split
        self.root_dir = osp.join(cfg.data_dir, self.name)
        self.drop_counts: dict[str, int] = {}
        self.box_screen = BoxScreen(self.name, data_split)  # bad boxes: dropped, counted
        self.setup()
        self.datalist: list[Record] = self.load_records()
        self._count_screened_boxes()
        self.box_screen.report()
        self.finish_loading()
        dropped = ", ".join(f"{k} {v}" for k, v in self.drop_counts.items()) or "none"
        logger.info(
            "%s %s: %d records kept; dropped: %s", self.name, data_split, len(self.datalist),
            dropped,
        )  # fmt: skip

    def _count_screened_boxes(self) -> None:
        """Boxes the screen dropped move from ``invalid_bbox`` to their own reasons."""
        for reason, count in self.box_screen.dropped().items():
            if count:
                self.drop_counts["invalid_bbox"] -= count
                if self.drop_counts["invalid_bbox"] == 0:
                    del self.drop_counts["invalid_bbox"]
                self.drop_counts[f"{reason}_bbox"] = count

    # ---- what a dataset implements ---------------------------------------------------------------

    def setup(self) -> None:
        """Per-dataset state needed by :meth:`load_records` (runs before it); default none."""

    def load_records(self) -> list[Record]:
        """Read the annotation files and return the records in annotation order; every
        annotation left out is counted with :meth:`drop`."""
        raise NotImplementedError(f"{type(self).__name__} does not implement load_records")

    def finish_loading(self) -> None:
        """What needs the records or must fail before inference (runs after loading)."""

    def evaluate(self, outs: Sequence[dict[str, np.ndarray]], cur_sample_idx: int) -> dict:
        """Per-sample metrics of test outputs; only datasets with ``can_evaluate``."""
        raise NotImplementedError(
            f"{self.name} has no evaluation, so it cannot be a test set (--testset); it serves "
            f"only the training lists"
        )

    def print_eval_result(self, eval_result: dict) -> None:
        """Print the summary of :meth:`evaluate` results; only datasets with ``can_evaluate``."""
        raise NotImplementedError(
            f"{self.name} has no evaluation, so it has no result to print (--testset)"
        )

    # ---- shared ----------------------------------------------------------------------------------

    @classmethod
    def parts_for(cls, role: str) -> tuple[str, ...]:
        """The parts this dataset serves in ``role`` (``trainset_3d``, ``trainset_2d``,
        ``testset``)."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; valid: {', '.join(ROLES)}")
        return tuple(cls.roles.get(role, ()))

    def drop(self, reason: str) -> None:
        """Count one annotation that :meth:`load_records` leaves out, under ``reason``."""
        self.drop_counts[reason] = self.drop_counts.get(reason, 0) + 1

    def coco_entries(
        self,
        anns: Sequence[dict[str, Any]],
        images: Mapping[Any, dict[str, Any]],
        skip: Callable[[dict[str, Any]], str | None] | None = None,
    ) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """``(annotation, image entry)`` of each annotation of a COCO index, in file order.

        ``skip(annotation)`` is asked first, before anything is looked up for the entry; a
        reason it returns is counted with :meth:`drop` and the entry is left out.
        """
        for ann in anns:
            reason = None if skip is None else skip(ann)
            if reason is not None:
                self.drop(reason)
                continue
            yield ann, get_image(images, ann, self.name)

    def screen_box(
        self, bbox: Any, width: float, height: float, entry: str
    ) -> np.ndarray | None:
        """The annotated ``[x, y, w, h]`` box (px) through the box screen and ``process_bbox``
        for an image ``width`` x ``height`` px; None (counted as ``invalid_bbox``) when it is
        dropped. ``entry`` names the annotation in warnings."""
        box = self.box_screen.process(
            np.array(bbox), width, height, self.cfg.input_img_shape, entry
        )
        if box is None:
            self.drop("invalid_bbox")
        return box

    @property
    def data_dir(self) -> str:
        """``<root_dir>/data``, the annotation and image folder of most data sets."""
        return osp.join(self.root_dir, "data")

    def __len__(self) -> int:
        return len(self.datalist)

    def load_patch(
        self, img_path: str, bbox: np.ndarray, enforce_flip: bool | None = None
    ) -> tuple[torch.Tensor, np.ndarray, np.ndarray, float, bool]:
        """Read the image, crop/augment the box, convert to the network input.

        With ``cfg.fast_decode`` a JPEG is decoded at 1/2, 1/4 or 1/8 of its size when the
        augmented box allows it (:func:`common.utils.reduced_decode.augmentation_reduced`):
        the same draws and affines, other pixels.

        Returns:
            ``(img, img2bb_trans, bb2img_trans, rot, do_flip)``: img (3, H_in, W_in) float32 in
            [0, 1]; the (2, 3) affines of :func:`common.utils.augmentation.augmentation`.
        """
        if self.cfg.fast_decode:  # train split only (checked by the constructor)
            if self.reference_loader:
                raise ValueError("reference_loader: not available with fast_decode")
            patch, img2bb_trans, bb2img_trans, rot, do_flip, _ = augmentation_reduced(
                img_path, bbox, self.data_split, self.cfg.input_img_shape, enforce_flip
            )
        else:
            read = load_img if self.reference_loader else decode_img
            img = read(img_path, check=self.check_images)
            patch, img2bb_trans, bb2img_trans, rot, do_flip = augmentation(
                img, bbox, self.data_split, self.cfg.input_img_shape, enforce_flip,
                reference=self.reference_loader,
            )  # fmt: skip
        img_tensor = self.transform(patch.astype(np.float32, copy=False)).div_(255.0)
        return img_tensor, img2bb_trans, bb2img_trans, rot, do_flip

    def fit_targets(
        self,
        param: Mapping[str, Any],
        cam_param: Mapping[str, Any],
        aug: Augmentation,
        img_shape: Sequence[int],
        model_type: str,
        with_mesh: bool = False,
    ) -> HumanModelTargets:
        """:func:`process_human_model_output` of a fit for this sample's augmentation.

        The mesh is computed when ``with_mesh`` or :attr:`reference_loader`; otherwise only the
        joints (``mesh_cam_orig`` None), which is all that training targets need.
        """
        img2bb_trans, rot, do_flip = aug
        return process_human_model_output(
            self.cfg, param, cam_param, do_flip, img_shape, img2bb_trans, rot, model_type,
            with_mesh=with_mesh or self.reference_loader,
        )  # fmt: skip

    def train_sample(
        self,
        part: str,
        img: torch.Tensor,
        aug: Augmentation,
        img_shape: Sequence[int],
        joint_img: np.ndarray,
        joint_cam: np.ndarray | None,
        joint_valid: np.ndarray,
        joints_name: Sequence[str],
        flip_pairs: Sequence[tuple[int, int]],
        fit: tuple[Mapping[str, Any], Mapping[str, Any]] | None,
        is_3d: bool,
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """Training triple of a sample with joint annotations and a fit.

        Dataset joints go through :func:`process_db_coord` into the part's model joint set
        (SMPL 33, MANO 21, FLAME 73), the fit through :meth:`fit_targets` (the reference's pseudo-GT
        targets).

        Args:
            part: 'body', 'hand' or 'face' (model and triple layout).
            img: (3, H_in, W_in) network input.
            aug: ``(img2bb_trans (2, 3), rot (degrees), do_flip)`` of :meth:`load_patch`.
            img_shape: (H, W) of the image that was cropped.
            joint_img: (J, 3) image px x, y and root-relative depth, m (0 for 2D datasets).
            joint_cam: (J, 3) root-relative camera coordinates, m; None for 2D datasets (zeros).
            joint_valid: (J, 1) validity.
            joints_name, flip_pairs: the dataset's joint set.
            fit: ``(param, cam_param)`` of the model fit (see :func:`process_human_model_output`);
                None only for a hand without a fit (zero MANO targets and validities).
            is_3d: 1.0 / 0.0 in ``meta_info['is_3D']``.
        """
        model_joints, model_type, assemble = PART_TARGETS[part]
        img2bb_trans, rot, do_flip = aug
        if joint_cam is None:
            joint_cam = np.zeros((len(joints_name), 3), dtype=np.float32)  # 2D dataset: no 3D GT
        joint_img, joint_cam, joint_valid, joint_trunc = process_db_coord(
            self.cfg, joint_img, joint_cam, joint_valid, do_flip, img_shape, flip_pairs,
            img2bb_trans, rot, joints_name, model_joints,
        )  # fmt: skip
        if fit is None and part != "hand":
            raise ValueError(f"train_sample: a {part} sample needs a fit")
        model = None if fit is None else self.fit_targets(*fit, aug, img_shape, model_type)
        return assemble(img, joint_img, joint_cam, joint_valid, joint_trunc, model, is_3d)

    def annotated_sample(
        self,
        part: str,
        data: Mapping[str, Any],
        joint_img: np.ndarray,
        joint_cam: np.ndarray | None,
        joints_name: Sequence[str],
        flip_pairs: Sequence[tuple[int, int]],
        fit: tuple[Mapping[str, Any], Mapping[str, Any]],
        is_3d: bool,
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """:meth:`load_patch` of a datalist entry, then :meth:`train_sample` of its joints.

        ``data`` supplies ``img_path``, ``bbox``, ``img_shape`` and ``joint_valid``; the other
        arguments are those of :meth:`train_sample`.
        """
        img, img2bb_trans, _, rot, do_flip = self.load_patch(data["img_path"], data["bbox"])
        return self.train_sample(
            part, img, (img2bb_trans, rot, do_flip), data["img_shape"], joint_img, joint_cam,
            data["joint_valid"], joints_name, flip_pairs, fit, is_3d,
        )  # fmt: skip
