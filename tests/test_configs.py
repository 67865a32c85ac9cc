"""Experiment configs: the registry, overrides, and the paper presets' hyperparameters."""

import json

import pytest

from vqa_tf.configs import (
    EXPERIMENTS,
    MODEL_CONFIGS,
    PAPER_EXPERIMENTS,
    IBowImgConfig,
    ReasoningDANConfig,
    SMemVQAConfig,
    apply_overrides,
    get_experiment,
    load_config,
    save_or_check_config,
)
from vqa_tf.models import MODELS, get_model_class
from vqa_tf.text import Vocabulary


def test_registry_holds_the_named_experiments():
    assert {
        "smem_one_hop_synthetic",
        "smem_two_hop_synthetic",
        "ibowimg_synthetic",
        "rdan_synthetic",
        "rdan_supervised_synthetic",
        "mdan_synthetic",
        "smem_two_hop_vqa",
        "ibowimg_vqa",
        "rdan_resnet152_vqa",
        "mdan_resnet152_flickr30k",
    } <= set(EXPERIMENTS)


def test_unknown_experiment_lists_the_valid_names():
    with pytest.raises(
        KeyError, match="valid names: ibowimg_synthetic, ibowimg_vqa, image_only_synthetic, mdan_resnet152_flickr30k"
    ):
        get_experiment("smem")


def test_overrides_coerce_to_the_field_types():
    config = apply_overrides(
        get_experiment("rdan_synthetic"),
        "trainer.train_steps=100, model.dropout=0.25,runtime.mixed_precision=on,"
        "optimizer.decay_boundaries=[10,20],data.source=vqa",
    )
    assert config.trainer.train_steps == 100 and config.model.dropout == 0.25
    assert config.runtime.mixed_precision == "on" and config.optimizer.decay_boundaries == [10, 20]
    assert config.data.source == "vqa"


def test_overrides_from_a_json_file(tmp_path):
    path = tmp_path / "override.json"
    path.write_text(json.dumps({"model": {"num_hops": 3}, "trainer": {"train_steps": 7}}))
    config = apply_overrides(get_experiment("smem_two_hop_synthetic"), str(path))
    assert (config.model.num_hops, config.trainer.train_steps) == (3, 7)


@pytest.mark.parametrize(
    "override, message",
    [
        ("trainer.steps=3", r"'steps' is not a field in 'trainer'; valid: train_steps, train_epochs"),
        ("optimiser.name=sgd", r"'optimiser' is not a field at the top level; valid: task, model, data"),
        ("trainer=3", "names a section"),
    ],
)
def test_unknown_override_keys_list_the_valid_ones(override, message):
    with pytest.raises(KeyError, match=message):
        apply_overrides(get_experiment("smem_two_hop_synthetic"), override)


def test_override_values_of_the_wrong_type():
    with pytest.raises(ValueError, match="trainer.train_steps='many': expected a int"):
        apply_overrides(get_experiment("smem_two_hop_synthetic"), "trainer.train_steps=many")
    with pytest.raises(ValueError, match="not of the form"):
        apply_overrides(get_experiment("smem_two_hop_synthetic"), "trainer.train_steps")


def test_rdan_preset_carries_the_paper_settings():
    c = get_experiment("rdan_resnet152_vqa")
    assert (c.model.name, c.model.hidden_dim, c.model.num_steps, c.model.dropout) == ("reasoning_dan", 512, 2, 0.5)
    assert (c.data.backbone, c.data.image_size, c.data.top_answers, c.data.global_batch_size) == (
        "resnet152",
        448,
        2000,
        128,
    )
    o = c.optimizer
    assert (o.name, o.learning_rate, o.momentum, o.weight_decay, o.clip_norm) == ("sgd", 0.1, 0.9, 5e-4, 0.1)
    assert (o.decay_boundaries, o.decay_unit, o.decay_factor, c.trainer.train_epochs) == ([30], "epochs", 0.1, 60)


def test_mdan_preset_carries_the_paper_settings():
    c = get_experiment("mdan_resnet152_flickr30k")
    assert (c.task, c.model.name, c.model.margin, c.model.num_steps, c.model.hidden_dim) == (
        "matching",
        "matching_dan",
        100.0,
        2,
        512,
    )
    assert (c.optimizer.learning_rate, c.optimizer.clip_norm, c.trainer.train_epochs) == (0.1, 0.1, 60)
    assert c.data.source == "karpathy"


def test_smem_preset_carries_the_paper_settings():
    c = get_experiment("smem_two_hop_vqa")
    assert (c.model.embedding_dim, c.model.num_hops, c.model.dropout) == (1000, 2, 0.4)
    assert (c.data.max_question_length, c.data.top_answers) == (25, 1031)
    assert (c.data.input, c.data.train_backbone, c.data.global_batch_size) == ("images", True, 50)
    o = c.optimizer
    assert (o.name, o.momentum, o.clip_norm, o.weight_decay) == ("sgd", 0.9, 10.0, 5e-4)
    assert (o.learning_rate, o.model_lr_multiplier, o.decay_factor, o.decay_boundaries[:2]) == (
        1e-3,
        10.0,
        0.8,
        [30_000, 60_000],
    )


def test_each_call_returns_a_fresh_config():
    a = get_experiment("rdan_synthetic")
    a.trainer.train_steps = 1
    assert get_experiment("rdan_synthetic").trainer.train_steps != 1


def test_a_model_dir_keeps_its_config_and_refuses_another_model(tmp_path):
    config = get_experiment("smem_two_hop_synthetic")
    save_or_check_config(config, str(tmp_path))
    assert load_config(str(tmp_path)) == config
    config.trainer.train_steps = 20_000  # a longer run may resume in the same directory
    config.runtime.strategy = "mirrored"
    save_or_check_config(config, str(tmp_path))
    config.model.num_hops = 3
    config.data.seed = 7
    with pytest.raises(ValueError, match=r"other settings \(model.num_hops, data.seed\)"):
        save_or_check_config(config, str(tmp_path))


def test_each_model_family_has_one_config_whose_fields_its_constructor_takes():
    import inspect

    assert set(MODEL_CONFIGS) == set(MODELS)
    for name, config_class in MODEL_CONFIGS.items():
        takes = inspect.signature(get_model_class(name)).parameters
        assert set(config_class().arguments()) <= set(takes), name


def test_the_family_defaults_are_the_papers_and_the_presets_use_them():
    assert SMemVQAConfig().arguments() == {
        "embedding_dim": 1000,
        "num_hops": 2,
        "dropout": 0.4,
        "normalize_regions": True,  # ours, the one non-paper default
        "hop1_word_pooling": "max",
        "position_weights_init": "official",  # uniform ±0.08, as the released code
        "hop1_skip_token_ids": [],  # hop 1 pools over every word
    }
    assert ReasoningDANConfig().arguments() == {"hidden_dim": 512, "num_steps": 2, "dropout": 0.5}
    for model_name, experiment in PAPER_EXPERIMENTS.items():
        assert get_experiment(experiment).model == MODEL_CONFIGS[model_name]()


def test_hop1_skip_words_become_their_ids_in_the_question_vocabulary():
    vocabulary = Vocabulary.build([["is", "there", "a", "red", "square"], ["is", "the", "circle", "red"]])
    config = apply_overrides(get_experiment("smem_two_hop_synthetic"), 'model.hop1_skip_words=["is","the"]')
    assert config.model.arguments(vocabulary)["hop1_skip_token_ids"] == [vocabulary.id("is"), vocabulary.id("the")]
    with pytest.raises(ValueError, match="does not hold: what"):
        SMemVQAConfig(hop1_skip_words=["is", "what"]).arguments(vocabulary)
    with pytest.raises(ValueError, match="no question vocabulary"):
        SMemVQAConfig(hop1_skip_words=["is"]).arguments()


def test_ibowimg_preset_trains_like_the_smem_preset():
    smem, bow = get_experiment("smem_two_hop_vqa"), get_experiment("ibowimg_vqa")
    assert bow.model == IBowImgConfig()
    assert (bow.data, bow.optimizer, bow.trainer) == (smem.data, smem.optimizer, smem.trainer)


def test_overriding_model_name_switches_family_before_its_fields():
    config = apply_overrides(get_experiment("smem_two_hop_synthetic"), "model.hidden_dim=16,model.name=reasoning_dan")
    assert config.model == ReasoningDANConfig(hidden_dim=16)
    with pytest.raises(KeyError, match="'num_hops' is not a field in 'model'; valid: name, hidden_dim"):
        apply_overrides(config, "model.num_hops=3")
    with pytest.raises(KeyError, match="unknown model 'lstm'; valid names: ibowimg, matching_dan"):
        apply_overrides(config, "model.name=lstm")


def test_a_model_config_is_checked_against_its_family_name():
    with pytest.raises(ValueError, match="SMemVQAConfig configures model 'smem_vqa', not 'ibowimg'"):
        SMemVQAConfig(name="ibowimg")


@pytest.mark.parametrize("experiment", sorted(EXPERIMENTS))
def test_every_experiment_survives_the_model_dir_round_trip(experiment, tmp_path):
    config = get_experiment(experiment)
    save_or_check_config(config, str(tmp_path))
    assert load_config(str(tmp_path)) == config


@pytest.mark.parametrize(
    "experiment, model, message",
    [
        ("smem_two_hop_synthetic", "matching_dan", "model 'matching_dan' is a matching model; a vqa experiment cannot"),
        ("mdan_synthetic", "smem_vqa", "model 'smem_vqa' is a vqa model; a matching experiment cannot"),
    ],
)
def test_a_model_of_the_other_task_is_refused_before_any_data_is_read(experiment, model, message, tmp_path):
    from vqa_tf.training import make_task

    with pytest.raises(ValueError, match=message):
        make_task(apply_overrides(get_experiment(experiment), f"model.name={model}"), str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_a_config_of_another_version_is_refused_by_name(tmp_path):
    save_or_check_config(get_experiment("mdan_synthetic"), str(tmp_path))
    path = tmp_path / "config.json"
    saved = json.loads(path.read_text())
    saved["model"]["hardest_negative"] = saved["model"].pop("negatives") == "hardest"  # the earlier field
    path.write_text(json.dumps(saved))
    with pytest.raises(ValueError, match="written by another version of vqa_tf .*hardest_negative"):
        load_config(str(tmp_path))
