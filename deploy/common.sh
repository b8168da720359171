# Shared by run.sh and test.sh: install what is missing, then configure and build.
# Sourced, not executed.

hubmirror_install_deps() {
  if [ "$(id -u)" -eq 0 ]; then
    deploy/install-deps.sh
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo deploy/install-deps.sh
  else
    # Without root this only checks, and names what an administrator must install.
    deploy/install-deps.sh
  fi
}

# hubmirror_build BUILD_DIR [CMAKE_BUILD_ARGS...]: configures with the compiler named by $CXX
# (the default one when unset); warnings are errors only when HUBMIRROR_WERROR=ON.
hubmirror_build() {
  local build_dir=$1
  shift
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DHUBMIRROR_WERROR="${HUBMIRROR_WERROR:-OFF}" >/dev/null
  cmake --build "$build_dir" -j"$(nproc)" "$@"
}
