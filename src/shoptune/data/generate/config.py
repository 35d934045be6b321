"""The validated config of `shoptune data generate` (see ``configs/generate/`` for commented examples).

Relative paths resolve against the config file's folder. Every Jinja template, the seed filter expression and
the parse pattern are compiled when the config is read, so a typo is one line naming its key before any seed is
read or any model is loaded.

Example:
    >>> cfg = GenerateConfig.model_validate({
    ...     "task": {"name": "gen_demo", "capability": "user_behavior_alignment", "kind": "generation",
    ...              "metric": "rougel"},
    ...     "seeds": {"task": "hd_relevance_mc"}, "prompt": {"user": "Write about {{ input }}"}, "target": 10})
    >>> cfg.backend.kind, cfg.backend.model, cfg.max_requests_or_default()
    ('local', 'smollm2-135m-instruct', 30)
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator

from shoptune.config import StrictModel, load_config, resolve_path
from shoptune.errors import ConfigError
from shoptune.tasks.prompts import SafeTemplates, render_error, template_problem
from shoptune.tasks.spec import SPLITS, TASK_NAME_PATTERN, SourceSpec, SplitName, SplitSpec, TaskKind, TaskSpec

_WORDS = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """Lower-case words, punctuation dropped (a template and rule helper).

    >>> words('"Hass" avocado, 2-pack!')
    ['hass', 'avocado', '2', 'pack']
    """
    return _WORDS.findall(str(text).lower().replace("_", " "))


def normalise(text: str) -> str:
    """Lower case, words only, single spaces: what exact duplicates and answer spans are compared on.

    >>> normalise("  Red, Cotton T-Shirt!! ")
    'red cotton t shirt'
    """
    return " ".join(words(text))


#: Templates are rendered with StrictUndefined: a variable the seed record does not have is an error, not "".
#: ``words`` and ``normalise`` are there for templates and rules. A config may come from anyone, so templates and
#: expressions run in the sandbox task prompts run in (:class:`~shoptune.tasks.prompts.SafeTemplates`): nothing
#: reaches Python's internals or changes a value, and no value, loop or output grows past its limits. What a render
#: may raise is ``JINJA.render_errors``.
JINJA = SafeTemplates()
JINJA.globals.update(words=words, normalise=normalise)


class _FromFile(StrictModel):
    """A config section that knows the file it was read from, so that an error found at run time (a template that
    fails on a seed) names the file as well as the key."""

    _file: str | None = PrivateAttr(default=None)

    def template_message(self, key: str, problem: str | BaseException, what: str = "template") -> str:
        """The one-line message of a template that failed at run time: ``FILE: KEY: PROBLEM`` (``KEY: PROBLEM`` for a
        config built in Python); an exception raised by a render is described by
        :func:`~shoptune.tasks.prompts.render_error`."""
        text = problem if isinstance(problem, str) else render_error(problem, what)
        return f"{self._file}: {key}: {text}" if self._file else f"{key}: {text}"


#: The source adapter that reads a generation's examples.jsonl (``shoptune.data.generate.source``).
ADAPTER = "generated"


class TaskConfig(StrictModel):
    """The task the examples are for: a new one, or (``like``) one that copies an existing task's definition."""

    name: str = Field(pattern=TASK_NAME_PATTERN)
    #: An existing task (built-in or in ``seeds.task_dirs``) whose capability, kind, metric, language, prompt,
    #: description and tags are the defaults of the fields below. The generated task keeps its own name: a user
    #: task may not shadow a registered one.
    like: str | None = None
    capability: str | None = Field(None, pattern=r"^[a-z0-9_]+$")
    kind: TaskKind | None = None
    metric: list[str] | str | None = None
    language: str | None = None
    description: str | None = None
    #: The prompt template training and evaluation render (empty: the kind's default).
    prompt: str | None = None
    tags: list[str] | None = None
    #: How ``data build`` splits the generated examples (grouped by seed record, so one seed never straddles).
    split: SplitSpec = Field(default_factory=SplitSpec)


class SeedsConfig(_FromFile):
    """Where the seed records come from: a task (built, or built now from ``data_root``) or a raw source view."""

    #: A task name: read from the data build ``data`` when given, else built from the raw files in ``data_root``.
    task: str | None = None
    #: A `shoptune data build` folder holding ``task``.
    data: str | None = None
    #: Or any source adapter's view over raw files (``adapter``, ``path`` or ``files``, ``view``, ``params``).
    source: SourceSpec | None = None
    data_root: str = "../shared/data"
    task_dirs: list[str] = Field(default_factory=list)
    #: Which split of the task (or of a source with per-split ``files``); "all" takes every split.
    split: SplitName | Literal["all"] = "train"
    #: A Jinja expression over ``seed`` (the record as a dict), e.g. "seed.label == 'exact'".
    where: str | None = None
    #: Seed records used at most (a seeded sample of those left after ``where``).
    limit: int | None = Field(None, ge=1)
    #: Other seed records each prompt also sees as ``others`` (e.g. distractor options), drawn per request.
    others: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _one_origin(self) -> SeedsConfig:
        if (self.task is None) == (self.source is None):
            raise ValueError("give exactly one of 'task' (a task's records) or 'source' (an adapter's view)")
        if self.data is not None and self.task is None:
            raise ValueError("'data' (a data build) goes with 'task'")
        return self


class PromptConfig(StrictModel):
    """The generation prompt: Jinja templates over the seed record (see ``runner.prompt_context``)."""

    system: str = ""
    user: str = Field(min_length=1)

    def digest(self) -> str:
        """The prompt hash every generated example records: sha256 of the templates, 16 hex digits."""
        return hashlib.sha256(json.dumps([self.system, self.user]).encode()).hexdigest()[:16]


class _Backend(StrictModel):
    temperature: float = Field(0.8, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    #: New tokens per reply; a reply cut off here (finish_reason "length") is dropped as truncated.
    max_tokens: int = Field(256, ge=1)
    #: Stop sequences; like the OpenAI API, the reply ends before the first one and does not contain it.
    stop: list[str] = Field(default_factory=list)


class LocalBackend(_Backend):
    """A causal LM through ``shoptune.models`` (bundled name, local path or cached hub id), batched on this machine."""

    kind: Literal["local"] = "local"
    model: str = "smollm2-135m-instruct"
    batch_size: int = Field(16, ge=1)
    #: torch threads (None: torch's default).
    threads: int | None = Field(None, ge=1)
    bf16: bool = False
    #: Text that opens the assistant's reply (the model continues it; the reply starts with it). Small models
    #: keep to a format far better when its first characters are given.
    prefill: str = ""
    #: Prompt tokens kept (the end of the prompt).
    max_prompt_tokens: int = Field(1024, ge=16)


class OpenAIBackend(_Backend):
    """An OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, llama.cpp server, TGI, ...)."""

    kind: Literal["openai"]
    #: The model name; default: the environment variable OPENAI_MODEL.
    model: str | None = None
    #: Default: the environment variable OPENAI_BASE_URL, else https://api.openai.com/v1.
    base_url: str | None = None
    #: The environment variable holding the API key ...
    api_key_env: str = "OPENAI_API_KEY"
    #: ... or the key itself (better kept out of config files; never written to the output folder).
    api_key: SecretStr | None = None
    #: A local server without keys: send no Authorization header when the variable is unset.
    require_api_key: bool = True
    #: Requests in flight at once.
    concurrency: int = Field(4, ge=1)
    #: Requests started per minute at most (retries included); None: no limit.
    requests_per_minute: float | None = Field(None, gt=0)
    timeout_s: float = Field(60.0, gt=0)
    #: Retries of one request after a timeout, a dropped connection, 429, 5xx or a malformed body.
    max_retries: int = Field(5, ge=0)
    #: Exponential backoff with full jitter: a random wait in [0, min(backoff_max_s, backoff_base_s * 2^n)].
    backoff_base_s: float = Field(0.5, ge=0)
    backoff_max_s: float = Field(30.0, ge=0)
    #: A 429's Retry-After is honoured up to this many seconds; a longer one fails the request (counted).
    max_retry_after_s: float = Field(120.0, ge=0)
    #: Extra fields sent with every request (e.g. {"response_format": {"type": "json_object"}}).
    extra_body: dict[str, Any] = Field(default_factory=dict)


BackendConfig = Annotated[LocalBackend | OpenAIBackend, Field(discriminator="kind")]


class ParseConfig(StrictModel):
    """How a reply becomes ``response``: a JSON object, or text (optionally matched by a regex)."""

    format: Literal["json", "text"] = "json"
    #: format text: a regex searched in the reply; its named groups become ``response.<name>``; no match = dropped.
    pattern: str | None = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression ({exc})") from None
        return value


class RecordConfig(_FromFile):
    """How the record is assembled: each field a Jinja template over ``response``, ``text``, ``seed``, ``others``.

    A field left out is taken from the reply's JSON object (``response.instruction``, ...; options default to []).
    """

    instruction: str | None = None
    input: str | None = None
    #: One template per option.
    options: list[str] | None = None
    output: str | None = None
    #: Shuffle the options (seeded per request), e.g. when the answer is always rendered first.
    shuffle_options: bool = False


class LengthFilter(StrictModel):
    """Inclusive [min, max] characters per field (options: each option)."""

    instruction: tuple[int, int] = (8, 2000)
    input: tuple[int, int] = (0, 4000)
    options: tuple[int, int] = (1, 500)
    output: tuple[int, int] = (1, 2000)


class LanguageFilter(StrictModel):
    """Drop examples whose text is detected (py3langid) as another language than ``expect``."""

    #: Accepted language codes; default: the task's language.
    expect: list[str] | None = None
    #: Texts shorter than this are not checked (identification is unreliable on a few words).
    min_chars: int = Field(20, ge=1)


class DedupConfig(StrictModel):
    #: Which fields make up the text compared (e.g. [input] when instruction and options come from the seeds).
    fields: list[Literal["instruction", "input", "options", "output"]] = Field(
        default_factory=lambda: ["instruction", "input", "options", "output"], min_length=1
    )
    #: Exact duplicates: the same normalised text (case, spacing and punctuation ignored).
    exact: bool = True
    #: Near duplicates: MinHash-LSH over word shingles (datasketch), sentence-embedding cosine, or none.
    near: Literal["minhash", "embedding", "none"] = "minhash"
    #: Jaccard similarity (minhash) at or above which a later example is a near duplicate of an earlier one.
    threshold: float = Field(0.7, gt=0, le=1)
    num_perm: int = Field(128, ge=16)
    shingle: int = Field(3, ge=1)
    embedding_model: str = "minilm-l6"
    #: Cosine similarity (embedding) at or above which an example is a near duplicate.
    embedding_threshold: float = Field(0.95, gt=0, le=1)


class DecontamConfig(StrictModel):
    """Remove examples built from evaluation entities, or whose word n-grams overlap evaluation data.

    Two checks, in this order: an example whose source entities (the group keys of its seed and of the ``others``
    its prompt showed: ``p:...``, ``q:...``) include a key of an ``entity_splits`` split of any task of ``builds``
    is dropped (``contaminated_entity``); then one whose variable content (the fields whose record template uses a
    variable, or that the model wrote; not a fixed instruction) shares more than ``threshold`` of its word n-grams
    with the evaluation data is dropped (``ngram_overlap``).
    """

    #: `shoptune data build` folders: every task's ``splits`` there is evaluation data.
    builds: list[str] = Field(default_factory=list)
    #: More evaluation files: .jsonl / .json (every string in each object), .txt (one item a line), .parquet.
    files: list[str] = Field(default_factory=list)
    #: The splits of ``builds`` whose texts the n-gram check compares with.
    splits: list[SplitName] = Field(default_factory=lambda: ["test"], min_length=1)
    #: The splits of ``builds`` whose group keys no source entity of an example may be ([]: no entity check).
    entity_splits: list[SplitName] = Field(default_factory=lambda: ["dev", "test"])
    ngram: int = Field(8, ge=1)
    #: Share of an example's n-grams found in the evaluation data above which it is dropped.
    threshold: float = Field(0.2, ge=0, le=1)
    #: N-grams found in more evaluation items than this are boilerplate (an instruction template), not a leak.
    max_df: int = Field(20, ge=1)

    @model_validator(mode="after")
    def _something(self) -> DecontamConfig:
        if not self.builds and not self.files:
            raise ValueError("give 'builds' and/or 'files' to decontaminate against")
        return self


class JudgeConfig(StrictModel):
    """A model grades each example that passed every other filter; below ``threshold`` it is dropped."""

    backend: BackendConfig
    #: Jinja over the example (instruction, input, options, output, example) and its ``seed``; ask for a number.
    prompt: PromptConfig
    #: The first number in the judge's reply is the grade; outside ``scale`` it counts as unparsed.
    scale: tuple[float, float] = (1.0, 5.0)
    threshold: float = 4.0


class FiltersConfig(_FromFile):
    length: LengthFilter = Field(default_factory=LengthFilter)
    #: None: no language check.
    language: LanguageFilter | None = Field(default_factory=LanguageFilter)
    #: Answer consistency. auto: options -> the answer is one of them (and they are distinct); extraction and
    #: NER kinds -> every answer is a span of the input; other kinds -> nothing to check.
    consistency: Literal["auto", "options", "span", "none"] = "auto"
    #: Task-specific rules: name -> a Jinja expression that must be true, over the example's fields (instruction,
    #: input, options, output), ``response``, ``text``, ``seed`` and ``others``; a false one drops the example,
    #: counted under its name. E.g. ``mentions_product: "response.query.split() | select('in', seed.input.lower()) |
    #: list"``.
    rules: dict[str, str] = Field(default_factory=dict)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    decontam: DecontamConfig | None = None
    judge: JudgeConfig | None = None


class GenerateConfig(_FromFile):
    task: TaskConfig
    seeds: SeedsConfig
    prompt: PromptConfig
    backend: BackendConfig = Field(default_factory=LocalBackend)
    parse: ParseConfig = Field(default_factory=ParseConfig)
    record: RecordConfig = Field(default_factory=RecordConfig)
    filters: FiltersConfig = Field(default_factory=FiltersConfig)
    #: Examples to keep.
    target: int = Field(ge=1)
    #: Generation requests at most (default 3 x target); requests cycle through the seeds.
    max_requests: int | None = Field(None, ge=1)
    #: Prompt + completion tokens at most, generation and judge together; spending stops there. None: no budget.
    budget_tokens: int | None = Field(None, ge=1)
    #: Replies per checkpoint file: a kill loses at most this many replies.
    checkpoint_every: int = Field(8, ge=1)
    seed: int = 13

    def max_requests_or_default(self) -> int:
        return self.max_requests or 3 * self.target

    def request_key(self) -> dict[str, Any]:
        """What defines the requests: a resumed run must keep it. Filters, the target, limits and the settings of
        how requests are sent (concurrency, retries, pacing, batch size) may change."""
        data = self.model_dump(mode="json", include={"seeds", "prompt", "backend", "parse", "record", "seed"})
        for key in RUN_SETTINGS:
            data["backend"].pop(key, None)
        return data


#: Backend keys that change how requests are sent, not what they ask (free to change on --resume).
RUN_SETTINGS = (
    "concurrency",
    "requests_per_minute",
    "timeout_s",
    "max_retries",
    "backoff_base_s",
    "backoff_max_s",
    "max_retry_after_s",
    "api_key_env",
    "api_key",
    "require_api_key",
    "batch_size",
    "threads",
)


def load_generate_config(path: str | Path, overrides: dict[str, Any] | None = None) -> GenerateConfig:
    """Read, override and validate a generation config; paths resolve against the file's folder."""
    cfg = load_config(path, GenerateConfig, overrides)
    base = Path(path).resolve().parent
    seeds = cfg.seeds
    seeds.data_root = resolve_path(base, seeds.data_root)
    seeds.task_dirs = [resolve_path(base, d) for d in seeds.task_dirs]
    if seeds.data is not None:
        seeds.data = resolve_path(base, seeds.data)
    if cfg.filters.decontam is not None:
        dec = cfg.filters.decontam
        dec.builds = [resolve_path(base, p) for p in dec.builds]
        dec.files = [resolve_path(base, p) for p in dec.files]
        for p in dec.builds:
            if not (Path(p) / "manifest.json").is_file():
                raise ConfigError(f"{path}: key 'filters.decontam.builds': {unbuilt(Path(path), Path(p))}")
        for p in dec.files:
            if not Path(p).exists():
                raise ConfigError(f"{path}: key 'filters.decontam.files': {p} not found")
    check_templates(cfg, str(path))
    for section in (cfg, cfg.seeds, cfg.record, cfg.filters):
        section._file = str(path)
    return cfg


def shown(path: Path) -> str:
    """A path as a user types it: relative to the working folder when inside it, else absolute."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def build_config_for(config: Path, build: Path) -> Path | None:
    """The build config that makes ``build``: ``NAME.yaml`` (NAME the build folder's name) in ``configs/`` or the
    folder itself, looked for from the generation config's folder upwards (``runs/data_full`` ->
    ``configs/data_full.yaml``); None when there is none."""
    for folder in Path(config).resolve().parents:
        for candidate in (folder / f"{build.name}.yaml", folder / "configs" / f"{build.name}.yaml"):
            if candidate.is_file():
                return candidate
    return None


def unbuilt(config: Path, build: Path) -> str:
    """Why ``build`` cannot be decontaminated against, and the command that builds it.

    >>> unbuilt(Path("configs/generate/x.yaml"), Path("runs/data_full"))  # doctest: +SKIP
    'runs/data_full is not built; run `shoptune data build configs/data_full.yaml --out runs/data_full` first'
    """
    state = "is not built" if not build.exists() else "is not a data build (no manifest.json)"
    recipe = build_config_for(config, build)
    command = f"shoptune data build {shown(recipe) if recipe else 'BUILD_CONFIG.yaml'} --out {shown(build)}"
    return f"{shown(build)} {state}; run `{command}` first"


def check_templates(cfg: GenerateConfig, where: str) -> None:
    """Compile every template now: a Jinja syntax error names its key before any work starts."""
    templates: dict[str, str] = {"prompt.system": cfg.prompt.system, "prompt.user": cfg.prompt.user}
    for name in ("instruction", "input", "output"):
        value = getattr(cfg.record, name)
        if value is not None:
            templates[f"record.{name}"] = value
    for i, value in enumerate(cfg.record.options or []):
        templates[f"record.options.{i}"] = value
    if cfg.filters.judge is not None:
        templates["filters.judge.prompt.system"] = cfg.filters.judge.prompt.system
        templates["filters.judge.prompt.user"] = cfg.filters.judge.prompt.user
    for key, text in templates.items():
        problem = template_problem(text, JINJA)
        if problem:
            raise ConfigError(f"{where}: key '{key}': {problem}")
    if cfg.task.prompt:  # rendered later by training and evaluation, with the task prompts' own environment
        problem = template_problem(cfg.task.prompt)
        if problem:
            raise ConfigError(f"{where}: key 'task.prompt': {problem}")
    expressions = {"seeds.where": cfg.seeds.where} if cfg.seeds.where is not None else {}
    expressions.update({f"filters.rules.{name}": rule for name, rule in cfg.filters.rules.items()})
    for key, text in expressions.items():
        problem = template_problem(text, JINJA, expression=True)
        if problem:
            raise ConfigError(f"{where}: key '{key}': {problem}")


def task_spec(cfg: GenerateConfig, registry: dict[str, TaskSpec], examples: str | Path) -> TaskSpec:
    """The generated task's spec (its source is the ``generated`` adapter over ``examples``); ConfigError if invalid."""
    from pydantic import ValidationError

    from shoptune.config import format_validation_error

    task = cfg.task
    base: dict[str, Any] = {}
    if task.like is not None:
        if task.like not in registry:
            raise ConfigError(f"task.like: unknown task {task.like!r} (see `shoptune tasks list`)")
        liked = registry[task.like]
        base = liked.model_dump(mode="json", include={"capability", "kind", "metric", "language", "description"})
        base.update(prompt=liked.prompt, tags=[*liked.tags, "generated"])
    if task.name in registry:
        raise ConfigError(
            f"task.name: {task.name!r} is already a registered task; give the generated task its own name"
        )
    given = task.model_dump(mode="json", exclude={"name", "like", "split"}, exclude_none=True)
    data = {
        "language": "en",
        "tags": ["generated"],
        **base,
        **given,
        "name": task.name,
        "source": {"adapter": ADAPTER, "path": str(examples), "view": "instructions"},
        "split": task.split.model_dump(mode="json"),
    }
    missing = [k for k in ("capability", "kind", "metric") if data.get(k) is None]
    if missing:
        raise ConfigError(f"task: give {', '.join(missing)} (or 'like' an existing task)")
    try:
        spec = TaskSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error("task", exc)) from None
    if spec.kind == TaskKind.pair_relevance:
        raise ConfigError("task.kind: pair_relevance tasks hold entity pairs; generation writes instruction examples")
    return spec


__all__ = [
    "ADAPTER",
    "JINJA",
    "SPLITS",
    "BackendConfig",
    "DecontamConfig",
    "DedupConfig",
    "FiltersConfig",
    "GenerateConfig",
    "JudgeConfig",
    "LanguageFilter",
    "LengthFilter",
    "LocalBackend",
    "OpenAIBackend",
    "ParseConfig",
    "PromptConfig",
    "RecordConfig",
    "SeedsConfig",
    "TaskConfig",
    "check_templates",
    "load_generate_config",
    "task_spec",
]
