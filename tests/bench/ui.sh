#!/usr/bin/env bash
# Web UI benchmark: the server-side time to render the repo page of a model with 1,200 files and
# the lineage page of a family of 500 models, against the JSON API answering the same data and
# /healthz, measured in the same run on the same server.
#
#   tests/bench/ui.sh [HUBMIRROR_BIN]
#
# Binary: $1, else $HUBMIRROR_BIN, else build/hubmirror under the repo root.
# Environment knobs:
#   ROUNDS     timed requests per URL (default 200)
#   TARGET_MS  the pages' target, p99 below it (default 50)
#   COLD_ROUNDS  lineage changes after which the lineage pages are drawn afresh (default 20)
#
# Set-up (untimed), with `hubmirror import` only, into one data dir:
#   bench/many-files  1,200 files: 950 at the root (README.md, config.json, 898 small JSON files and
#                     50 *.safetensors, LFS by the default .gitattributes patterns, 256 KiB - 1 MiB)
#                     and 250 in onnx/, tokenizer/, eval/results/ and eval/logs/. The root holds
#                     953 entries (3 of them folders), so the API's tree listing (1,000 a page)
#                     answers it in one page, as the repo page does.
#   bench/base        and 499 descendants, one import each (the card's base_model and
#                     base_model_relation make the edges): 40 finetunes of the base; each with 3
#                     quantizations, 2 adapters and 2 finetunes; each of those 80 with 2
#                     quantizations; 4 of them with a finetune, each quantized once; 11 merges of
#                     two parents, 4 of them with a parent that is not mirrored (not in the base's
#                     lineage: the walk goes up and down from the base, not up again from the
#                     merges). The base's own parent is not mirrored either (a dashed node). The
#                     base's 40 finetunes are more than a page draws by default (12 and "+K more");
#                     `all=1` asks for every child.
#
# Measurement: each round is ONE curl process fetching every URL below in turn on one kept-alive
# connection; per request, the server's time is time_starttransfer - time_pretransfer (from the
# request sent to the first byte of the answer: parsing, registry reads, rendering, and the
# loopback round trip, which /healthz shows). A few untimed rounds come first. p50 and p99 are
# nearest-rank percentiles of the ROUNDS requests.
#   repo page     /-/models/bench/many-files           against /api/models/bench/many-files/tree/main
#   lineage page  /-/lineage/bench/base?depth=10       against /api/lineage/models/bench/base?depth=10
#   lineage all   /-/lineage/bench/base?depth=10&all=1 against the same
#
# The server keeps lineage pictures it drew (by what they show), so the timed rounds above measure
# a page whose picture is known. Drawing it afresh is measured apart: COLD_ROUNDS times, one more
# model joins the family (imported, untimed), then each lineage page is asked for once.
#
# Exits non-zero if an import fails, the server fails, or a URL answers other than 200 or a page
# lacks what it must show (the repo page every root file's name; the lineage pages an <svg> and a
# table row per edge the API lists); otherwise it only reports figures (the target is printed, not
# enforced).
set -euo pipefail

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd -- "$script_dir/../.." && pwd)

BIN=${1:-${HUBMIRROR_BIN:-$repo_root/build/hubmirror}}
ROUNDS=${ROUNDS:-200}
COLD_ROUNDS=${COLD_ROUNDS:-20}
TARGET_MS=${TARGET_MS:-50}
WARMUP_ROUNDS=3
FILES_REPO=bench/many-files
BASE=bench/base

BENCH_NAME=ui.sh
source "$script_dir/lib.sh"

[[ -x $BIN ]] || die "hubmirror binary not found or not executable: $BIN"
BIN=$(cd -- "$(dirname -- "$BIN")" && pwd)/$(basename -- "$BIN")
for tool in curl awk sort comm grep head; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ $TARGET_MS =~ ^[1-9][0-9]*$ ]] || die "TARGET_MS must be a positive integer"

start_bench_dir
use_private_binary "$BIN" "$tmp"
note_load
data=$tmp/data
setup_t0=$(now_ns)

import_dir() {  # import_dir REPO DIR
  "$HM" import --data "$data" --repo "$1" "$2" >>"$tmp/import.log" 2>&1 ||
    { tail -n 20 "$tmp/import.log" >&2; die "hubmirror import of $1 failed"; }
}

# ---------------------------------------------------------------- the repo with 1,200 files
log "creating $FILES_REPO (1,200 files, 950 at the root)"
src=$tmp/src-files
mkdir -p "$src/onnx" "$src/tokenizer" "$src/eval/results" "$src/eval/logs"
# A card with the usual parts (front matter, headings, a table, code), so rendering it counts too.
{
  printf -- '---\nlicense: apache-2.0\nlibrary_name: transformers\npipeline_tag: text-generation\n'
  printf 'tags: [bench, ui]\n---\n\n# many-files\n\nA model whose repo holds 1,200 files.\n\n'
  printf '## Evaluation\n\n| task | score |\n|---|---|\n'
  for ((i = 1; i <= 40; i++)); do printf '| task-%02d | 0.%02d |\n' "$i" "$((i * 7 % 100))"; done
  printf '\n## Usage\n\n```python\nfrom transformers import AutoModel\n'
  printf 'model = AutoModel.from_pretrained("%s")\n```\n' "$FILES_REPO"
  for ((i = 1; i <= 20; i++)); do
    printf '\nParagraph %d with **bold**, _emphasis_, `code` and [a link](https://example.com/%d).\n' "$i" "$i"
  done
} >"$src/README.md"
printf '{\n  "architectures": ["BenchModel"],\n  "model_type": "bench"\n}\n' >"$src/config.json"
root_files=(README.md config.json)
# Small files written by the shell itself (no process per file): 100 B - 4 KiB of a random text.
pad=$(head -c 3072 /dev/urandom | od -An -tx1 | tr -d ' \n')
small() {  # small PATH INDEX
  printf '{"index": %d, "data": "%s"}\n' "$2" "${pad:0:$((100 + $2 * 37 % 4000))}" >"$src/$1"
}
for ((i = 0; i < 898; i++)); do
  f=part-$(printf '%04d' "$i").json
  small "$f" "$i"
  root_files+=("$f")
done
for ((i = 0; i < 250; i++)); do
  case $((i % 4)) in 0) dir=onnx ;; 1) dir=tokenizer ;; 2) dir=eval/results ;; *) dir=eval/logs ;; esac
  small "$dir/part-$(printf '%04d' "$i").json" "$((1000 + i))"
done
for ((i = 1; i <= 50; i++)); do
  f=$(printf 'model-%05d-of-00050.safetensors' "$i")
  head -c "$(($(rand_between 256 1024) * 1024))" /dev/urandom >"$src/$f"
  root_files+=("$f")
done
nfiles=$(find "$src" -type f | wc -l)
((nfiles == 1200)) || die "made $nfiles files, want 1200"
((${#root_files[@]} == 950)) || die "made ${#root_files[@]} root files, want 950"
import_dir "$FILES_REPO" "$src"
rm -rf -- "$src"

# ---------------------------------------------------------------- the family of 500 models
log "importing the family of $BASE (500 models, one import each)"
src=$tmp/src-model
mkdir -p "$src"
family=()
model() {  # model ID RELATION PARENT...: import ID with a card naming its parents
  local id=$1 relation=$2 parents
  shift 2
  if (($# == 1)); then
    parents=$1
  else
    parents=$(printf '%s, ' "$@")
    parents="[${parents%, }]"
  fi
  if [[ -n $relation ]]; then
    printf -- '---\nbase_model: %s\nbase_model_relation: %s\nlicense: mit\n---\n\n# %s\n' \
      "$parents" "$relation" "$id" >"$src/README.md"
  else
    printf -- '---\nlicense: mit\n---\n\n# %s\n' "$id" >"$src/README.md"
  fi
  printf '{"model_type": "bench", "name": "%s"}\n' "$id" >"$src/config.json"
  import_dir "$id" "$src"
  family+=("$id")
}
model "$BASE" finetune elsewhere/foundation
for ((a = 1; a <= 40; a++)); do
  ft=bench/ft-$(printf '%02d' "$a")
  model "$ft" finetune "$BASE"
  for q in Q4_K_M Q5_K_M Q8_0; do model "$ft-$q-GGUF" quantized "$ft"; done
  for l in lora-a lora-b; do model "$ft-$l" adapter "$ft"; done
  for b in a b; do
    model "$ft-$b" finetune "$ft"
    for q in Q4_K_M Q8_0; do model "$ft-$b-$q-GGUF" quantized "$ft-$b"; done
    if ((a <= 2)); then
      model "$ft-$b-dpo" finetune "$ft-$b"
      model "$ft-$b-dpo-AWQ" quantized "$ft-$b-dpo"
    fi
  done
done
for ((m = 1; m <= 7; m++)); do
  model "bench/merge-$m" merge "bench/ft-$(printf '%02d' "$m")" "bench/ft-$(printf '%02d' "$((m + 20))")"
done
for ((m = 8; m <= 11; m++)); do
  model "bench/merge-$m" merge "bench/ft-$(printf '%02d' "$m")" "elsewhere/not-mirrored-$m"
done
rm -rf -- "$src"
((${#family[@]} == 500)) || die "the family has ${#family[@]} models, want 500"

# ---------------------------------------------------------------- server and checks
start_serve ui "$data"
base_url=$srv_base
alive() { check_alive "hubmirror serve" "$srv_pid" "$tmp/ui.err" "$1"; }
setup_secs=$(secs "$setup_t0" "$(now_ns)")
log "set-up took $setup_secs s"

names=(repo-page tree-api lineage-page lineage-all lineage-api healthz)
declare -A url=(
  [repo-page]="/-/models/$FILES_REPO"
  [tree-api]="/api/models/$FILES_REPO/tree/main"
  [lineage-page]="/-/lineage/$BASE?depth=10"
  [lineage-all]="/-/lineage/$BASE?depth=10&all=1"
  [lineage-api]="/api/lineage/models/$BASE?depth=10"
  [healthz]="/healthz"
)

fetch() {  # fetch NAME -> the body in $tmp/NAME.body; dies unless 200
  local code
  code=$(curl -s --max-time 60 -o "$tmp/$1.body" -w '%{http_code}' "$base_url${url[$1]}") || code=000
  [[ $code == 200 ]] || { alive "answering ${url[$1]}"; die "${url[$1]} answered $code, not 200"; }
}
for n in "${names[@]}"; do fetch "$n"; done

# The data is what the set-up meant: the API lists every root entry and every model of the family.
got=$(grep -o '"path":' "$tmp/tree-api.body" | wc -l)
((got == 953)) || die "the tree API lists $got root entries, want 953"
got=$(grep -o '"mirrored":true' "$tmp/lineage-api.body" | wc -l)
((got == 500)) || die "the lineage API has $got mirrored models in the family, want 500"
got=$(grep -o '"mirrored":false' "$tmp/lineage-api.body" | wc -l)
((got == 1)) || die "the lineage API has $got models in the family that are not mirrored, want 1"

# The repo page names every root file (as the text of an element: a link or a cell).
printf '%s\n' "${root_files[@]}" | sort -u >"$tmp/want-names"
grep -oE '>[^<>]+<' "$tmp/repo-page.body" | sed 's/^>//; s/<$//' | sort -u >"$tmp/page-texts"
comm -23 "$tmp/want-names" "$tmp/page-texts" >"$tmp/missing-names"
[[ -s $tmp/missing-names ]] && die "the repo page lacks $(wc -l <"$tmp/missing-names") of the 950" \
  "root files' names (first: $(head -n1 "$tmp/missing-names"))"
file_rows=$(grep -oE '<tr[^>]*class="([^"]* )?file( [^"]*)?"' "$tmp/repo-page.body" | wc -l)
for n in lineage-page lineage-all; do
  grep -q '<svg' "$tmp/$n.body" || die "${url[$n]} has no <svg"
  grep -q '<table id="lineage-table"' "$tmp/$n.body" || die "${url[$n]} has no #lineage-table"
done
# Each lineage page's table lists every edge the API has, folded ones too; how many nodes the
# drawing holds (models and "+N more") is the page's choice, and only reported.
edges=$(grep -o '"child":' "$tmp/lineage-api.body" | wc -l)
for n in lineage-page lineage-all; do
  rows=$(tr -d '\n' <"$tmp/$n.body" | sed 's/.*<table id="lineage-table"//; s#</table>.*##' |
    grep -oE '<tr[^>]*>[[:space:]]*<td' | wc -l)
  ((rows == edges)) || die "${url[$n]}: the lineage table has $rows rows, the API $edges edges"
done
nodes_all=$(grep -oE '<g [^>]*class="node"' "$tmp/lineage-all.body" | wc -l)
nodes_default=$(grep -oE '<g [^>]*class="node"' "$tmp/lineage-page.body" | wc -l)
log "repo page: $(wc -c <"$tmp/repo-page.body") bytes, $file_rows file rows;" \
  "lineage page: $(wc -c <"$tmp/lineage-page.body") bytes, $nodes_default nodes;" \
  "with all=1: $(wc -c <"$tmp/lineage-all.body") bytes, $nodes_all nodes"

# ---------------------------------------------------------------- measurement
curl_config=$tmp/curl.conf
for n in "${names[@]}"; do
  printf 'url = "%s%s"\noutput = "/dev/null"\n' "$base_url" "${url[$n]}"
done >"$curl_config"

round() {  # round -> one line per URL: HTTP_CODE PRETRANSFER STARTTRANSFER (seconds), in $tmp/round
  curl -s --max-time 120 -K "$curl_config" \
    -w '%{http_code} %{time_pretransfer} %{time_starttransfer}\n' >"$tmp/round" ||
    { alive "during a round"; die "curl failed"; }
}

log "warm-up: $WARMUP_ROUNDS untimed rounds"
for ((r = 0; r < WARMUP_ROUNDS; r++)); do round; done
log "$ROUNDS rounds of ${#names[@]} requests each (${names[*]})"
: >"$tmp/samples"
for ((r = 1; r <= ROUNDS; r++)); do
  round
  mapfile -t lines <"$tmp/round"
  ((${#lines[@]} == ${#names[@]})) || die "curl printed ${#lines[@]} lines, want ${#names[@]}"
  for ((k = 0; k < ${#names[@]}; k++)); do
    read -r code pre start <<<"${lines[k]}"
    [[ $code == 200 ]] || { alive "in round $r"; die "${url[${names[k]}]} answered $code in round $r"; }
    echo "${names[k]} $pre $start"
  done >>"$tmp/samples"
  ((r % 50)) || log "  $r rounds"
done
alive "at the end"

log "$COLD_ROUNDS lineage changes, each page drawn afresh after each"
: >"$tmp/cold"
mkdir -p "$src"
for ((r = 1; r <= COLD_ROUNDS; r++)); do
  # One more finetune of a drawn model changes both pictures (untimed, as a sync would).
  model "bench/fresh-$(printf '%03d' "$r")" finetune bench/ft-01
  for n in lineage-page lineage-all; do
    printf '%s ' "$n"
    curl -s -o /dev/null --max-time 60 -w '%{http_code} %{time_pretransfer} %{time_starttransfer}\n' \
      "$base_url${url[$n]}"
  done >>"$tmp/cold"
done
awk '$2 != 200 { exit 1 }' "$tmp/cold" || die "a lineage page drawn afresh did not answer 200"

percentile() {  # percentile P < numbers -> the nearest-rank P-th percentile
  sort -g | awk -v p="$1" '{v[NR] = $1} END {
    if (NR == 0) { print 0; exit }
    i = int(NR * p / 100); if (i < NR * p / 100) i++; if (i < 1) i = 1
    printf "%.2f\n", v[i] }'
}
declare -A p50=() p99=()
for n in lineage-page lineage-all; do
  awk -v n="$n" '$1 == n { printf "%.3f\n", ($4 - $3) * 1000 }' "$tmp/cold" >"$tmp/cold-$n"
  p50[cold-$n]=$(percentile 50 <"$tmp/cold-$n")
  p99[cold-$n]=$(percentile 99 <"$tmp/cold-$n")
done
for n in "${names[@]}"; do
  # Milliseconds from the request sent to the answer's first byte.
  awk -v n="$n" '$1 == n { printf "%.3f\n", ($3 - $2) * 1000 }' "$tmp/samples" >"$tmp/ms-$n"
  p50[$n]=$(percentile 50 <"$tmp/ms-$n")
  p99[$n]=$(percentile 99 <"$tmp/ms-$n")
done

# ---------------------------------------------------------------- summary
echo
printf 'server time (time_starttransfer - time_pretransfer), %s requests each, set-up %s s:\n' \
  "$ROUNDS" "$setup_secs"
for n in "${names[@]}"; do
  printf '  %-13s p50 %8s ms  p99 %8s ms  %s\n' "$n" "${p50[$n]}" "${p99[$n]}" "${url[$n]}"
done
printf 'ratios page / API (p50, p99): repo page / tree %s, %s; lineage page / lineage API %s, %s;' \
  "$(ratio "${p50[repo-page]}" "${p50[tree-api]}")" "$(ratio "${p99[repo-page]}" "${p99[tree-api]}")" \
  "$(ratio "${p50[lineage-page]}" "${p50[lineage-api]}")" \
  "$(ratio "${p99[lineage-page]}" "${p99[lineage-api]}")"
printf ' lineage all=1 / lineage API %s, %s\n' \
  "$(ratio "${p50[lineage-all]}" "${p50[lineage-api]}")" \
  "$(ratio "${p99[lineage-all]}" "${p99[lineage-api]}")"
printf 'drawn afresh (%s times): lineage page p50 %s ms p99 %s ms; all=1 p50 %s ms p99 %s ms\n' \
  "$COLD_ROUNDS" "${p50[cold-lineage-page]}" "${p99[cold-lineage-page]}" \
  "${p50[cold-lineage-all]}" "${p99[cold-lineage-all]}"
for n in repo-page lineage-page lineage-all cold-lineage-page cold-lineage-all; do
  verdict=$(awk -v v="${p99[$n]}" -v t="$TARGET_MS" 'BEGIN { print (v < t) ? "ok" : "over" }')
  what=${url[${n#cold-}]}
  [[ $n == cold-* ]] && what="$what (drawn afresh)"
  printf 'ui.sh: %s p50 %s ms p99 %s ms (target < %s ms): %s\n' \
    "$what" "${p50[$n]}" "${p99[$n]}" "$TARGET_MS" "$verdict"
done
