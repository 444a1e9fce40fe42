/* What every jail attack plugin does once its attack is made: a paced
 * guest loop until the host signals shutdown, so that the test can see
 * vmlaunch running and stop it.  Returns the plugin's exit status. */
#pragma once

int jail_idle(const char *name);
