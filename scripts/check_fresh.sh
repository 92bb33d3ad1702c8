#!/usr/bin/env bash
# `make test` as a new user runs it: a fresh clone of HEAD, no runs/, empty caches, under several settings.
#   scripts/check_fresh.sh [SETTING ...]     SETTING: omp1 | omp2 | othercpu   (default: all three, in turn)
# othercpu runs torch's portable kernels instead of this CPU's AVX2/AVX-512 ones (ATEN_CPU_CAPABILITY=default,
# MKL and oneDNN limited to SSE4), so floating point differs as on another machine. The first clone builds a fresh
# .venv; later ones reuse it (same commit, so the same code). Exit status: non-zero if any setting failed.
set -uo pipefail
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
if [ $# -gt 0 ]; then settings=("$@"); else settings=(omp1 omp2 othercpu); fi
pip_cache=$(python3 -m pip cache dir 2>/dev/null || echo "$HOME/.cache/pip")
venv="" failed=0
for setting in "${settings[@]}"; do
    case $setting in
        omp1) vars=(OMP_NUM_THREADS=1) ;;
        omp2) vars=(OMP_NUM_THREADS=2) ;;
        othercpu) vars=(OMP_NUM_THREADS=1 ATEN_CPU_CAPABILITY=default MKL_ENABLE_INSTRUCTIONS=SSE4_2
                        ONEDNN_MAX_CPU_ISA=SSE41) ;;
        *) echo "unknown setting $setting (omp1, omp2, othercpu)" >&2; exit 2 ;;
    esac
    dir=$(mktemp -d "${TMPDIR:-/tmp}/nagkit-fresh-$setting.XXXX")
    git clone -q "$repo" "$dir/nagkit"
    start=$(date +%s)
    (cd "$dir/nagkit" && env "${vars[@]}" XDG_CACHE_HOME="$dir/cache" NAGKIT_CACHE="$dir/cache/nagkit" \
        PIP_CACHE_DIR="$pip_cache" make test ${venv:+VENV=$venv}) >"$dir/log" 2>&1
    rc=$?
    [ -z "$venv" ] && venv="$dir/nagkit/.venv"
    echo "$setting: exit $rc in $(( $(date +%s) - start )) s; $(grep -E '^=+ .*(passed|failed)' "$dir/log" | tail -1); log $dir/log"
    [ $rc -eq 0 ] || failed=1
done
exit $failed
