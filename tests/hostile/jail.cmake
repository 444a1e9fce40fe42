# The jail's attacks (#14 items 4-6, 10): the plugin's session, keyring,
# environment, a PTRACE_TRACEME stop, and seccomp kills named every time.
# Each runs jailed under the test policy plus jail.policy (what the attack
# needs that the default policy forbids).
foreach(p jail_session jail_keyring jail_env jail_ptrace)
  hostile_plugin(${p} SOURCES ${p}.c jail_idle.c LIBS plugin_guest)
endforeach()
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/jail-test.policy
     "@include ${TEST_SECCOMP_POLICY}\n@include ${CMAKE_CURRENT_SOURCE_DIR}/jail.policy\n")
hostile_test(test_hostile_jail SOURCES test_hostile_jail.c)
target_compile_definitions(test_hostile_jail PRIVATE JAIL_POLICY="${CMAKE_CURRENT_BINARY_DIR}/jail-test.policy")
add_dependencies(test_hostile_jail seccomp_violator)
