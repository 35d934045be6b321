from pathlib import Path

import pytest

from shoptune.data.sources import list_sources
from shoptune.errors import ConfigError
from shoptune.tasks import CAPABILITIES, TaskKind, load_tasks

TASK = """
name: my_task
capability: {capability}
kind: pair_relevance
metric: accuracy
source: {{adapter: home_depot, path: x.csv, view: query_product}}
"""


def test_builtin_tasks_are_valid_and_point_at_real_views():
    tasks = load_tasks()
    sources = list_sources()
    assert len(tasks) >= 4
    for task in tasks.values():
        assert task.source.adapter in sources, task.name
        assert task.source.view in sources[task.source.adapter].views, task.name
        view = sources[task.source.adapter].views[task.source.view]
        assert view.record_type == task.record_type, task.name


def test_builtin_tasks_cover_capabilities_and_kinds():
    tasks = load_tasks().values()
    caps = {t.capability for t in tasks}
    kinds = {t.kind for t in tasks}
    if len(tasks) < 20:
        pytest.skip("not every adapter is registered yet")
    assert set(CAPABILITIES) <= caps
    assert set(TaskKind) <= kinds
    pair_tasks = [t for t in tasks if t.kind == TaskKind.pair_relevance]
    assert len(pair_tasks) >= 6 and all(t.label_derivation for t in pair_tasks)


def test_user_task_folder_adds_tasks_and_custom_capabilities(tmp_path):
    (tmp_path / "mine.yaml").write_text(TASK.format(capability="price_reasoning"))
    tasks = load_tasks([tmp_path])
    assert tasks["my_task"].capability == "price_reasoning"


def test_bad_task_file_names_file_and_key(tmp_path):
    (tmp_path / "bad.yaml").write_text(TASK.format(capability="x").replace("pair_relevance", "poetry"))
    with pytest.raises(ConfigError, match=r"bad\.yaml: key 'kind'"):
        load_tasks([tmp_path])


def test_duplicate_task_name_is_rejected(tmp_path):
    (tmp_path / "dup.yaml").write_text(TASK.format(capability="x").replace("my_task", "hd_query_product"))
    with pytest.raises(ConfigError, match="already defined"):
        load_tasks([tmp_path])


FIXTURE_TASKS = Path(__file__).resolve().parents[1] / "fixtures" / "tasks_bad_metric"


def test_unknown_metric_names_file_and_key():
    with pytest.raises(ConfigError) as info:
        load_tasks([FIXTURE_TASKS])
    message = str(info.value)
    assert message.startswith(f"{FIXTURE_TASKS / 'bad_metric.yaml'}: key 'metric': unknown metric 'f1'")
    assert "\n" not in message and "Value error" not in message


def test_metric_spellings_of_the_registry_are_accepted(tmp_path):
    (tmp_path / "mine.yaml").write_text(TASK.format(capability="x").replace("metric: accuracy", "metric: [hit rate@3]"))
    assert load_tasks([tmp_path])["my_task"].metric == ["hit rate@3"]
