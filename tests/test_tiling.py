"""Exact tiled inference and test-time augmentation: the tiles' arithmetic, the stitched scores
against the whole image's for every variant, upsampling API and shape fix, the halo measured on the
model, and flip / scale TTA computed by hand from the plain model's scores."""
import numpy as np
import pytest

from fcn_tf1.ground.names import BACKBONE_SPECS, VALID_PAIRS
from fcn_tf1.ground.tf_compat import tf
from fcn_tf1.model.config import ModelConfig
from fcn_tf1.model.inference import build_inference_graph
from fcn_tf1.model.labelling import Labeller
from fcn_tf1.model.models import LoadedModel
from fcn_tf1.model.receptive_field import STRIDE, halo
from fcn_tf1.numbers import tiling
from fcn_tf1.numbers.tta import TTA, resize_probabilities, softmax


class RandomModel(LoadedModel):
    """The inference graph of ``config`` with seeded random weights everywhere (the score layers
    too, which training starts at 0), so that every score depends on its whole receptive field."""

    def __init__(self, config, seed=0):
        self.config, self.graph = config, tf.Graph()
        with self.graph.as_default():
            self.input, logits, prediction = build_inference_graph(config)
            self.session = tf.Session()
            rng = np.random.RandomState(seed)
            for v in tf.global_variables():
                shape = v.shape.as_list()
                fan_in = float(np.prod(shape[:-1])) if len(shape) > 1 else 1.0
                v.load(rng.normal(0, (2 / fan_in) ** 0.5, shape).astype(np.float32), self.session)
        self.outputs = [logits, prediction]


def _image(shape, seed=0):
    """Blocks of colour with noise: scores that vary across the image."""
    rng = np.random.RandomState(seed)
    blocks = np.kron(rng.randint(0, 256, (shape[0] // 19 + 1, shape[1] // 19 + 1, 3)),
                     np.ones((19, 19, 1)))[:shape[0], :shape[1]]
    return np.clip(blocks + rng.normal(0, 20, blocks.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("halo_px", [233, 248])
def test_tiles_lie_on_the_grid_share_one_size_and_keep_pixels_far_from_inner_edges(halo_px):
    smallest = tiling.smallest_tile(halo_px, STRIDE)
    for length in list(range(1, 2600, 89)) + [smallest, smallest + 1, 4000]:
        for tile in (smallest, smallest + 45, 1024, 2048):
            size, tiles = tiling.axis_tiles(length, tile, halo_px, STRIDE)
            if tile >= length:
                assert (size, tiles) == (length, [(0, 0, length)])
                continue
            assert size <= tile and size % STRIDE == length % STRIDE and len(tiles) > 1
            assert tiles[0].keep_start == 0 and tiles[-1].keep_end == length
            for k, t in enumerate(tiles):
                assert t.origin % STRIDE == 0 and 0 <= t.origin and t.origin + size <= length
                assert t.keep_start < t.keep_end
                if k:
                    assert t.keep_start == tiles[k - 1].keep_end  # adjacent: each pixel once
                    assert t.keep_start - t.origin >= halo_px
                if k < len(tiles) - 1:
                    assert t.origin + size - t.keep_end >= halo_px
            largest = tile - (tile - length) % STRIDE  # as few tiles as it allows
            step = (largest - 2 * halo_px) // STRIDE * STRIDE
            assert len(tiles) == 1 + -(-(length - largest) // step)
    with pytest.raises(tiling.TilingError, match="tiles of at least %d px" % smallest):
        tiling.axis_tiles(4000, smallest - 1, halo_px, STRIDE)


# Every variant x API x fix on VGG16; the other backbones' geometry follows the fix, not the API.
ONE_API = [(api, fix) for fix, api in dict((fix, api) for api, fix in VALID_PAIRS).items()]
PAIRS = [(backbone, variant, api, fix) for backbone, spec in BACKBONE_SPECS.items()
         for variant in spec.variants
         for api, fix in (VALID_PAIRS if backbone == "vgg16" else ONE_API)]


@pytest.mark.parametrize("backbone, variant, api, fix", PAIRS)
def test_tiled_scores_equal_the_whole_images(backbone, variant, api, fix):
    config = ModelConfig(5, variant, 1 / 64., api, fix, backbone=backbone)
    # set_shape and reshape take sizes of multiples of 32 only; the others odd ones.
    shape = (704, 736) if fix in ("set_shape", "reshape") else (701, 745)
    image = _image(shape)
    with RandomModel(config) as model:
        whole = model.run(image)[0]
        labeller = Labeller(model, tile=(640, 640))
        tiled, how = labeller.scores(image)
        assert how.kind == "tiled" and min(len({r for r, _ in how.tiles}),
                                           len({c for _, c in how.tiles})) > 1
        assert np.abs(tiled - whole).max() <= 2e-6 * np.abs(whole).max()
        assert (labeller.labels(image)[0] == whole.argmax(-1)).mean() >= 0.9999


def test_a_halo_40_px_short_of_the_measured_one_changes_the_scores():
    config = ModelConfig(5, "fcn8s", 1 / 64.)

    def short(length):
        return halo(config, length) - 40
    # A size whose tiles keep less than ``short`` + 8 px from their inner edges (the reach differs
    # up and down, left and right: the halo is the larger).
    side = next(n for n in range(700, 732) if (n - 2 * short(n)) % STRIDE < 16)
    tile = tiling.smallest_tile(short(side), STRIDE)
    image = _image((side, side))
    with RandomModel(config) as model:
        whole = model.run(image)[0]
        labeller = Labeller(model, "off")
        labeller.tile, labeller.halo = (tile, tile), short  # past the check of the tile's size
        tiled, how = labeller.scores(image)
    assert how.tiles[1][1].keep_start - how.tiles[1][1].origin < halo(config, side) - 32
    assert np.abs(tiled - whole).max() > 1e-4 * np.abs(whole).max()


def test_the_halo_is_measured_on_the_model_for_each_size_modulo_its_stride():
    # fc7's receptive field is 404 px across (202 either side); the transposed convolutions and
    # skips reach further; the output_shape fix pads its last transposed convolution by an amount
    # that follows the size modulo 32, shifting the reach; crop and pad100 keep one alignment.
    fcn32s, pad100 = ModelConfig(5, "fcn32s", 1 / 64.), ModelConfig(5, "fcn8s", 1.0, "nn", "pad100")
    assert [halo(fcn32s, n) for n in (0, 3, 30)] == [233, 247, 234]
    assert {halo(pad100, n) for n in (0, 3, 30)} == {245}
    assert halo(ModelConfig(5, "fcn8s", 1.0), 7) == halo(ModelConfig(5, "fcn8s", 1 / 64.), 39)


def test_flip_and_scale_tta_average_the_probabilities_of_the_copies():
    config = ModelConfig(5, "fcn32s", 1 / 64.)
    image = _image((97, 131))
    with RandomModel(config) as model:
        plain = softmax(model.run(image)[0])
        mirrored = softmax(model.run(image[:, ::-1])[0])[:, ::-1]
        flip = Labeller(model, tile="off", tta=TTA.parse("flip"))
        np.testing.assert_allclose(flip.probabilities(image), (plain + mirrored) / 2, atol=1e-6)
        assert (flip.labels(image)[0] == ((plain + mirrored) / 2).argmax(-1)).all()
        from PIL import Image
        half = np.asarray(Image.fromarray(image).resize((66, 48), Image.BILINEAR))
        small = resize_probabilities(softmax(model.run(half)[0]), (97, 131))
        both = Labeller(model, tile="off", tta=TTA.parse("scales=0.5,1"))
        np.testing.assert_allclose(both.probabilities(image), (plain + small) / 2, atol=1e-6)


def test_auto_tiles_only_over_the_pixel_limit_in_tiles_of_at_most_that_many():
    with RandomModel(ModelConfig(5, "fcn8s", 1 / 64.)) as model:
        labeller = Labeller(model, "auto", max_pixels=2048 * 2048)
        assert labeller.plan((2048, 2048)).kind == "whole"
        how = labeller.plan((3000, 4000))  # a 12 MP photo: 6 tiles, not 2048 x 2048 each
        assert (how.kind, how.size, len(how.tiles)) == ("tiled", (1752, 1696), 6)
        how = Labeller(model, "auto", max_pixels=100).plan((1200, 1300))  # never too small
        assert len(how.tiles) == 4 and max(how.size) <= 4 * 248  # 4 halos a side at most


def test_tta_works_on_tiles():
    config = ModelConfig(5, "fcn8s", 1 / 64.)
    image, flip = _image((701, 745)), TTA.parse("flip")
    with RandomModel(config) as model:
        whole = Labeller(model, "off", tta=flip).probabilities(image)
        tiled = Labeller(model, (640, 640), tta=flip).probabilities(image)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_a_tile_for_a_model_whose_reach_cannot_be_measured_is_one_line():
    class SetShapeModel(object):  # set_shape takes multiples of 32 only
        config, metadata, input_size = ModelConfig(5, "fcn32s", 1 / 64., "nn", "set_shape"), {}, None
    with pytest.raises(ValueError, match="--tile 601x601: the receptive field cannot be measured "
                                         "at 665 px: shape_fix='set_shape' cannot make"):
        Labeller(SetShapeModel(), (601, 601))


def test_tta_flags_are_refused_in_one_line():
    for text, problem in [("flop", "not flip"), ("scales=1,x", "not numbers"),
                          ("scales=0,1", "a scale must be > 0"), ("flip,scales=-1", "> 0")]:
        with pytest.raises(ValueError, match="--tta %s: .*%s" % (text, problem)):
            TTA.parse(text)
    with pytest.raises(ValueError, match=r"--tta scale 0.01 makes the image \(40x60\) smaller"):
        TTA.parse("scales=0.01,1").check((40, 60))
    assert TTA.parse("flip,scales=0.5,1.5").describe() == "flip,scales=0.5,1.5"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from fcn_tf1.workflows import export_writers
    from tests.helpers import trained_run
    work = tmp_path_factory.mktemp("tiling")
    run = trained_run(str(work / "run"), width=1 / 16., steps=2)
    export_writers.export_frozen(run, str(work / "m.pb"))
    return str(work / "m.pb")


def test_predict_tiles_and_augments_from_the_command(exported, tmp_path, capsys):
    from PIL import Image
    from fcn_tf1.predict import main as predict_main
    graph = exported
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(_image((701, 745))).save(str(folder / "big.png"))
    Image.fromarray(_image((40, 50), seed=1)).save(str(folder / "small.png"))
    masks = {}
    for name, flags in (("whole", ["--tile", "off"]), ("tiled", ["--tile", "640"])):
        out = tmp_path / name
        assert predict_main(["--graph", graph, str(folder), "--output-dir", str(out)] + flags) == 0
        err = capsys.readouterr().err
        masks[name] = np.asarray(Image.open(str(out / "big.png")))
        assert ("big.png: 701x745 labelled in 6 tiles of 605x617 (2 x 3, exact)" in err) == (
            name == "tiled"), err
    np.testing.assert_array_equal(masks["tiled"], masks["whole"])
    # Bad input: one line naming the flag, before any work; a scale too small for one image.
    assert predict_main(["--graph", graph, str(folder), "--output-dir", str(tmp_path / "no"),
                         "--tile", "100"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("fcn_tf1.predict: error: --tile 100x100: smaller than the model's "
                              "receptive field allows") and not (tmp_path / "no").exists()
    assert predict_main(["--graph", graph, str(folder), "--output-dir", str(tmp_path / "t"),
                         "--tta", "flip,scales=0.01,1"]) == 1
    err = capsys.readouterr().err
    assert "small.png: --tta scale 0.01 makes the image (40x50) smaller than 1 px" in err
    assert "big.png: 701x745 labelled whole with TTA flip,scales=0.01,1" in err


def test_evaluate_reports_the_mean_iu_with_and_without_tta(tmp_path, capsys):
    import json
    from fcn_tf1.evaluate import main as evaluate_main
    from fcn_tf1.workflows import benchmark
    # Seeded random weights everywhere: labels that a flip changes, the same every run.
    graph = benchmark._export(ModelConfig(5, "fcn8s", 1 / 64.), (64, 64), str(tmp_path), {},
                              ("tf",))
    reports = []
    for flags in (["--tta", "flip"], []):
        reports.append(str(tmp_path / ("m%d.json" % len(flags))))
        assert evaluate_main(["--graph", graph, "--runtime", "tf", "--json", reports[-1]]
                             + flags) == 0
    assert "TTA flip: mean IU " in capsys.readouterr().out
    tta, plain = (json.load(open(r)) for r in reports)
    assert tta["tta"] == {"flip": True, "scales": [1.0]}
    assert tta["without_tta"]["mean_iou"] == plain["mean_iou"] != tta["mean_iou"]
    assert set(tta["without_tta"]) == {"mean_iou", "seconds_per_image"}
