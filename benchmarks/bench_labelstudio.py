"""Push 5,000 tasks with predictions to a real local Label Studio, then pull them; print both times.

    .venv/bin/python benchmarks/bench_labelstudio.py [--tasks 5000] [--annotated 100]

The server (``label-studio`` from ``.venv-ls``) runs on 127.0.0.1 on a free
port with a throwaway data directory copied from a template under ``build/``
(made on the first run, about 30 s). Predictions come from ``models/default``
when it exists, otherwise from a linear model trained here on 200 of the
generated cases. ``--annotated`` tasks get one annotation each before the pull,
so that the pull merges something; the time to post them is not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BTR_QUIET", "1")

from btr.corpus import write_cases  # noqa: E402
from btr.labelstudio import connect, pull, push  # noqa: E402
from btr.paths import DEFAULT_MODEL  # noqa: E402
from btr.schema import HEADS, Case, label_names  # noqa: E402
from btr.server import LABEL_STUDIO_VERSION, LabelStudioServer  # noqa: E402

CATEGORIES = label_names(HEADS["category"])
PHRASES = {
    "btr": ("因重大事故引咎辞职", "resigned, taking responsibility for the disaster"),
    "other_resignation": ("另有任用，辞去职务", "left the post for a new appointment"),
    "dismissal": ("被免职并接受调查", "was removed from office and investigated"),
    "no_resignation": ("公开道歉但拒绝辞职", "apologised but refused to resign"),
    "non_public": ("辞去集团董事长职务", "stepped down as chairman of the group"),
}
# Test-only credentials of the throwaway benchmark server.
USER, PASSWORD, TOKEN = "bench@btr.test", "bench-password", "be0c4ba5e0123456789abcdef0123456789abcde"


def make_cases(n: int) -> list[Case]:
    base = json.loads((ROOT / "tests" / "data" / "good_case.json").read_text(encoding="utf-8"))
    cases = []
    for i in range(n):
        category = CATEGORIES[i % len(CATEGORIES)]
        zh, en = PHRASES[category]
        record = json.loads(json.dumps(base))
        record.update(
            id=f"bench-{i:05d}",
            event_id=f"bench-event-{i // 2:05d}",
            category=category,
            text={
                "zh": f"第{i}号测试：某省官员{i}{zh}。" * 3,
                "en": f"Benchmark record {i}: official {i} {en}. " * 3,
            },
        )
        cases.append(Case.model_validate(record))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--annotated", type=int, default=100)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="btr-bench-ls-") as tmp:
        tmp = Path(tmp)
        corpus = tmp / "cases.jsonl"
        cases = make_cases(args.tasks)
        write_cases(cases, corpus)
        model = DEFAULT_MODEL if (DEFAULT_MODEL / "meta.json").exists() else None
        if model is None:
            from btr.models import train

            small = tmp / "small.jsonl"
            write_cases(cases[:200], small)
            model = train(kind="linear", out=tmp / "model", cases=small, name="bench", quiet=True).path

        template = ROOT / "build" / f"label-studio-{LABEL_STUDIO_VERSION}-bench-template"
        template.parent.mkdir(parents=True, exist_ok=True)
        server = LabelStudioServer(
            tmp / "ls", username=USER, password=PASSWORD, token=TOKEN, template=template
        )
        server.init_template(template)
        with server:
            project = f"bench-{secrets.token_hex(3)}"
            state = tmp / "state"
            print(
                f"Label Studio {server.version()} at {server.url}, started in {server.startup_seconds:.1f} s"
            )
            print(f"model: {model}")

            began = time.perf_counter()
            pushed = push(project, cases=corpus, model=model, url=server.url, api_key=TOKEN, state_dir=state)
            push_seconds = time.perf_counter() - began
            print(
                f"push  {pushed.created} tasks with {pushed.predictions} predictions: {push_seconds:.1f} s "
                f"({pushed.created / push_seconds:.0f} tasks/s)"
            )

            from btr.models import load_model

            loaded = load_model(model)
            began = time.perf_counter()
            loaded.predict_proba([t for c in cases for t in (c.text.zh, c.text.en)])
            print(
                f"  the model's predict_proba alone, on {2 * len(cases)} texts: {time.perf_counter() - began:.1f} s"
            )

            began = time.perf_counter()
            again = push(project, cases=corpus, model=model, url=server.url, api_key=TOKEN, state_dir=state)
            print(
                f"push again ({again.unchanged} unchanged, {again.created} created): {time.perf_counter() - began:.1f} s"
            )

            client = connect(server.url, TOKEN).client
            task_ids = [
                t.id for t in client.tasks.list(project=pushed.project_id, fields="task_only", page_size=1000)
            ]
            for task_id in task_ids[: args.annotated]:
                result = [
                    {
                        "from_name": "category",
                        "to_name": "text",
                        "type": "choices",
                        "value": {"choices": ["btr"]},
                    },
                    {
                        "from_name": "apology",
                        "to_name": "text",
                        "type": "choices",
                        "value": {"choices": ["yes"]},
                    },
                ]
                client.annotations.create(id=task_id, result=result)

            began = time.perf_counter()
            pulled = pull(project, into=corpus, url=server.url, api_key=TOKEN, state_dir=state)
            pull_seconds = time.perf_counter() - began
            print(
                f"pull  {pulled.tasks} tasks ({pulled.annotated_tasks} annotated, {len(pulled.updated_cases)} cases "
                f"updated, {len(pulled.conflicts)} conflicts): {pull_seconds:.1f} s"
            )
            from btr.labelstudio.client import _export

            began = time.perf_counter()
            _export(connect(server.url, TOKEN), pushed.project_id, annotated_only=False)
            print(
                f"  for comparison, a full JSON export of all tasks with their predictions: {time.perf_counter() - began:.1f} s"
            )


if __name__ == "__main__":
    main()
