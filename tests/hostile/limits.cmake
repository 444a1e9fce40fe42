# Issue #14 item 7: what a plugin may spend.  One plugin, one mode per attack.
hostile_plugin(limits_attack SOURCES limits_attack.c LIBS crosvm_plugin Threads::Threads)
hostile_test(test_hostile_limits SOURCES test_hostile_limits.c TIMEOUT 600)
