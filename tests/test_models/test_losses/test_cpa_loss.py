# Copyright (c) OpenMMLab. All rights reserved.
import math

import numpy as np
import pytest
import torch

from mmvlsm.models import ContrastivePrototypeLoss
from mmvlsm.registry import MODELS


def make_coords(height, width, batch_size=1, scale=1., offset=(0., 0.)):
    """(y, x) coordinates of pixels ``scale`` input pixels wide.

    Returns:
        Tensor: Shape (B, 2, height, width); pixel (i, j) lies at
        ``scale * (i, j) + (scale - 1) / 2 + offset``, its centre in input
        pixels.
    """
    y = torch.arange(height).float() * scale + (scale - 1) / 2 + offset[0]
    x = torch.arange(width).float() * scale + (scale - 1) / 2 + offset[1]
    grid = torch.stack(torch.meshgrid(y, x, indexing='ij'))
    return grid.unsqueeze(0).repeat(batch_size, 1, 1, 1)


def clustered_embedding(height, width, channels=8, seed=0):
    """Left and right halves near two different directions, plus noise."""
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(2, channels, generator=gen)
    embedding = centres[(torch.arange(width) >= width // 2).long()]
    embedding = embedding.t()[:, None].expand(-1, height, -1)
    noise = 0.3 * torch.randn(channels, height, width, generator=gen)
    return (embedding + noise).unsqueeze(0)


def test_cpa_hand_computed():
    # A 1 x 4 teacher: pixels (1, 0), (1, 0), (0, 1), (0, 1). With
    # reduction_factor_protos 2 the seeds are the means of the pixel pairs,
    # i.e. the prototypes (1, 0) and (0, 1) (no k-means iteration), and
    # with reduction_factor 1 the loss grid is the embedding itself.
    loss = ContrastivePrototypeLoss(
        loss_weight=1.,
        k_means_iterations=0,
        reduction_factor=1.,
        reduction_factor_protos=2.)
    teacher = torch.tensor([[1., 1., 0., 0.], [0., 0., 1., 1.]])
    teacher = teacher.view(1, 2, 1, 4).repeat(2, 1, 1, 1)
    coords = make_coords(1, 4, batch_size=2)
    protos, proto_coords = loss.compute_prototypes(teacher, coords)
    assert torch.allclose(protos[0], torch.eye(2))
    assert torch.allclose(proto_coords[0], torch.tensor([[0., .5], [0., 2.5]]))
    # Student pixel 0 is (1, 0), the others (1, 1): cosines (1, 0) and
    # (1/sqrt 2, 1/sqrt 2).
    student = torch.tensor([[1., 1., 1., 1.], [0., 1., 1., 1.]])
    student = student.view(1, 2, 1, 4).repeat(2, 1, 1, 1)
    # The second image's student lies far from its teacher: no pair counts.
    student_coords = coords.clone()
    student_coords[1] += 100.
    q_t = 1 / (1 + math.exp(-1 / 0.033))  # Q^t of the own prototype
    q_s = 1 / (1 + math.exp(-1 / 0.066))
    pixel_0 = -(q_t * math.log(q_s) + (1 - q_t) * math.log(1 - q_s))
    expected = (pixel_0 + 3 * math.log(2)) / 4
    value = loss([student], [student_coords], teacher, coords)
    assert len(value) == 1
    assert value[0].item() == pytest.approx(expected, rel=1e-5)


def reference_loss(teacher, student, fwhm, iterations, t_t, t_s):
    """A loop-based numpy CPA for a 4 x 4 image, loss grid = embedding,
    2 x 2 seed grid and student coordinates equal to the teacher's."""
    teacher = teacher[0].numpy().astype(np.float64)
    student = student[0].numpy().astype(np.float64)
    channels = teacher.shape[0]
    pixels = teacher.reshape(channels, -1).T
    coords = np.stack(
        np.meshgrid(np.arange(4.), np.arange(4.),
                    indexing='ij')).reshape(2, -1).T

    def normalise(x):
        return x / np.linalg.norm(x, axis=-1, keepdims=True)

    def softmax(x):
        x = np.exp(x - x.max(axis=-1, keepdims=True))
        return x / x.sum(axis=-1, keepdims=True)

    protos, proto_coords = [], []
    for i in range(2):
        for j in range(2):
            block = teacher[:, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
            protos.append(block.mean(axis=(1, 2)))
            proto_coords.append([2 * i + .5, 2 * j + .5])
    protos, proto_coords = normalise(np.array(protos)), np.array(proto_coords)
    sigma = fwhm / 2.355
    for _ in range(iterations):
        new_protos, new_coords = [], []
        weight = softmax(normalise(pixels) @ protos.T / t_t)
        for p in range(len(protos)):
            for n in range(len(pixels)):
                d2 = ((coords[n] - proto_coords[p])**2).sum()
                weight[n, p] *= math.exp(-d2 / (2 * sigma**2))
            w = weight[:, p:p + 1]
            new_protos.append((w * pixels).sum(0) / w.sum())
            new_coords.append((w * coords).sum(0) / w.sum())
        protos, proto_coords = normalise(
            np.array(new_protos)), np.array(new_coords)
    targets = softmax(normalise(pixels) @ protos.T / t_t)
    student_pixels = normalise(student.reshape(channels, -1).T)
    predictions = softmax(student_pixels @ protos.T / t_s)
    return -(targets * np.log(predictions + 1e-16)).sum(1).mean()


def test_cpa_matches_reference_k_means():
    # A small FWHM makes the spatial weights matter; mild temperatures keep
    # the assignments soft so that the iterations move the prototypes.
    torch.manual_seed(0)
    teacher, student = torch.randn(1, 3, 4, 4), torch.randn(1, 3, 4, 4)
    coords = make_coords(4, 4)
    cfg = dict(
        loss_weight=1.,
        k_means_iterations=2,
        reduction_factor=1.,
        reduction_factor_protos=2.,
        temperature_teacher=0.5,
        temperature_student=0.8,
        fwhm_protos=3.)
    value = ContrastivePrototypeLoss(**cfg)([student], [coords], teacher,
                                            coords)[0]
    expected = reference_loss(teacher, student, 3., 2, 0.5, 0.8)
    assert value.item() == pytest.approx(expected, rel=1e-5)
    # Without iterations the result differs: the k-means does something.
    cfg['k_means_iterations'] = 0
    value = ContrastivePrototypeLoss(**cfg)([student], [coords], teacher,
                                            coords)[0]
    assert value.item() != pytest.approx(expected, rel=1e-3)
    expected = reference_loss(teacher, student, 3., 0, 0.5, 0.8)
    assert value.item() == pytest.approx(expected, rel=1e-5)


def test_cpa_identical_student_is_lower_than_permuted():
    torch.manual_seed(0)
    teacher = clustered_embedding(16, 16)
    coords = make_coords(16, 16, scale=2.)
    permuted = teacher.flatten(2)[..., torch.randperm(256)].view_as(teacher)
    loss = ContrastivePrototypeLoss(loss_weight=1., reduction_factor_protos=4.)
    same, shuffled = loss([teacher, permuted], [coords, coords], teacher,
                          coords)
    assert same.item() < 0.75 * shuffled.item()


def test_cpa_ignores_distant_pixels():
    teacher = clustered_embedding(8, 8)
    coords = make_coords(8, 8, scale=2.)
    loss = ContrastivePrototypeLoss(reduction_factor_protos=4.)
    # The right half of the student is garbage, but its coordinates lie far
    # from every teacher pixel: the loss is that of the left half alone.
    student = teacher.clone()
    student[..., 4:] = torch.randn(1, 8, 8, 4)
    student_coords = coords.clone()
    student_coords[:, 1, :, 4:] += 1000.
    left_half = loss([teacher[..., :4]], [coords[..., :4]], teacher, coords)[0]
    value = loss([student], [student_coords], teacher, coords)[0]
    assert value.item() == pytest.approx(left_half.item(), rel=1e-6)
    # The loss grids have pixels 4 input pixels apart, the teacher's at x in
    # {1.5, ..., 13.5}. Shifted by 16, the student's first column (x = 17.5)
    # is exactly max_distance = 4 away and counts; shifted by 16.5 nothing
    # does, which gives a zero that still back-propagates.
    shift = torch.tensor([0., 16.]).view(1, 2, 1, 1)
    edge = loss([teacher], [coords + shift], teacher, coords)[0]
    assert edge.item() > 0
    student.requires_grad_()
    far = loss([student], [coords + shift + 0.5], teacher, coords)[0]
    assert far.item() == 0
    far.backward()
    assert torch.equal(student.grad, torch.zeros_like(student))


def test_cpa_gradients_reach_students_only():
    # Sizes that are not powers of two and students that see crops of the
    # teacher's view, with jitter on.
    teacher = clustered_embedding(30, 26).requires_grad_()
    teacher_coords = make_coords(30, 26, scale=2.)
    students = [
        clustered_embedding(23, 19, seed=1).requires_grad_(),
        clustered_embedding(15, 11, seed=2).requires_grad_()
    ]
    student_coords = [
        make_coords(23, 19, scale=2., offset=(6., 4.)),
        make_coords(15, 11, scale=2., offset=(10., 2.))
    ]
    loss = MODELS.build(
        dict(type='ContrastivePrototypeLoss', jitter_students=True))
    assert loss.loss_name == 'loss_cpa'
    values = loss(students, student_coords, teacher, teacher_coords)
    assert len(values) == 2
    sum(values).backward()
    assert teacher.grad is None
    for student in students:
        assert student.grad is not None
        assert torch.isfinite(student.grad).all()
        assert student.grad.abs().sum() > 0


def test_cpa_autocast_runs_in_float32():
    teacher = clustered_embedding(16, 16).bfloat16()
    student = clustered_embedding(16, 16, seed=2).bfloat16().requires_grad_()
    coords = make_coords(16, 16, scale=2.)
    loss = ContrastivePrototypeLoss()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        value = loss([student], [coords], teacher, coords)[0]
    assert value.dtype == torch.float32
    expected = loss([student.float()], [coords], teacher.float(), coords)[0]
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)
    value.backward()
    assert student.grad.dtype == torch.bfloat16


def test_cpa_coordinates_at_input_resolution():
    # Coordinates of the input pixels (twice the embedding size) are
    # resampled to the embedding grid: the same loss as with coordinates of
    # the embedding pixels.
    teacher = clustered_embedding(12, 12)
    student = clustered_embedding(10, 10, seed=3)
    loss = ContrastivePrototypeLoss(reduction_factor_protos=4.)
    value = loss([student], [make_coords(10, 10, scale=2., offset=(2., 2.))],
                 teacher, make_coords(12, 12, scale=2.))[0]
    at_input = loss([student], [make_coords(20, 20, offset=(2., 2.))], teacher,
                    make_coords(24, 24))[0]
    assert at_input.item() == pytest.approx(value.item(), rel=1e-5)


def test_cpa_number_of_prototypes():
    loss = ContrastivePrototypeLoss()
    assert loss.prototype_grid_size((128, 128)) == (16, 16)
    assert loss.loss_grid_size((128, 128)) == (64, 64)
    assert loss.prototype_grid_size((100, 60)) == (12, 7)
    assert loss.prototype_grid_size((5, 40)) == (1, 5)
    protos, proto_coords = loss.compute_prototypes(
        torch.randn(1, 32, 128, 128), make_coords(128, 128, scale=2.))
    assert protos.shape == (1, 256, 32)
    assert proto_coords.shape == (1, 256, 2)
    assert torch.allclose(protos.norm(dim=-1), torch.ones(1, 256))


def test_cpa_argument_errors():
    loss = ContrastivePrototypeLoss()
    embedding, coords = torch.zeros(1, 4, 8, 8), make_coords(8, 8)
    with pytest.raises(ValueError, match='coordinate maps'):
        loss([embedding], [], embedding, coords)
    with pytest.raises(ValueError, match='do not fit'):
        loss([embedding], [coords], embedding, coords[:, :1])


def make_coords_3d(height, width, depth, scale=2., offset=(0., 0., 0.)):
    """(y, x, z) coordinates of an embedding at 1/``scale`` in-plane
    resolution and full depth: (1, 3, height, width, depth)."""
    axes = [
        torch.arange(height).float() * scale + (scale - 1) / 2 + offset[0],
        torch.arange(width).float() * scale + (scale - 1) / 2 + offset[1],
        torch.arange(depth).float() + offset[2]
    ]
    return torch.stack(torch.meshgrid(*axes, indexing='ij')).unsqueeze(0)


def clustered_volume(height, width, depth, channels=8, seed=0):
    """``clustered_embedding`` repeated over depth with fresh noise."""
    gen = torch.Generator().manual_seed(seed)
    planar = clustered_embedding(height, width, channels, seed)
    noise = 0.3 * torch.randn(1, channels, height, width, depth, generator=gen)
    return planar.unsqueeze(-1) + noise


def test_cpa_3d_grid_sizes_as_upstream():
    # Upstream reduces every axis, depth included: the 3d_flat teacher
    # embedding (64 x 64 x 4 of a 128 x 128 x 4 patch) gets 32 x 32 x 2
    # loss pixels and 8 x 8 x 1 prototypes; the tiny 16 x 16 x 8 one
    # 8 x 8 x 4 and 2 x 2 x 1.
    loss = ContrastivePrototypeLoss()
    assert loss.loss_grid_size((64, 64, 4)) == (32, 32, 2)
    assert loss.prototype_grid_size((64, 64, 4)) == (8, 8, 1)
    assert loss.loss_grid_size((16, 16, 8)) == (8, 8, 4)
    assert loss.prototype_grid_size((16, 16, 8)) == (2, 2, 1)
    assert loss.prototype_grid_size((28, 28, 8)) == (3, 3, 1)
    embedding = torch.randn(2, 16, 64, 64, 4)
    coords = make_coords_3d(64, 64, 4).repeat(2, 1, 1, 1, 1)
    protos, proto_coords = loss.compute_prototypes(embedding, coords)
    assert protos.shape == (2, 64, 16)
    assert proto_coords.shape == (2, 64, 3)
    assert torch.isfinite(proto_coords).all()
    # The seeds sit at the centres of 8 x 8 x 4 embedding blocks: input
    # pixels 16 i + 7.5 in-plane, slice 1.5.
    seeds = ContrastivePrototypeLoss(k_means_iterations=0)
    _, seed_coords = seeds.compute_prototypes(embedding, coords)
    centres = torch.arange(8.) * 16 + 7.5
    expected = torch.stack(
        torch.meshgrid(centres, centres, torch.tensor([1.5]),
                       indexing='ij')).flatten(1).t()
    torch.testing.assert_close(seed_coords[0], expected)


def test_cpa_3d_identical_student_is_lower_than_permuted():
    torch.manual_seed(0)
    teacher = clustered_volume(16, 16, 4)
    coords = make_coords_3d(16, 16, 4)
    permuted = teacher.flatten(2)[..., torch.randperm(1024)].view_as(teacher)
    loss = ContrastivePrototypeLoss(loss_weight=1., reduction_factor_protos=4.)
    same, shuffled = loss([teacher, permuted], [coords, coords], teacher,
                          coords)
    assert same.item() < 0.75 * shuffled.item()


def test_cpa_3d_depth_counts_double_in_the_pairing():
    # Loss-grid slices of a depth-8 embedding lie at z = 0.5, 2.5, 4.5 and
    # 6.5. Moved 9 slices deeper, the closest student pixels are 3 slices
    # from the teacher's: paired (3 <= max_distance 4) when depth counts
    # once, not when it counts double (upstream's scale_z = 2).
    teacher = clustered_volume(8, 8, 8)
    coords = make_coords_3d(8, 8, 8)
    moved = make_coords_3d(8, 8, 8, offset=(0., 0., 9.))
    student = clustered_volume(8, 8, 8, seed=1).requires_grad_()
    once = ContrastivePrototypeLoss(reduction_factor_protos=4., depth_scale=1.)
    double = ContrastivePrototypeLoss(reduction_factor_protos=4.)
    assert double.depth_scale == 2.
    assert once([student], [moved], teacher, coords)[0].item() > 0
    far = double([student], [moved], teacher, coords)[0]
    assert far.item() == 0
    # In-plane distances are not scaled: a shift 3 pixels beyond the
    # teacher's last loss column (x = 13.5) still pairs, when depth counts
    # double too.
    shifted = make_coords_3d(8, 8, 8, offset=(0., 15., 0.))
    assert double([student], [shifted], teacher, coords)[0].item() > 0
    # With the student at the teacher's place both agree.
    torch.testing.assert_close(
        once([student], [coords], teacher, coords)[0],
        double([student], [coords], teacher, coords)[0],
        rtol=1e-4,
        atol=0)


def test_cpa_3d_gradients_and_jitter_keep_depth():
    teacher = clustered_volume(14, 12, 4).requires_grad_()
    student = clustered_volume(10, 8, 4, seed=2).requires_grad_()
    loss = ContrastivePrototypeLoss(
        jitter_students=True, reduction_factor_protos=4.)
    # A draw that crops a pixel off the top, left and right borders.
    torch.manual_seed(5)
    value = loss([student], [make_coords_3d(10, 8, 4, offset=(4., 4., 0.))],
                 teacher, make_coords_3d(14, 12, 4))[0]
    value.backward()
    assert teacher.grad is None
    assert torch.isfinite(student.grad).all()
    # Jitter crops in-plane only: every slice of the student gets a
    # gradient (a depth crop would leave the last slices without).
    assert (student.grad.abs().sum(dim=(0, 1, 2, 3)) > 0).all()
    with pytest.raises(ValueError, match='do not fit'):
        loss([student], [make_coords(10, 8)], teacher,
             make_coords_3d(14, 12, 4))
