#!/bin/sh
# Side-by-side throughput of `btr tag` at another commit and in this working tree (not a test).
#
# Alternates the library path of bench_tag.py (one core, model loaded beforehand) between a
# git worktree of REF and this tree, ROUNDS times, on the same articles and the same model, so
# that a shared machine's drift hits both alike. Prints articles/s per run.
#
# Usage: benchmarks/ab_tag.sh [REF] [ROUNDS] [ARTICLES.jsonl]
#   REF       commit to compare with (default HEAD, i.e. uncommitted changes against it)
#   ROUNDS    alternations (default 3)
#   ARTICLES  default build/bench/articles-20000.jsonl (written by bench_tag.py)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
ref=${1:-HEAD}
rounds=${2:-3}
articles=${3:-$here/build/bench/articles-20000.jsonl}
python=$here/.venv/bin/python
model=$here/models/default
if [ ! -f "$articles" ]; then
    echo "no $articles: run benchmarks/bench_tag.py once (it writes the articles)" >&2
    exit 2
fi
other=$(mktemp -d)
trap 'git -C "$here" worktree remove --force "$other"' EXIT
git -C "$here" worktree add --detach --force "$other" "$ref" >/dev/null 2>&1
i=0
while [ "$i" -lt "$rounds" ]; do
    for tree in "$other" "$here"; do
        name=$([ "$tree" = "$here" ] && echo "working tree" || echo "$ref")
        out=$(cd "$tree" && OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONPATH="$tree" \
            "$python" benchmarks/bench_tag.py --child tag --input "$articles" --model "$model" --one-core)
        echo "$out" | "$python" -c "import json, sys; r = json.load(sys.stdin); \
print(f'{sys.argv[1]:<14} {r[\"tagged\"] / r[\"seconds\"]:>9,.0f} articles/s')" "$name"
    done
    i=$((i + 1))
done
