# The load test: many jailed VMs at once and many in a row (some with a
# tap, some stopped by SIGTERM, some whose plugin crashes), then nothing
# leaked: fds, child processes, taps, mounts, /tmp entries, cgroups.
# Sizes: HOSTILE_LOAD_PARALLEL and HOSTILE_LOAD_SERIAL (see the test).
hostile_test(test_hostile_load SOURCES test_hostile_load.c TIMEOUT 600)
add_dependencies(test_hostile_load hello crash busy)
