"""Benchmark of ``btr tag`` (run by ``make bench``; not a test: it asserts nothing).

Measured in one run and printed side by side:

1. the library path (:func:`btr.tag.tag`, batches of 512, the model loaded beforehand) on
   20,000 generated articles, on one core, both on an all-relevant stream (articles of
   about 2 KB of corpus sentences in every text language) and on an open-world stream
   where 99% of the articles are unrelated news texts (the lexicon gate's case), and the ``btr tag``
   command end to end (interpreter start-up and imports included), against a naive
   loop calling the same model's ``predict`` on one article at a time (timed on a
   subsample and extrapolated);
2. peak memory (``ru_maxrss`` of a fresh process reading stdin from a generator) at
   20,000 and at 200,000 articles;
3. the Dask engine on a LocalCluster with 2 workers against 1 worker;
4. the transformer path on a tiny locally built BERT against transformers' ``pipeline``
   (feature extraction with the same encoder, then the same mean pooling and heads).

Every measurement that times tagging runs in a subprocess (or a Dask worker), so that
one does not warm or bloat another. ``--small`` divides the sizes by 10.

Usage::

    .venv/bin/python benchmarks/bench_tag.py [--small] [--model models/default]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "bench"
THREAD_ENV = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
FLOORS = {
    "open_world_per_s": 10_000.0,
    "articles_per_s": 1500.0,
    "vs_naive": 3.0,
    "memory_growth_mb": 50.0,
    "dask_2_vs_1": 1.6,
}


# ------------------------------------------------------------------ data


def _sentence_pools() -> dict[str, list[str]]:
    """Sentences of the corpus texts, per text language: the material of the relevant articles."""
    from btr.corpus import DEFAULT_CORPUS, load_cases
    from btr.text import sentences

    pools: dict[str, list[str]] = {}
    for case in load_cases(DEFAULT_CORPUS):
        for lang, text in case.text.items():
            pools.setdefault(lang, []).extend(text[a:b] for a, b in sentences(text))
    return pools


def _unrelated_pools() -> dict[str, list[str]]:
    """The unrelated news texts, whole, per language: the unrelated articles.

    An article of an archive tells one story, so an unrelated article is one whole text,
    not a mix of sentences of many (a mix of 15 stories holds 15 chances of an exit word:
    a third of such mixes pass the gate, against 7% of the texts themselves). Half of
    these texts are near the topic (accidents, inquiries, appointments), far more than in
    an ordinary archive, so the gate works harder here than it would there."""
    from btr.corpus import load_unrelated

    pools: dict[str, list[str]] = {}
    for item in load_unrelated():
        pools.setdefault(item.language.value.split("-")[0], []).append(item.text)
    return pools


def _article(rng: random.Random, pool: list[str], lang: str) -> str:
    joiner = "" if lang in ("zh", "ja") else " "
    parts: list[str] = []
    size = 0
    while size < 2000:
        sentence = rng.choice(pool)
        parts.append(sentence)
        size += len(sentence.encode()) + len(joiner)
    return joiner.join(parts)


def generate(n: int, seed: int = 0, unrelated_share: float = 0.0) -> Iterator[dict]:
    """``n`` articles (deterministic for a seed): relevant ones of about 2 KB in UTF-8 made of
    randomly drawn sentences of the corpus texts, in turn over every text language, and, with
    probability ``unrelated_share``, unrelated ones, each a whole unrelated news text."""
    pools = _sentence_pools()
    langs = sorted(pools)
    others = _unrelated_pools() if unrelated_share else {}
    other_langs = sorted(others)
    rng = random.Random(seed)
    for i in range(n):
        if others and rng.random() < unrelated_share:
            lang = other_langs[i % len(other_langs)]
            text = rng.choice(others[lang])
        else:
            lang = langs[i % len(langs)]
            text = _article(rng, pools[lang], lang)
        yield {"id": f"bench-{i:07d}", "text": text}


def write_articles(path: Path, n: int, unrelated_share: float = 0.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as stream:
        for record in generate(n, unrelated_share=unrelated_share):
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


# ------------------------------------------------------------------ child processes


def _one_core() -> None:
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cores[0]})


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(argv: list[str]) -> None:
    """Entry of the measuring subprocesses: prints one JSON line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["gen", "tag", "naive"])
    parser.add_argument("--n", type=int, default=0)
    parser.add_argument("--input", default="-")
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--one-core", action="store_true")
    args = parser.parse_args(argv)
    if args.mode == "gen":
        out = sys.stdout
        for record in generate(args.n):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    if args.one_core:
        _one_core()
    if args.mode == "tag":
        from btr.models import load_model
        from btr.tag import tag

        # throughput once the model is in memory; the command's start-up is timed apart (cli_seconds)
        model = load_model(args.model)
        model.predict(["warm-up: the minister resigned."])
        started = time.perf_counter()
        summary = tag([args.input], model=model, out=os.devnull, quiet=True)
        seconds = time.perf_counter() - started
        print(json.dumps({"tagged": summary.tagged, "seconds": seconds, "maxrss_mb": _maxrss_mb()}))
        return
    from btr.models import load_model

    model = load_model(args.model)
    with open(args.input, encoding="utf-8") as stream:
        texts = [json.loads(line)["text"] for _, line in zip(range(args.n), stream, strict=False)]
    model.predict(texts[:1])
    started = time.perf_counter()
    for text in texts:
        model.predict([text])
    print(json.dumps({"tagged": len(texts), "seconds": time.perf_counter() - started}))


def _run_child(*args: str, stdin=None) -> dict:
    command = [sys.executable, __file__, "--child", *args]
    done = subprocess.run(
        command, stdin=stdin, capture_output=True, text=True, env={**os.environ, **THREAD_ENV}, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def cli_seconds(path: Path, model: str) -> float:
    """Wall time of the ``btr tag`` command on one core, from process start to exit
    (interpreter and imports, model loading, reading, tagging and writing)."""
    command = [
        str(Path(sys.executable).with_name("btr")),
        "tag",
        str(path),
        "--model",
        model,
        "-o",
        os.devnull,
    ]
    started = time.perf_counter()
    subprocess.run(
        command,
        check=True,
        env={**os.environ, **THREAD_ENV, "BTR_QUIET": "1"},
        preexec_fn=_one_core,
        capture_output=True,
    )
    return time.perf_counter() - started


def tag_from_generator(n: int, model: str) -> dict:
    """Tag ``n`` articles piped from a generator process into ``btr.tag`` reading stdin."""
    gen = subprocess.Popen(
        [sys.executable, __file__, "--child", "gen", "--n", str(n)], stdout=subprocess.PIPE
    )
    try:
        return _run_child("tag", "--input", "-", "--model", model, stdin=gen.stdout)
    finally:
        gen.stdout.close()
        gen.wait()


# ------------------------------------------------------------------ Dask


def dask_rate(path: Path, model: str, workers: int) -> float:
    """Articles per second of the Dask engine on a LocalCluster of ``workers`` processes
    (cluster start-up and the workers' first imports not timed; sending the model is)."""
    from distributed import LocalCluster

    from btr.tag import tag

    with LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, env=THREAD_ENV
    ) as cluster:
        options = {"out": os.devnull, "quiet": True, "engine": "dask", "scheduler": cluster.scheduler_address}
        tag([write_articles(BUILD / "warmup.jsonl", 64)], model=model, **options)  # workers import btr once
        started = time.perf_counter()
        summary = tag([path], model=model, **options)
        return summary.tagged / (time.perf_counter() - started)


# ------------------------------------------------------------------ transformer


def transformer_rates(n: int) -> tuple[float, float] | str:
    """(btr tag, transformers pipeline) articles per second on a tiny local BERT, or why skipped."""
    try:
        import torch
        import transformers

        from btr.models import TransformerModel  # noqa: F401
    except ImportError as err:
        return f"skipped: {err}"
    from btr.corpus import DEFAULT_CORPUS, case_rows, load_cases
    from btr.models import corpus_info, load_model, make_estimator, rows_to_xy, save_model
    from btr.tag import tag

    torch.set_num_threads(1)
    transformers.utils.logging.disable_progress_bar()
    base = BUILD / "tiny-bert"
    pools = _sentence_pools()
    chars = sorted({c for lang in pools.values() for s in lang for c in s.lower() if not c.isspace()})
    base.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars[:4000]]
    (base / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = transformers.BertTokenizerFast(
        vocab_file=str(base / "vocab.txt"), tokenize_chinese_chars=True
    )
    config = transformers.BertConfig(
        vocab_size=len(vocab), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=128, max_position_embeddings=512,
    )  # fmt: skip
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(base)
    tokenizer.save_pretrained(base)
    cases = load_cases(DEFAULT_CORPUS)[:40]
    texts, y = rows_to_xy([row for case in cases for row in case_rows(case)])
    estimator = make_estimator("transformer", base_model=str(base), epochs=1, max_length=256, quiet=True)
    estimator.fit(texts, y)
    model_dir = BUILD / "tiny-transformer"
    save_model(estimator, model_dir, corpus=corpus_info(cases, DEFAULT_CORPUS), seed=0)
    path = write_articles(BUILD / f"articles-{n}.jsonl", n)

    started = time.perf_counter()
    tag([path], model=model_dir, out=os.devnull, quiet=True)
    ours = n / (time.perf_counter() - started)

    model = load_model(model_dir).estimator
    articles = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]
    pipe = transformers.pipeline(
        "feature-extraction", model=model.encoder_, tokenizer=model.tokenizer_, device=-1, framework="pt"
    )
    started = time.perf_counter()
    with torch.inference_mode():
        for hidden in pipe(articles, batch_size=32, tokenize_kwargs={"truncation": True, "max_length": 256}):
            pooled = torch.tensor(hidden[0]).mean(0)
            for layer in model.heads_module_.values():
                torch.softmax(layer(pooled), -1)
    theirs = n / (time.perf_counter() - started)
    return ours, theirs


# ------------------------------------------------------------------ main


def _model(path: str | None) -> str:
    if path:
        return path
    default = ROOT / "models" / "default"
    if (default / "meta.json").exists():
        return str(default)
    from btr.models import train

    out = BUILD / "linear"
    if not (out / "meta.json").exists():
        print(f"models/default is missing: training a linear model into {out} (about a minute)", flush=True)
        train(kind="linear", out=out, quiet=True)
    return str(out)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child(argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="Sizes divided by 10 (a quick check).")
    parser.add_argument("--model", default=None, help="Linear model [default: models/default, else trained].")
    parser.add_argument("--naive-sample", type=int, default=500, help="Articles timed in the naive loop.")
    parser.add_argument("--no-transformer", action="store_true")
    parser.add_argument(
        "--repeat", type=int, default=3, help="Runs of each Dask cluster size (medians compared)."
    )
    args = parser.parse_args(argv)
    scale = 10 if args.small else 1
    n, big = 20_000 // scale, 200_000 // scale
    model = _model(args.model)
    print(f"btr tag benchmark: {n:,} articles, model {model}, {os.cpu_count()} cores", flush=True)

    path = write_articles(BUILD / f"articles-{n}.jsonl", n)
    size_kb = path.stat().st_size / n / 1024
    lines = [
        f"articles: {n:,} generated, {size_kb:.2f} KB each on average (JSONL, UTF-8), all relevant, "
        f"in turn in the corpus's {len(_sentence_pools())} text languages; a second stream of {n:,} "
        "is 99% unrelated news in 12 languages"
    ]

    local = _run_child("tag", "--input", str(path), "--model", model, "--one-core")
    rate = local["tagged"] / local["seconds"]
    naive = _run_child(
        "naive", "--input", str(path), "--model", model, "--n", str(args.naive_sample), "--one-core"
    )
    naive_rate = naive["tagged"] / naive["seconds"]
    cli = cli_seconds(path, model)
    rows = [
        ("btr tag, local engine, 1 core", f"{rate:,.0f} articles/s", f"{local['seconds']:.1f} s for {n:,}"),
        (
            "btr tag command, 1 core, end to end",
            f"{n / cli:,.0f} articles/s",
            f"{cli:.1f} s from process start to exit",
        ),
        (
            "naive loop, predict() per article, 1 core",
            f"{naive_rate:,.0f} articles/s",
            f"{n / naive_rate:.0f} s for {n:,} (extrapolated from {naive['tagged']})",
        ),
    ]
    ratios = [
        ("throughput, btr tag on 1 core", rate, FLOORS["articles_per_s"], "articles/s"),
        ("throughput, btr tag command end to end", n / cli, FLOORS["articles_per_s"], "articles/s"),
        ("btr tag / naive loop", rate / naive_rate, FLOORS["vs_naive"], "x"),
    ]
    print(f"  local {rate:,.0f}/s, command {n / cli:,.0f}/s, naive {naive_rate:,.0f}/s", flush=True)

    # the open world: 99% of an archive is unrelated news, which the lexicon gate makes cheap
    world = write_articles(BUILD / f"articles-{n}-99pc-unrelated.jsonl", n, unrelated_share=0.99)
    mixed = _run_child("tag", "--input", str(world), "--model", model, "--one-core")
    mixed_rate = mixed["tagged"] / mixed["seconds"]
    rows.insert(
        0,
        (
            "btr tag, 99% unrelated news, 1 core",
            f"{mixed_rate:,.0f} articles/s",
            f"{mixed['seconds']:.1f} s for {n:,}",
        ),
    )
    ratios.insert(
        0, ("throughput, 99% unrelated stream, 1 core", mixed_rate, FLOORS["open_world_per_s"], "articles/s")
    )
    ratios.append(("99% unrelated stream / all-relevant stream", mixed_rate / rate, None, "x"))
    print(f"  99% unrelated {mixed_rate:,.0f}/s", flush=True)

    small_mem = tag_from_generator(n, model)
    big_mem = tag_from_generator(big, model)
    growth = big_mem["maxrss_mb"] - small_mem["maxrss_mb"]
    rows += [
        (f"peak memory, {n:,} articles from stdin", f"{small_mem['maxrss_mb']:.0f} MB", "ru_maxrss"),
        (f"peak memory, {big:,} articles from stdin", f"{big_mem['maxrss_mb']:.0f} MB", "ru_maxrss"),
    ]
    ratios.append((f"memory growth {n:,} -> {big:,}", growth, FLOORS["memory_growth_mb"], "MB (ceiling)"))
    print(f"  memory {small_mem['maxrss_mb']:.0f} -> {big_mem['maxrss_mb']:.0f} MB", flush=True)

    # Clusters share this machine with the client and the scheduler, and one run swings by
    # a third here: 1 and 2 workers are measured in turn, --repeat times, and medians compared.
    ones, twos = [], []
    for _ in range(args.repeat):
        ones.append(dask_rate(path, model, 1))
        twos.append(dask_rate(path, model, 2))
    one, two = statistics.median(ones), statistics.median(twos)
    runs = ", ".join
    rows += [
        (
            "dask engine, LocalCluster 1 worker",
            f"{one:,.0f} articles/s",
            f"median of {runs(f'{r:,.0f}' for r in ones)}",
        ),
        (
            "dask engine, LocalCluster 2 workers",
            f"{two:,.0f} articles/s",
            f"median of {runs(f'{r:,.0f}' for r in twos)}",
        ),
    ]
    ratios.append(("dask 2 workers / 1 worker (medians)", two / one, FLOORS["dask_2_vs_1"], "x"))
    print(f"  dask {one:,.0f}/s -> {two:,.0f}/s", flush=True)

    if args.no_transformer:
        rows.append(("transformer path", "skipped (--no-transformer)", ""))
    else:
        result = transformer_rates(max(200, n // 20))
        if isinstance(result, str):
            rows.append(("transformer path", result, ""))
        else:
            ours, theirs = result
            rows += [
                (
                    "btr tag, tiny BERT (2x64), 1 thread",
                    f"{ours:,.0f} articles/s",
                    f"{max(200, n // 20):,} articles",
                ),
                (
                    "transformers pipeline, same encoder + heads",
                    f"{theirs:,.0f} articles/s",
                    "feature-extraction",
                ),
            ]
            ratios.append(("transformer: btr tag / pipeline", ours / theirs, None, "x"))

    print()
    print("\n".join(lines))
    width = max(len(r[0]) for r in rows) + 2
    for name, value, note in rows:
        print(f"  {name:<{width}}{value:>22}   {note}")
    print()
    print(f"  {'ratio':<{width}}{'measured':>12}{'floor':>12}   verdict")
    for name, value, floor, unit in ratios:
        if floor is None:
            verdict, shown = "(no floor)", "-"
        else:
            ceiling = unit.endswith("(ceiling)")
            verdict = "ok" if (value < floor if ceiling else value >= floor) else "BELOW FLOOR"
            shown = f"{floor:,.1f}"
        print(f"  {name:<{width}}{value:>12,.2f}{shown:>12}   {verdict} ({unit})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
