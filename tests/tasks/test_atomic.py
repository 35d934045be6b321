"""Atomic (chain-of-task) tasks derived from annotated records: hand-made parents, then the demo build."""

from __future__ import annotations

import pytest

from shoptune.records import InstructionExample, PairExample
from shoptune.tasks.atomic import AtomicTask, atomic_catalog, derive_atomic_tasks
from shoptune.tasks.spec import SPLITS, TaskKind, TaskSpec

CAP = "shopping_concept_understanding"


def _spec(name: str, kind: str, tags: tuple[str, ...] = (), language: str = "en", adapter: str = "src") -> TaskSpec:
    return TaskSpec.model_validate(
        {
            "name": name,
            "capability": CAP,
            "kind": kind,
            "language": language,
            "metric": "accuracy",
            "tags": list(tags),
            "label_derivation": "parent rule",
            "source": {"adapter": adapter, "path": "data/x.csv", "view": "v", "params": {"k": 1}},
        }
    )


def _ex(task: str, split: str, i: int, **fields) -> InstructionExample:
    meta = {"groups": [f"g:{split}:{i}"], **fields.pop("metadata", {})}
    fields.setdefault("instruction", "Do the thing.")
    return InstructionExample(task=task, capability=CAP, metadata=meta, **fields)


def _by_split(make, n: int = 3) -> dict[str, list]:
    return {split: [r for i in range(n) for r in make(split, i)] for split in SPLITS}


def _atoms(tasks: list[AtomicTask]) -> dict[str, AtomicTask]:
    return {t.atom: t for t in tasks}


def _check_invariants(task: AtomicTask, parent: TaskSpec, parent_splits: dict[str, list]) -> None:
    """What every derived task must satisfy, whatever its atom."""
    assert task.parent == parent.name
    assert task.spec.name == f"{parent.name}__{task.atom}"
    assert task.spec.capability == parent.capability and task.spec.language == parent.language
    assert task.spec.tags == ["atomic", task.atom] and task.atom in atomic_catalog()
    assert task.spec.source == parent.source and task.spec.metric
    assert parent.name in task.spec.description
    for split, examples in task.splits.items():
        parent_groups = {g for rec in parent_splits.get(split, []) for g in rec.metadata.get("groups", [])}
        for ex in examples:
            assert ex.task == task.spec.name
            assert ex.metadata["derived_from"] == parent.name and ex.metadata["atom"] == task.atom
            # Split kept apart: every group of a derived example comes from the parent's same split.
            assert set(ex.metadata["groups"]) <= parent_groups
            if task.spec.kind in (TaskKind.multiple_choice, TaskKind.classification):
                assert ex.output in ex.options and len(set(ex.options)) == len(ex.options) >= 2
            assert "ecom_task_type" not in ex.metadata  # would route scoring to EcomInstruct's parser


# --------------------------------------------------------------------------------------------------- NER
LENOVO_HEAD = "Below is an instruction that describes the named entity recognition task.\n### Instruction:\n"


def _ner_records(split: str, i: int, list_output: bool = False) -> list[InstructionExample]:
    sentence = f"Toshiba builds the Satellite U{i}05 laptop for {split} users with an Intel CPU ."
    spans = [["Brand", "Toshiba"], ["Product", f"Satellite U{i}05 laptop"], ["Component", "Intel CPU"]]
    output: str | list[str] = [term for _, term in spans] if list_output else "Brand: Toshiba\nProduct: ..."
    return [
        _ex(
            "ner",
            split,
            i,
            instruction=f"{LENOVO_HEAD}{sentence}\nExtract all named entity with type about X. \n### Response:",
            output=output,
            metadata={"gold_spans": spans, "label_set": ["Attribute", "Brand", "Component", "Product"]},
        )
    ]


def test_ner_parent_yields_detection_typing_and_attribute_value():
    spec = _spec("ner", "ner", tags=("ner",))
    splits = _by_split(_ner_records)
    tasks = _atoms(derive_atomic_tasks(spec, splits, seed=1))
    assert list(tasks) == ["entity_detection", "entity_typing", "attribute_value"]
    for task in tasks.values():
        _check_invariants(task, spec, splits)
    detection = tasks["entity_detection"]
    assert detection.spec.kind == TaskKind.ner and detection.spec.metric == ["micro_f1"]
    first = detection.splits["train"][0]
    assert first.output == ["Toshiba", "Satellite U005 laptop", "Intel CPU"]
    assert first.input.startswith("Toshiba builds") and "train users" in first.input
    typing = tasks["entity_typing"].splits["train"]
    assert len(typing) == 3 * 2  # capped at two spans per record
    gold = {"Toshiba": "Brand", "Intel CPU": "Component"}
    for ex in typing:
        span = ex.input.split("\nSpan: ")[1]
        assert ex.output == gold.get(span, "Product")
    values = tasks["attribute_value"].splits["train"]
    assert tasks["attribute_value"].spec.kind == TaskKind.extraction
    assert {ex.output for ex in values} - {"n/a"} <= {
        "Toshiba",
        "Intel CPU",
        *(f"Satellite U{i}05 laptop" for i in range(3)),
    }
    assert sum(ex.output == "n/a" for ex in values) == 3  # one absent type ("Attribute") per record
    assert all(ex.metadata["attribute"] == "Attribute" for ex in values if ex.output == "n/a")


def test_ner_parent_with_the_plain_span_list_gets_no_detection_task():
    # The parent already answers with the list of spans: entity detection would be the parent itself.
    spec = _spec("ner", "ner")
    tasks = _atoms(derive_atomic_tasks(spec, _by_split(lambda s, i: _ner_records(s, i, list_output=True)), 1))
    assert list(tasks) == ["entity_typing", "attribute_value"]


def test_chinese_ner_scores_values_by_character():
    spec = _spec("zh_ner", "ner", language="zh")

    def make(split: str, i: int) -> list[InstructionExample]:
        return [
            _ex(
                "zh_ner",
                split,
                i,
                instruction=f"{LENOVO_HEAD}HC圆领拼接连衣裙{i}\nExtract. \n### Response:",
                output=["圆领", "拼接"],
                language="zh",
                metadata={"gold_spans": [["领型", "圆领"], ["风格", "拼接"]], "label_set": ["领型", "风格", "颜色"]},
            )
        ]

    tasks = _atoms(derive_atomic_tasks(spec, _by_split(make), 1))
    assert tasks["attribute_value"].spec.metric == ["ecom_rouge_l"]
    assert all(ex.language == "zh" for ex in tasks["entity_typing"].splits["test"])


# --------------------------------------------------------------------------------------------------- attributes
def _attribute_records(split: str, i: int, normalized: bool = False) -> list[InstructionExample]:
    title = f"Product title: Ellie Shoes Women's {split} 84{i}0, Red Patent, 14 M US"
    slots = {
        "Brand": ["Ellie Shoes"],
        "Gender": ["Women's"],
        "Color": ["Red Patent" if not normalized else "Red"],
        "Material": ["n/a"],
    }
    return [
        _ex(
            "attr",
            split,
            i,
            instruction=f"Extract the value of the attribute '{name}'.",
            input=title,
            output=values[0],
            metadata={"attribute": name, "category": "Shoes", "acceptable": values},
        )
        for name, values in slots.items()
    ]


def test_attribute_parent_yields_detection_and_typing_but_not_its_own_task():
    spec = _spec("attr", "extraction", tags=("attribute_value",))
    splits = _by_split(_attribute_records)
    tasks = _atoms(derive_atomic_tasks(spec, splits, seed=3))
    assert list(tasks) == ["entity_detection", "entity_typing"]  # attribute_value would be the parent
    for task in tasks.values():
        _check_invariants(task, spec, splits)
    detection = tasks["entity_detection"].splits["dev"]
    assert len(detection) == 3  # one per product, not one per attribute record
    assert detection[0].output == ["Ellie Shoes", "Women's", "Red Patent"]  # in text order, n/a left out
    assert "Brand, Gender, Color, Material" in detection[0].instruction
    typing = tasks["entity_typing"].splits["train"]
    assert len(typing) == 3 * 2
    gold = {"Ellie Shoes": "Brand", "Women's": "Gender", "Red Patent": "Color"}
    for ex in typing:
        assert ex.output == gold[ex.input.split("\nValue: ")[1]]
        assert set(ex.options) <= {"Brand", "Gender", "Color", "Material"}


def test_normalised_values_not_in_the_text_are_not_spans():
    # "Red" (a normalised colour) still occurs as a word in "Red Patent", so it counts as a span; "8" occurs
    # only inside the number "8400": not a span, so the product's spans are not fully known.
    def make(split: str, i: int) -> list[InstructionExample]:
        recs = _attribute_records(split, i, normalized=True)
        recs.append(
            _ex(
                "attr",
                split,
                i,
                input=recs[0].input,
                output="8",
                metadata={"attribute": "Size Number", "category": "Shoes", "acceptable": ["8"]},
            )
        )
        return recs

    tasks = _atoms(derive_atomic_tasks(_spec("attr", "extraction"), _by_split(make), seed=3))
    assert "entity_detection" not in tasks  # "8" only occurs inside "8400": the spans are not fully known
    assert all(not ex.input.endswith("Value: 8") for ex in tasks["entity_typing"].splits["train"])


# --------------------------------------------------------------------------------------------------- QA
REVIEW = (
    "I bought these for my office. The sound is very clear and crisp. The cable is rather short though. "
    "Shipping took two weeks."
)


def _qa_records(split: str, i: int) -> list[InstructionExample]:
    return [
        _ex(
            "qa",
            split,
            i,
            input=f"Question: Is the sound clear ({split} {i})?\nReview: {REVIEW}",
            output="very clear and crisp",
            metadata={"answers": ["very clear and crisp"]},
        )
    ]


def test_extractive_qa_yields_sentence_answerability_and_short_answer_span():
    spec = _spec("qa", "extraction", tags=("review_qa",))
    splits = _by_split(_qa_records)
    tasks = _atoms(derive_atomic_tasks(spec, splits, seed=5))
    assert list(tasks) == ["answerability", "answer_span"]
    for task in tasks.values():
        _check_invariants(task, spec, splits)
    answerability = tasks["answerability"].splits["test"]
    assert tasks["answerability"].spec.kind == TaskKind.classification
    assert sorted(ex.output for ex in answerability) == ["answerable"] * 3 + ["unanswerable"] * 3
    for ex in answerability:
        passage = ex.input.split("\nReview: ")[1]
        assert ("clear and crisp" in passage) == (ex.output == "answerable")
        assert sorted(ex.options) == ["answerable", "unanswerable"]
    span = tasks["answer_span"].splits["train"][0]
    assert span.input.endswith("Review: The sound is very clear and crisp.")
    assert span.output == "very clear and crisp"


def test_evidence_retrieval_yields_answerability_per_evidence():
    spec = _spec("pqa", "retrieval")

    def make(split: str, i: int) -> list[InstructionExample]:
        return [
            _ex(
                "pqa",
                split,
                i,
                input=f"Question: does it weigh much ({split} {i})?",
                options=["color: red", "item_weight: 3 pounds", "brand: acme"],
                output=["1"],
                metadata={"labels": [0, 1, 0]},
            )
        ]

    splits = _by_split(make)
    tasks = _atoms(derive_atomic_tasks(spec, splits, seed=5))
    assert list(tasks) == ["answerability"]
    _check_invariants(tasks["answerability"], spec, splits)
    for ex in tasks["answerability"].splits["train"]:
        assert ex.input.endswith("item_weight: 3 pounds") == (ex.output == "answerable")


def test_qa_parents_without_what_an_atom_needs_yield_nothing():
    # Answerability parent: no answers to extract, and answerability again would be the parent itself.
    def answerability(split: str, i: int) -> list[InstructionExample]:
        return [
            _ex(
                "ans",
                split,
                i,
                input=f"Question: q{i}?\nReview: {REVIEW}",
                options=["answerable", "unanswerable"],
                output="answerable",
            )
        ]

    assert derive_atomic_tasks(_spec("ans", "classification", ("review_qa",)), _by_split(answerability), 1) == []
    # Extraction records without metadata.answers, and rankings that are not about a question.
    no_answers = _by_split(
        lambda s, i: [r.model_copy(update={"metadata": {"groups": ["g"]}}) for r in _qa_records(s, i)]
    )
    assert derive_atomic_tasks(_spec("qa", "extraction"), no_answers, 1) == []

    def query_ranking(split: str, i: int) -> list[InstructionExample]:
        return [
            _ex(
                "rank",
                split,
                i,
                input="Query: drill",
                options=["a", "b"],
                output=["1", "0"],
                metadata={"gains": [0.1, 1]},
            )
        ]

    assert derive_atomic_tasks(_spec("rank", "ranking"), _by_split(query_ranking), 1) == []


# --------------------------------------------------------------------------------------------------- categories
DEPARTMENT_OF = {"juice nectars": "beverages", "soft drinks": "beverages", "bread": "bakery", "dog food": "pets"}


def test_aisle_choice_parent_yields_coarse_but_not_fine():
    spec = _spec("aisle", "multiple_choice", tags=("product_category",))
    aisles = sorted(DEPARTMENT_OF)

    def make(split: str, i: int) -> list[InstructionExample]:
        aisle = aisles[i % len(aisles)]
        return [
            _ex(
                "aisle",
                split,
                i,
                input=f"Product: {split} item {i}",
                options=aisles,
                output=aisle,
                metadata={"department": DEPARTMENT_OF[aisle]},
            )
        ]

    splits = _by_split(make, n=4)
    tasks = _atoms(derive_atomic_tasks(spec, splits, seed=2))
    assert list(tasks) == ["coarse_category"]  # fine = the parent's own multiple-choice question
    _check_invariants(tasks["coarse_category"], spec, splits)
    for ex in tasks["coarse_category"].splits["train"]:
        assert set(ex.options) <= {"beverages", "bakery", "pets"}
        assert ex.output == DEPARTMENT_OF[aisles[int(ex.input.rsplit(" ", 1)[1]) % 4]]


def test_classification_and_taxonomy_and_ecominstruct_category_parents():
    labels = ["Jewelry", "Office Products", "Home And Garden"]
    cls = _by_split(lambda s, i: [_ex("cat", s, i, input=f"Title: {s} {i}", options=labels, output=labels[i % 3])])
    tasks = _atoms(derive_atomic_tasks(_spec("cat", "classification", ("product_category",)), cls, 4))
    assert list(tasks) == ["coarse_category"]  # classification -> multiple choice: a new format
    assert tasks["coarse_category"].spec.kind == TaskKind.multiple_choice

    def taxonomy(split: str, i: int) -> list[InstructionExample]:
        path = ["Animals & Pet Supplies > Pet Supplies > Bird Supplies", "Office Supplies > Office Mats"][i % 2]
        parts = path.split(" > ")
        return [
            _ex(
                "tax",
                split,
                i,
                input=f"Category: {parts[-1]} {i}",
                options=[parts[-2], "Toys"],
                output=parts[-2],
                metadata={"path": path},
            )
        ]

    tasks = _atoms(derive_atomic_tasks(_spec("tax", "multiple_choice", ("taxonomy",)), _by_split(taxonomy, 4), 4))
    coarse = tasks["coarse_category"].splits["train"]
    # A two-level path's top is the parent's own answer: only the deeper categories are asked.
    assert [ex.input for ex in coarse] == ["Category: Bird Supplies 0", "Category: Bird Supplies 2"]
    assert {ex.output for ex in coarse} == {"Animals & Pet Supplies"}

    fine_labels = ["果汁", "面包", "狗粮", "手机壳", "连衣裙"]

    def openbg(split: str, i: int) -> list[InstructionExample]:
        return [
            _ex(
                "fine",
                split,
                i,
                instruction=f"Below ...\n### Instruction:\n商品{split}{i}\t品牌#:#X\nCategorize.\n### Response:",
                output=fine_labels[i],
                language="zh",
                metadata={
                    "ecom_task": "ZH-OpenBG_Align-CLS-item_fine_classify",
                    "ecom_task_type": "CLS",
                    "label_set": fine_labels,
                    "gold": [fine_labels[i]],
                },
            )
        ]

    spec = _spec("fine", "classification", ("product_category",), language="zh")
    splits = _by_split(openbg)
    tasks = _atoms(derive_atomic_tasks(spec, splits, 4))
    assert list(tasks) == ["fine_category"]
    _check_invariants(tasks["fine_category"], spec, splits)
    ex = tasks["fine_category"].splits["dev"][1]
    assert ex.input == "Product: 商品dev1 品牌#:#X" and ex.output == "面包" and len(ex.options) == 4


def test_untagged_tasks_get_no_category_atoms():
    labels = ["Jewelry", "Office Products"]
    cls = _by_split(lambda s, i: [_ex("cat", s, i, input=f"Title: {i}", options=labels, output=labels[i % 2])])
    assert derive_atomic_tasks(_spec("cat", "classification", ("query_category",)), cls, 4) == []


# --------------------------------------------------------------------------------------------------- pairs
def _pairs(split: str, i: int, labels=("exact", "partial", "irrelevant"), meta=None) -> list[PairExample]:
    return [
        PairExample(
            task="pairs",
            left=f"{split} query {i}",
            right=f"product {label}",
            label=label,
            metadata={"groups": [f"q:{split}:{i}"], **(meta or {})},
        )
        for label in labels
    ]


def test_pair_parent_yields_yes_no_and_three_way_grade():
    spec = _spec("pairs", "pair_relevance", tags=("relevance", "query_product"))
    splits = _by_split(_pairs)
    tasks = _atoms(derive_atomic_tasks(spec, splits, seed=9))
    assert list(tasks) == ["match_yes_no", "grade_3way"]
    for task in tasks.values():
        _check_invariants(task, spec, splits)
    yes_no = tasks["match_yes_no"]
    assert yes_no.spec.kind == TaskKind.classification and yes_no.spec.metric == ["accuracy", "macro_f1"]
    assert "partial" in yes_no.spec.label_derivation and "parent rule" in yes_no.spec.label_derivation
    outputs = {ex.input.split("\nProduct: ")[1]: ex.output for ex in yes_no.splits["train"]}
    assert outputs == {"product exact": "yes", "product irrelevant": "no"}  # partial pairs dropped
    grades = tasks["grade_3way"].splits["test"]
    assert len(grades) == 9 and {ex.output for ex in grades} == {"exact match", "partial match", "irrelevant"}
    assert grades[0].input.startswith("Query: test query 0\nProduct: ")


def test_binary_pair_parent_gets_no_three_way_grade_and_one_sided_gets_nothing():
    spec = _spec("pairs", "pair_relevance", tags=("product_product",))
    binary = _by_split(lambda s, i: _pairs(s, i, labels=("exact", "irrelevant")))
    assert [t.atom for t in derive_atomic_tasks(spec, binary, 1)] == ["match_yes_no"]
    only_exact = _by_split(lambda s, i: _pairs(s, i, labels=("exact",)))
    assert derive_atomic_tasks(spec, only_exact, 1) == []


def test_product_category_pairs_also_yield_category_choices():
    spec = _spec("pa", "pair_relevance", tags=("product_category",))

    def make(split: str, i: int) -> list[PairExample]:
        aisle = sorted(DEPARTMENT_OF)[i % 4]
        return [
            PairExample(
                task="pa",
                left=f"{split} product {i}",
                right=right,
                label=label,
                metadata={"groups": [f"p:{split}:{i}"], "department": DEPARTMENT_OF[aisle]},
            )
            for right, label in ((aisle, "exact"), ("dog food" if aisle != "dog food" else "bread", "irrelevant"))
        ]

    splits = _by_split(make, n=4)
    tasks = _atoms(derive_atomic_tasks(spec, splits, 1))
    assert list(tasks) == ["coarse_category", "fine_category", "match_yes_no"]
    fine = tasks["fine_category"].splits["train"]
    assert len(fine) == 4  # one per product, from its exact pair only
    assert [ex.output for ex in fine] == [sorted(DEPARTMENT_OF)[i] for i in range(4)]


# --------------------------------------------------------------------------------------------------- reviews
def _reviews(split: str, i: int) -> list[InstructionExample]:
    return [
        _ex(
            "sent",
            split,
            i,
            instruction="What is the sentiment of this customer review sentence?",
            input=f"Great phone {split} {i}",
            options=["positive", "negative"],
            output=["positive", "negative"][i % 2],
        )
    ]


def test_review_classification_yields_rephrased_label_choice():
    spec = _spec("sent", "classification", tags=("reviews", "sentiment"))
    splits = _by_split(_reviews)
    tasks = _atoms(derive_atomic_tasks(spec, splits, 1))
    assert list(tasks) == ["label_choice"]
    _check_invariants(tasks["label_choice"], spec, splits)
    ex = tasks["label_choice"].splits["train"][1]
    assert ex.instruction != splits["train"][1].instruction and ex.input == "Review: Great phone train 1"
    assert ex.output == "negative" and tasks["label_choice"].spec.kind == TaskKind.multiple_choice
    # A review adapter counts as reviews too; a multiple-choice or untagged parent gets nothing.
    assert [t.atom for t in derive_atomic_tasks(_spec("sent", "classification", adapter="amcd"), splits, 1)] == [
        "label_choice"
    ]
    assert derive_atomic_tasks(_spec("sent", "multiple_choice", tags=("reviews",)), splits, 1) == []
    assert derive_atomic_tasks(_spec("sent", "classification"), splits, 1) == []


# --------------------------------------------------------------------------------------------------- general
def test_splits_are_kept_apart():
    spec = _spec("ner", "ner")
    splits = {"train": _ner_records("train", 0), "dev": [], "test": _ner_records("test", 1)}
    for task in derive_atomic_tasks(spec, splits, seed=1):
        assert task.splits["dev"] == []
        assert all("train users" in ex.input for ex in task.splits["train"])
        assert all("test users" in ex.input for ex in task.splits["test"])
    # A missing split is an empty one; an atom with nothing to train on is left out.
    assert all(t.splits["dev"] == [] for t in derive_atomic_tasks(spec, {"train": splits["train"]}, 1))
    assert derive_atomic_tasks(spec, {"train": [], "test": splits["test"]}, 1) == []


def test_derivation_is_deterministic_and_seeded():
    spec = _spec("pairs", "pair_relevance", tags=("query_product",))
    splits = _by_split(lambda s, i: _pairs(s, i), n=20)
    first = derive_atomic_tasks(spec, splits, seed=7)
    again = derive_atomic_tasks(spec, splits, seed=7)
    assert [t.splits for t in first] == [t.splits for t in again]
    other = derive_atomic_tasks(spec, splits, seed=8)
    assert [t.splits for t in first] != [t.splits for t in other]  # options shuffled by the seeded rng
    # A split's examples depend only on that split (and the seed), not on the other splits' records.
    alone = derive_atomic_tasks(spec, {"train": splits["train"]}, seed=7)
    assert [t.splits["train"] for t in alone] == [t.splits["train"] for t in first]


def test_catalog_lists_every_atom():
    catalog = atomic_catalog()
    assert list(catalog) == [
        "entity_detection",
        "entity_typing",
        "attribute_value",
        "answerability",
        "answer_span",
        "coarse_category",
        "fine_category",
        "match_yes_no",
        "grade_3way",
        "label_choice",
    ]
    assert all(isinstance(text, str) and text for text in catalog.values())


# --------------------------------------------------------------------------------------------------- demo build
#: Built-in task -> the atoms it yields on the demo data (tasks not listed yield none there).
DEMO_ATOMS: dict[str, set[str]] = {
    "amcd_counterfactual_de": {"label_choice"},
    "amcd_counterfactual_en": {"label_choice"},
    "amcd_counterfactual_jp": {"label_choice"},
    "ditto_abt_buy_pairs": {"match_yes_no"},
    "ditto_wdc_computers_pairs": {"match_yes_no"},
    "ecom_lenovo_ner": {"entity_typing", "attribute_value"},
    "ecom_zh_mepave_ner": {"entity_typing", "attribute_value"},
    "ecom_zh_openbg_coarse_category": {"coarse_category"},
    "extractgpt_ae110k_attribute_value": {"entity_detection", "entity_typing"},
    "extractgpt_oamine_attribute_value": {"entity_detection", "entity_typing"},
    "gtax_parent_mc": {"coarse_category"},
    "gtax_type_similarity": {"match_yes_no", "grade_3way"},
    "hd_query_product": {"match_yes_no", "grade_3way"},
    "hd_query_query": {"match_yes_no", "grade_3way"},
    "ic_aisle_mc": {"coarse_category"},
    "ic_department_cls": {"coarse_category"},
    "ic_product_aisle": {"coarse_category", "fine_category", "match_yes_no", "grade_3way"},
    "pqa_attribute_retrieval": {"answerability"},
    "pqa_epqa_ranking": {"answerability"},
    "pqa_evidence_retrieval": {"answerability"},
    "review_sentiment_cells": {"label_choice"},
    "shopee_product_pairs": {"match_yes_no", "grade_3way"},
    "subjqa_answer_extraction": {"answerability", "answer_span"},
    "tm_product_category": {"coarse_category", "match_yes_no", "grade_3way"},
    "tm_wdcproducts_pairs": {"match_yes_no"},
    "wands_query_class": {"match_yes_no", "grade_3way"},
    "wdc_attribute_value": {"entity_detection", "entity_typing"},
    "wdc_attribute_value_normalized": {"entity_typing"},
    "wdc_category_cls": {"coarse_category"},
}
#: Parent records per split used from the demo build (keeps the test fast; every atom still shows up).
DEMO_SLICE = 200


@pytest.fixture(scope="module")
def demo_build(demo_data) -> list[tuple[TaskSpec, dict[str, list]]]:
    from shoptune.data.build import BuildConfig, RowCache, build_task, select_tasks

    cfg = BuildConfig(data_root=str(demo_data), seed=13, on_error="raise")
    cache = RowCache(cfg.on_error)
    out = []
    for spec in select_tasks(cfg):
        splits, _ = build_task(spec, cfg, cache)
        out.append((spec, {name: records[:DEMO_SLICE] for name, records in splits.items()}))
    if not out:
        pytest.skip("no built-in task has its demo data")
    return out


def test_every_derivable_builtin_task_yields_atomic_tasks_on_the_demo_build(demo_build):
    seen = set()
    for spec, splits in demo_build:
        tasks = derive_atomic_tasks(spec, splits, seed=13)
        if spec.kind == TaskKind.pair_relevance:
            assert "match_yes_no" in {t.atom for t in tasks}, spec.name
        if spec.name not in DEMO_ATOMS:
            assert tasks == [], f"{spec.name} now yields {[t.atom for t in tasks]}: add it to DEMO_ATOMS"
            continue
        seen.add(spec.name)
        assert {t.atom for t in tasks} == DEMO_ATOMS[spec.name], spec.name
        for task in tasks:
            assert task.splits["train"], task.spec.name
            _check_invariants(task, spec, splits)
            for split, examples in task.splits.items():
                # Capped per parent record (attribute atoms: per product, fewer than records).
                assert len(examples) <= 2 * len(splits[split]), (task.spec.name, split)
    assert seen, "no derivable built-in task in the demo build"
