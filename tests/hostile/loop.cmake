# The event loop and vmlaunch's own output under attack (issue 14, items 2,
# 3 and the raw-stderr part of 10): output floods, readers that stop
# reading, forged and escape-laden plugin lines.
hostile_plugin(flood SOURCES flood.c LIBS plugin_guest Threads::Threads)
hostile_plugin(forge SOURCES forge.c LIBS plugin_guest)
hostile_test(test_hostile_loop SOURCES test_hostile_loop.c)
