# crosvm compatibility (issue 16): the default policy allows getppid and
# kill for crosvm's hint test; jailed, they reach only the plugin.  Runs
# under the test policy alone (the default one), no jail.policy.
hostile_plugin(compat_kill SOURCES compat_kill.c jail_idle.c LIBS plugin_guest)
hostile_test(test_hostile_compat SOURCES test_hostile_compat.c)
