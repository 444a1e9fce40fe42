# Shared by the shell tests (sourced): skip with a reason, or fail.
# A skip exits 77, which ctest reports as skipped; with CI=true, where
# every requirement must be present, it is a failure instead.

skip() {
        if [ "${CI:-}" = true ]; then
                echo "FAIL: $1, and CI=true requires it" >&2
                exit 1
        fi
        echo "SKIP: $1" >&2
        exit 77
}

fail() {
        echo "FAIL: $1" >&2
        exit 1
}
